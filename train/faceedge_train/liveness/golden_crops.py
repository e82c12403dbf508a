"""Writes test/fixtures/liveness/: golden anti-spoofing crops that pin the TypeScript crop to this package's.

    cd train && /usr/bin/python3 -m faceedge_train.liveness.golden_crops

Regenerate only on purpose (a change of the crop contract); both test suites compare against these files.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
from PIL import Image

from .crop import BLAZEFACE_BOX_MAP, DetectorBoxMap, crop_for_network, publisher_crop_rect

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = ROOT / "test" / "fixtures" / "liveness"
SOURCE = ROOT / "test" / "fixtures" / "scenes" / "astronaut.png"
#: The astronaut's BlazeFace short-range box (scripts/liveness/detect-keypoints.ts), and a box near the corner
#: whose crop must shrink and shift to stay inside the image.
CASES = (
    {
        "name": "astronaut-v2",
        "box": [177.9470995685477, 80.82106693328642, 94.19760628026492, 94.19789611354734],
        "scale": 2.7,
    },
    {
        "name": "astronaut-v1se",
        "box": [177.9470995685477, 80.82106693328642, 94.19760628026492, 94.19789611354734],
        "scale": 4.0,
    },
    {"name": "corner-shrink-shift", "box": [10.5, 4.25, 150.0, 150.0], "scale": 4.0},
)


def golden(box_map: DetectorBoxMap = BLAZEFACE_BOX_MAP) -> dict:
    image = np.asarray(Image.open(SOURCE).convert("RGB"))
    cases = []
    for case in CASES:
        crop = crop_for_network(image, tuple(case["box"]), case["scale"], box_map)
        bounds = publisher_crop_rect(image.shape[1], image.shape[0], box_map.apply(tuple(case["box"])), case["scale"])
        cases.append(
            {**case, "bounds": list(bounds), "rgb_sha256": hashlib.sha256(crop.tobytes()).hexdigest(), "crop": crop}
        )
    return {"box_map": box_map, "size": 80, "cases": cases}


def main() -> None:
    g = golden()
    FIXTURES.mkdir(parents=True, exist_ok=True)
    for case in g["cases"]:
        Image.fromarray(case.pop("crop"), "RGB").save(FIXTURES / f"{case['name']}.png")
    m = g["box_map"]
    meta = {
        "source": "../scenes/astronaut.png",
        "size": g["size"],
        "box_map": {"centre_x": m.centre_x, "centre_y": m.centre_y, "width": m.width, "height": m.height},
        "cases": g["cases"],
    }
    (FIXTURES / "golden-crops.json").write_text(json.dumps(meta, indent=2) + "\n")


if __name__ == "__main__":
    main()

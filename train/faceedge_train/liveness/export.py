"""Exports a published MiniFASNet checkpoint as faceedge's anti-spoofing model: float32 .tflite + manifest.json.

    cd train && /usr/bin/python3 -m faceedge_train.liveness.export \
        --checkpoint ../data/liveness/minifasnet/2.7_80x80_MiniFASNetV2.pth --scale 2.7 \
        --threshold 0.5 --operating-point ../models/liveness/operating-point.json --out ../models/liveness

The graph is the writer's (`faceedge_train.layers` -> `tflite.convert.build_graph`), float32. The file is run
in the real TFLite runtime on the golden crops and on random inputs before anything is
written; the export refuses (exit 1) when its logits differ from PyTorch's by more than 1e-3. The manifest
(the contract of src/liveness/anti-spoof-manifest.ts) records the crop geometry, the threshold with its
measured operating point, a self-test, sha256 and provenance.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..tflite.convert import build_graph
from ..tflite.runtime import run_tflite
from .crop import BLAZEFACE_BOX_MAP
from .minifasnet import INPUT_SIZE, LIVE_CLASS, load_minifasnet
from .minifasnet_layers import minifasnet_layers

FIXTURES = Path(__file__).resolve().parents[3] / "test" / "fixtures" / "liveness"
SELFTEST_CROPS = ("astronaut-v2.png", "astronaut-v1se.png", "corner-shrink-shift.png")
TOLERANCE = 1e-3
#: Where the published weights come from (checked by sha256 at export).
SOURCE = {
    "repository": "https://github.com/minivision-ai/Silent-Face-Anti-Spoofing",
    "commit": "b6d5f04ad78778917853b25c778acef6d5626d15",
    "license": "Apache-2.0",
    "published_sha256": {
        "2.7_80x80_MiniFASNetV2.pth": "a5eb02e1843f19b5386b953cc4c9f011c3f985d0ee2bb9819eea9a142099bec0",
        "4_0_0_80x80_MiniFASNetV1SE.pth": "84ee1d37d96894d5e82de5a57df044ef80a58be2b218b5ed7cdfd875ec2f5990",
    },
}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def export(checkpoint: Path, scale: float, threshold: float, operating_point: dict, out: Path, model_id: str) -> dict:
    """Writes `<model_id>_float32.tflite` and `manifest.json` into `out`; returns the manifest."""
    source_sha = sha256(checkpoint.read_bytes())
    if SOURCE["published_sha256"].get(checkpoint.name) != source_sha:
        raise ValueError(f"{checkpoint}: sha256 {source_sha} is not the published file's")
    model = load_minifasnet(checkpoint).use_rgb_input()
    graph = build_graph(minifasnet_layers(model), input_size=INPUT_SIZE)
    data = graph.serialize(f"faceedge {model_id} (MiniFASNet, Minivision, Apache-2.0)")
    crops = np.stack([np.asarray(Image.open(FIXTURES / name).convert("RGB")) for name in SELFTEST_CROPS])
    noise = np.random.default_rng(0).uniform(0, 255, (8, INPUT_SIZE, INPUT_SIZE, 3))
    inputs = np.concatenate([crops, noise]).astype(np.float32)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{model_id}_float32.tflite"
    path.write_bytes(data)
    runtime, report = run_tflite(path, inputs)
    with torch.no_grad():
        reference = model(torch.from_numpy(inputs).permute(0, 3, 1, 2)).numpy()
    worst = float(np.abs(runtime - reference).max())
    if worst > TOLERANCE:
        path.unlink()
        raise ValueError(f"the TFLite file's logits differ from PyTorch's by {worst} (> {TOLERANCE})")
    selftest = []
    for name, logits in zip(SELFTEST_CROPS, runtime[: len(SELFTEST_CROPS)], strict=True):
        png = (FIXTURES / name).read_bytes()
        selftest.append(
            {"crop": name, "png_base64": base64.b64encode(png).decode(), "expected_logits": logits.tolist()}
        )
    manifest = {
        "id": model_id,
        "task": "presentation-attack-detection",
        "classes": ["attack_0", "live", "attack_2"],
        "live_index": LIVE_CLASS,
        "output": {"kind": "logits", "shape": [1, 3]},
        "input": {
            "width": INPUT_SIZE,
            "height": INPUT_SIZE,
            "channels": 3,
            "layout": "NHWC",
            "color": "RGB",
            "range": [0, 255],
        },
        "crop": {
            "kind": "detector-box",
            "size": INPUT_SIZE,
            "scale": scale,
            "box_map": {
                "centre_x": BLAZEFACE_BOX_MAP.centre_x,
                "centre_y": BLAZEFACE_BOX_MAP.centre_y,
                "width": BLAZEFACE_BOX_MAP.width,
                "height": BLAZEFACE_BOX_MAP.height,
            },
            "detector": "BlazeFace short range (@mediapipe/face_detection), src/inference/face-detector.ts",
        },
        "threshold": threshold,
        "operating_point": operating_point,
        "files": {
            "float32": {"path": path.name, "dtype": "float32", "sha256": sha256(data), "bytes": len(data)},
        },
        "selftest": selftest,
        "verification": {
            "max_abs_logit_difference_vs_pytorch": worst,
            "inputs": len(inputs),
            "delegate": report.get("delegate"),
        },
        "provenance": {
            **{k: v for k, v in SOURCE.items() if k != "published_sha256"},
            "file": f"resources/anti_spoof_models/{checkpoint.name}",
            "sha256": source_sha,
            "architecture": "MiniFASNet (faceedge_train.liveness.minifasnet), rebuilt from the checkpoint's shapes",
            "changes": (
                "batch norms folded, BGR input turned to RGB in the first convolution, head's linear-BN-linear merged"
            ),
        },
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "exporter": {"module": "faceedge_train.liveness.export", "torch_version": torch.__version__},
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--scale", type=float, required=True, help="crop side in publisher face boxes (2.7, 4.0)")
    parser.add_argument("--threshold", type=float, required=True, help="P(live) below which a face is an attack")
    parser.add_argument("--operating-point", type=Path, required=True, help="JSON: how the threshold was chosen")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--id", default="minifasnet-v2-80")
    args = parser.parse_args(argv)
    try:
        m = export(
            args.checkpoint, args.scale, args.threshold, json.loads(args.operating_point.read_text()), args.out, args.id
        )
    except ValueError as err:
        print(f"export failed: {err}", file=sys.stderr)
        return 1
    print(
        json.dumps(
            {
                "written": m["files"],
                "max_abs_logit_difference": m["verification"]["max_abs_logit_difference_vs_pytorch"],
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

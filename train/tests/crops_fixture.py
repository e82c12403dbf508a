"""A tiny synthetic crops folder with the real layout, for the training tests.

"female" crops carry horizontal stripes and "male" crops vertical ones, with random colours,
phase, period and noise: separable by shape alone, so they survive every augmentation
(rotations stay within +-15 degrees, grayscale drops colour, flips keep stripe orientation).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image


def stripe_crop(rng: np.random.Generator, vertical: bool, size: int = 64) -> np.ndarray:
    """One 64x64 RGB uint8 crop with stripes of a random period (6-12 px), phase and colours."""
    period = rng.uniform(6, 12)
    phase = rng.uniform(0, period)
    coord = np.arange(size)[None, :] if vertical else np.arange(size)[:, None]
    wave = (np.sin(2 * np.pi * (coord + phase) / period) > 0).astype(np.float32)
    wave = np.broadcast_to(wave, (size, size))
    dark, light = rng.uniform(0, 110, 3), rng.uniform(150, 255, 3)
    image = dark + wave[..., None] * (light - dark) + rng.normal(0, 8, (size, size, 3))
    return np.clip(image, 0, 255).astype(np.uint8)


def make_crops(root: Path, per_class: dict[str, int], seed: int = 0, alignment: dict | None = None) -> Path:
    """Write root/{split}/{female,male}/NNNN.png for split -> count per class, and manifest.json
    (with `alignment`, the crop geometry `dataset prepare` records, when one is given)."""
    rng = np.random.default_rng(seed)
    counts = {}
    for split, n in per_class.items():
        for label in ("female", "male"):
            folder = root / split / label
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                Image.fromarray(stripe_crop(rng, vertical=label == "male")).save(folder / f"{i:04d}.png")
        counts[split] = {"female": n, "male": n}
    manifest = {"counts": counts, "skipped": [], "detector": "synthetic"}
    if alignment is not None:
        manifest["alignment"] = alignment
    (root / "manifest.json").write_text(json.dumps(manifest))
    return root

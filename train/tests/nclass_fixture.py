"""A tiny synthetic crops folder with three classes, for the N-class tests.

The classes are patterns that survive every augmentation: horizontal stripes, vertical stripes
(crops_fixture's), and no stripes at all (a smooth random colour field). Any three label names can be
given; the patterns are assigned in the order given.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from crops_fixture import stripe_crop
from PIL import Image


def pattern_crop(rng: np.random.Generator, kind: int) -> np.ndarray:
    """kind 0: horizontal stripes, 1: vertical stripes, 2: a smooth colour field without stripes."""
    if kind < 2:
        return stripe_crop(rng, vertical=kind == 1)
    coarse = rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)
    field = np.asarray(Image.fromarray(coarse, "RGB").resize((64, 64), Image.BILINEAR), dtype=np.float32)
    return np.clip(field + rng.normal(0, 8, field.shape), 0, 255).astype(np.uint8)


def make_three_class_crops(root: Path, labels: tuple[str, str, str], per_class: dict[str, int], seed: int = 0) -> Path:
    """Write root/{split}/<label>/NNNN.png for split -> count per label, and a manifest.json."""
    rng = np.random.default_rng(seed)
    counts = {}
    for split, n in per_class.items():
        for kind, label in enumerate(labels):
            folder = root / split / label
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                Image.fromarray(pattern_crop(rng, kind)).save(folder / f"{i:04d}.png")
        counts[split] = dict.fromkeys(labels, n)
    manifest = {"counts": counts, "skipped": [{"path": "x.jpg", "reason": "no face"}], "detector": "synthetic"}
    (root / "manifest.json").write_text(json.dumps(manifest))
    return root

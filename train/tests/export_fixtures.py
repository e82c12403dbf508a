"""Shared helpers for the export tests: a small model with non-trivial outputs and a synthetic crops folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from faceedge_train.model import ConvBNAct, FaceClassifier, ModelConfig
from PIL import Image


def spread_model(seed: int = 0, width: float = 0.35, late_stride: int = 2) -> FaceClassifier:
    """A randomly initialised FaceClassifier with data-derived BatchNorm statistics, random BN
    affine parameters and a scaled classifier, so that BN folding is exercised, activations stay
    in a realistic (mostly unsaturated) range and the output probability varies from input to
    input (a freshly initialised model answers ~0.5 for everything)."""
    torch.manual_seed(seed)
    model = FaceClassifier(ModelConfig(width=width, late_stride=late_stride))
    x = (torch.from_numpy(smooth_images(64, seed=seed + 1)).permute(0, 3, 1, 2).float() - 128) / 128
    with torch.no_grad():
        for block in model.modules():
            if isinstance(block, ConvBNAct):
                bn = block.bn
                bn.momentum = None  # cumulative average: the stats of exactly the batch below
                # A random ReLU network with batch-normalised layers is chaotic: it amplifies any
                # small perturbation (quantization noise included) from layer to layer, which a
                # trained network does not. Pre-activations of about N(1, 0.45^2) keep most ReLU6
                # units in their linear part, and small projections keep the residual stream
                # dominated by its input, so the network stays well conditioned.
                bn.weight.uniform_(0.3, 0.6) if block.act else bn.weight.uniform_(0.1, 0.4)
                bn.bias.uniform_(0.8, 1.4) if block.act else bn.bias.uniform_(-0.1, 0.1)
        model.train()
        model(x)
        model.eval()
        # Read the logit out along the features' main direction of variation over these inputs
        # (a random readout mostly sees their common part and turns small noise into big logit
        # changes), scaled to std 3 and centred so that both classes occur.
        feats = model.features(x).mean(dim=(2, 3))
        direction = torch.linalg.svd(feats - feats.mean(0), full_matrices=False).Vh[0]
        logits = feats @ direction
        model.classifier.weight.copy_((3.0 / float(logits.std())) * direction[None, :])
        model.classifier.bias.fill_(-float((feats @ model.classifier.weight[0]).median()))
    return model.eval()


def smooth_images(n: int, seed: int = 0, size: int = 64) -> np.ndarray:
    """n uint8 (size, size, 3) RGB images: random 6x6 colour fields upsampled bilinearly plus a
    little noise, so they have image-like structure and differ in brightness and colour."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, size, size, 3), dtype=np.uint8)
    for i in range(n):
        coarse = rng.integers(0, 256, (6, 6, 3), dtype=np.uint8)
        img = np.asarray(Image.fromarray(coarse, "RGB").resize((size, size), Image.BILINEAR), dtype=np.float32)
        img = img * rng.uniform(0.5, 1.2) + rng.normal(0, 6, img.shape)
        out[i] = np.clip(img, 0, 255).astype(np.uint8)
    return out


def write_crops(root: Path, per_class: int, splits=("train", "val", "test"), seed: int = 0) -> Path:
    """A crops folder `<root>/<split>/{female,male}/*.png` (no split level when splits is empty)."""
    images = smooth_images(per_class * 2 * max(1, len(splits)), seed=seed)
    k = 0
    for split in splits or (None,):
        for label in ("female", "male"):
            folder = root / split / label if split else root / label
            folder.mkdir(parents=True, exist_ok=True)
            for j in range(per_class):
                Image.fromarray(images[k], "RGB").save(folder / f"{j:04d}.png")
                k += 1
    return root


def checkpoint_of(model: FaceClassifier) -> dict:
    return {
        "model_state": model.state_dict(),
        "model_config": model.config.to_dict(),
        "metrics": {"test": {"accuracy": 0.5}},
        "dataset": {"path": "synthetic"},
        "training": {"epochs": 0},
    }

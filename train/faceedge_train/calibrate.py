"""Activation ranges for int8 quantization, from calibration batches run through the folded float model.

Two methods:
- "minmax": the min and max seen over all batches.
- "mse" (default): for the outputs of convolutions and ADDs, the range [a*min, a*max] (a in
  [0.3, 1]) whose int8 quantization has the smallest mean squared error on the calibration values.
  The rare extreme values are then clipped in exchange for a finer step for all the others.
  MEAN and the logit keep min/max, so confident outputs keep their full probability.
Measured on the faceedge gender model (width 0.5, 18 epochs, 1854 test crops, emulated int8),
four 500-crop calibration draws: mean |int8 - float| probability 0.00346-0.00376 with "mse" vs
0.00372-0.00393 with "minmax"; int8/float class agreement 99.51-99.78 % vs 99.46-99.78 %. With
1500 crops min/max ranges grow (0.00396-0.00415) while "mse" stays put (0.00347-0.00378).
Every range is later widened to contain 0 (see quantize.activation_params).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch

from .layers import Layer, run_layers

METHODS = ("mse", "minmax")
SAMPLES_PER_BATCH = 20_000  # values kept per tensor and batch for the MSE search
CLIP_FACTORS = np.linspace(0.3, 1.0, 29)
# Outputs whose range "mse" may clip: the feature maps. Heads (MEAN, FULLY_CONNECTED) keep min/max.
CLIPPED_OPS = ("conv", "depthwise", "add", "mul", "prelu")


def calibrate(
    layers: list[Layer], batches: Iterable[torch.Tensor], method: str = "mse", seed: int = 0
) -> dict[str, tuple[float, float]]:
    """(min, max) to quantize each activation tensor with; x batches: (N, 3, H, W) normalized input."""
    if method not in METHODS:
        raise ValueError(f"calibration method must be one of {METHODS}, got {method!r}")
    clipped = {layer.output for layer in layers if layer.op in CLIPPED_OPS}
    rng = np.random.default_rng(seed)
    ranges: dict[str, tuple[float, float]] = {}
    samples: dict[str, list[np.ndarray]] = {name: [] for name in clipped}
    with torch.no_grad():
        for x in batches:
            for name, value in run_layers(layers, x).items():
                lo, hi = float(value.min()), float(value.max())
                old = ranges.get(name)
                ranges[name] = (lo, hi) if old is None else (min(old[0], lo), max(old[1], hi))
                if method == "mse" and name in clipped:
                    flat = value.reshape(-1).numpy()
                    samples[name].append(rng.choice(flat, min(flat.size, SAMPLES_PER_BATCH), replace=False))
    if not ranges:
        raise ValueError("calibration needs at least one batch")
    if method == "mse":
        for name in clipped:
            ranges[name] = mse_range(np.concatenate(samples[name]), *ranges[name])
    return ranges


def quantization_mse(values: np.ndarray, lo: float, hi: float) -> float:
    """Mean squared error of quantizing `values` to int8 over [lo, hi] (widened to include 0)."""
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    scale = max((hi - lo) / 255.0, 1e-12)
    zero_point = np.clip(np.round(-128.0 - lo / scale), -128, 127)
    q = np.clip(np.round(values / scale) + zero_point, -128, 127)
    return float(np.mean(((q - zero_point) * scale - values) ** 2))


def mse_range(values: np.ndarray, lo: float, hi: float) -> tuple[float, float]:
    """The [a*lo, a*hi] (a in CLIP_FACTORS) with the smallest quantization MSE on `values`."""
    values = values.astype(np.float64)
    best = min(CLIP_FACTORS, key=lambda a: quantization_mse(values, a * lo, a * hi))
    return float(best * lo), float(best * hi)

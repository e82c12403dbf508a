"""The preprocessing contract shared with the board (src/inference/preprocess.ts), in one place.

    crop:        64x64x3 RGB uint8, HWC
    float input: (pixel - MEAN) / STD
    int8 input:  pixel - MEAN as int8, i.e. scale 1/STD and zero point 0 (exact, no rounding)

Pinned by the golden fixtures (test/fixtures/golden) that both test suites check, and recorded in every
model's manifest (`input.normalization`), which the board reads and honours.
"""

from __future__ import annotations

import numpy as np
import torch

MEAN = 128.0
STD = 128.0
NORMALIZATION = {"mean": int(MEAN), "std": int(STD)}
INPUT_SCALE = 1.0 / STD  # the int8 input tensor's quantization scale (zero point 0)


def normalize(pixels: torch.Tensor) -> torch.Tensor:
    """Pixel values (any layout, 0-255, float or integer) -> the model's input scale."""
    return (pixels.float() - MEAN) / STD


def to_model_input(images: torch.Tensor) -> torch.Tensor:
    """uint8 (N, 64, 64, 3) HWC -> float32 (N, 3, 64, 64): what the PyTorch model takes."""
    return normalize(images.permute(0, 3, 1, 2))


def float_input_nhwc(images: np.ndarray) -> np.ndarray:
    """uint8 HWC crops -> the float32 TFLite model's NHWC input."""
    return ((images.astype(np.float32) - MEAN) / STD).astype(np.float32)


def int8_input_nhwc(images: np.ndarray) -> np.ndarray:
    """uint8 HWC crops -> the int8 TFLite model's NHWC input (pixel - 128)."""
    return (images.astype(np.int16) - int(MEAN)).astype(np.int8)

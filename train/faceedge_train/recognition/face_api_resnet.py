"""The face-api face recognition network (dlib's ResNet-34-style descriptor, 150x150 -> 128-D) as layers.

face-api (`@vladmandic/face-api`, MIT) ships only the weights (`face_recognition_model.bin`, uint8-
quantized) and builds the network in code; this module describes the same computation in the writer's
op vocabulary. Each conv is conv + bias + a per-channel scale layer (folded here into the conv), a
downsampling block adds a 2x2 average pool of its input, zero-padded in channels (and the conv branch
zero-padded by one row and column where the valid 3x3/2 conv comes out smaller than the pool), and
the head is a spatial mean and a 256 -> 128 matrix without bias.

face-api normalizes the 150x150 RGB input as (pixel - mean_rgb) / 255; the layers here take the
project's (pixel - 128) / 128 and fold the difference into the first conv, which is valid-padded, so
the fold is exact.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..layers import INPUT, Layer
from .tfjs_weights import read_manifest_weights

INPUT_SIZE = 150
MEAN_RGB = np.array([122.782, 117.001, 104.298])
BLOCKS = [
    ("conv32_1", False),
    ("conv32_2", False),
    ("conv32_3", False),
    ("conv64_down", True),
    ("conv64_1", False),
    ("conv64_2", False),
    ("conv64_3", False),
    ("conv128_down", True),
    ("conv128_1", False),
    ("conv128_2", False),
    ("conv256_down", True),
    ("conv256_1", False),
    ("conv256_2", False),
    ("conv256_down_out", True),
]


def _conv(w: dict, prefix: str, src: str, stride: int, padding: str, relu: bool) -> Layer:
    filters = np.asarray(w[f"{prefix}/conv/filters"], dtype=np.float64)  # [kh, kw, I, O]
    scale = np.asarray(w[f"{prefix}/scale/weights"], dtype=np.float64)
    shift = np.asarray(w[f"{prefix}/scale/biases"], dtype=np.float64)
    bias = np.asarray(w[f"{prefix}/conv/bias"], dtype=np.float64)
    weight = filters.transpose(3, 0, 1, 2) * scale[:, None, None, None]
    return Layer(
        "conv",
        [src],
        prefix,
        weight,
        bias * scale + shift,
        stride,
        padding=padding,
        activation="relu" if relu else "none",
    )


def build_layers(model_dir: str | Path) -> tuple[list[Layer], dict]:
    """(layers, info) of the network in `model_dir` (face-api's `model/` folder)."""
    folder = Path(model_dir)
    import json

    manifest = json.loads((folder / "face_recognition_model-weights_manifest.json").read_text())
    w = read_manifest_weights(folder, manifest)
    layers: list[Layer] = []
    stem = _conv(w, "conv32_down", INPUT, 2, "valid", True)
    # x_face_api = (pixel - mean_c) / 255 = x * 128/255 + (128 - mean_c) / 255 for x = (pixel - 128) / 128
    gain, offset = 128.0 / 255.0, (128.0 - MEAN_RGB) / 255.0
    stem.bias = stem.bias + np.einsum("ohwi,i->o", stem.weight, offset)
    stem.weight = stem.weight * gain
    layers.append(stem)
    layers.append(Layer("max_pool", [stem.output], "pool", stride=2, padding="valid", params={"kernel": 3}))
    size, channels, current = 35, 32, "pool"
    for name, down in BLOCKS:
        out_channels = w[f"{name}/conv1/conv/filters"].shape[3]
        a = _conv(w, f"{name}/conv1", current, 2 if down else 1, "valid" if down else "same", True)
        b = _conv(w, f"{name}/conv2", a.output, 1, "same", False)
        layers += [a, b]
        shortcut, branch = current, b.output
        if down:
            conv_size, pool_size = (size - 3) // 2 + 1, size // 2
            layers.append(Layer("avg_pool", [current], f"{name}/pool", stride=2, padding="valid", params={"kernel": 2}))
            shortcut = f"{name}/pool"
            if out_channels != channels:
                pads = [[0, 0], [0, 0], [0, out_channels - channels]]
                layers.append(Layer("pad", [shortcut], f"{name}/pool_pad", params={"pads": pads}))
                shortcut = f"{name}/pool_pad"
            if conv_size != pool_size:
                grow = pool_size - conv_size
                layers.append(
                    Layer("pad", [branch], f"{name}/branch_pad", params={"pads": [[0, grow], [0, grow], [0, 0]]})
                )
                branch = f"{name}/branch_pad"
            size = pool_size
        layers.append(Layer("add", [branch, shortcut], f"{name}/add", activation="relu"))
        current, channels = f"{name}/add", out_channels
    layers.append(Layer("mean", [current], "mean"))
    fc = np.asarray(w["fc"], dtype=np.float64)  # [256, 128]
    layers.append(Layer("dense", ["mean"], "descriptor", fc.T.copy(), np.zeros(fc.shape[1])))
    return layers, {"input_shape": [INPUT_SIZE, INPUT_SIZE, 3], "output_dims": fc.shape[1], "output": "descriptor"}

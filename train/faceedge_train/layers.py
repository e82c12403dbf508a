"""The op vocabulary the TFLite writer speaks, and its reference semantics in PyTorch.

A network to export is a flat list of `Layer`s: each names its input tensors and its output tensor,
carries its constants already in TFLite layout (float64 numpy), and means exactly what `run_layers`
computes. `tflite.convert.build_graph` writes the list as a float32 or int8 TFLite graph,
`calibrate` and `quantize` measure and emulate its int8 version. Producers: `fold.fold_model` (the
faceedge classifier) and `recognition.tfjs_graph` (networks published as tfjs graph models).

Ops (feature maps are NCHW here, NHWC in the file; a "vector" is (N, C) here, [1, C] in the file):

    conv       weight [O, kh, kw, I], bias [O]; stride; padding; activation
    depthwise  weight [1, kh, kw, C], bias [C] (depth multiplier 1); stride; padding; activation
    dense      weight [O, K], bias [O]; a map input is flattened in NHWC order (K = H*W*C); activation
    add, mul   two tensors (a vector broadcasts over a map), or one tensor and a constant `weight` [C]
    prelu      weight = alpha [C]: x if x > 0 else alpha * x
    relu, relu6
    pad        params["pads"] = [[top, bottom], [left, right], [before, after]] (zeros; the last
               pair pads channels)
    max_pool, avg_pool   params["kernel"], stride, padding ("same" or "valid"; avg_pool: "valid")
    mean       spatial mean of a map -> vector ([1, 1, 1, C] in the file: what XNNPACK delegates)
    flatten    map -> vector in NHWC order (RESHAPE)
    logistic, softmax (last axis), l2norm (last axis, x / max(|x|, eps) like TFLite's kernel)

padding: "same" (TensorFlow's SAME: the odd pixel after), "valid", or explicit (top, bottom, left,
right) zeros; explicit padding that equals SAME is written as SAME, any other as PAD + VALID.
activation: "none", "relu" or "relu6", fused into the op in the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

INPUT = "input"
ACTIVATIONS = ("none", "relu", "relu6")
WEIGHTED_OPS = ("conv", "depthwise", "dense")
ELEMENTWISE_OPS = ("add", "mul")
# TFLite's L2_NORMALIZATION divides by max(|x|, 1e-6)... in float; the int8 kernel has no epsilon.
L2_EPSILON = 1e-6


@dataclass
class Layer:
    """One graph node (see the module docstring for what each op means).

    relu6 is the older spelling of activation="relu6", kept for the classifier's folding code.
    """

    op: str
    inputs: list[str]
    output: str
    weight: np.ndarray | None = None
    bias: np.ndarray | None = None
    stride: int = 1
    relu6: bool = False
    padding: str | tuple[int, int, int, int] = "same"
    activation: str = "none"
    params: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.relu6:
            self.activation = "relu6"
        self.relu6 = self.activation == "relu6"
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"{self.output}: activation must be one of {ACTIVATIONS}, got {self.activation!r}")
        if isinstance(self.padding, (list, tuple)):
            self.padding = tuple(int(p) for p in self.padding)
            if len(self.padding) != 4 or min(self.padding) < 0:
                raise ValueError(f"{self.output}: explicit padding is (top, bottom, left, right) >= 0")
        elif self.padding not in ("same", "valid"):
            raise ValueError(f"{self.output}: padding must be 'same', 'valid' or 4 numbers, got {self.padding!r}")

    @property
    def kernel(self) -> tuple[int, int]:
        """(kh, kw) of a conv, depthwise or pooling layer."""
        if self.op in ("conv", "depthwise"):
            return int(self.weight.shape[1]), int(self.weight.shape[2])
        k = self.params["kernel"]
        return (int(k), int(k)) if np.isscalar(k) else (int(k[0]), int(k[1]))


def same_padding(height: int, width: int, kernel_h: int, kernel_w: int, stride: int) -> tuple[int, int, int, int]:
    """(left, right, top, bottom) that TensorFlow's SAME padding adds (the extra pixel goes after)."""

    def one(size: int, k: int) -> tuple[int, int]:
        out = -(-size // stride)
        total = max((out - 1) * stride + k - size, 0)
        return total // 2, total - total // 2

    top, bottom = one(height, kernel_h)
    left, right = one(width, kernel_w)
    return left, right, top, bottom


def explicit_padding(layer: Layer, height: int, width: int) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) zeros that `layer` adds to a height x width input."""
    if layer.padding == "valid":
        return 0, 0, 0, 0
    if layer.padding == "same":
        left, right, top, bottom = same_padding(height, width, *layer.kernel, layer.stride)
        return top, bottom, left, right
    return layer.padding


def as_map(x: torch.Tensor) -> torch.Tensor:
    """A vector (N, C) as the 1x1 map (N, C, 1, 1) it is in the file; maps unchanged."""
    return x[:, :, None, None] if x.ndim == 2 else x


def flatten_nhwc(x: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) -> (N, H*W*C) in the file's (NHWC) order; vectors unchanged."""
    return x.permute(0, 2, 3, 1).reshape(x.shape[0], -1) if x.ndim == 4 else x


def broadcast_pair(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Operands of add/mul: a vector meets a map as a 1x1 map (TFLite broadcasts [1,1,1,C])."""
    if a.ndim != b.ndim:
        return as_map(a), as_map(b)
    return a, b


def activate(x: torch.Tensor, activation: str) -> torch.Tensor:
    if activation == "relu":
        return F.relu(x)
    if activation == "relu6":
        return F.relu6(x)
    return x


def constant(layer: Layer, like: torch.Tensor) -> torch.Tensor:
    """The layer's per-channel constant operand shaped to broadcast against `like`."""
    c = torch.from_numpy(np.asarray(layer.weight, dtype=np.float64)).to(like.dtype)
    return c.reshape(1, -1, 1, 1) if like.ndim == 4 else c.reshape(1, -1)


def run_layer(layer: Layer, values: dict[str, torch.Tensor], dtype: torch.dtype) -> torch.Tensor:
    """One layer's output from the tensors computed so far (float semantics)."""
    a = values[layer.inputs[0]]
    op = layer.op
    if op in ("conv", "depthwise"):
        a = as_map(a)
        w = torch.from_numpy(layer.weight).to(dtype)
        w, groups = (w.permute(0, 3, 1, 2), 1) if op == "conv" else (w.permute(3, 0, 1, 2), w.shape[3])
        top, bottom, left, right = explicit_padding(layer, a.shape[2], a.shape[3])
        a = F.pad(a, (left, right, top, bottom))
        y = F.conv2d(a, w, torch.from_numpy(layer.bias).to(dtype), layer.stride, groups=groups)
        return activate(y, layer.activation)
    if op == "dense":
        y = F.linear(flatten_nhwc(a), torch.from_numpy(layer.weight).to(dtype), torch.from_numpy(layer.bias).to(dtype))
        return activate(y, layer.activation)
    if op in ELEMENTWISE_OPS:
        b = values[layer.inputs[1]] if len(layer.inputs) > 1 else constant(layer, a)
        a, b = broadcast_pair(a, b)
        return activate(a + b if op == "add" else a * b, layer.activation)
    if op == "prelu":
        alpha = constant(layer, a)
        return torch.where(a > 0, a, a * alpha)
    if op == "relu":
        return F.relu(a)
    if op == "relu6":
        return F.relu6(a)
    if op == "pad":
        (top, bottom), (left, right), (before, after) = layer.params["pads"]
        return F.pad(as_map(a), (left, right, top, bottom, before, after))
    if op in ("max_pool", "avg_pool"):
        kh, kw = layer.kernel
        top, bottom, left, right = explicit_padding(layer, a.shape[2], a.shape[3])
        if op == "max_pool":
            a = F.pad(a, (left, right, top, bottom), value=float("-inf"))
            return F.max_pool2d(a, (kh, kw), layer.stride)
        if layer.padding != "valid":
            raise ValueError(f"{layer.output}: avg_pool supports only valid padding")
        return F.avg_pool2d(a, (kh, kw), layer.stride)
    if op == "mean":
        return a.mean(dim=(2, 3))
    if op == "flatten":
        return flatten_nhwc(a)
    if op == "logistic":
        return torch.sigmoid(a)
    if op == "softmax":
        return torch.softmax(a, dim=-1)
    if op == "l2norm":
        return a / a.norm(dim=-1, keepdim=True).clamp_min(L2_EPSILON)
    raise ValueError(f"unknown layer op {op}")


def run_layers(layers: list[Layer], x: torch.Tensor, dtype: torch.dtype = torch.float32) -> dict[str, torch.Tensor]:
    """Execute the layers. x: (N, 3, H, W) normalized input. Returns every tensor by name
    (NCHW for feature maps, (N, C) for vectors: after mean, flatten, dense)."""
    values: dict[str, torch.Tensor] = {INPUT: x.to(dtype)}
    for layer in layers:
        values[layer.output] = run_layer(layer, values, dtype)
    return values


def output_shape(layer: Layer, shapes: dict[str, list[int]]) -> list[int]:
    """The NHWC shape of `layer`'s output tensor in the file, from its inputs' file shapes."""
    src = shapes[layer.inputs[0]]
    op = layer.op
    if op in ("conv", "depthwise", "max_pool", "avg_pool"):
        _, h, w, c = src
        top, bottom, left, right = explicit_padding(layer, h, w)
        kh, kw = layer.kernel
        s = layer.stride
        channels = {"conv": lambda: layer.weight.shape[0], "depthwise": lambda: layer.weight.shape[3]}.get(
            op, lambda: c
        )()
        return [1, (h + top + bottom - kh) // s + 1, (w + left + right - kw) // s + 1, int(channels)]
    if op == "dense":
        return [1, int(layer.weight.shape[0])]
    if op in ELEMENTWISE_OPS and len(layer.inputs) > 1:
        other = shapes[layer.inputs[1]]
        return list(src) if len(src) >= len(other) and int(np.prod(src)) >= int(np.prod(other)) else list(other)
    if op == "pad":
        (top, bottom), (left, right), (before, after) = layer.params["pads"]
        _, h, w, c = src
        return [1, h + top + bottom, w + left + right, c + before + after]
    if op == "mean":
        return [1, 1, 1, src[3]]
    if op == "flatten":
        return [1, int(np.prod(src[1:]))]
    return list(src)

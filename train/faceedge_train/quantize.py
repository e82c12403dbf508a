"""Full-integer int8 post-training quantization of folded layers, per the TFLite quantization spec.

- Weights: int8, symmetric (zero point 0, values in [-127, 127]), per output channel for CONV_2D (axis
  0) and DEPTHWISE_CONV_2D (axis 3) filters, per tensor (one scale) for FULLY_CONNECTED: TFLite 2.9's
  FULLY_CONNECTED kernel reads its filter's single scale, and a filter with one scale per output reads as
  scale 0 there (every output is then its zero point; measured with a 3-logit head, XNNPACK and the
  builtin kernel alike). A one-logit head has one channel, so per channel and per tensor are the same.
- Biases: int32, zero point 0, scale = input_scale * weight_scale[c].
- Activations: int8 asymmetric per tensor, over the ranges `calibrate.calibrate` measured on
  calibration batches; every range is widened to contain 0 so that 0.0 (padding, ReLU) is exact.
- The model input is fixed to scale 1/128, zero point 0 (pixel - 128), the LOGISTIC output to the
  spec's fixed 1/256, -128.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .fold import INPUT, Layer
from .preprocess import INPUT_SCALE
from .tflite.graph import QuantParams

INPUT_QUANT = QuantParams([INPUT_SCALE], [0])
LOGISTIC_QUANT = QuantParams([1.0 / 256.0], [-128])
INT32_MAX = 2**31 - 1
# XNNPACK leaves int8 convolutions whose requantization scale input_scale * weight_scale /
# output_scale is 256 or more to the slower builtin kernels. Only a nearly constant output (a dead
# channel group) gets there; its range is widened instead, which costs it no accuracy.
MAX_REQUANT_SCALE = 64.0


@dataclass
class QuantLayer:
    """A folded layer with its integer parameters (None for ops without weights)."""

    layer: Layer
    weight_q: np.ndarray | None = None  # int8, TFLite layout
    weight_scale: np.ndarray | None = None  # float64 per output channel
    bias_q: np.ndarray | None = None  # int32


@dataclass
class QuantizedModel:
    layers: list[QuantLayer]
    activations: dict[str, QuantParams]  # every activation tensor by name
    ranges: dict[str, tuple[float, float]]  # calibrated float ranges, before widening to include 0


def activation_params(lo: float, hi: float, min_scale: float = 0.0) -> QuantParams:
    """Asymmetric int8 params covering [lo, hi] widened to include 0 (scale >= min_scale)."""
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    # A constant-zero tensor (a dead ReLU channel group) still needs a valid, positive scale.
    # Rounded to float32 now, because the file stores float32 and every later step (zero point,
    # bias scales) must use exactly the value the runtime will read.
    scale = float(np.float32(max((hi - lo) / 255.0, min_scale, 1e-6)))
    zero_point = int(np.clip(np.round(-128.0 - lo / scale), -128, 127))
    return QuantParams([float(scale)], [zero_point])


def quantize_weights(
    weight: np.ndarray, axis: int, min_scale: np.ndarray | float = 0.0, per_channel: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric per-channel int8: returns (q int8 in [-127, 127], scale float64 per channel along `axis`).

    scale = max|w_c| / 127, at least `min_scale` (per channel or scalar). per_channel False: one scale
    for the whole tensor (a length-1 array), max|w| / 127, at least the largest min_scale.
    """
    if not per_channel:
        max_abs = float(np.abs(weight).max())
        scale = _f32(np.array([max(max_abs / 127.0 if max_abs > 0 else 1.0, float(np.max(min_scale)))]))
        return np.clip(np.round(weight / scale[0]), -127, 127).astype(np.int8), scale
    moved = np.moveaxis(weight, axis, 0).reshape(weight.shape[axis], -1)
    max_abs = np.abs(moved).max(axis=1)
    scale = np.where(max_abs > 0, max_abs / 127.0, 1.0)  # all-zero channel: any scale is exact
    scale = _f32(np.maximum(scale, min_scale))
    shape = [1] * weight.ndim
    shape[axis] = -1
    q = np.clip(np.round(weight / scale.reshape(shape)), -127, 127).astype(np.int8)
    return q, scale


def _f32(values: np.ndarray) -> np.ndarray:
    return np.asarray(values, dtype=np.float32).astype(np.float64)


def bias_scales(input_scale: float, weight_scale: np.ndarray) -> np.ndarray:
    """input_scale * weight_scale[c] computed in float32, as the TFLite kernels compute and check it."""
    return (np.float32(input_scale) * np.asarray(weight_scale, dtype=np.float32)).astype(np.float64)


def quantize_bias(bias: np.ndarray, input_scale: float, weight_scale: np.ndarray) -> np.ndarray:
    q = np.round(bias / bias_scales(input_scale, weight_scale))
    if np.abs(q).max(initial=0) > INT32_MAX:
        raise OverflowError("bias does not fit int32 at scale input_scale * weight_scale")
    return q.astype(np.int32)


def _channel_axis(layer: Layer) -> int:
    return 3 if layer.op == "depthwise" else 0


def quantize_model(layers: list[Layer], ranges: dict[str, tuple[float, float]]) -> QuantizedModel:
    """Integer parameters for every layer from calibrated activation ranges."""
    acts: dict[str, QuantParams] = {INPUT: INPUT_QUANT}
    out: list[QuantLayer] = []
    for layer in layers:
        if layer.op in ("conv", "depthwise", "dense"):
            s_in = acts[layer.inputs[0]].scale[0]
            # A tiny weight scale next to a large bias would overflow the int32 bias: floor it.
            wq, ws = quantize_weights(
                layer.weight,
                _channel_axis(layer),
                min_scale=np.abs(layer.bias) / (s_in * (INT32_MAX // 2)),
                per_channel=layer.op != "dense" or layer.weight.shape[0] == 1,
            )
            lo, hi = ranges[layer.output]
            if layer.relu6:
                lo, hi = max(lo, 0.0), min(hi, 6.0)
            acts[layer.output] = activation_params(lo, hi, min_scale=float((s_in * ws).max()) / MAX_REQUANT_SCALE)
            out.append(QuantLayer(layer, wq, ws, quantize_bias(layer.bias, s_in, ws)))
        elif layer.op == "logistic":
            acts[layer.output] = LOGISTIC_QUANT
            out.append(QuantLayer(layer))
        elif layer.op in ("add", "mean"):
            acts[layer.output] = activation_params(*ranges[layer.output])
            out.append(QuantLayer(layer))
        else:
            raise ValueError(f"unknown layer op {layer.op}")
    return QuantizedModel(out, acts, dict(ranges))


def _fake_quant(x: torch.Tensor, p: QuantParams, lo_q: int = -128, hi_q: int = 127) -> torch.Tensor:
    s, z = p.scale[0], p.zero_point[0]
    return (torch.clamp(torch.round(x / s) + z, lo_q, hi_q) - z) * s


def simulate_int8(qmodel: QuantizedModel, x: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Float64 emulation of the int8 graph (dequantized weights, requantized activations).

    x: (N, 3, H, W) normalized input. Returns (int8 output values, dequantized output), each (N,) for a
    one-probability graph and (N, classes) for a logits graph.
    It rounds like the integer kernels up to their fixed-point multipliers, so it predicts the
    runtime's output within about one step; the runtime itself is the reference.
    """
    v = simulate_values(qmodel, x)
    name = qmodel.layers[-1].layer.output
    out = v[name].reshape(len(x), -1)
    out = out.reshape(-1) if out.shape[1] == 1 else out
    p = qmodel.activations[name]
    q = torch.round(out / p.scale[0]) + p.zero_point[0]
    return q.numpy().astype(np.int8), out.numpy()


def simulate_values(qmodel: QuantizedModel, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Every tensor of the int8 emulation by name, dequantized (float64, NCHW / (N, C))."""
    import torch.nn.functional as F

    from .fold import same_padding

    acts = qmodel.activations
    v = {INPUT: _fake_quant(x.double(), acts[INPUT])}
    for ql in qmodel.layers:
        layer = ql.layer
        a = v[layer.inputs[0]]
        p = acts[layer.output]
        if layer.op in ("conv", "depthwise", "dense"):
            axis = _channel_axis(layer)
            shape = [1] * ql.weight_q.ndim
            shape[axis] = -1
            w = torch.from_numpy(ql.weight_q.astype(np.float64) * ql.weight_scale.reshape(shape))
            b = torch.from_numpy(
                ql.bias_q.astype(np.float64) * bias_scales(acts[layer.inputs[0]].scale[0], ql.weight_scale)
            )
            if layer.op == "dense":
                y = F.linear(a, w, b)
            else:
                w, groups = (w.permute(0, 3, 1, 2), 1) if layer.op == "conv" else (w.permute(3, 0, 1, 2), w.shape[3])
                a = F.pad(a, same_padding(a.shape[2], a.shape[3], w.shape[2], w.shape[3], layer.stride))
                y = F.conv2d(a, w, b, layer.stride, groups=groups)
            lo_q, hi_q = -128, 127
            if layer.relu6:
                z, s = p.zero_point[0], p.scale[0]
                lo_q, hi_q = max(lo_q, z), min(hi_q, z + int(round(6.0 / s)))
            v[layer.output] = _fake_quant(y, p, lo_q, hi_q)
        elif layer.op == "add":
            v[layer.output] = _fake_quant(a + v[layer.inputs[1]], p)
        elif layer.op == "mean":
            v[layer.output] = _fake_quant(a.mean(dim=(2, 3)), p)
        elif layer.op == "logistic":
            v[layer.output] = _fake_quant(torch.sigmoid(a), p)
    return v

"""Full-integer int8 post-training quantization of folded layers, per the TFLite quantization spec.

- Weights: int8, symmetric (zero point 0, values in [-127, 127]), per output channel for CONV_2D
  (axis 0) and DEPTHWISE_CONV_2D (axis 3), per tensor for FULLY_CONNECTED (TFLite 2.9's int8 kernel
  reads one scale).
- Biases: int32, zero point 0, scale = input_scale * weight_scale[c].
- Activations: int8 asymmetric per tensor, over the ranges `calibrate.calibrate` measured on
  calibration batches; every range is widened to contain 0 so that 0.0 (padding, ReLU) is exact.
- The model input is fixed to scale 1/128, zero point 0 (pixel - 128); LOGISTIC and SOFTMAX outputs
  to the spec's fixed 1/256, -128, L2_NORMALIZATION's to 1/128, 0. PAD, pooling and RESHAPE keep
  their input's parameters. Constant operands (PRELU alpha, ADD/MUL constants) are int8 per tensor.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch

from .layers import INPUT, WEIGHTED_OPS, Layer, run_layer
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
    const_q: np.ndarray | None = None  # int8 constant operand (prelu alpha, add/mul constant)
    const_quant: QuantParams | None = None


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
    weight: np.ndarray, axis: int, min_scale: np.ndarray | float = 0.0, per_tensor: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric per-channel int8: returns (q int8 in [-127, 127], scale float64 per channel along `axis`).

    scale = max|w_c| / 127, at least `min_scale` (per channel or scalar). per_tensor: one scale for
    all channels (a length-1 array), for FULLY_CONNECTED, whose int8 kernel in TFLite 2.9 reads
    only the first scale of per-channel weights.
    """
    moved = np.moveaxis(weight, axis, 0).reshape(weight.shape[axis], -1)
    max_abs = np.abs(moved).max(axis=1)
    if per_tensor:
        max_abs = max_abs.max(keepdims=True)
        min_scale = np.max(min_scale)
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


# Ops whose int8 output has fixed parameters (the TFLite quantization spec).
FIXED_OUTPUT_QUANT = {
    "logistic": LOGISTIC_QUANT,
    "softmax": QuantParams([1.0 / 256.0], [-128]),
    "l2norm": QuantParams([1.0 / 128.0], [0]),
}
# Ops that only move or select values: their int8 output keeps the input's parameters.
PASS_THROUGH_OPS = ("pad", "max_pool", "avg_pool", "flatten")


def quantize_model(
    layers: list[Layer], ranges: dict[str, tuple[float, float]], input_quant: QuantParams = INPUT_QUANT
) -> QuantizedModel:
    """Integer parameters for every layer from calibrated activation ranges.

    input_quant: the int8 input's parameters, default the contract's (pixel - 128) / 128; a network
    normalized otherwise passes `input_quant_for` of its normalization.
    """
    acts: dict[str, QuantParams] = {INPUT: input_quant}
    out: list[QuantLayer] = []
    for layer in layers:
        if layer.op in WEIGHTED_OPS:
            s_in = acts[layer.inputs[0]].scale[0]
            # A tiny weight scale next to a large bias would overflow the int32 bias: floor it.
            wq, ws = quantize_weights(
                layer.weight,
                _channel_axis(layer),
                min_scale=np.abs(layer.bias) / (s_in * (INT32_MAX // 2)),
                per_tensor=layer.op == "dense",
            )
            lo, hi = _activated_range(ranges[layer.output], layer.activation)
            acts[layer.output] = activation_params(lo, hi, min_scale=float((s_in * ws).max()) / MAX_REQUANT_SCALE)
            out.append(QuantLayer(layer, wq, ws, quantize_bias(layer.bias, s_in, ws)))
        elif layer.op in FIXED_OUTPUT_QUANT:
            acts[layer.output] = FIXED_OUTPUT_QUANT[layer.op]
            out.append(QuantLayer(layer))
        elif layer.op in PASS_THROUGH_OPS:
            acts[layer.output] = acts[layer.inputs[0]]
            out.append(QuantLayer(layer))
        elif layer.op in ("add", "mul", "prelu", "mean", "relu", "relu6"):
            activation = layer.op if layer.op in ("relu", "relu6") else layer.activation
            acts[layer.output] = activation_params(*_activated_range(ranges[layer.output], activation))
            ql = QuantLayer(layer)
            if layer.weight is not None:  # prelu alpha, or a constant operand of add/mul
                ql.const_q, ql.const_quant = quantize_constant(layer.weight)
            out.append(ql)
        else:
            raise ValueError(f"unknown layer op {layer.op}")
    return QuantizedModel(out, acts, dict(ranges))


def input_quant_for(mean: float, std: float) -> QuantParams:
    """int8 input parameters under which q = pixel - 128 exactly represents (pixel - mean) / std.

    That needs mean - 128 to be an integer (the zero point); (pixel - 127.5) / 128, for one, is not.
    """
    zero_point = mean - 128
    if zero_point != int(zero_point):
        raise ValueError(f"normalization mean {mean} has no exact int8 input (mean - 128 must be an integer)")
    return QuantParams([float(np.float32(1.0 / std))], [int(zero_point)])


def _activated_range(lo_hi: tuple[float, float], activation: str) -> tuple[float, float]:
    lo, hi = lo_hi
    if activation in ("relu", "relu6"):
        lo = max(lo, 0.0)
    if activation == "relu6":
        hi = min(hi, 6.0)
    return lo, hi


def quantize_constant(values: np.ndarray) -> tuple[np.ndarray, QuantParams]:
    """A per-tensor asymmetric int8 constant (prelu alpha, add/mul operand) covering its values and 0."""
    values = np.asarray(values, dtype=np.float64)
    params = activation_params(float(values.min()), float(values.max()))
    s, z = params.scale[0], params.zero_point[0]
    return np.clip(np.round(values / s) + z, -128, 127).astype(np.int8), params


def _dequantized_constant(ql: QuantLayer) -> np.ndarray:
    s, z = ql.const_quant.scale[0], ql.const_quant.zero_point[0]
    return (ql.const_q.astype(np.float64) - z) * s


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
    """Every tensor of the int8 emulation by name, dequantized (float64, NCHW / (N, C)).

    Each layer runs with its dequantized constants (`layers.run_layer`, the float semantics), and
    its output is requantized to its int8 parameters, clamped as a fused activation clamps.
    """
    acts = qmodel.activations
    v = {INPUT: _fake_quant(x.double(), acts[INPUT])}
    for ql in qmodel.layers:
        layer = ql.layer
        p = acts[layer.output]
        y = run_layer(_dequantized_layer(ql, acts), v, torch.float64)
        activation = layer.op if layer.op in ("relu", "relu6") else layer.activation
        lo_q, hi_q = -128, 127
        if activation in ("relu", "relu6") and layer.op not in PASS_THROUGH_OPS:
            z, s = p.zero_point[0], p.scale[0]
            lo_q = max(lo_q, z)
            if activation == "relu6":
                hi_q = min(hi_q, z + int(round(6.0 / s)))
        v[layer.output] = _fake_quant(y, p, lo_q, hi_q)
    return v


def _dequantized_layer(ql: QuantLayer, acts: dict[str, QuantParams]) -> Layer:
    """`ql.layer` with the values its int8 constants stand for (activation left to the requantization)."""
    layer = ql.layer
    if layer.op in WEIGHTED_OPS:
        axis = _channel_axis(layer)
        shape = [1] * ql.weight_q.ndim
        shape[axis] = -1
        weight = ql.weight_q.astype(np.float64) * ql.weight_scale.reshape(shape)
        bias = ql.bias_q.astype(np.float64) * bias_scales(acts[layer.inputs[0]].scale[0], ql.weight_scale)
        return replace(layer, weight=weight, bias=bias, relu6=False, activation="none")
    if ql.const_q is not None:
        return replace(layer, weight=_dequantized_constant(ql), relu6=False, activation="none")
    return replace(layer, relu6=False, activation="none")

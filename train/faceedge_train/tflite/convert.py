"""Write a layer list (`faceedge_train.layers`, the op vocabulary) as a TFLite graph, float32 or full int8.

One emitter per op. Choices that the runtime's speed depends on:
- MEAN keeps its dims ([1,1,1,C]) because that is the form XNNPACK (TFLite 2.9) delegates as a
  global average pool; FULLY_CONNECTED then flattens [1,1,1,C] to [1,C] by itself.
- Explicit conv/depthwise padding equal to SAME is written as SAME; any other becomes PAD + VALID.
- A standalone activation that follows a conv, depthwise, dense, add or mul is the producer's own
  `activation` in the layer list (fused in the file), not a separate op.
Operator versions are the lowest that TFLite's op_version.cc assigns to these signatures.
"""

from __future__ import annotations

import numpy as np

from ..layers import Layer, explicit_padding, output_shape
from . import schema as S
from .graph import Graph, QuantParams

OP = S.BuiltinOperator
OPT = S.BuiltinOptions
# (float32 version, int8 version) per builtin.
OP_VERSIONS = {
    OP.CONV_2D: (1, 3),  # int8 input/filter/output (per-channel filter)
    OP.DEPTHWISE_CONV_2D: (1, 3),
    OP.ADD: (1, 2),
    OP.MUL: (1, 2),
    OP.MEAN: (1, 2),
    OP.FULLY_CONNECTED: (1, 4),  # int8 fully fixed point kernel
    OP.LOGISTIC: (1, 2),
    OP.SOFTMAX: (1, 2),
    OP.L2_NORMALIZATION: (1, 2),
    OP.PAD: (1, 2),
    OP.PRELU: (1, 1),  # TFLite 2.9 registers only version 1 (it takes int8 all the same)
    OP.RELU: (1, 2),
    OP.RELU6: (1, 2),
    OP.MAX_POOL_2D: (1, 2),
    OP.AVERAGE_POOL_2D: (1, 2),
    OP.RESHAPE: (1, 1),
}
ACTIVATION = {"none": S.Activation.NONE, "relu": S.Activation.RELU, "relu6": S.Activation.RELU6}


class _Writer:
    """The graph under construction: tensor indices and file shapes by layer-list name."""

    def __init__(self, qmodel) -> None:
        self.g = Graph()
        self.q = qmodel
        self.int8 = qmodel is not None
        self.act_type = S.TensorType.INT8 if self.int8 else S.TensorType.FLOAT32
        self.qlayers = {id(ql.layer): ql for ql in qmodel.layers} if self.int8 else {}
        self.index: dict[str, int] = {}
        self.shapes: dict[str, list[int]] = {}

    def quant(self, name: str) -> QuantParams | None:
        return self.q.activations[name] if self.int8 else None

    def activation(self, name: str, shape: list[int], quant_of: str | None = None) -> int:
        self.index[name] = self.g.add_tensor(name, shape, self.act_type, quant=self.quant(quant_of or name))
        self.shapes[name] = shape
        return self.index[name]

    def op(self, builtin: int, inputs: list[int], outputs: list[int], options_type=OPT.NONE, options=None) -> None:
        self.g.add_op(builtin, OP_VERSIONS[builtin][1 if self.int8 else 0], inputs, outputs, options_type, options)

    def int32(self, name: str, values) -> int:
        data = np.asarray(values, dtype=np.int32)
        return self.g.add_tensor(name, list(data.shape), S.TensorType.INT32, data)

    def constant(self, layer: Layer, shape: list[int]) -> int:
        """The layer's per-channel constant operand (prelu alpha, add/mul constant)."""
        name = f"{layer.output}/constant"
        values = np.asarray(layer.weight, dtype=np.float64).reshape(shape)
        if not self.int8:
            return self.g.add_tensor(name, shape, S.TensorType.FLOAT32, values.astype(np.float32))
        ql = self.qlayers[id(layer)]
        return self.g.add_tensor(name, shape, S.TensorType.INT8, ql.const_q.reshape(shape), ql.const_quant)


def build_graph(
    layers, qmodel=None, input_size: int = 64, input_name: str = "input", input_shape: list[int] | None = None
) -> Graph:
    """A one-subgraph TFLite graph of `layers`; int8 when `qmodel` (a QuantizedModel) is given.

    The graph input is the tensor `input_name` of shape `input_shape` (default [1, input_size,
    input_size, 3]); naming an inner tensor builds the graph of a slice of the model, which the
    tests use to check each block on its own. The output is the last layer's.
    """
    w = _Writer(qmodel)
    shape = list(input_shape or [1, input_size, input_size, 3])
    w.g.inputs = [w.activation(input_name, shape)]
    for layer in layers:
        emit = EMITTERS.get(layer.op)
        if emit is None:
            raise ValueError(f"unknown layer op {layer.op}")
        emit(w, layer)
    w.g.outputs = [w.index[layers[-1].output]]
    return w.g


def _conv(w: _Writer, layer: Layer) -> None:
    src = layer.inputs[0]
    _, h, wd, _ = w.shapes[src]
    source = w.index[src]
    padding = S.Padding.SAME if layer.padding == "same" else S.Padding.VALID
    if isinstance(layer.padding, tuple):
        top, bottom, left, right = layer.padding
        same = explicit_padding(Layer(layer.op, [], "", layer.weight, stride=layer.stride), h, wd)
        if layer.padding == same:
            padding = S.Padding.SAME
        elif any(layer.padding):
            name = f"{layer.output}/pad"
            pads = w.int32(f"{name}/paddings", [[0, 0], [top, bottom], [left, right], [0, 0]])
            padded = w.activation(name, [1, h + top + bottom, wd + left + right, w.shapes[src][3]], quant_of=src)
            w.op(OP.PAD, [source, pads], [padded])
            source = padded
    out = w.activation(layer.output, output_shape(layer, w.shapes))
    weights, bias = _weights(w, layer)
    common = {
        "padding": padding,
        "stride_w": layer.stride,
        "stride_h": layer.stride,
        "fused_activation_function": ACTIVATION[layer.activation],
        "dilation_w_factor": 1,
        "dilation_h_factor": 1,
    }
    if layer.op == "conv":
        w.op(OP.CONV_2D, [source, weights, bias], [out], OPT.CONV_2D, common)
    else:
        w.op(
            OP.DEPTHWISE_CONV_2D,
            [source, weights, bias],
            [out],
            OPT.DEPTHWISE_CONV_2D,
            {**common, "depth_multiplier": 1},
        )


def _dense(w: _Writer, layer: Layer) -> None:
    out = w.activation(layer.output, output_shape(layer, w.shapes))
    weights, bias = _weights(w, layer)
    options = {"fused_activation_function": ACTIVATION[layer.activation], "weights_format": 0, "keep_num_dims": False}
    w.op(OP.FULLY_CONNECTED, [w.index[layer.inputs[0]], weights, bias], [out], OPT.FULLY_CONNECTED, options)


def _elementwise(w: _Writer, layer: Layer) -> None:
    a = w.index[layer.inputs[0]]
    if len(layer.inputs) > 1:
        b = w.index[layer.inputs[1]]
    else:
        channels = w.shapes[layer.inputs[0]][-1]
        b = w.constant(layer, [channels])
    out = w.activation(layer.output, output_shape(layer, w.shapes))
    builtin, kind = (OP.ADD, OPT.ADD) if layer.op == "add" else (OP.MUL, OPT.MUL)
    w.op(builtin, [a, b], [out], kind, {"fused_activation_function": ACTIVATION[layer.activation]})


def _prelu(w: _Writer, layer: Layer) -> None:
    src = w.shapes[layer.inputs[0]]
    alpha = w.constant(layer, [1] * (len(src) - 2) + [src[-1]])  # [1, 1, C]: broadcasts over H, W
    out = w.activation(layer.output, list(src))
    w.op(OP.PRELU, [w.index[layer.inputs[0]], alpha], [out])


def _unary(builtin: int, options_type: int = OPT.NONE, options: dict | None = None, same_quant: bool = False):
    """An op of one tensor whose output has the input's shape."""

    def emit(w: _Writer, layer: Layer) -> None:
        src = layer.inputs[0]
        out = w.activation(layer.output, output_shape(layer, w.shapes), quant_of=src if same_quant else None)
        w.op(builtin, [w.index[src]], [out], options_type, options)

    return emit


def _pad(w: _Writer, layer: Layer) -> None:
    (top, bottom), (left, right), (before, after) = layer.params["pads"]
    pads = w.int32(f"{layer.output}/paddings", [[0, 0], [top, bottom], [left, right], [before, after]])
    src = layer.inputs[0]
    out = w.activation(layer.output, output_shape(layer, w.shapes), quant_of=src)
    w.op(OP.PAD, [w.index[src], pads], [out])


def _pool(w: _Writer, layer: Layer) -> None:
    src = layer.inputs[0]
    kh, kw = layer.kernel
    out = w.activation(layer.output, output_shape(layer, w.shapes), quant_of=src)
    options = {
        "padding": S.Padding.SAME if layer.padding == "same" else S.Padding.VALID,
        "stride_w": layer.stride,
        "stride_h": layer.stride,
        "filter_width": kw,
        "filter_height": kh,
        "fused_activation_function": S.Activation.NONE,
    }
    builtin = OP.MAX_POOL_2D if layer.op == "max_pool" else OP.AVERAGE_POOL_2D
    w.op(builtin, [w.index[src]], [out], OPT.POOL_2D, options)


def _mean(w: _Writer, layer: Layer) -> None:
    axes = w.int32(f"{layer.output}/axes", [1, 2])
    out = w.activation(layer.output, output_shape(layer, w.shapes))
    w.op(OP.MEAN, [w.index[layer.inputs[0]], axes], [out], OPT.REDUCER, {"keep_dims": True})


def _flatten(w: _Writer, layer: Layer) -> None:
    src = layer.inputs[0]
    shape = output_shape(layer, w.shapes)
    new_shape = w.int32(f"{layer.output}/shape", shape)
    out = w.activation(layer.output, shape, quant_of=src)
    w.op(OP.RESHAPE, [w.index[src], new_shape], [out])


EMITTERS = {
    "conv": _conv,
    "depthwise": _conv,
    "dense": _dense,
    "add": _elementwise,
    "mul": _elementwise,
    "prelu": _prelu,
    "relu": _unary(OP.RELU),
    "relu6": _unary(OP.RELU6),
    "pad": _pad,
    "max_pool": _pool,
    "avg_pool": _pool,
    "mean": _mean,
    "flatten": _flatten,
    "logistic": _unary(OP.LOGISTIC),
    "softmax": _unary(OP.SOFTMAX, OPT.SOFTMAX, {"beta": 1.0}),
    "l2norm": _unary(OP.L2_NORMALIZATION, OPT.L2_NORM, {"fused_activation_function": S.Activation.NONE}),
}


def _weights(w: _Writer, layer: Layer) -> tuple[int, int]:
    """Add the filter and bias constants of one conv/depthwise/dense layer; returns their indices."""
    g, name = w.g, layer.output
    shape = list(layer.weight.shape)
    ql = w.qlayers.get(id(layer))
    if ql is None:
        wi = g.add_tensor(f"{name}/weights", shape, S.TensorType.FLOAT32, layer.weight.astype(np.float32))
        b = g.add_tensor(f"{name}/bias", [len(layer.bias)], S.TensorType.FLOAT32, layer.bias.astype(np.float32))
        return wi, b
    axis = 3 if layer.op == "depthwise" else 0
    scales = [float(s) for s in ql.weight_scale]
    wi = g.add_tensor(
        f"{name}/weights", shape, S.TensorType.INT8, ql.weight_q, QuantParams(scales, [0] * len(scales), axis)
    )
    # Bias scale must equal input_scale * weight_scale[c] (the kernels check it to 1e-6).
    input_quant = w.quant(layer.inputs[0])
    b_scales = (np.float32(input_quant.scale[0]) * np.asarray(scales, dtype=np.float32)).tolist()
    b = g.add_tensor(
        f"{name}/bias", [len(ql.bias_q)], S.TensorType.INT32, ql.bias_q, QuantParams(b_scales, [0] * len(scales), 0)
    )
    return wi, b

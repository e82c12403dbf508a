"""Turn folded layers (`faceedge_train.fold.Layer`) into a TFLite graph, float32 or full int8.

Graph: input [1,H,W,3] -> CONV_2D / DEPTHWISE_CONV_2D (SAME padding, fused RELU6) and ADD ->
MEAN over axes [1,2] with keep_dims -> FULLY_CONNECTED -> LOGISTIC -> output [1,1].

MEAN keeps its dims ([1,1,1,C]) because that is the form XNNPACK (TFLite 2.9) delegates as a
global average pool; FULLY_CONNECTED then flattens [1,1,1,C] to [1,C] by itself. Operator
versions are the lowest that TFLite's op_version.cc assigns to these signatures.
"""

from __future__ import annotations

import numpy as np

from . import schema as S
from .graph import Graph, QuantParams

# (float32 version, int8 version) per builtin.
OP_VERSIONS = {
    S.BuiltinOperator.CONV_2D: (1, 3),  # int8 input/filter/output (per-channel filter)
    S.BuiltinOperator.DEPTHWISE_CONV_2D: (1, 3),
    S.BuiltinOperator.ADD: (1, 2),
    S.BuiltinOperator.MEAN: (1, 2),
    S.BuiltinOperator.FULLY_CONNECTED: (1, 4),  # int8 fully fixed point kernel
    S.BuiltinOperator.LOGISTIC: (1, 2),
}


def build_graph(
    layers, qmodel=None, input_size: int = 64, input_name: str = "input", input_shape: list[int] | None = None
) -> Graph:
    """A one-subgraph TFLite graph of `layers`; int8 when `qmodel` (a QuantizedModel) is given.

    The graph input is the tensor `input_name` of shape `input_shape` (default [1, input_size,
    input_size, 3]); naming an inner tensor builds the graph of a slice of the model, which the
    tests use to check each block on its own.
    """
    int8 = qmodel is not None
    act_type = S.TensorType.INT8 if int8 else S.TensorType.FLOAT32
    g = Graph()
    qlayers = {id(ql.layer): ql for ql in qmodel.layers} if int8 else {}

    def act_quant(name: str) -> QuantParams | None:
        return qmodel.activations[name] if int8 else None

    def version(op: int) -> int:
        return OP_VERSIONS[op][1 if int8 else 0]

    index: dict[str, int] = {}
    shapes: dict[str, list[int]] = {}
    shape = list(input_shape or [1, input_size, input_size, 3])
    index[input_name] = g.add_tensor(input_name, shape, act_type, quant=act_quant(input_name))
    shapes[input_name] = shape
    g.inputs = [index[input_name]]

    def add_output(name: str, shape: list[int]) -> int:
        index[name] = g.add_tensor(name, shape, act_type, quant=act_quant(name))
        shapes[name] = shape
        return index[name]

    for layer in layers:
        src = layer.inputs[0]
        if layer.op in ("conv", "depthwise", "dense"):
            w_idx, b_idx = _weights(g, layer, qlayers.get(id(layer)), act_quant(src))
            if layer.op == "dense":
                out = add_output(layer.output, [1, layer.weight.shape[0]])
                g.add_op(
                    S.BuiltinOperator.FULLY_CONNECTED,
                    version(S.BuiltinOperator.FULLY_CONNECTED),
                    [index[src], w_idx, b_idx],
                    [out],
                    S.BuiltinOptions.FULLY_CONNECTED,
                    {"fused_activation_function": S.Activation.NONE, "weights_format": 0, "keep_num_dims": False},
                )
                continue
            _, h, w, _ = shapes[src]
            s = layer.stride
            channels = layer.weight.shape[0] if layer.op == "conv" else layer.weight.shape[3]
            out = add_output(layer.output, [1, -(-h // s), -(-w // s), channels])
            act = S.Activation.RELU6 if layer.relu6 else S.Activation.NONE
            common = {
                "padding": S.Padding.SAME,
                "stride_w": s,
                "stride_h": s,
                "fused_activation_function": act,
                "dilation_w_factor": 1,
                "dilation_h_factor": 1,
            }
            if layer.op == "conv":
                g.add_op(
                    S.BuiltinOperator.CONV_2D,
                    version(S.BuiltinOperator.CONV_2D),
                    [index[src], w_idx, b_idx],
                    [out],
                    S.BuiltinOptions.CONV_2D,
                    common,
                )
            else:
                g.add_op(
                    S.BuiltinOperator.DEPTHWISE_CONV_2D,
                    version(S.BuiltinOperator.DEPTHWISE_CONV_2D),
                    [index[src], w_idx, b_idx],
                    [out],
                    S.BuiltinOptions.DEPTHWISE_CONV_2D,
                    {**common, "depth_multiplier": 1},
                )
        elif layer.op == "add":
            out = add_output(layer.output, list(shapes[src]))
            g.add_op(
                S.BuiltinOperator.ADD,
                version(S.BuiltinOperator.ADD),
                [index[src], index[layer.inputs[1]]],
                [out],
                S.BuiltinOptions.ADD,
                {"fused_activation_function": S.Activation.NONE},
            )
        elif layer.op == "mean":
            axes = g.add_tensor(f"{layer.output}/axes", [2], S.TensorType.INT32, np.array([1, 2], dtype=np.int32))
            out = add_output(layer.output, [1, 1, 1, shapes[src][3]])
            g.add_op(
                S.BuiltinOperator.MEAN,
                version(S.BuiltinOperator.MEAN),
                [index[src], axes],
                [out],
                S.BuiltinOptions.REDUCER,
                {"keep_dims": True},
            )
        elif layer.op == "logistic":
            out = add_output(layer.output, list(shapes[src]))
            g.add_op(S.BuiltinOperator.LOGISTIC, version(S.BuiltinOperator.LOGISTIC), [index[src]], [out])
        else:
            raise ValueError(f"unknown layer op {layer.op}")
    g.outputs = [index[layers[-1].output]]
    return g


def _weights(g: Graph, layer, ql, input_quant: QuantParams | None) -> tuple[int, int]:
    """Add the filter and bias constants of one conv/depthwise/dense layer; returns their indices."""
    name = layer.output
    shape = list(layer.weight.shape)
    if ql is None:
        w = g.add_tensor(f"{name}/weights", shape, S.TensorType.FLOAT32, layer.weight.astype(np.float32))
        b = g.add_tensor(f"{name}/bias", [len(layer.bias)], S.TensorType.FLOAT32, layer.bias.astype(np.float32))
        return w, b
    axis = 3 if layer.op == "depthwise" else 0
    scales = [float(s) for s in ql.weight_scale]
    w = g.add_tensor(
        f"{name}/weights", shape, S.TensorType.INT8, ql.weight_q, QuantParams(scales, [0] * len(scales), axis)
    )
    # Bias scale must equal input_scale * weight_scale[c] (the kernels check it to 1e-6).
    b_scales = (np.float32(input_quant.scale[0]) * np.asarray(scales, dtype=np.float32)).tolist()
    b = g.add_tensor(
        f"{name}/bias", [len(ql.bias_q)], S.TensorType.INT32, ql.bias_q, QuantParams(b_scales, [0] * len(scales), 0)
    )
    return w, b

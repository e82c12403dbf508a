"""The subset of the TFLite FlatBuffers schema (tensorflow/lite/schema/schema.fbs, schema version 3)
that faceedge's networks need (the op vocabulary of `faceedge_train.layers`), as field slot
numbers, enum values and table writers.

Slot numbers are the field's position in the schema's table declaration; a union field takes two
slots (its `_type` byte first, then the offset). Values are from schema.fbs as of TFLite 2.9.
"""

from __future__ import annotations

import numpy as np

from .flatbuffer import Builder, Ref

FILE_IDENTIFIER = b"TFL3"
SCHEMA_VERSION = 3


class TensorType:
    FLOAT32 = 0
    INT32 = 2
    UINT8 = 3
    INT64 = 4
    INT8 = 9


NUMPY_DTYPES = {
    TensorType.FLOAT32: np.float32,
    TensorType.INT32: np.int32,
    TensorType.UINT8: np.uint8,
    TensorType.INT64: np.int64,
    TensorType.INT8: np.int8,
}


class BuiltinOperator:
    ADD = 0
    AVERAGE_POOL_2D = 1
    CONV_2D = 3
    DEPTHWISE_CONV_2D = 4
    FULLY_CONNECTED = 9
    L2_NORMALIZATION = 11
    LOGISTIC = 14
    MAX_POOL_2D = 17
    MUL = 18
    RELU = 19
    RELU6 = 21
    RESHAPE = 22
    SOFTMAX = 25
    PAD = 34
    MEAN = 40
    PRELU = 54
    # Codes above this live only in OperatorCode.builtin_code; deprecated_builtin_code holds this.
    PLACEHOLDER_FOR_GREATER_OP_CODES = 127


class BuiltinOptions:
    """Union tags of `BuiltinOptions` (0 = NONE)."""

    NONE = 0
    CONV_2D = 1
    DEPTHWISE_CONV_2D = 2
    POOL_2D = 5
    FULLY_CONNECTED = 8
    SOFTMAX = 9
    ADD = 11
    L2_NORM = 12
    RESHAPE = 17
    MUL = 21
    PAD = 22
    REDUCER = 27


class Padding:
    SAME = 0
    VALID = 1


class Activation:
    NONE = 0
    RELU = 1
    RELU6 = 3


# ---- field slots per table ------------------------------------------------------------------
class Model:
    VERSION, OPERATOR_CODES, SUBGRAPHS, DESCRIPTION, BUFFERS = 0, 1, 2, 3, 4


class SubGraph:
    TENSORS, INPUTS, OUTPUTS, OPERATORS, NAME = 0, 1, 2, 3, 4


class TensorField:
    SHAPE, TYPE, BUFFER, NAME, QUANTIZATION, IS_VARIABLE = 0, 1, 2, 3, 4, 5


class Quant:
    MIN, MAX, SCALE, ZERO_POINT, DETAILS_TYPE, DETAILS, QUANTIZED_DIMENSION = 0, 1, 2, 3, 4, 5, 6


class Buffer:
    DATA = 0


class Operator:
    OPCODE_INDEX, INPUTS, OUTPUTS, BUILTIN_OPTIONS_TYPE, BUILTIN_OPTIONS = 0, 1, 2, 3, 4


class OperatorCode:
    DEPRECATED_BUILTIN_CODE, CUSTOM_CODE, VERSION, BUILTIN_CODE = 0, 1, 2, 3


# Scalar fields of each options table: name -> (slot, struct code, schema default).
OPTION_FIELDS: dict[int, dict[str, tuple[int, str, object]]] = {
    BuiltinOptions.CONV_2D: {
        "padding": (0, "b", 0),
        "stride_w": (1, "i", 0),
        "stride_h": (2, "i", 0),
        "fused_activation_function": (3, "b", 0),
        "dilation_w_factor": (4, "i", 1),
        "dilation_h_factor": (5, "i", 1),
    },
    BuiltinOptions.DEPTHWISE_CONV_2D: {
        "padding": (0, "b", 0),
        "stride_w": (1, "i", 0),
        "stride_h": (2, "i", 0),
        "depth_multiplier": (3, "i", 0),
        "fused_activation_function": (4, "b", 0),
        "dilation_w_factor": (5, "i", 1),
        "dilation_h_factor": (6, "i", 1),
    },
    BuiltinOptions.POOL_2D: {
        "padding": (0, "b", 0),
        "stride_w": (1, "i", 0),
        "stride_h": (2, "i", 0),
        "filter_width": (3, "i", 0),
        "filter_height": (4, "i", 0),
        "fused_activation_function": (5, "b", 0),
    },
    BuiltinOptions.FULLY_CONNECTED: {
        "fused_activation_function": (0, "b", 0),
        "weights_format": (1, "b", 0),
        "keep_num_dims": (2, "?", False),
    },
    BuiltinOptions.SOFTMAX: {"beta": (0, "f", 0.0)},
    BuiltinOptions.ADD: {"fused_activation_function": (0, "b", 0)},
    BuiltinOptions.L2_NORM: {"fused_activation_function": (0, "b", 0)},
    BuiltinOptions.RESHAPE: {},
    BuiltinOptions.MUL: {"fused_activation_function": (0, "b", 0)},
    BuiltinOptions.PAD: {},
    BuiltinOptions.REDUCER: {"keep_dims": (0, "?", False)},
}


# ---- table writers --------------------------------------------------------------------------
def write_buffer(b: Builder, data: bytes | None) -> Ref:
    """A Buffer; `data` None/empty gives the empty buffer that non-constant tensors point at."""
    if not data:
        return b.create_table({})
    # schema.fbs: data:[ubyte] (force_align: 16), so SIMD kernels may read weights in place.
    return b.create_table({Buffer.DATA: ("ref", b.create_vector_bytes(data, len(data), align=16))})


def write_quantization(
    b: Builder,
    scale: list[float],
    zero_point: list[int],
    quantized_dimension: int = 0,
    min_: list[float] | None = None,
    max_: list[float] | None = None,
) -> Ref:
    fields: dict[int, tuple[str, object]] = {
        Quant.SCALE: ("ref", b.create_vector("f", scale)),
        Quant.ZERO_POINT: ("ref", b.create_vector("q", zero_point)),
    }
    if min_ is not None and max_ is not None:
        fields[Quant.MIN] = ("ref", b.create_vector("f", min_))
        fields[Quant.MAX] = ("ref", b.create_vector("f", max_))
    if quantized_dimension:
        fields[Quant.QUANTIZED_DIMENSION] = ("i", quantized_dimension)
    return b.create_table(fields)


def write_tensor(
    b: Builder, name: str, shape: list[int], ttype: int, buffer: int, quantization: Ref | None = None
) -> Ref:
    fields: dict[int, tuple[str, object]] = {
        TensorField.SHAPE: ("ref", b.create_vector("i", shape)),
        TensorField.TYPE: ("b", ttype),
        TensorField.BUFFER: ("I", buffer),
        TensorField.NAME: ("ref", b.create_string(name)),
    }
    if quantization is not None:
        fields[TensorField.QUANTIZATION] = ("ref", quantization)
    return b.create_table(fields)


def write_operator_code(b: Builder, builtin: int, version: int) -> Ref:
    # Runtimes older than the int32 builtin_code field read only the byte; newer ones take the
    # larger of the two, so both carry the code.
    deprecated = min(builtin, BuiltinOperator.PLACEHOLDER_FOR_GREATER_OP_CODES)
    return b.create_table(
        {
            OperatorCode.DEPRECATED_BUILTIN_CODE: ("b", deprecated),
            OperatorCode.VERSION: ("i", version),
            OperatorCode.BUILTIN_CODE: ("i", builtin),
        }
    )


def write_options(b: Builder, kind: int, values: dict[str, object]) -> Ref:
    spec = OPTION_FIELDS[kind]
    unknown = set(values) - set(spec)
    if unknown:
        raise KeyError(f"unknown option fields for options type {kind}: {sorted(unknown)}")
    return b.create_table({spec[name][0]: (spec[name][1], value) for name, value in values.items()})


def write_operator(
    b: Builder,
    opcode_index: int,
    inputs: list[int],
    outputs: list[int],
    options_type: int = BuiltinOptions.NONE,
    options: Ref | None = None,
) -> Ref:
    fields: dict[int, tuple[str, object]] = {
        Operator.OPCODE_INDEX: ("I", opcode_index),
        Operator.INPUTS: ("ref", b.create_vector("i", inputs)),
        Operator.OUTPUTS: ("ref", b.create_vector("i", outputs)),
    }
    if options is not None:
        fields[Operator.BUILTIN_OPTIONS_TYPE] = ("B", options_type)
        fields[Operator.BUILTIN_OPTIONS] = ("ref", options)
    return b.create_table(fields)


def write_subgraph(
    b: Builder, tensors: list[Ref], inputs: list[int], outputs: list[int], operators: list[Ref], name: str
) -> Ref:
    return b.create_table(
        {
            SubGraph.TENSORS: ("ref", b.create_offset_vector(tensors)),
            SubGraph.INPUTS: ("ref", b.create_vector("i", inputs)),
            SubGraph.OUTPUTS: ("ref", b.create_vector("i", outputs)),
            SubGraph.OPERATORS: ("ref", b.create_offset_vector(operators)),
            SubGraph.NAME: ("ref", b.create_string(name)),
        }
    )


def write_model(
    b: Builder, operator_codes: list[Ref], subgraphs: list[Ref], description: str, buffers: list[Ref]
) -> Ref:
    return b.create_table(
        {
            Model.VERSION: ("I", SCHEMA_VERSION),
            Model.OPERATOR_CODES: ("ref", b.create_offset_vector(operator_codes)),
            Model.SUBGRAPHS: ("ref", b.create_offset_vector(subgraphs)),
            Model.DESCRIPTION: ("ref", b.create_string(description)),
            Model.BUFFERS: ("ref", b.create_offset_vector(buffers)),
        }
    )

"""An in-memory TFLite graph (one subgraph) and its serialization to a .tflite file.

Tensors are added in any order and referred to by index; constant tensors carry their data,
which goes into its own Buffer. Buffer 0 is the empty buffer every activation tensor points at,
as the schema requires.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import schema as S
from .flatbuffer import Builder


@dataclass
class QuantParams:
    """Affine quantization: real = scale * (q - zero_point); one entry per channel when per-axis."""

    scale: list[float]
    zero_point: list[int]
    quantized_dimension: int = 0

    def __post_init__(self) -> None:
        if len(self.scale) != len(self.zero_point) or not self.scale:
            raise ValueError("scale and zero_point need the same, non-zero length")
        if any(not (s > 0 and np.isfinite(s)) for s in self.scale):
            raise ValueError(f"quantization scales must be finite and > 0, got {self.scale[:4]}...")


@dataclass
class Tensor:
    name: str
    shape: list[int]
    dtype: int  # schema TensorType
    data: np.ndarray | None = None
    quant: QuantParams | None = None


@dataclass
class Op:
    builtin: int
    version: int
    inputs: list[int]
    outputs: list[int]
    options_type: int = S.BuiltinOptions.NONE
    options: dict = field(default_factory=dict)


class Graph:
    """Collects tensors and operators, then writes them as one TFLite model."""

    def __init__(self) -> None:
        self.tensors: list[Tensor] = []
        self.ops: list[Op] = []
        self.inputs: list[int] = []
        self.outputs: list[int] = []

    def add_tensor(
        self, name: str, shape: list[int], dtype: int, data: np.ndarray | None = None, quant: QuantParams | None = None
    ) -> int:
        if data is not None:
            expected = S.NUMPY_DTYPES[dtype]
            if data.dtype != expected:
                raise TypeError(f"tensor {name}: data is {data.dtype}, schema type needs {np.dtype(expected)}")
            if list(data.shape) != list(shape):
                raise ValueError(f"tensor {name}: data shape {data.shape} != {shape}")
        if quant is not None and len(quant.scale) > 1 and len(quant.scale) != shape[quant.quantized_dimension]:
            raise ValueError(
                f"tensor {name}: {len(quant.scale)} scales for dimension of size {shape[quant.quantized_dimension]}"
            )
        self.tensors.append(Tensor(name, [int(d) for d in shape], dtype, data, quant))
        return len(self.tensors) - 1

    def add_op(
        self,
        builtin: int,
        version: int,
        inputs: list[int],
        outputs: list[int],
        options_type: int = S.BuiltinOptions.NONE,
        options: dict | None = None,
    ) -> None:
        for index in [*inputs, *outputs]:
            if not 0 <= index < len(self.tensors):
                raise IndexError(f"operator refers to unknown tensor {index}")
        self.ops.append(Op(builtin, version, list(inputs), list(outputs), options_type, dict(options or {})))

    def serialize(self, description: str = "faceedge") -> bytes:
        b = Builder()
        # Constant data first, so that it ends up at the end of the file behind the small tables.
        buffer_refs = [S.write_buffer(b, None)]
        tensor_buffer: list[int] = []
        for t in self.tensors:
            if t.data is None:
                tensor_buffer.append(0)
            else:
                # Little-endian, C order: what the runtime maps straight onto the tensor.
                raw = np.ascontiguousarray(t.data).astype(t.data.dtype.newbyteorder("<"), copy=False).tobytes()
                buffer_refs.append(S.write_buffer(b, raw))
                tensor_buffer.append(len(buffer_refs) - 1)
        tensor_refs = []
        for t, buf_index in zip(self.tensors, tensor_buffer, strict=False):
            q = None
            if t.quant is not None:
                q = S.write_quantization(
                    b,
                    [float(s) for s in t.quant.scale],
                    [int(z) for z in t.quant.zero_point],
                    t.quant.quantized_dimension,
                )
            tensor_refs.append(S.write_tensor(b, t.name, t.shape, t.dtype, buf_index, q))
        opcode_index: dict[tuple[int, int], int] = {}
        for op in self.ops:
            opcode_index.setdefault((op.builtin, op.version), len(opcode_index))
        op_refs = []
        for op in self.ops:
            options = None
            if op.options_type != S.BuiltinOptions.NONE:
                options = S.write_options(b, op.options_type, op.options)
            op_refs.append(
                S.write_operator(
                    b, opcode_index[(op.builtin, op.version)], op.inputs, op.outputs, op.options_type, options
                )
            )
        opcode_refs = [S.write_operator_code(b, builtin, version) for builtin, version in opcode_index]
        subgraph = S.write_subgraph(b, tensor_refs, self.inputs, self.outputs, op_refs, "main")
        model = S.write_model(b, opcode_refs, [subgraph], description, buffer_refs)
        return b.finish(model, S.FILE_IDENTIFIER)

"""A small FlatBuffers reader and a TFLite model decoder (the schema subset that `schema.py` writes).

It is independent of the builder (it walks the raw bytes with the format's own rules), so reading
back what the builder wrote checks the builder. Bounds and alignment are checked like the
FlatBuffers verifier does, so a malformed file raises instead of returning garbage.
"""

from __future__ import annotations

import struct

import numpy as np

from . import schema as S


class FlatbufferError(ValueError):
    """The bytes break a FlatBuffers rule (bounds, alignment, terminator)."""


class Table:
    """A view on one table inside `buf` at address `pos`."""

    def __init__(self, buf: bytes, pos: int):
        self.buf = buf
        self.pos = pos
        _check(buf, pos, 4, 4)
        (soffset,) = struct.unpack_from("<i", buf, pos)
        self.vt = pos - soffset
        _check(buf, self.vt, 4, 2)
        self.vt_size, self.table_size = struct.unpack_from("<HH", buf, self.vt)
        if self.vt_size < 4 or self.vt_size % 2:
            raise FlatbufferError(f"bad vtable size {self.vt_size} at {self.vt}")
        _check(buf, self.vt, self.vt_size, 2)
        _check(buf, pos, self.table_size, 1)

    def _field_pos(self, slot: int) -> int | None:
        entry = 4 + 2 * slot
        if entry >= self.vt_size:
            return None
        (off,) = struct.unpack_from("<H", self.buf, self.vt + entry)
        if off == 0:
            return None
        if off >= self.table_size:
            raise FlatbufferError(f"field {slot} lies outside its table")
        return self.pos + off

    def has(self, slot: int) -> bool:
        return self._field_pos(slot) is not None

    def scalar(self, slot: int, fmt: str, default=0):
        at = self._field_pos(slot)
        if at is None:
            return default
        size = struct.calcsize("<" + fmt)
        _check(self.buf, at, size, size)
        return struct.unpack_from("<" + fmt, self.buf, at)[0]

    def _target(self, slot: int) -> int | None:
        at = self._field_pos(slot)
        if at is None:
            return None
        _check(self.buf, at, 4, 4)
        (rel,) = struct.unpack_from("<I", self.buf, at)
        if rel == 0:
            raise FlatbufferError("zero uoffset")
        return at + rel

    def table(self, slot: int) -> Table | None:
        target = self._target(slot)
        return None if target is None else Table(self.buf, target)

    def string(self, slot: int) -> str | None:
        target = self._target(slot)
        if target is None:
            return None
        n = _vector_len(self.buf, target, 1)
        if self.buf[target + 4 + n : target + 5 + n] != b"\0":
            raise FlatbufferError("string without NUL terminator")
        return self.buf[target + 4 : target + 4 + n].decode("utf-8")

    def vector(self, slot: int, fmt: str) -> list | None:
        """A vector of scalars as a Python list (None when absent)."""
        raw = self.vector_bytes(slot, struct.calcsize("<" + fmt))
        if raw is None:
            return None
        return list(struct.unpack(f"<{len(raw) // struct.calcsize('<' + fmt)}{fmt}", raw))

    def vector_bytes(self, slot: int, elem_size: int = 1) -> bytes | None:
        target = self._target(slot)
        if target is None:
            return None
        n = _vector_len(self.buf, target, elem_size)
        return bytes(self.buf[target + 4 : target + 4 + n * elem_size])

    def vector_address(self, slot: int) -> int | None:
        """Address of the first element (for alignment checks)."""
        target = self._target(slot)
        return None if target is None else target + 4

    def tables(self, slot: int) -> list[Table]:
        target = self._target(slot)
        if target is None:
            return []
        n = _vector_len(self.buf, target, 4)
        out = []
        for i in range(n):
            at = target + 4 + 4 * i
            (rel,) = struct.unpack_from("<I", self.buf, at)
            out.append(Table(self.buf, at + rel))
        return out


def _check(buf: bytes, pos: int, size: int, align: int) -> None:
    if pos < 0 or pos + size > len(buf):
        raise FlatbufferError(f"object at {pos} (+{size}) outside buffer of {len(buf)} bytes")
    if pos % align:
        raise FlatbufferError(f"object at {pos} not aligned to {align}")


def _vector_len(buf: bytes, pos: int, elem_size: int) -> int:
    _check(buf, pos, 4, 4)
    (n,) = struct.unpack_from("<I", buf, pos)
    # Elements must sit on their natural alignment (8 for int64 zero points).
    _check(buf, pos + 4, n * elem_size, elem_size)
    return n


def root_table(buf: bytes, file_identifier: bytes | None = None) -> Table:
    if len(buf) < 8:
        raise FlatbufferError("buffer too short")
    if file_identifier is not None and buf[4:8] != file_identifier:
        raise FlatbufferError(f"file identifier {buf[4:8]!r} != {file_identifier!r}")
    (root,) = struct.unpack_from("<I", buf, 0)
    return Table(buf, root)


# ---- TFLite decoding ----------------------------------------------------------------------------


def _quantization(t: Table | None) -> dict | None:
    if t is None:
        return None
    return {
        "scale": t.vector(S.Quant.SCALE, "f") or [],
        "zero_point": t.vector(S.Quant.ZERO_POINT, "q") or [],
        "min": t.vector(S.Quant.MIN, "f"),
        "max": t.vector(S.Quant.MAX, "f"),
        "quantized_dimension": t.scalar(S.Quant.QUANTIZED_DIMENSION, "i", 0),
    }


def _options(op: Table) -> dict:
    kind = op.scalar(S.Operator.BUILTIN_OPTIONS_TYPE, "B", 0)
    t = op.table(S.Operator.BUILTIN_OPTIONS)
    if kind == 0 or t is None:
        return {}
    fields = S.OPTION_FIELDS[kind]
    return {"type": kind, **{name: t.scalar(slot, fmt, default) for name, (slot, fmt, default) in fields.items()}}


def read_model(buf: bytes) -> dict:
    """Decode a .tflite file into plain dicts/lists; tensor data as numpy arrays."""
    model = root_table(buf, S.FILE_IDENTIFIER)
    buffers = []
    for b in model.tables(S.Model.BUFFERS):
        addr = b.vector_address(S.Buffer.DATA)
        if addr is not None and addr % 16:
            raise FlatbufferError(f"buffer data at {addr} not 16-byte aligned")
        buffers.append(b.vector_bytes(S.Buffer.DATA) or b"")
    opcodes = []
    for oc in model.tables(S.Model.OPERATOR_CODES):
        deprecated = oc.scalar(S.OperatorCode.DEPRECATED_BUILTIN_CODE, "b", 0)
        builtin = oc.scalar(S.OperatorCode.BUILTIN_CODE, "i", 0)
        opcodes.append(
            {
                "deprecated_builtin_code": deprecated,
                "builtin_code": builtin,
                "version": oc.scalar(S.OperatorCode.VERSION, "i", 1),
            }
        )
    subgraphs = []
    for sg in model.tables(S.Model.SUBGRAPHS):
        tensors = []
        for t in sg.tables(S.SubGraph.TENSORS):
            ttype = t.scalar(S.TensorField.TYPE, "b", 0)
            shape = t.vector(S.TensorField.SHAPE, "i") or []
            buf_index = t.scalar(S.TensorField.BUFFER, "I", 0)
            raw = buffers[buf_index] if buf_index < len(buffers) else b""
            data = None
            if raw:
                data = np.frombuffer(raw, dtype=S.NUMPY_DTYPES[ttype]).reshape(shape)
            tensors.append(
                {
                    "name": t.string(S.TensorField.NAME),
                    "shape": shape,
                    "type": ttype,
                    "buffer": buf_index,
                    "data": data,
                    "quantization": _quantization(t.table(S.TensorField.QUANTIZATION)),
                }
            )
        ops = []
        for op in sg.tables(S.SubGraph.OPERATORS):
            index = op.scalar(S.Operator.OPCODE_INDEX, "I", 0)
            ops.append(
                {
                    "opcode_index": index,
                    "builtin_code": opcodes[index]["builtin_code"],
                    "inputs": op.vector(S.Operator.INPUTS, "i") or [],
                    "outputs": op.vector(S.Operator.OUTPUTS, "i") or [],
                    "options": _options(op),
                }
            )
        subgraphs.append(
            {
                "tensors": tensors,
                "inputs": sg.vector(S.SubGraph.INPUTS, "i") or [],
                "outputs": sg.vector(S.SubGraph.OUTPUTS, "i") or [],
                "operators": ops,
                "name": sg.string(S.SubGraph.NAME),
            }
        )
    return {
        "version": model.scalar(S.Model.VERSION, "I", 0),
        "description": model.string(S.Model.DESCRIPTION),
        "operator_codes": opcodes,
        "subgraphs": subgraphs,
        "buffers": buffers,
    }

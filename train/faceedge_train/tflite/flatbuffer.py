"""A minimal FlatBuffers builder (binary format only, no schema compiler).

FlatBuffers are written back to front: every child object (vector, string, sub-table) is written
before the object that points at it, so it ends up at a higher address and every `uoffset` (an
unsigned 32-bit distance from the place it is stored to its target) is positive, as the format
requires. Objects are therefore identified here by their *offset from the end* of the buffer
("ref"); the final address of a ref is `len(buffer) - ref`. Because `finish()` pads the whole
buffer to a multiple of the largest alignment used, a ref that is a multiple of N also lands on
an address that is a multiple of N.

Layout reminders (little endian throughout):
- table: int32 `soffset` to its vtable (vtable address = table address - soffset), then fields;
- vtable: uint16 vtable size, uint16 table size, then one uint16 per field slot giving the field's
  offset inside the table (0 = absent, reader uses the default);
- vector: uint32 element count, then the elements; string: uint32 byte count, bytes, one NUL;
- file: uint32 offset to the root table, then an optional 4-byte file identifier.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

# struct format character -> byte size, for the scalar field types the TFLite schema uses.
SCALAR_SIZES = {"b": 1, "B": 1, "?": 1, "h": 2, "H": 2, "i": 4, "I": 4, "f": 4, "q": 8, "Q": 8, "d": 8}


@dataclass(frozen=True)
class Ref:
    """An object already written to the builder: its distance in bytes from the end of the buffer."""

    from_end: int


class Builder:
    """Builds one FlatBuffer. Write leaves first, then the tables that reference them, then `finish`."""

    def __init__(self) -> None:
        self._chunks: list[bytearray] = []  # written objects, last written = lowest address
        self._size = 0  # bytes written so far (= ref of the most recently written object)
        self._max_align = 4
        self._vtables: dict[bytes, int] = {}  # vtable bytes -> its ref, to share identical vtables
        self._finished = False

    # ---- low level -------------------------------------------------------------------------
    def _prepend(self, body: bytes | bytearray, align: int, align_at: int = 0) -> tuple[int, bytearray]:
        """Write `body` below everything written so far; `body[align_at:]` starts `align`-aligned.

        Returns (ref of the body start, the chunk holding it, so that callers may patch it).
        """
        if self._finished:
            raise RuntimeError("builder already finished")
        self._max_align = max(self._max_align, align)
        # The address of body[align_at] is len(buf) - (size + pad + len(body) - align_at).
        pad = (-(self._size + len(body) - align_at)) % align
        chunk = bytearray(body) + bytes(pad)  # padding sits above the body, toward older objects
        self._chunks.append(chunk)
        self._size += len(chunk)
        return self._size, chunk

    # ---- leaves ----------------------------------------------------------------------------
    def create_string(self, text: str) -> Ref:
        data = text.encode("utf-8")
        ref, _ = self._prepend(struct.pack("<I", len(data)) + data + b"\0", 4)
        return Ref(ref)

    def create_vector(self, fmt: str, values, align: int | None = None) -> Ref:
        """A vector of scalars; `fmt` is a struct code ("i", "f", "q", "B", ...).

        `align` forces a larger alignment of the first element (TFLite asks 16 for buffer data).
        """
        elem = SCALAR_SIZES[fmt]
        payload = struct.pack(f"<{len(values)}{fmt}", *values)
        return self.create_vector_bytes(payload, len(values), max(elem, 4, align or 0))

    def create_vector_bytes(self, payload: bytes, count: int, align: int = 4) -> Ref:
        """A vector whose elements are already packed little-endian in `payload`."""
        ref, _ = self._prepend(struct.pack("<I", count) + bytes(payload), max(align, 4), align_at=4)
        return Ref(ref)

    def create_offset_vector(self, refs: list[Ref]) -> Ref:
        """A vector of tables/strings/vectors already written."""
        body = bytearray(4 + 4 * len(refs))
        struct.pack_into("<I", body, 0, len(refs))
        ref, chunk = self._prepend(body, 4)
        for i, target in enumerate(refs):
            # Element i lives at ref - 4 - 4i (in from-end terms); uoffset = target addr - elem addr.
            elem_ref = ref - 4 - 4 * i
            struct.pack_into("<I", chunk, 4 + 4 * i, self._uoffset(elem_ref, target))
        return Ref(ref)

    @staticmethod
    def _uoffset(field_ref: int, target: Ref) -> int:
        value = field_ref - target.from_end
        if value <= 0:
            raise ValueError("a uoffset must point forward: write the child before its parent")
        return value

    # ---- tables ----------------------------------------------------------------------------
    def create_table(self, fields: dict[int, tuple[str, object]]) -> Ref:
        """Write a table. `fields` maps slot number -> (kind, value).

        kind is a struct scalar code ("i", "b", "?", ...) or "ref" for an offset to a written
        object. Callers leave out fields equal to their schema default (as flatc does), so
        readers see them as absent.
        """
        slots = sorted(fields)
        num_slots = (slots[-1] + 1) if slots else 0
        # Largest fields first keeps padding inside the table small; table start = soffset.
        order = sorted(slots, key=lambda s: (-self._field_size(fields[s][0]), s))
        layout: dict[int, int] = {}
        pos = 4
        table_align = 4
        for slot in order:
            size = self._field_size(fields[slot][0])
            pos += (-pos) % size
            layout[slot] = pos
            pos += size
            table_align = max(table_align, size)
        table_size = pos + ((-pos) % 4 if table_align <= 4 else (-pos) % table_align)
        body = bytearray(table_size)
        ref, chunk = self._prepend(body, table_align)
        for slot, (kind, value) in fields.items():
            at = layout[slot]
            if kind == "ref":
                if not isinstance(value, Ref):
                    raise TypeError(f"slot {slot}: expected a Ref, got {type(value).__name__}")
                struct.pack_into("<I", chunk, at, self._uoffset(ref - at, value))
            else:
                struct.pack_into("<" + kind, chunk, at, value)
        vtable = struct.pack(
            f"<{2 + num_slots}H", 4 + 2 * num_slots, table_size, *[layout.get(s, 0) for s in range(num_slots)]
        )
        vt_ref = self._vtables.get(vtable)
        if vt_ref is None:
            vt_ref, _ = self._prepend(vtable, 2)
            self._vtables[vtable] = vt_ref
        # soffset = table address - vtable address, signed (a shared vtable may lie above).
        struct.pack_into("<i", chunk, 0, vt_ref - ref)
        return Ref(ref)

    @staticmethod
    def _field_size(kind: str) -> int:
        return 4 if kind == "ref" else SCALAR_SIZES[kind]

    # ---- finish ----------------------------------------------------------------------------
    def finish(self, root: Ref, file_identifier: bytes | None = None) -> bytes:
        """Write the root offset (and identifier) and return the whole buffer."""
        if file_identifier is not None and len(file_identifier) != 4:
            raise ValueError("a file identifier is exactly 4 bytes")
        header_len = 8 if file_identifier else 4
        # Pad so that the header ends the buffer on a multiple of the largest alignment used.
        pad = (-(self._size + header_len)) % self._max_align
        self._chunks.append(bytearray(pad))
        self._size += pad
        total = self._size + header_len
        root_addr = total - root.from_end
        header = struct.pack("<I", root_addr) + (file_identifier or b"")
        self._chunks.append(bytearray(header))
        self._finished = True
        out = b"".join(reversed(self._chunks))
        assert len(out) == total
        return out

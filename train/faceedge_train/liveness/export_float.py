"""A MiniFASNet as a float32 TFLite graph, through the project's own writer (`faceedge_train.tflite.graph`).

Batch norms are folded into the convolutions before them; the head's linear -> batch norm -> linear (no
non-linearity between them) is one FULLY_CONNECTED layer; the graph ends at the three logits (the runtime
takes the softmax: three numbers). PyTorch pads every 3x3 convolution by one on each side; TFLite's SAME pads
stride-2 layers on an even input by 0 before and 1 after, so those four layers get an explicit PAD and VALID
padding, the stride-1 ones keep SAME (identical there).

The writer's schema does not name PRELU, PAD and MUL yet (the recognition work of issue 23 adds them, with
int8 support); until it does they are written here by their builtin codes, without options (none of them
needs any: MUL without options has no fused activation). Input: [1, 80, 80, 3] RGB float32 in 0..255.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..tflite import schema as S
from ..tflite.graph import Graph
from .minifasnet import Bottleneck, ConvUnit, MiniFASNet

#: TFLite builtin codes the writer's schema lacks (schema.fbs: BuiltinOperator).
MUL, PAD, PRELU = 18, 34, 54
F32 = S.TensorType.FLOAT32


def fold_bn(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> tuple[np.ndarray, np.ndarray]:
    """Weight [O, I/g, kh, kw] and bias [O] of conv followed by eval-mode batch norm."""
    scale = (bn.weight / torch.sqrt(bn.running_var + bn.eps)).detach()
    weight = conv.weight.detach() * scale[:, None, None, None]
    bias = (bn.bias - bn.running_mean * scale).detach()
    return weight.numpy().astype(np.float32), bias.numpy().astype(np.float32)


class _Emitter:
    def __init__(self) -> None:
        self.g = Graph()
        self.shape: dict[int, list[int]] = {}
        self.count = 0

    def tensor(self, name: str, shape: list[int], data: np.ndarray | None = None, dtype: int = F32) -> int:
        self.count += 1
        index = self.g.add_tensor(f"{name}#{self.count}", shape, dtype, data)
        self.shape[index] = list(shape)
        return index

    def conv(self, x: int, unit: ConvUnit, name: str, relu: bool = False) -> int:
        conv = unit.conv
        weight, bias = fold_bn(conv, unit.bn)
        k, stride, pad = conv.kernel_size[0], conv.stride[0], conv.padding[0]
        depthwise = conv.groups > 1
        _, h, w, c = self.shape[x]
        padding = S.Padding.VALID
        if pad and stride == 1 and k == 2 * pad + 1:
            padding = S.Padding.SAME  # symmetric: TFLite's SAME is PyTorch's padding here
        elif pad:
            pads = np.array([[0, 0], [pad, pad], [pad, pad], [0, 0]], dtype=np.int32)
            padded = self.tensor(f"{name}/pad", [1, h + 2 * pad, w + 2 * pad, c])
            self.g.add_op(PAD, 1, [x, self.tensor(f"{name}/paddings", [4, 2], pads, S.TensorType.INT32)], [padded])
            x, h, w = padded, h + 2 * pad, w + 2 * pad
        if padding == S.Padding.SAME:
            oh, ow = -(-h // stride), -(-w // stride)
        else:
            oh, ow = (h - k) // stride + 1, (w - k) // stride + 1
        out_c = weight.shape[0]
        filt = weight.transpose(1, 2, 3, 0) if depthwise else weight.transpose(0, 2, 3, 1)  # [1,kh,kw,C] / [O,kh,kw,I]
        w_idx = self.tensor(f"{name}/weights", list(filt.shape), np.ascontiguousarray(filt))
        b_idx = self.tensor(f"{name}/bias", [out_c], bias)
        y = self.tensor(name, [1, oh, ow, out_c])
        options = {
            "padding": padding,
            "stride_w": stride,
            "stride_h": stride,
            "fused_activation_function": S.Activation.RELU if relu else S.Activation.NONE,
            "dilation_w_factor": 1,
            "dilation_h_factor": 1,
        }
        if depthwise:
            self.g.add_op(
                S.BuiltinOperator.DEPTHWISE_CONV_2D, 1, [x, w_idx, b_idx], [y], S.BuiltinOptions.DEPTHWISE_CONV_2D,
                {**options, "depth_multiplier": 1},
            )  # fmt: skip
        else:
            self.g.add_op(S.BuiltinOperator.CONV_2D, 1, [x, w_idx, b_idx], [y], S.BuiltinOptions.CONV_2D, options)
        if unit.prelu is not None:
            alpha = unit.prelu.weight.detach().numpy().astype(np.float32).reshape(1, 1, out_c)
            z = self.tensor(f"{name}/prelu", [1, oh, ow, out_c])
            self.g.add_op(PRELU, 1, [y, self.tensor(f"{name}/alpha", [1, 1, out_c], alpha)], [z])
            y = z
        return y

    def binary(self, op: int, a: int, b: int, name: str) -> int:
        out = self.tensor(name, self.shape[a])
        if op == S.BuiltinOperator.ADD:
            self.g.add_op(op, 1, [a, b], [out], S.BuiltinOptions.ADD, {"fused_activation_function": 0})
        else:
            self.g.add_op(op, 1, [a, b], [out])
        return out

    def bottleneck(self, x: int, block: Bottleneck, name: str) -> int:
        y = self.conv(x, block.conv, f"{name}/expand")
        y = self.conv(y, block.conv_dw, f"{name}/dw")
        y = self.conv(y, block.project, f"{name}/project")
        if block.se_module is not None:
            se = block.se_module
            c = self.shape[y][3]
            axes = self.tensor(f"{name}/se/axes", [2], np.array([1, 2], dtype=np.int32), S.TensorType.INT32)
            pooled = self.tensor(f"{name}/se/mean", [1, 1, 1, c])
            self.g.add_op(S.BuiltinOperator.MEAN, 1, [y, axes], [pooled], S.BuiltinOptions.REDUCER, {"keep_dims": True})
            hidden = self.conv(pooled, _Unit(se.fc1, se.bn1), f"{name}/se/fc1", relu=True)
            gate = self.conv(hidden, _Unit(se.fc2, se.bn2), f"{name}/se/fc2")
            sig = self.tensor(f"{name}/se/sigmoid", [1, 1, 1, c])
            self.g.add_op(S.BuiltinOperator.LOGISTIC, 1, [gate], [sig])
            y = self.binary(MUL, y, sig, f"{name}/se/scaled")  # [1,H,W,C] x [1,1,1,C] broadcasts
        return self.binary(S.BuiltinOperator.ADD, x, y, f"{name}/sum") if block.residual else y


class _Unit(nn.Module):
    """A 1x1 squeeze-excitation layer seen as a ConvUnit without PReLU."""

    def __init__(self, conv: nn.Conv2d, bn: nn.BatchNorm2d):
        super().__init__()
        self.conv, self.bn, self.prelu = conv, bn, None


def build_float_graph(model: MiniFASNet) -> Graph:
    """The float32 graph of an eval-mode, RGB-input MiniFASNet: [1,80,80,3] 0..255 -> [1,3] logits."""
    if model.input_order != "rgb":
        raise ValueError("export an RGB-input model (MiniFASNet.use_rgb_input()): the runtime's crops are RGB")
    e = _Emitter()
    x = e.tensor("input", [1, 80, 80, 3])
    e.g.inputs = [x]
    x = e.conv(x, model.conv1, "conv1")
    x = e.conv(x, model.conv2_dw, "conv2_dw")
    for down, stage in (("conv_23", "conv_3"), ("conv_34", "conv_4"), ("conv_45", "conv_5")):
        x = e.bottleneck(x, getattr(model, down), down)
        for i, block in enumerate(getattr(model, stage).model):
            x = e.bottleneck(x, block, f"{stage}/{i}")
    x = e.conv(x, model.conv_6_sep, "conv_6_sep")
    x = e.conv(x, model.conv_6_dw, "conv_6_dw")
    # linear (no bias) -> BatchNorm1d -> prob (no bias) is one affine map.
    bn = model.bn
    scale = (bn.weight / torch.sqrt(bn.running_var + bn.eps)).detach()
    shift = (bn.bias - bn.running_mean * scale).detach()
    prob = model.prob.weight.detach()
    weight = (prob * scale[None, :]) @ model.linear.weight.detach()
    bias = prob @ shift
    w_idx = e.tensor("head/weights", list(weight.shape), weight.numpy().astype(np.float32))
    b_idx = e.tensor("head/bias", [weight.shape[0]], bias.numpy().astype(np.float32))
    logits = e.tensor("logits", [1, weight.shape[0]])
    e.g.add_op(
        S.BuiltinOperator.FULLY_CONNECTED, 1, [x, w_idx, b_idx], [logits], S.BuiltinOptions.FULLY_CONNECTED,
        {"fused_activation_function": S.Activation.NONE, "weights_format": 0, "keep_num_dims": False},
    )  # fmt: skip
    e.g.outputs = [logits]
    return e.g

"""A MiniFASNet as the TFLite writer's layer list (`faceedge_train.layers`), for `tflite.convert.build_graph`.

Batch norms are folded into the convolutions before them; PyTorch's padding of 1 on every side becomes
explicit padding (the writer keeps it as SAME where that is the same, PAD + VALID on the stride-2 layers);
each squeeze-excitation gate is mean -> dense + ReLU -> dense -> logistic -> mul; the head's linear -> batch
norm -> linear (no non-linearity between them) is one dense layer, and the list ends at the three logits (the
runtime takes the softmax). Input: RGB 0..255 as they are (an RGB-input model, `MiniFASNet.use_rgb_input()`).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..layers import INPUT, Layer
from .minifasnet import STAGES, Bottleneck, ConvUnit, MiniFASNet

LOGITS = "logits"


def fold_bn(weight: torch.Tensor, bn: nn.BatchNorm2d | nn.BatchNorm1d) -> tuple[np.ndarray, np.ndarray]:
    """(weight scaled per output channel, bias) of a bias-free layer followed by an eval-mode batch norm."""
    scale = (bn.weight / torch.sqrt(bn.running_var + bn.eps)).detach().double()
    w = weight.detach().double() * scale.reshape(-1, *([1] * (weight.ndim - 1)))
    bias = (bn.bias.detach().double() - bn.running_mean.double() * scale).numpy()
    return w.numpy(), bias


class _Builder:
    def __init__(self) -> None:
        self.layers: list[Layer] = []

    def add(self, layer: Layer) -> str:
        self.layers.append(layer)
        return layer.output

    def conv(self, x: str, unit: ConvUnit, name: str) -> str:
        conv = unit.conv
        weight, bias = fold_bn(conv.weight, unit.bn)
        pad = conv.padding[0]
        common = {"stride": conv.stride[0], "padding": (pad, pad, pad, pad)}
        if conv.groups > 1:  # [C, 1, kh, kw] -> [1, kh, kw, C]
            y = self.add(Layer("depthwise", [x], name, weight.transpose(1, 2, 3, 0).copy(), bias, **common))
        else:  # [O, I, kh, kw] -> [O, kh, kw, I]
            y = self.add(Layer("conv", [x], name, weight.transpose(0, 2, 3, 1).copy(), bias, **common))
        if unit.prelu is not None:
            alpha = unit.prelu.weight.detach().double().numpy()
            y = self.add(Layer("prelu", [y], f"{name}/prelu", alpha))
        return y

    def bottleneck(self, x: str, block: Bottleneck, name: str) -> str:
        y = self.conv(x, block.conv, f"{name}/expand")
        y = self.conv(y, block.conv_dw, f"{name}/dw")
        y = self.conv(y, block.project, f"{name}/project")
        if block.se_module is not None:
            se = block.se_module
            pooled = self.add(Layer("mean", [y], f"{name}/se/mean"))
            w1, b1 = fold_bn(se.fc1.weight[:, :, 0, 0], se.bn1)
            hidden = self.add(Layer("dense", [pooled], f"{name}/se/fc1", w1, b1, activation="relu"))
            w2, b2 = fold_bn(se.fc2.weight[:, :, 0, 0], se.bn2)
            gate = self.add(Layer("dense", [hidden], f"{name}/se/fc2", w2, b2))
            gate = self.add(Layer("logistic", [gate], f"{name}/se/gate"))
            y = self.add(Layer("mul", [y, gate], f"{name}/se/scaled"))
        return self.add(Layer("add", [x, y], f"{name}/sum")) if block.residual else y


def minifasnet_layers(model: MiniFASNet) -> list[Layer]:
    """The layer list of an eval-mode, RGB-input MiniFASNet: input [N, 3, 80, 80] 0..255 -> `logits` [N, 3]."""
    if model.input_order != "rgb":
        raise ValueError("export an RGB-input model (MiniFASNet.use_rgb_input()): the runtime's crops are RGB")
    b = _Builder()
    x = b.conv(INPUT, model.conv1, "conv1")
    x = b.conv(x, model.conv2_dw, "conv2_dw")
    for down, stage in STAGES:
        x = b.bottleneck(x, getattr(model, down), down)
        for i, block in enumerate(getattr(model, stage).model):
            x = b.bottleneck(x, block, f"{stage}/{i}")
    x = b.conv(x, model.conv_6_sep, "conv_6_sep")
    x = b.conv(x, model.conv_6_dw, "conv_6_dw")  # 5x5 valid: a [1, 1, 1, 512] map, flattened by the dense layer
    linear, bias = fold_bn(model.linear.weight, model.bn)
    prob = model.prob.weight.detach().double().numpy()
    b.add(Layer("dense", [x], LOGITS, prob @ linear.copy(), prob @ bias))
    return b.layers

"""Fold BatchNorm into the convolutions of a `FaceClassifier` and describe it as a flat layer list.

The list (`layers.Layer`, the writer's op vocabulary) is what the TFLite writer and the quantizer
consume: every layer names its input and output tensors, weights are float64 numpy arrays already
in TFLite layout, and `run_layers` executes the list in PyTorch (for calibration and for checking
the folding). Folding uses the BatchNorm running statistics, i.e. the model's eval-mode behaviour.
"""

from __future__ import annotations

import numpy as np
from torch import nn

# The op vocabulary lives in layers.py; these names stay importable from here.
from .layers import INPUT, Layer, run_layers, same_padding  # noqa: F401
from .model import ConvBNAct, FaceClassifier, InvertedResidual


def fold_conv_bn(block: ConvBNAct) -> tuple[np.ndarray, np.ndarray]:
    """(weight, bias) of conv followed by eval-mode BN, in float64, PyTorch layout [O, I/g, kh, kw].

    BN(y) = gamma * (y - mean) / sqrt(var + eps) + beta, so the conv weight is scaled per output
    channel by gamma / sqrt(var + eps) and the bias absorbs the rest.
    """
    conv, bn = block.conv, block.bn
    w = conv.weight.detach().double().cpu().numpy()
    conv_bias = conv.bias.detach().double().cpu().numpy() if conv.bias is not None else np.zeros(w.shape[0])
    gamma = bn.weight.detach().double().cpu().numpy()
    beta = bn.bias.detach().double().cpu().numpy()
    mean = bn.running_mean.detach().double().cpu().numpy()
    var = bn.running_var.detach().double().cpu().numpy()
    scale = gamma / np.sqrt(var + bn.eps)
    return w * scale[:, None, None, None], (conv_bias - mean) * scale + beta


def _conv_layer(block: ConvBNAct, name: str, source: str) -> Layer:
    w, b = fold_conv_bn(block)
    conv = block.conv
    out_ch, in_per_group = w.shape[0], w.shape[1]
    if conv.groups == 1:
        return Layer("conv", [source], name, w.transpose(0, 2, 3, 1).copy(), b, block.stride, block.act)
    if conv.groups == conv.in_channels == out_ch and in_per_group == 1:
        # TFLite depthwise filters are [1, kh, kw, C] (depth multiplier 1).
        return Layer("depthwise", [source], name, w.transpose(1, 2, 3, 0).copy(), b, block.stride, block.act)
    raise ValueError(f"{name}: grouped convolution with groups={conv.groups} has no TFLite equivalent here")


BINARY_OUTPUT = "prob"  # one sigmoid probability, of labels[1]
LOGITS_OUTPUT = "logits"  # one logit per class: softmax (with the manifest's temperature) runs on the board


def fold_model(model: FaceClassifier) -> list[Layer]:
    """Describe `model` (in eval semantics) as folded layers, input tensor "input".

    A one-logit model ends in "logit" -> LOGISTIC -> "prob" (the gender model's graph); a model with one
    logit per class ends in its FULLY_CONNECTED layer's "logits" output. The softmax is left to the board:
    it also applies the calibrated temperature there, and a quantized softmax would spend the int8
    output's 256 steps on probabilities near 0 instead of on the logits' differences."""
    layers: list[Layer] = []
    current = INPUT
    for i, block in enumerate(model.features):
        name = f"features.{i}"
        if isinstance(block, ConvBNAct):
            layers.append(_conv_layer(block, name, current))
            current = name
        elif isinstance(block, InvertedResidual):
            block_input = current
            for j, sub in enumerate(block.layers):
                if not isinstance(sub, ConvBNAct):
                    raise TypeError(f"{name}.layers.{j}: unexpected {type(sub).__name__}")
                layers.append(_conv_layer(sub, f"{name}.layers.{j}", current))
                current = f"{name}.layers.{j}"
            if block.use_residual:
                layers.append(Layer("add", [block_input, current], f"{name}.add"))
                current = f"{name}.add"
        else:
            raise TypeError(f"{name}: the export does not know {type(block).__name__}")
    layers.append(Layer("mean", [current], "mean"))
    fc: nn.Linear = model.classifier
    binary = fc.out_features == 1
    layers.append(
        Layer(
            "dense",
            ["mean"],
            "logit" if binary else LOGITS_OUTPUT,
            fc.weight.detach().double().cpu().numpy().copy(),
            fc.bias.detach().double().cpu().numpy().copy(),
        )
    )
    if binary:
        layers.append(Layer("logistic", ["logit"], BINARY_OUTPUT))
    return layers

"""MiniFASNet: Minivision's passive face anti-spoofing network (Silent-Face-Anti-Spoofing, Apache-2.0).

One forward pass over an 80x80 crop around the face gives three logits; class 1 is a live face, 0 and 2 are
the two attack classes the publisher trained on (paper/screen presentations; the repository does not say which
is which, so the runtime only uses P(live) = softmax[1]).

The network is built from the published checkpoint itself: every channel count is read off its tensor
shapes, and the squeeze-excitation units exist exactly where the checkpoint has weights for them (the V1SE
model), so one class serves MiniFASNetV1, V2 and their SE variants without a table of channel plans.

Layout (80x80 input, sizes in brackets):
  stem        3x3 conv stride 2 [40] -> 3x3 depthwise [40]          conv + BN + PReLU each
  stage 3     bottleneck stride 2 [20] -> 4 residual bottlenecks
  stage 4     bottleneck stride 2 [10] -> 6 residual bottlenecks
  stage 5     bottleneck stride 2 [5]  -> 2 residual bottlenecks
  head        1x1 conv + BN + PReLU -> 5x5 depthwise (no padding) + BN [1] -> linear 512->128 -> BN -> linear -> 3
A bottleneck is 1x1 conv + BN + PReLU, 3x3 depthwise + BN + PReLU, 1x1 projection + BN, then (SE variants,
last block of a stage) a squeeze-excitation gate, then the residual sum. Convolutions pad 1 on every side as
PyTorch does (TFLite's SAME pads 0 before and 1 after on a stride-2 layer with an even input, so an export needs
an explicit PAD there).

Input: BGR, float 0..255, NCHW, as the publisher's OpenCV pipeline feeds it (no mean, no scaling);
`use_rgb_input()` turns the first convolution so that the same model takes RGB.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

#: The stages' attribute names in the checkpoints: (downsampling bottleneck, residual stage).
STAGES = (("conv_23", "conv_3"), ("conv_34", "conv_4"), ("conv_45", "conv_5"))
#: Index of the live class among the three outputs.
LIVE_CLASS = 1
#: Side of the square input the published 80x80 models expect, pixels.
INPUT_SIZE = 80


class ConvUnit(nn.Module):
    """Conv2d without bias, BatchNorm2d, optional per-channel PReLU."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int, padding: int, groups: int, prelu: bool):
        super().__init__()
        self.conv = nn.Conv2d(in_ch, out_ch, kernel, stride, padding, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(out_ch)
        self.prelu = nn.PReLU(out_ch) if prelu else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.bn(self.conv(x))
        return self.prelu(x) if self.prelu is not None else x


class SqueezeExcite(nn.Module):
    """Channel gate: global mean -> 1x1 conv + BN + ReLU -> 1x1 conv + BN -> sigmoid, times the input."""

    def __init__(self, channels: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Conv2d(channels, hidden, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(hidden)
        self.fc2 = nn.Conv2d(hidden, channels, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate = x.mean(dim=(2, 3), keepdim=True)
        gate = F.relu(self.bn1(self.fc1(gate)))
        return x * torch.sigmoid(self.bn2(self.fc2(gate)))


class Bottleneck(nn.Module):
    """1x1 expand, 3x3 depthwise (stride), 1x1 linear projection, optional SE gate, optional residual sum."""

    def __init__(self, channels: tuple[int, int, int, int], stride: int, residual: bool, se_hidden: int | None):
        super().__init__()
        c_in, c_mid, c_dw, c_out = channels
        self.conv = ConvUnit(c_in, c_mid, 1, 1, 0, 1, prelu=True)
        self.conv_dw = ConvUnit(c_mid, c_dw, 3, stride, 1, c_mid, prelu=True)
        self.project = ConvUnit(c_dw, c_out, 1, 1, 0, 1, prelu=False)
        self.se_module = SqueezeExcite(c_out, se_hidden) if se_hidden else None
        self.residual = residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.project(self.conv_dw(self.conv(x)))
        if self.se_module is not None:
            y = self.se_module(y)
        return x + y if self.residual else y


class ResidualStage(nn.Module):
    """A run of residual bottlenecks (held in `.model`, the checkpoints' name)."""

    def __init__(self, blocks: list[Bottleneck]):
        super().__init__()
        self.model = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class MiniFASNet(nn.Module):
    """The network described by one checkpoint's state dict (see the module docstring)."""

    def __init__(self, shapes: Mapping[str, torch.Size]):
        super().__init__()
        self.input_order = "bgr"

        def conv_shape(prefix: str) -> torch.Size:
            return shapes[f"{prefix}.conv.weight"]

        def bottleneck(prefix: str, stride: int, residual: bool) -> Bottleneck:
            expand, dw, project = (
                conv_shape(f"{prefix}.conv"),
                conv_shape(f"{prefix}.conv_dw"),
                conv_shape(f"{prefix}.project"),
            )
            se_key = f"{prefix}.se_module.fc1.weight"
            se_hidden = shapes[se_key][0] if se_key in shapes else None
            return Bottleneck((expand[1], expand[0], dw[0], project[0]), stride, residual, se_hidden)

        stem = conv_shape("conv1")
        self.conv1 = ConvUnit(stem[1], stem[0], stem[2], 2, stem[2] // 2, 1, prelu=True)
        dw = conv_shape("conv2_dw")
        self.conv2_dw = ConvUnit(stem[0], dw[0], dw[2], 1, dw[2] // 2, dw[0], prelu=True)
        for down, stage in STAGES:
            setattr(self, down, bottleneck(down, stride=2, residual=False))
            count = 1 + max(int(k.split(".")[2]) for k in shapes if k.startswith(f"{stage}.model."))
            setattr(self, stage, ResidualStage([bottleneck(f"{stage}.model.{i}", 1, True) for i in range(count)]))
        sep = conv_shape("conv_6_sep")
        self.conv_6_sep = ConvUnit(sep[1], sep[0], 1, 1, 0, 1, prelu=True)
        head = conv_shape("conv_6_dw")
        self.conv_6_dw = ConvUnit(sep[0], head[0], head[2], 1, 0, head[0], prelu=False)
        self.linear = nn.Linear(shapes["linear.weight"][1], shapes["linear.weight"][0], bias=False)
        self.bn = nn.BatchNorm1d(shapes["linear.weight"][0])
        self.prob = nn.Linear(shapes["prob.weight"][1], shapes["prob.weight"][0], bias=False)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The 512-channel map before the head's 5x5 depthwise layer ([N, 512, 5, 5] at 80x80)."""
        x = self.conv2_dw(self.conv1(x))
        for down, stage in STAGES:
            x = getattr(self, stage)(getattr(self, down)(x))
        return self.conv_6_sep(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits [N, 3] of an [N, 3, 80, 80] float batch (0..255, channel order `input_order`)."""
        x = self.conv_6_dw(self.features(x)).flatten(1)
        return self.prob(self.bn(self.linear(x)))

    def live_probability(self, x: torch.Tensor) -> torch.Tensor:
        """P(live) per item: softmax over the three logits, class LIVE_CLASS."""
        return torch.softmax(self.forward(x), dim=1)[:, LIVE_CLASS]

    def use_rgb_input(self) -> MiniFASNet:
        """Reverse the first convolution's input channels so the model takes RGB instead of BGR (in place)."""
        if self.input_order != "rgb":
            with torch.no_grad():
                self.conv1.conv.weight.copy_(self.conv1.conv.weight.flip(1))
            self.input_order = "rgb"
        return self


def strip_data_parallel(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The published files were saved from nn.DataParallel: drop its `module.` prefix."""
    return {(k[len("module.") :] if k.startswith("module.") else k): v for k, v in state.items()}


def load_minifasnet(path: str | Path) -> MiniFASNet:
    """A published MiniFASNet checkpoint as an eval-mode MiniFASNet (BGR input, as published).

    Raises ValueError when the file's tensors do not fill the network exactly (a file of another
    architecture), naming the missing and unexpected keys.
    """
    state = strip_data_parallel(torch.load(Path(path), map_location="cpu"))
    try:
        model = MiniFASNet({k: v.shape for k, v in state.items()})
    except KeyError as err:
        raise ValueError(f"{path}: not a MiniFASNet checkpoint (no tensor {err})") from err
    result = model.load_state_dict(state, strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise ValueError(
            f"{path}: checkpoint does not match MiniFASNet: missing {result.missing_keys[:5]}, "
            f"unexpected {result.unexpected_keys[:5]}"
        )
    return model.eval()

"""MobileNetV2 variant for 64x64 face crops.

Every convolution pads like TensorFlow's SAME (for stride 2 on an even input: nothing before, one
row/column after), so that the exported TFLite graph uses plain SAME padding and matches PyTorch
bit for bit in float. The network is a plain chain of ConvBNAct / InvertedResidual blocks, a global
average pool and one linear layer (one logit for two classes, one per class for more): the export
walks exactly these module types.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn


def make_divisible(value: float, divisor: int = 8) -> int:
    """Round a channel count to a multiple of `divisor`, never dropping below 90 % of `value`."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded


class ConvBNAct(nn.Module):
    """Conv2d (TF SAME padding) + BatchNorm2d + optional ReLU6."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int, groups: int = 1, act: bool = True):
        super().__init__()
        self.kernel = kernel
        self.stride = stride
        self.conv = nn.Conv2d(in_ch, out_ch, kernel, stride, padding=0, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(out_ch)
        self.act = act

    def same_padding(self, height: int, width: int) -> tuple[int, int, int, int]:
        """(left, right, top, bottom) padding that TensorFlow's SAME rule gives for this input."""

        def one_dim(size: int) -> tuple[int, int]:
            out = -(-size // self.stride)
            total = max((out - 1) * self.stride + self.kernel - size, 0)
            return total // 2, total - total // 2

        top, bottom = one_dim(height)
        left, right = one_dim(width)
        return left, right, top, bottom

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.kernel > 1:
            x = F.pad(x, self.same_padding(x.shape[-2], x.shape[-1]))
        x = self.bn(self.conv(x))
        return F.relu6(x) if self.act else x


class InvertedResidual(nn.Module):
    """MobileNetV2 block: 1x1 expand (skipped when t=1), 3x3 depthwise, 1x1 linear projection."""

    def __init__(self, in_ch: int, out_ch: int, stride: int, expand: int):
        super().__init__()
        hidden = in_ch * expand
        layers: list[nn.Module] = []
        if expand != 1:
            layers.append(ConvBNAct(in_ch, hidden, 1, 1))
        layers.append(ConvBNAct(hidden, hidden, 3, stride, groups=hidden))
        layers.append(ConvBNAct(hidden, out_ch, 1, 1, act=False))
        self.layers = nn.Sequential(*layers)
        self.use_residual = stride == 1 and in_ch == out_ch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.layers(x)
        return x + y if self.use_residual else y


# (expansion t, channels c, repeats n, first stride s) from the MobileNetV2 paper.
MOBILENETV2_STAGES = [
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
]


@dataclass(frozen=True)
class ModelConfig:
    """Architecture hyper-parameters; stored in every checkpoint so it can be rebuilt."""

    width: float = 0.5
    stem_stride: int = 2
    # Stride of the 160-channel stage. 2 is MobileNetV2's (a 2x2 final map at 64x64 with stem stride 2);
    # 1 keeps a 4x4 final map for 1.6x the MACs and no extra parameters.
    late_stride: int = 2
    last_channels: int = 512
    dropout: float = 0.2
    input_size: int = 64
    # Number of classes (labels.py): 2 is one sigmoid logit, more is one logit per class.
    classes: int = 2

    @property
    def outputs(self) -> int:
        """Width of the last layer: 1 for two classes (sigmoid), `classes` otherwise (softmax)."""
        return 1 if self.classes == 2 else self.classes

    def to_dict(self) -> dict:
        """The fields as a dict; `classes` only when it is not 2, so that a two-class checkpoint's or
        manifest's model_config stays what code from before N classes reads (its ModelConfig(**d) refuses
        unknown keys)."""
        fields = asdict(self)
        if self.classes == 2:
            del fields["classes"]
        return fields


DEFAULT_MODEL_CONFIG = ModelConfig()  # frozen, so one shared default is safe


class FaceClassifier(nn.Module):
    """MobileNetV2-style backbone + global average pool + dropout + a linear head of `config.outputs` logits."""

    def __init__(self, config: ModelConfig = DEFAULT_MODEL_CONFIG):
        super().__init__()
        self.config = config
        stem_ch = make_divisible(32 * config.width)
        blocks: list[nn.Module] = [ConvBNAct(3, stem_ch, 3, config.stem_stride)]
        in_ch = stem_ch
        for t, c, n, s in MOBILENETV2_STAGES:
            if c == 160:
                s = config.late_stride
            out_ch = make_divisible(c * config.width)
            for i in range(n):
                blocks.append(InvertedResidual(in_ch, out_ch, s if i == 0 else 1, t))
                in_ch = out_ch
        blocks.append(ConvBNAct(in_ch, config.last_channels, 1, 1))
        self.features = nn.Sequential(*blocks)
        self.dropout = nn.Dropout(config.dropout)
        if config.classes < 2:
            raise ValueError(f"a classifier needs at least 2 classes, got {config.classes}")
        self.classifier = nn.Linear(config.last_channels, config.outputs)
        self._init_weights()

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def forward_logit(self, x: torch.Tensor) -> torch.Tensor:
        """x: (N, 3, 64, 64) normalized to [-1, 1]. Two classes: (N,) logits of labels[1] (sigmoid > 0.5
        means labels[1], e.g. male); more: (N, classes) logits (softmax gives the probabilities)."""
        x = self.features(x)
        x = x.mean(dim=(2, 3))
        logits = self.classifier(self.dropout(x))
        return logits.squeeze(1) if self.config.outputs == 1 else logits

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_logit(x)


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())

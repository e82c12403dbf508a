"""One optimisation step and its ingredients: optimizer, schedule, loss, mixed precision, EMA.

Shared by the training loop (train.py) and the throughput benchmark (bench.py), so the benchmark
times exactly what training runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from .augment import Augmenter
from .ema import ModelEma
from .preprocess import to_model_input

if TYPE_CHECKING:  # objective.py imports bce_loss from here
    from .objective import Objective


def amp_dtype(choice: str, device: torch.device) -> torch.dtype | None:
    """Autocast dtype for "auto" | "bf16" | "fp16" | "off", or None for float32. CUDA only:
    on CPU, autocast would slow the convolutions down rather than speed them up."""
    if device.type != "cuda" or choice == "off":
        return None
    if choice == "auto":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return {"bf16": torch.bfloat16, "fp16": torch.float16}[choice]


def make_scaler(enabled: bool):
    """fp16 needs loss scaling; bf16 has float32's range and does not. torch 2.x moved the class."""
    if hasattr(torch, "amp") and hasattr(torch.amp, "GradScaler"):
        return torch.amp.GradScaler("cuda", enabled=enabled)
    return torch.cuda.amp.GradScaler(enabled=enabled)


def make_optimizer(model: nn.Module, lr: float, weight_decay: float) -> torch.optim.AdamW:
    """AdamW; BatchNorm scales/shifts and biases (all 1-D tensors) get no weight decay."""
    decay = [p for p in model.parameters() if p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.ndim <= 1]
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.999))


def lr_factor(step: int, total: int, warmup: int, min_ratio: float) -> float:
    """Linear warmup from ~0 to 1 over `warmup` steps, then cosine from 1 down to `min_ratio`."""
    if step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def make_scheduler(
    optimizer: torch.optim.Optimizer, total: int, warmup: int, min_ratio: float
) -> torch.optim.lr_scheduler.LambdaLR:
    """Per-step warmup + cosine (see lr_factor); step it once after every optimizer step."""
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: lr_factor(step, total, warmup, min_ratio))


def bce_loss(
    logits: torch.Tensor,
    labels: torch.Tensor,
    smoothing: float,
    class_weight: torch.Tensor | None,
    targets: torch.Tensor | None = None,
    sample_weight: torch.Tensor | None = None,
) -> torch.Tensor:
    """Binary cross-entropy on smoothed targets (eps/2 and 1 - eps/2), each sample weighted by
    its class weight (and its own weight). labels: float (N,) 0/1, the ground truth (it picks the
    class weight); targets: float (N,) in [0, 1] to learn instead of the labels (soft, e.g. from a
    teacher) or None; class_weight: (2,) or None; sample_weight: float (N,) or None."""
    targets = (labels if targets is None else targets) * (1 - smoothing) + smoothing / 2
    loss = F.binary_cross_entropy_with_logits(logits.float(), targets, reduction="none")
    if class_weight is not None:
        loss = loss * class_weight[labels.long()]
    if sample_weight is not None:
        loss = loss * sample_weight
    return loss.mean()


@dataclass
class Stepper:
    """Callable doing one step on a uint8 (N, 64, 64, 3) batch with labels as `objective.label_tensor` gives
    them (and optionally soft float (N,) targets to learn instead and float (N,) per-sample loss weights,
    see bce_loss), all on the model's device:
    augment (or plain normalization), forward under autocast (CUDA), loss, backward, optimizer,
    schedule and EMA. Returns (loss, logits), detached, still on the device
    (reading them would stall a GPU every step)."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LambdaLR
    scaler: object
    ema: ModelEma | None
    augmenter: Augmenter | None
    device: torch.device
    amp: torch.dtype | None = None
    memory_format: torch.memory_format = torch.channels_last
    # The loss (objective.Objective). None: the two-class objective, smoothing 0.1, no class weights.
    objective: Objective | None = None

    def __post_init__(self) -> None:
        if self.objective is None:
            from .labels import GENDER
            from .objective import Objective

            self.objective = Objective(GENDER)

    def __call__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        targets: torch.Tensor | None = None,
        sample_weight: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.augmenter(images) if self.augmenter is not None else to_model_input(images)
        x = x.contiguous(memory_format=self.memory_format)
        with torch.autocast(
            device_type=self.device.type, dtype=self.amp or torch.bfloat16, enabled=self.amp is not None
        ):
            logits = self.model(x)
        loss = self.objective.loss(logits, labels, targets, sample_weight)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        if self.ema is not None:
            self.ema.update(self.model)
        return loss.detach(), logits.detach()

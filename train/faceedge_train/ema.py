"""Exponential moving average of a model's weights and BatchNorm statistics.

Evaluating the average of the last few hundred steps' weights instead of the last step's smooths
out the noise of a small-batch, high-learning-rate run; the EMA model is the one that is
validated, checkpointed and exported.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


class ModelEma:
    """EMA copy of `model`: ema = d * ema + (1 - d) * weights after every optimizer step.

    decay: the long-run d (default 0.998, an averaging horizon of ~500 steps). The effective
    d starts low, min(decay, (1 + step) / (10 + step)), so the random initial weights fade out
    within the first few dozen steps instead of dominating a short run.
    """

    def __init__(self, model: nn.Module, decay: float = 0.998):
        self.module = copy.deepcopy(model).eval()
        for p in self.module.parameters():
            p.requires_grad_(False)
        self.decay = decay
        self.steps = 0

    def current_decay(self) -> float:
        return min(self.decay, (1 + self.steps) / (10 + self.steps))

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        if isinstance(model, nn.parallel.DistributedDataParallel):
            model = model.module  # train.py's step calls the DDP wrapper under torchrun
        d = self.current_decay()
        self.steps += 1
        ema_float, new_float = [], []
        for (_name, ema_t), new_t in zip(self.module.state_dict().items(), model.state_dict().values(), strict=False):
            if ema_t.dtype.is_floating_point:
                ema_float.append(ema_t)
                new_float.append(new_t.detach())
            else:  # BatchNorm's num_batches_tracked counter: copy, averaging a count means nothing
                ema_t.copy_(new_t)
        # One fused kernel per op for all tensors: a Python loop costs ~300 launches per step on GPU.
        torch._foreach_mul_(ema_float, d)
        torch._foreach_add_(ema_float, new_float, alpha=1 - d)

    def state_dict(self) -> dict:
        return {"module": self.module.state_dict(), "decay": self.decay, "steps": self.steps}

    def load_state_dict(self, state: dict) -> None:
        self.module.load_state_dict(state["module"])
        self.decay = state["decay"]
        self.steps = state["steps"]

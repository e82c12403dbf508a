"""The model stage of a training run: the network and everything that changes while it learns.

`TrainingState` holds the model, its EMA, the optimizer, the schedule, the loss scaler, the augmenter and
the batch-order generator. `resume_entries` and `restore` are the two halves of last.pt's `resume`:
together with the global random generators they are every state a bit-for-bit `--resume` needs.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import torch

from .augment import AugmentConfig, Augmenter
from .checkpoint import cpu_state, load_weights_into
from .distributed import Distributed
from .ema import ModelEma
from .labels import LabelSet
from .model import FaceClassifier, ModelConfig, parameter_count
from .progress import log
from .step import make_optimizer, make_scaler, make_scheduler

MAX_PARAMETERS = 1_000_000  # the shipped classifier's budget (int8 size and latency on the board)


@dataclass
class TrainingState:
    config: ModelConfig
    model: FaceClassifier
    ema: ModelEma | None
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LambdaLR
    scaler: object
    augment_config: AugmentConfig
    augmenter: Augmenter | None
    order_rng: torch.Generator
    device: torch.device
    parameters: int

    @property
    def eval_model(self) -> torch.nn.Module:
        """What is validated, kept and exported: the EMA of the weights (the raw model without EMA)."""
        return self.ema.module if self.ema is not None else self.model

    def resume_entries(self) -> dict:
        """This process's states for last.pt's `resume` (the loop adds epoch, best and rank entries)."""
        return {
            "model_state": cpu_state(self.model.state_dict()),
            "ema": self.ema.state_dict() if self.ema else None,
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "order_rng": self.order_rng.get_state(),
            "augmenter": self.augmenter.state_dict() if self.augmenter else None,
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state(self.device) if self.device.type == "cuda" else None,
        }

    def restore(self, resume: dict) -> None:
        """Put back what `resume_entries` saved (rank 0's streams; distributed.restore_rank_state does the rest)."""
        self.model.load_state_dict(resume["model_state"])
        if self.ema is not None:
            self.ema.load_state_dict(resume["ema"])
        self.optimizer.load_state_dict(resume["optimizer"])
        self.scheduler.load_state_dict(resume["scheduler"])
        self.scaler.load_state_dict(resume["scaler"])
        if self.augmenter is not None:
            self.augmenter.load_state_dict(resume["augmenter"])
        self.order_rng.set_state(resume["order_rng"])
        torch.set_rng_state(resume["torch_rng"])  # dropout masks
        if resume.get("cuda_rng") is not None and self.device.type == "cuda":
            torch.cuda.set_rng_state(resume["cuda_rng"], self.device)


def model_config(args: argparse.Namespace, labels: LabelSet) -> ModelConfig:
    return ModelConfig(
        width=args.width,
        stem_stride=args.stem_stride,
        late_stride=args.late_stride,
        last_channels=args.last_channels,
        dropout=args.dropout,
        classes=len(labels.names),
    )


def build_training_state(
    args: argparse.Namespace,
    labels: LabelSet,
    ddp: Distributed,
    steps_per_epoch: int,
    amp_dtype: torch.dtype | None,
    memory_format: torch.memory_format,
) -> TrainingState:
    """A fresh model (or --init's weights) with its optimizer, schedule and generators, seeded by --seed.
    The order of the random draws is the gender model's since its first run: keep it."""
    device = ddp.device
    config = model_config(args, labels)
    model = FaceClassifier(config).to(device, memory_format=memory_format)
    ddp.seed_rank(args.seed)  # dropout masks differ per rank (rank 0 keeps the one-process stream)
    if args.init and not args.resume:
        try:
            changed = load_weights_into(model, args.init)
        except ValueError as err:
            raise SystemExit(f"error: {err}") from err
        log(f"initialised from {args.init}" + "".join(f", {k} {a} -> {b}" for k, (a, b) in changed.items()))
    parameters = parameter_count(model)
    if parameters > MAX_PARAMETERS:
        log(f"warning: {parameters} parameters exceeds the {MAX_PARAMETERS} budget of the shipped model")
    ema = ModelEma(model, args.ema_decay) if args.ema_decay > 0 else None
    optimizer = make_optimizer(model, args.lr, args.weight_decay)
    total_steps = steps_per_epoch * args.epochs
    warmup = max(1, round(args.warmup_epochs * steps_per_epoch))
    scheduler = make_scheduler(optimizer, total_steps, warmup, args.min_lr_ratio)
    scaler = make_scaler(amp_dtype == torch.float16)
    augment_config = AugmentConfig(occlude_p=args.occlude_p)
    augmenter = Augmenter(augment_config, seed=ddp.rank_seed(args.seed), device=device) if args.augment else None
    order_rng = torch.Generator()
    order_rng.manual_seed(args.seed + 1)
    return TrainingState(
        config, model, ema, optimizer, scheduler, scaler, augment_config, augmenter, order_rng, device, parameters
    )

"""The training loop: epochs of seeded batches, validation after each, last.pt and best.pt as it goes.

Each epoch draws one permutation of the training crops from the order generator; under torchrun every
rank takes its share of each global batch (distributed.py). After the epoch the EMA model is validated
(validation.py), the epoch's record is appended to the history (printed and written to history.jsonl by
rank 0), best.pt is rewritten when the selection metric improves, and last.pt always, with every state
`--resume` needs. A SIGINT/SIGTERM (interrupt.py) stops the loop after the step in flight: last.pt then
also records how far the epoch got (`resume.partial`), and `--resume` continues from that very step.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .checkpoint import cpu_state
from .distributed import Distributed
from .interrupt import Stopped, StopRequest
from .objective import Objective
from .progress import Eta, Progress, log
from .run_data import RunData
from .run_record import RunRecord
from .step import Stepper
from .training_state import TrainingState
from .validation import selection_key, validate


@dataclass
class LoopState:
    """Where the run stands; what last.pt's `resume` carries besides the training state."""

    history: list[dict] = field(default_factory=list)
    best_key: tuple[float, float] = (-1.0, 0.0)
    best_state: dict | None = None
    best_epoch: int = -1
    start_epoch: int = 0
    elapsed: float = 0.0
    partial: dict | None = None  # an epoch stopped part-way: its step, order generator and running sums


@dataclass
class TrainingLoop:
    args: argparse.Namespace
    ddp: Distributed
    out: Path
    data: RunData
    state: TrainingState
    stepper: Stepper
    objective: Objective
    record: RunRecord
    progress: Progress
    stop: StopRequest
    save: Callable[[Path, dict], None]  # checkpoint.save_checkpoint, passed in (tests intercept it)
    dtype: torch.dtype | None
    memory_format: torch.memory_format
    select: str  # the val metric that chooses the best epoch
    steps_per_epoch: int
    at: LoopState = field(default_factory=LoopState)
    last_val: dict | None = None

    def run(self) -> None:
        args, at = self.args, self.at
        device = self.ddp.device
        train_images = self.data.train.images.to(device)
        train_labels = self.objective.label_tensor(self.data.train.labels).to(device)
        eta = Eta(args.epochs, self.steps_per_epoch)
        with self.stop.deferred():
            for epoch in range(at.start_epoch, args.epochs):
                if self.ddp.agree(self.stop.requested):  # between epochs last.pt is already current
                    self._announce_stop(epoch, at.partial["step"] if at.partial else 0)
                self._epoch(epoch, train_images, train_labels, eta)

    def _epoch(self, epoch: int, train_images, train_labels, eta: Eta) -> None:
        args, at, state, ddp, device = self.args, self.at, self.state, self.ddp, self.ddp.device
        partial, at.partial = at.partial, None
        epoch_start = time.time() - (partial["seconds"] if partial else 0.0)
        state.model.train()
        sums = partial["sums"].to(device) if partial else torch.zeros(2, device=device)  # loss * n, correct
        seen = partial["seen"] if partial else 0
        epoch_order_rng = partial["order_rng"] if partial else state.order_rng.get_state()
        state.order_rng.set_state(epoch_order_rng)
        order = torch.randperm(len(train_labels), generator=state.order_rng).to(device)
        first_step = partial["step"] if partial else 0
        session_start = time.time()
        for step in range(first_step, self.steps_per_epoch):
            if step > first_step and ddp.agree(self.stop.requested):
                self._stop_mid_epoch(epoch, step, epoch_order_rng, sums, seen, time.time() - epoch_start)
            idx = ddp.shard(order[step * args.batch_size : (step + 1) * args.batch_size])  # this rank's share
            labels = train_labels[idx]
            seen += len(idx)
            targets = None if self.data.train_targets is None else self.data.train_targets[idx]
            weights = None if self.data.train_weights is None else self.data.train_weights[idx]
            loss, logits = self.stepper(train_images[idx], labels, targets, weights)
            with torch.no_grad():
                sums += torch.stack([loss * len(idx), self.objective.correct(logits, labels)])
            eta.record_steps(step + 1 - first_step, time.time() - session_start)
            if self.progress.step_due():
                self.progress.step(
                    epoch=epoch + 1,
                    epochs=args.epochs,
                    step=step + 1,
                    steps=self.steps_per_epoch,
                    images_per_s=round(seen * ddp.world_size / max(time.time() - epoch_start, 1e-9), 1),
                    loss=round(float(sums[0]) / seen, 5),
                    eta_s=eta.left(epoch, step + 1),
                )
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        train_seconds = time.time() - epoch_start
        loss_sum, correct = ddp.sum(sums).tolist()
        seen *= ddp.world_size  # every rank took an equal share of each global batch
        ddp.sync_eval_state(state.model, state.ema)  # every rank validates rank 0's EMA and BN buffers
        val, val_fields = validate(
            state, self.data.held_out["val"], args, device, self.dtype, self.memory_format, self.data.labels
        )
        self.last_val = val
        record = {"epoch": epoch + 1, "train_loss": loss_sum / seen, "train_acc": correct / seen, **val_fields}
        at.elapsed += time.time() - epoch_start
        key = selection_key(val, self.select)
        is_best = ddp.agree(key > at.best_key or args.fold_val)  # folded val cannot choose an epoch: keep the last
        record.update(
            lr=state.optimizer.param_groups[0]["lr"],
            seconds=round(time.time() - epoch_start, 2),
            images_per_s=round(seen / train_seconds, 1),
            best=is_best,
        )
        at.history.append(record)
        eval_state = cpu_state(state.eval_model.state_dict())
        if is_best:
            at.best_key, at.best_state, at.best_epoch = key, eval_state, epoch + 1
            if ddp.is_main:
                self.save(self.out / "best.pt", self._checkpoint(eval_state, {"val": val}, epoch + 1))
        resume = self._resume(epoch)
        if not ddp.is_main:  # under torchrun only rank 0 writes files and prints records
            return
        self.save(self.out / "last.pt", self._checkpoint(eval_state, {"val": val}, epoch + 1, {"resume": resume}))
        if not self.progress.to_stdout:
            print(json.dumps(record), flush=True)
        with open(self.out / "history.jsonl", "a") as handle:
            handle.write(json.dumps(record) + "\n")
        eta.record_epoch(time.time() - epoch_start)
        self.progress.event("epoch", **record, eta_s=eta.left(epoch, self.steps_per_epoch))

    def _checkpoint(self, model_state: dict, metrics: dict, epochs_run: int, extra: dict | None = None) -> dict:
        at = self.at
        return self.record.checkpoint(model_state, metrics, epochs_run, at.best_epoch, at.elapsed, at.history, extra)

    def _resume(self, completed_epoch: int, partial: dict | None = None) -> dict:
        """last.pt's `resume` after 0-based epoch `completed_epoch` (collective under torchrun: every rank calls it)."""
        at = self.at
        resume = {
            "epoch": completed_epoch,
            "elapsed": at.elapsed,
            "best_key": list(at.best_key),
            "best_epoch": at.best_epoch,
            **self.state.resume_entries(),
            **self.ddp.rank_states(self.state.augmenter, self.ddp.device),
        }
        if partial is not None:
            resume["partial"] = partial
        return resume

    def _stop_mid_epoch(self, epoch: int, step: int, epoch_order_rng, sums, seen: int, seconds: float) -> None:
        """Save last.pt `step` steps into 0-based `epoch` (the partial epoch is not validated), then stop."""
        partial = {"step": step, "order_rng": epoch_order_rng, "sums": sums.cpu().clone(), "seen": seen}
        partial["seconds"] = seconds
        resume = self._resume(epoch - 1, partial)
        if self.ddp.is_main:
            eval_state = cpu_state(self.state.eval_model.state_dict())
            self.save(self.out / "last.pt", self._checkpoint(eval_state, {}, epoch, {"resume": resume}))
        self._announce_stop(epoch, step)

    def _announce_stop(self, epoch: int, step: int) -> None:
        stopped = Stopped(self.stop.signum or 2)
        log(f"{stopped}: last.pt holds epoch {epoch + 1} step {step}; --resume continues from there")
        self.progress.event("stopped", signal=stopped.signal_name, epoch=epoch + 1, step=step, resumable=True)
        stopped.announced = True
        raise stopped


def restore_loop_state(last: dict, out: Path, state: TrainingState, ddp: Distributed, seed: int) -> LoopState:
    """The loop's position and the training state from a loaded last.pt (see TrainingLoop)."""
    resume = last["resume"]
    state.restore(resume)
    ddp.restore_rank_state(resume, state.augmenter, state.device, seed)
    at = LoopState(
        history=last["history"],
        best_key=tuple(resume["best_key"]),
        best_epoch=resume["best_epoch"],
        start_epoch=resume["epoch"] + 1,
        elapsed=resume["elapsed"],
        partial=resume.get("partial"),
    )
    if at.best_epoch > 0:
        at.best_state = torch.load(out / "best.pt", map_location="cpu", weights_only=False)["model_state"]
    return at

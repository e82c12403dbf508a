"""What a training run tells the world: log lines on stderr and machine-readable progress events.

Progress is one JSON object per line, appended to `<out>/progress.jsonl` (or written to stdout with
`--progress -`), so that a driving process (`faceedge train`) can draw a bar and resume a run it
started. Every event has `event`, `time` (unix seconds) and `elapsed_s` (seconds since this process
started); the events, in the order they come:

  start   run, labels, ordered, epochs, steps_per_epoch, start_epoch (0-based epochs already done),
          start_step (steps of start_epoch already done, after a stop mid-epoch), resumed, pid
  stage   stage: "data" | "model" | "train" | "final"  (what the run is doing now)
  data    sources, counts (per split and label), dropped (faces `dataset prepare` skipped, by reason)
  step    epoch (1-based), epochs, step (done in this epoch), steps, images_per_s, loss (running mean), eta_s
          (at most one every STEP_INTERVAL_S seconds)
  epoch   the epoch's history record (epoch, train_loss, val_acc, ... as in history.jsonl) plus eta_s
  stopped signal ("SIGINT" | "SIGTERM"), epoch, step, resumable: true; the process then exits 128 + signal
  done    best_epoch, metrics summary, best checkpoint path
  error   message, hint (bad input: the process exits 2)

Only rank 0 of a torchrun group writes.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

STEP_INTERVAL_S = 2.0
_STARTED = time.time()


def log(message: str) -> None:
    """One human-readable line on stderr, prefixed [train]; under torchrun only rank 0 speaks."""
    if os.environ.get("RANK", "0") != "0":
        return
    print(f"[train] {message}", file=sys.stderr, flush=True)


class Progress:
    """Writes progress events (see the module docstring). target: a file path, "-" for stdout, or None (off)."""

    def __init__(self, target: str | os.PathLike | None, enabled: bool = True, fresh: bool = False):
        self.to_stdout = target == "-"
        self.path = None if target in (None, "-") else Path(target)
        self.enabled = enabled and target is not None
        self._last_step_event = 0.0
        if self.enabled and self.path is not None and fresh:
            self.path.unlink(missing_ok=True)

    def event(self, kind: str, **fields) -> None:
        if not self.enabled:
            return
        now = time.time()
        line = json.dumps({"event": kind, "time": round(now, 3), "elapsed_s": round(now - _STARTED, 1), **fields})
        if self.to_stdout:
            print(line, flush=True)
            return
        with open(self.path, "a") as handle:
            handle.write(line + "\n")

    def step_due(self) -> bool:
        """Whether a `step` event is due (none written in the last STEP_INTERVAL_S seconds): ask before
        computing its fields, since reading a running loss off a GPU stalls it."""
        return self.enabled and time.monotonic() - self._last_step_event >= STEP_INTERVAL_S

    def step(self, **fields) -> None:
        self._last_step_event = time.monotonic()
        self.event("step", **fields)


class Eta:
    """Seconds left in a run, from the pace of this session: steps time the rest of an epoch, epochs
    (with their validation) time the epochs after it."""

    def __init__(self, epochs: int, steps_per_epoch: int):
        self.epochs, self.steps = epochs, steps_per_epoch
        self._epoch_seconds: list[float] = []
        self._step_seconds: float | None = None

    def record_steps(self, steps: int, seconds: float) -> None:
        if steps > 0:
            self._step_seconds = seconds / steps

    def record_epoch(self, seconds: float) -> None:
        self._epoch_seconds.append(seconds)

    def left(self, epoch: int, step: int) -> float | None:
        """Seconds left when `step` steps of 0-based `epoch` are done; None until something was timed."""
        later_epochs = self.epochs - epoch - 1
        if self._epoch_seconds:
            per_epoch = sum(self._epoch_seconds) / len(self._epoch_seconds)
            this_epoch = per_epoch * (self.steps - step) / self.steps
            return round(this_epoch + later_epochs * per_epoch, 1)
        if self._step_seconds is None:
            return None
        return round(self._step_seconds * ((self.steps - step) + later_epochs * self.steps), 1)

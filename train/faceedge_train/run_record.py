"""What every checkpoint of a run says about the run: its settings, where it ran, its data and classes.

One `RunRecord` per run builds each checkpoint dict (best.pt, last.pt) from the weights and the moment's
numbers, so that every file of a run describes itself the same way (checkpoint.py documents the format).
"""

from __future__ import annotations

from dataclasses import dataclass

from .labels import LabelSet
from .model import ModelConfig


@dataclass
class RunRecord:
    hyper: dict  # the CLI's settings plus steps_per_epoch, amp, parameters, distributed, augment_config
    env: dict  # checkpoint.environment(): device, versions, git commit
    config: ModelConfig
    dataset: dict  # run_data.dataset_info (+ age_balance, teacher)
    labels: LabelSet

    def checkpoint(
        self,
        model_state: dict,
        metrics: dict,
        epochs_run: int,
        best_epoch: int,
        elapsed: float,
        history: list[dict],
        extra: dict | None = None,
    ) -> dict:
        training = dict(self.hyper, epochs_run=epochs_run, best_epoch=best_epoch, wall_seconds=round(elapsed, 1))
        training.update(self.env)
        ckpt = {
            "model_state": model_state,
            "model_config": self.config.to_dict(),
            "training": training,
            "dataset": self.dataset,
            "history": history,
            "metrics": metrics,
            **self.labels.to_record(),
        }
        return dict(ckpt, **(extra or {}))

"""The final stage of a training run: the chosen epoch's model scored once on val and test.

The metrics (with flip TTA, for information) go into best.pt, `<out>/metrics.json`, and the history into
`<out>/history.json`; one summary line goes to the log. Test is scored here and only here, after the epoch
was chosen on val.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import torch

from .distributed import Distributed
from .labels import LabelSet
from .loop import LoopState
from .model import FaceClassifier, ModelConfig
from .progress import log
from .run_record import RunRecord
from .validation import score_sources


def summary(metrics: dict, best_epoch: int, elapsed: float, labels: LabelSet) -> dict:
    """The done line: accuracy per split, the test recalls (per class), and for N classes macro recall."""
    if "test" not in metrics:
        return {"best_epoch": best_epoch, "val_acc": metrics["val"]["accuracy"]}
    test = metrics["test"]
    out = {
        "best_epoch": best_epoch,
        **{f"{n}_acc": m["accuracy"] for n, m in metrics.items()},
        **{f"test_recall_{c}": v["recall"] for c, v in test["per_class"].items()},
        "test_tta_acc": test["tta_accuracy"],
        "wall_seconds": round(elapsed, 1),
    }
    if not labels.binary:
        out["test_macro_recall"] = test["macro_recall"]
        if labels.ordered:
            out["test_off_by_more_than_one"] = test["off_by_more_than_one"]
    return out


def final_report(
    at: LoopState,
    held_out: dict,
    config: ModelConfig,
    labels: LabelSet,
    record: RunRecord,
    ddp: Distributed,
    out: Path,
    save: Callable[[Path, dict], None],
    eval_batch_size: int,
    dtype,
    memory_format,
) -> dict:
    """Score the best epoch's model, write best.pt / metrics.json / history.json; returns the final checkpoint."""
    if at.best_state is None:
        raise SystemExit("error: no epoch was run (hint: --epochs must exceed the epochs already in last.pt)")
    model = FaceClassifier(config)
    model.load_state_dict(at.best_state)
    model.to(ddp.device, memory_format=memory_format).eval()
    with torch.no_grad():
        metrics = {
            name: score_sources(
                model, held_out[name], ddp.device, eval_batch_size, dtype, memory_format, True, labels.ordered
            )
            for name in ("val", "test")
            if held_out[name]
        }
    final = record.checkpoint(at.best_state, metrics, len(at.history), at.best_epoch, at.elapsed, at.history)
    if ddp.is_main:
        save(out / "best.pt", final)
        (out / "metrics.json").write_text(json.dumps(dict(metrics, best_epoch=at.best_epoch), indent=2))
        (out / "history.json").write_text(json.dumps(at.history, indent=2))
    log("done: " + json.dumps(summary(metrics, at.best_epoch, at.elapsed, labels)))
    return final

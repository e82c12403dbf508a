"""Validation and the choice of the best epoch.

Each source's val split is scored on its own and the sources' scores are averaged, so that a big source
cannot drown a small one. The best epoch is the one with the highest selection metric on val (ties: the
lower val loss), which --select names:
- `accuracy` (the default for two classes: the gender model's rule since its first run);
- `macro_recall` (the default for three or more: the mean of the per-class recalls, so that a rare class
  counts as much as a common one, as the class-balanced loss intends).
Test is never used to choose anything.
"""

from __future__ import annotations

import numpy as np
import torch

from .data import concat_splits
from .evaluate import evaluate_model, predict_logits
from .labels import LabelSet

SELECTIONS = ("auto", "accuracy", "macro_recall")
# Metrics that are averaged over sources (each source counting equally) when several are scored.
SOURCE_MEANS = ("accuracy", "loss", "tta_accuracy", "macro_recall", "off_by_more_than_one", "ece")


def selection_metric(select: str, labels: LabelSet) -> str:
    """The val metric that chooses the best epoch for --select `select`."""
    if select == "auto":
        return "accuracy" if labels.binary else "macro_recall"
    return select


def score_sources(
    model, by_source: dict, device, batch_size: int, dtype, memory_format, flip_tta: bool = False, ordered=False
) -> dict:
    """Metrics of one split over several sources. One source: its metrics as they are. Several: the
    pooled metrics, with the SOURCE_MEANS metrics replaced by their mean over sources (each source counts
    equally), `pooled_accuracy` kept, and every source's own metrics under `by_source`."""
    scored = {
        name: evaluate_model(model, split, device, batch_size, dtype, memory_format, flip_tta=flip_tta, ordered=ordered)
        for name, split in by_source.items()
    }
    if len(scored) == 1:
        return next(iter(scored.values()))
    pooled = evaluate_model(
        model,
        concat_splits("pooled", list(by_source.values())),
        device,
        batch_size,
        dtype,
        memory_format,
        flip_tta=flip_tta,
        ordered=ordered,
    )
    result = dict(pooled, pooled_accuracy=pooled["accuracy"], by_source=scored)
    for key in SOURCE_MEANS:
        if key in pooled:
            values = [m[key] for m in scored.values() if m.get(key) is not None]
            result[key] = float(np.mean(values)) if values else None
    return result


def raw_accuracy(model, by_source: dict, device, batch_size: int, dtype, memory_format, labels: LabelSet) -> float:
    """Mean over sources of the raw (non-EMA) weights' val accuracy: what the averaging adds, for the record."""
    accuracies = []
    for split in by_source.values():
        logits = predict_logits(model, split.images, device, batch_size, dtype, memory_format)
        truth = split.labels.numpy()
        if labels.binary:
            accuracies.append(float(((logits > 0) == truth.astype(bool)).mean()))
        else:
            accuracies.append(float((logits.argmax(axis=1) == truth).mean()))
    return float(np.mean(accuracies))


def epoch_fields(val: dict, labels: LabelSet, several_sources: bool) -> dict:
    """The val part of an epoch's history record. Two classes: exactly the gender model's fields
    (val_loss, val_acc, val_auc); more: val_loss, val_acc, val_macro_recall, val_ece, and for ordered
    labels val_off_by_more_than_one."""
    record = {"val_loss": val["loss"], "val_acc": val["accuracy"]}
    if labels.binary:
        record["val_auc"] = val["roc_auc"]
    else:
        record["val_macro_recall"] = val["macro_recall"]
        record["val_ece"] = val["ece"]
        if labels.ordered:
            record["val_off_by_more_than_one"] = val["off_by_more_than_one"]
    if several_sources:
        record["val_acc_by_source"] = {n: m["accuracy"] for n, m in val["by_source"].items()}
    return record


def selection_key(val: dict, metric: str) -> tuple[float, float]:
    """(metric, -loss): higher is better; compared as a tuple, so the loss breaks ties."""
    return (val[metric], -val["loss"])


@torch.no_grad()
def validate(state, held_out_val: dict, args, device, dtype, memory_format, labels: LabelSet) -> tuple[dict, dict]:
    """Score the EMA model (and the raw one) on every val source: (metrics, the record's val fields)."""
    val = score_sources(
        state.eval_model, held_out_val, device, args.eval_batch_size, dtype, memory_format, ordered=labels.ordered
    )
    fields = epoch_fields(val, labels, len(held_out_val) > 1)
    if state.ema is not None:  # the raw weights' accuracy shows what the averaging adds
        fields["val_acc_raw"] = raw_accuracy(
            state.model, held_out_val, device, args.eval_batch_size, dtype, memory_format, labels
        )
    return val, fields

"""Classification metrics in numpy: binary (one logit; the gender model's female = 0 = negative, male = 1 =
positive) and N classes (one logit per class).

Kept free of torch so the TFLite evaluation can report the very same numbers for the exported
model as training reports for the PyTorch one.
"""

from __future__ import annotations

import numpy as np

from .labels import GENDER

ECE_BINS = 15  # equal-width bins of the top probability for the expected calibration error


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float | None:
    """Area under the ROC curve = P(score of a random positive > score of a random negative),
    ties counting one half (Mann-Whitney U with average ranks). None when a class is absent."""
    labels = np.asarray(labels).astype(bool)
    scores = np.asarray(scores, dtype=np.float64)
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    if n_pos == 0 or n_neg == 0:
        return None
    order = np.argsort(scores, kind="mergesort")
    sorted_scores = scores[order]
    ranks = np.empty(len(scores), dtype=np.float64)
    # Average rank (1-based) over each run of tied scores.
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_scores)) + 1]
    ends = np.r_[starts[1:], len(scores)]
    for start, end in zip(starts, ends, strict=False):
        ranks[order[start:end]] = (start + end + 1) / 2
    u = ranks[labels].sum() - n_pos * (n_pos + 1) / 2
    return float(u / (n_pos * n_neg))


def binary_metrics(
    labels: np.ndarray,
    logits: np.ndarray,
    flipped_logits: np.ndarray | None = None,
    label_names: tuple[str, ...] = GENDER.names,
) -> dict:
    """Metrics at the 0.5 probability threshold (logit > 0 means label_names[1], e.g. male).

    labels: (N,) 0/1; logits: (N,) float; flipped_logits: logits of the mirrored images, when
    given adds `tta_accuracy` (mean of both logits), reported for information only.
    Returns accuracy, per-class precision/recall/support, confusion [[tn, fp], [fn, tp]], roc_auc, n.
    """
    labels = np.asarray(labels).astype(np.int64)
    logits = np.asarray(logits, dtype=np.float64)
    pred = (logits > 0).astype(np.int64)
    tp = int(((pred == 1) & (labels == 1)).sum())
    tn = int(((pred == 0) & (labels == 0)).sum())
    fp = int(((pred == 1) & (labels == 0)).sum())
    fn = int(((pred == 0) & (labels == 1)).sum())
    n = len(labels)

    def ratio(a: int, b: int) -> float | None:
        return a / b if b else None

    per_class = {
        label_names[0]: {"precision": ratio(tn, tn + fn), "recall": ratio(tn, tn + fp), "support": tn + fp},
        label_names[1]: {"precision": ratio(tp, tp + fp), "recall": ratio(tp, tp + fn), "support": tp + fn},
    }
    result = {
        "n": n,
        "accuracy": ratio(tp + tn, n),
        "per_class": per_class,
        "confusion": [[tn, fp], [fn, tp]],
        "roc_auc": roc_auc(labels, logits),
    }
    if flipped_logits is not None:
        tta = (logits + np.asarray(flipped_logits, dtype=np.float64)) / 2
        result["tta_accuracy"] = ratio(int(((tta > 0).astype(np.int64) == labels).sum()), n)
    return result


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Row-wise softmax of (N, C) logits divided by `temperature` (float64)."""
    z = np.asarray(logits, dtype=np.float64) / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def expected_calibration_error(labels: np.ndarray, probabilities: np.ndarray, bins: int = ECE_BINS) -> float:
    """Top-label ECE: over equal-width bins of the top probability, the share-weighted mean of
    |accuracy - mean top probability| (0 = every confidence is exactly how often it is right)."""
    top = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == np.asarray(labels)
    which = np.minimum((top * bins).astype(int), bins - 1)
    error = 0.0
    for b in range(bins):
        members = which == b
        if members.any():
            error += members.mean() * abs(correct[members].mean() - top[members].mean())
    return float(error)


def multiclass_metrics(
    labels: np.ndarray,
    logits: np.ndarray,
    label_names: tuple[str, ...],
    ordered: bool = False,
    flipped_logits: np.ndarray | None = None,
) -> dict:
    """Metrics of (N, C) logits against int (N,) labels, the prediction being the argmax.

    Returns n, accuracy, macro_recall (mean recall over the classes present), per_class precision/recall/
    support, confusion (rows: true class, columns: predicted, in label order), ece (expected calibration
    error of the softmax at temperature 1); for ordered labels also off_by_more_than_one (share of
    predictions more than one class away) and mean_abs_step_error; with flipped_logits (mirrored crops)
    tta_accuracy, for information.
    """
    labels = np.asarray(labels).astype(np.int64)
    logits = np.asarray(logits, dtype=np.float64)
    classes = len(label_names)
    pred = logits.argmax(axis=1)
    confusion = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(confusion, (labels, pred), 1)
    n = len(labels)
    support, predicted, hits = confusion.sum(axis=1), confusion.sum(axis=0), np.diag(confusion)

    def ratio(a, b) -> float | None:
        return float(a / b) if b else None

    per_class = {
        name: {
            "precision": ratio(hits[k], predicted[k]),
            "recall": ratio(hits[k], support[k]),
            "support": int(support[k]),
        }
        for k, name in enumerate(label_names)
    }
    recalls = [c["recall"] for c in per_class.values() if c["recall"] is not None]
    result = {
        "n": n,
        "accuracy": ratio(hits.sum(), n),
        "macro_recall": float(np.mean(recalls)) if recalls else None,
        "per_class": per_class,
        "confusion": confusion.tolist(),
        "ece": expected_calibration_error(labels, softmax(logits)) if n else None,
    }
    if ordered:
        steps = np.abs(pred - labels)
        result["off_by_more_than_one"] = ratio(int((steps > 1).sum()), n)
        result["mean_abs_step_error"] = float(steps.mean()) if n else None
    if flipped_logits is not None:
        tta = (logits + np.asarray(flipped_logits, dtype=np.float64)) / 2
        result["tta_accuracy"] = ratio(int((tta.argmax(axis=1) == labels).sum()), n)
    return result

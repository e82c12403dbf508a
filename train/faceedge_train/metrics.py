"""Binary classification metrics in numpy (female = 0 = negative, male = 1 = positive).

Kept free of torch so the TFLite evaluation can report the very same numbers for the exported
model as training reports for the PyTorch one.
"""

from __future__ import annotations

import numpy as np

from .data import LABELS


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


def binary_metrics(labels: np.ndarray, logits: np.ndarray, flipped_logits: np.ndarray | None = None) -> dict:
    """Metrics at the 0.5 probability threshold (logit > 0 means male).

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
        LABELS[0]: {"precision": ratio(tn, tn + fn), "recall": ratio(tn, tn + fp), "support": tn + fp},
        LABELS[1]: {"precision": ratio(tp, tp + fp), "recall": ratio(tp, tp + fn), "support": tp + fn},
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

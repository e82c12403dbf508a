"""What the model's outputs mean while training: the loss, the predicted class, the class weights.

Two classes keep the gender model's objective exactly (one logit, binary cross-entropy on smoothed
targets, see step.bce_loss). Three or more use softmax cross-entropy on smoothed targets: for unordered
labels the smoothing is spread evenly over the other classes; for ordered labels (bands) it goes to the
neighbouring classes only, so the model learns that a 29-year-old next to the 30-44 band is a near miss
and a far band is wrong (what "off by more than one band" counts).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .labels import LabelSet
from .step import bce_loss


def class_weights(labels: torch.Tensor, classes: int) -> torch.Tensor:
    """Loss weight per class so that every class counts equally: n / (classes * n_class) (float32, (classes,)).
    For two classes this is the weighting the gender model was trained with."""
    counts = torch.bincount(labels, minlength=classes).double()
    return (counts.sum() / (classes * counts.clamp(min=1))).float()


def smoothed_targets(labels: torch.Tensor, classes: int, smoothing: float, ordered: bool) -> torch.Tensor:
    """(N, classes) target distributions: 1 - smoothing on the true class, the rest spread evenly over
    the other classes, or for `ordered` labels over the one or two neighbouring classes."""
    one_hot = F.one_hot(labels, classes).float()
    if smoothing == 0:
        return one_hot
    if ordered:
        spread = torch.zeros(classes, classes)
        for k in range(classes):
            neighbours = [j for j in (k - 1, k + 1) if 0 <= j < classes]
            spread[k, neighbours] = 1.0 / len(neighbours)
    else:
        spread = (1 - torch.eye(classes)) / (classes - 1)
    return (1 - smoothing) * one_hot + smoothing * spread.to(labels.device)[labels]


def softmax_loss(
    logits: torch.Tensor,
    labels: torch.Tensor,
    smoothing: float,
    ordered: bool,
    class_weight: torch.Tensor | None = None,
    sample_weight: torch.Tensor | None = None,
    soft: torch.Tensor | None = None,
) -> torch.Tensor:
    """Cross-entropy of (N, C) logits against smoothed targets of int64 (N,) labels, each sample weighted by
    its class weight (and its own weight), averaged over the batch like bce_loss. soft: (N, C) target
    distributions to learn instead of the one-hot labels (age_targets.py); the smoothing still applies."""
    if soft is None:
        targets = smoothed_targets(labels, logits.shape[1], smoothing, ordered)
    else:
        spread = smoothed_targets(labels, logits.shape[1], 1.0, ordered) if smoothing else 0.0
        targets = (1 - smoothing) * soft + smoothing * spread
    loss = -(targets * F.log_softmax(logits.float(), dim=1)).sum(dim=1)
    if class_weight is not None:
        loss = loss * class_weight[labels]
    if sample_weight is not None:
        loss = loss * sample_weight
    return loss.mean()


@dataclass(frozen=True)
class Objective:
    """The loss and the decision rule of a run's model. class_weight: (classes,) on the training device or None."""

    labels: LabelSet
    smoothing: float = 0.1
    class_weight: torch.Tensor | None = None

    def label_tensor(self, labels: torch.Tensor) -> torch.Tensor:
        """The form the loss takes the labels in: float 0/1 for two classes (BCE targets), int64 otherwise."""
        return labels.float() if self.labels.binary else labels.long()

    def loss(
        self,
        logits: torch.Tensor,
        labels: torch.Tensor,
        targets: torch.Tensor | None = None,
        sample_weight: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """labels as `label_tensor` gives them; targets: soft targets to learn instead, (N,) probabilities of
        labels[1] for two classes (e.g. a teacher's), (N, classes) distributions for more (age_targets.py)."""
        if self.labels.binary:
            return bce_loss(logits, labels, self.smoothing, self.class_weight, targets, sample_weight)
        return softmax_loss(
            logits, labels, self.smoothing, self.labels.ordered, self.class_weight, sample_weight, targets
        )

    def predict(self, logits: torch.Tensor) -> torch.Tensor:
        """The class index each row of logits names (argmax; for one logit, logit > 0 is class 1)."""
        return (logits > 0).long() if self.labels.binary else logits.argmax(dim=1)

    def correct(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """How many predictions equal `labels` (a float tensor on the logits' device: read once per epoch)."""
        if self.labels.binary:  # the comparison the gender model's loop always made, bit for bit
            return ((logits > 0).float() == labels).sum().float()
        return (logits.argmax(dim=1) == labels).sum().float()

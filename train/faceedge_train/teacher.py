"""Distillation targets: blend the ground truth with a teacher's P(male) per training crop.

The teacher's probabilities come as a CSV written by `train/teacher/label.ts` (one row per source
image: split,label,file,p_male; p_male empty where the teacher found no face). A crop is matched to its
row by split, class and file stem (`dataset prepare` keeps the stem: 10002_147203.jpg -> .png).

target = (1 - weight) * label + weight * p_male, or the plain label where the teacher has no opinion.
The teacher knows things a 0/1 label cannot say (this face is ambiguous, that one is certain), which is
what distillation hopes a small student can use (measured for the shipped architecture in train/README.md:
a tie on val); the label keeps the teacher's own mistakes from being copied whole. Nothing of the teacher
reaches the exported model: it only shapes the training targets.
"""

from __future__ import annotations

import csv
import hashlib
import os
from dataclasses import dataclass
from pathlib import PurePosixPath

import torch

from .data import DatasetError, Split
from .labels import GENDER


@dataclass
class TeacherTargets:
    """targets: float (N,) in [0, 1], aligned with the split; the rest is provenance for the checkpoint."""

    targets: torch.Tensor
    covered: int  # crops that got a teacher probability
    agree: int  # of those, how many the teacher classifies like the label (p >= 0.5 is male)
    sha256: str

    def summary(self, weight: float) -> dict:
        n = int(self.targets.shape[0])
        return {
            "weight": weight,
            "sha256": self.sha256,
            "covered": self.covered,
            "of": n,
            "teacher_accuracy_on_covered": round(self.agree / self.covered, 4) if self.covered else None,
        }


def read_teacher_csv(path: str | os.PathLike) -> tuple[dict[tuple[str, str, str], float | None], str]:
    """{(split, label, stem): p_male or None}, and the file's sha256. Raises DatasetError on a bad row."""
    with open(path, "rb") as handle:
        raw = handle.read()
    table: dict[tuple[str, str, str], float | None] = {}
    for line_no, row in enumerate(csv.reader(raw.decode("utf-8").splitlines()), start=1):
        if not row:
            continue
        if len(row) != 4 or row[1] not in GENDER.names:
            raise DatasetError(
                f"{path}:{line_no}: expected split,label,file,p_male, got {row!r}",
                "write it with train/teacher/label.ts",
            )
        split, label, file, p_text = row
        try:
            p_male = float(p_text) if p_text else None
        except ValueError:
            raise DatasetError(f"{path}:{line_no}: p_male {p_text!r} is not a number") from None
        if p_male is not None and not 0.0 <= p_male <= 1.0:
            raise DatasetError(f"{path}:{line_no}: p_male {p_text} is not a probability")
        table[(split, label, PurePosixPath(file).stem)] = p_male
    return table, hashlib.sha256(raw).hexdigest()


def teacher_targets(path: str | os.PathLike, split: Split, weight: float) -> TeacherTargets:
    """Soft targets for `split` (see the module docstring). weight in [0, 1]; 0 gives the labels back."""
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"teacher weight must be in [0, 1], got {weight}")
    table, sha256 = read_teacher_csv(path)
    labels = split.labels.float()
    targets = labels.clone()
    covered = agree = 0
    for i, rel in enumerate(split.paths):  # rel: "<split>/<label>/<stem>.png"
        split_name, label, file = PurePosixPath(rel).parts
        p_male = table.get((split_name, label, PurePosixPath(file).stem))
        if p_male is None:
            continue
        covered += 1
        agree += int((p_male >= 0.5) == bool(labels[i] > 0.5))
        targets[i] = (1 - weight) * labels[i] + weight * p_male
    return TeacherTargets(targets, covered, agree, sha256)

"""The face embeddings that `scripts/heads/embed-faces.ts` writes, read into the tasks the embedding heads learn.

One JSON line per photo: `source`, `split`, `label`, `path`, `status` (`ok`, `no face`, `unreadable`),
`groups` (labels.csv's other columns: `age`, `gender`, `race` for UTKFace), and for a face the board found,
`embedding` (the shipped embedder's unit vector) and `models` (what each 64x64 classifier decided on the same
face: `label`, `probabilities` in its manifest's label order). A task keeps the faces the board found, so a
head and a 64x64 model are scored on exactly the same faces; photos without one are counted, not scored.

Tasks (issue 24 §4):
- `age`: UTKFace, ages 13 and up, the five bands 13-19 ... 60+ (the test set the anchor was measured on);
- `age6`: UTKFace, all ages, the six bands 0-12 ... 60+ of the 64x64 age model (a head a board could ship);
- `gender`: UTKFace 13+ (labels.csv's gender) and faces-dev (CelebA, the folder label), as the gender model.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .datasets.age_bands import AGE_BANDS
from .labels import GENDER

AGE_LABELS = AGE_BANDS[1:]  # 13-19 ... 60+: the bands of the 13+ test set
UTKFACE = "utkface"
FACES_DEV = "faces-dev"
SPLITS = ("train", "val", "test")


class HeadsDataError(ValueError):
    """The embeddings file is missing, unreadable or lacks a split a task needs."""


@dataclass
class TaskSplit:
    """One split of a task: embeddings (N, D) float32, labels (N,) int64 in the task's label order, and per
    face its source, age (years, -1 when unknown) and groups, and each 64x64 model's probabilities and label."""

    embeddings: np.ndarray
    labels: np.ndarray
    sources: np.ndarray
    ages: np.ndarray
    groups: list[dict[str, str]]
    model_probabilities: dict[str, np.ndarray]
    # each 64x64 model's decided label per face (its manifest's threshold or unsure floor applied)
    model_labels: dict[str, np.ndarray]
    # photos of this split without a usable face, by source and reason
    dropped: dict[str, dict[str, int]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, mask: np.ndarray) -> TaskSplit:
        return TaskSplit(
            self.embeddings[mask],
            self.labels[mask],
            self.sources[mask],
            self.ages[mask],
            [g for g, keep in zip(self.groups, mask, strict=True) if keep],
            {name: p[mask] for name, p in self.model_probabilities.items()},
            {name: d[mask] for name, d in self.model_labels.items()},
            self.dropped,
        )


@dataclass
class Task:
    name: str
    label_names: tuple[str, ...]
    ordered: bool
    splits: dict[str, TaskSplit]


def read_records(path: Path) -> list[dict]:
    """Every complete line of the embeddings file (a line cut short by a stopped run is skipped)."""
    if not path.is_file():
        raise HeadsDataError(f"{path}: no embeddings file (write it with scripts/heads/embed-faces.ts)")
    records = []
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def _task_label(task: str, record: dict) -> str | None:
    """The record's label for `task`, or None when the photo is not in the task."""
    groups = record.get("groups") or {}
    if task == "age":
        return record["label"] if record["source"] == UTKFACE and record["label"] in AGE_LABELS else None
    if task == "age6":
        return record["label"] if record["source"] == UTKFACE and record["label"] in AGE_BANDS else None
    if task == "gender":
        if record["source"] == FACES_DEV:
            return record["label"] if record["label"] in GENDER.names else None
        if record["source"] == UTKFACE and record["label"] in AGE_LABELS:
            return groups.get("gender") if groups.get("gender") in GENDER.names else None
        return None
    raise HeadsDataError(f"unknown task {task!r} (age, age6 or gender)")


FOLDERS = "folders"  # the task of `faceedge train --on-embedding`: each photo's folder label


def build_task(task: str, records: list[dict], labels: tuple[str, ...] | None = None, ordered: bool = False) -> Task:
    """The faces of `task` per split, deduplicated by (source, path) (a resumed run may repeat a photo). The
    `folders` task takes its label names (in output order) and `ordered` from the caller."""
    if task == FOLDERS:
        if not labels:
            raise HeadsDataError("the folders task needs its label names")
        label_names = tuple(labels)
    else:
        label_names = {"age": AGE_LABELS, "age6": AGE_BANDS}.get(task, GENDER.names)
    seen: set[tuple[str, str]] = set()
    rows: dict[str, list[dict]] = {s: [] for s in SPLITS}
    dropped: dict[str, dict[str, dict[str, int]]] = {s: {} for s in SPLITS}
    for record in records:
        key = (record["source"], record["path"])
        if key in seen or record.get("split") not in rows:
            continue
        seen.add(key)
        if task == FOLDERS:
            label = record["label"] if record["label"] in label_names else None
        else:
            label = _task_label(task, record)
        if label is None:
            continue
        if record.get("status") != "ok":
            by_reason = dropped[record["split"]].setdefault(record["source"], {})
            by_reason[record["status"]] = by_reason.get(record["status"], 0) + 1
            continue
        rows[record["split"]].append({**record, "task_label": label})
    splits = {}
    for split, items in rows.items():
        if not items:
            raise HeadsDataError(f"task {task}: no faces in the {split} split of the embeddings file")
        model_names = sorted(set.intersection(*(set(r.get("models", {})) for r in items)))
        splits[split] = TaskSplit(
            embeddings=np.asarray([r["embedding"] for r in items], dtype=np.float32),
            labels=np.asarray([label_names.index(r["task_label"]) for r in items], dtype=np.int64),
            sources=np.asarray([r["source"] for r in items]),
            ages=np.asarray([_age(r) for r in items], dtype=np.int64),
            groups=[dict(r.get("groups") or {}) for r in items],
            model_probabilities={
                name: np.asarray([r["models"][name]["probabilities"] for r in items], dtype=np.float64)
                for name in model_names
            },
            model_labels={name: np.asarray([r["models"][name]["label"] for r in items]) for name in model_names},
            dropped=dropped[split],
        )
    return Task(task, label_names, ordered if task == FOLDERS else task.startswith("age"), splits)


def _age(record: dict) -> int:
    try:
        return int((record.get("groups") or {}).get("age", -1))
    except ValueError:
        return -1

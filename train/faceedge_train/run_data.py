"""The data stage of a training run: which classes, which crops, and what the checkpoint says about them.

Loads every crops folder (`--data`, one "source" each), works out the classes (labels.py), refuses a class
with too few crops (one line per class), and assembles the training split (train, or train + val with
--fold-val) with its optional per-crop loss weights (--age-balance) and soft targets (--teacher).
Validation and test stay per source, so that each source is scored on its own.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import torch

from .age_targets import age_targets
from .data import DatasetError, Split, concat_splits, manifest_sha256
from .groups import training_weights
from .labels import LabelSet, resolve_labels
from .progress import log
from .sources import Source, check_sources, common_alignment, found_labels, load_sources, skipped_faces
from .teacher import teacher_targets

HELD_OUT = ("val", "test")


@dataclass
class RunData:
    """labels: the classes; held_out[split][source name]: the val/test splits; train: every training crop
    (train_parts: (crops folder, split) of each part, in the order they are concatenated); info: the
    checkpoint's `dataset`; train_weights / train_targets: per-crop loss weights and soft targets, or None."""

    labels: LabelSet
    sources: list[Source]
    held_out: dict[str, dict[str, Split]]
    train_parts: list[tuple[Path, Split]]
    train: Split
    info: dict
    train_weights: torch.Tensor | None = None
    train_targets: torch.Tensor | None = None


def run_labels(args: argparse.Namespace) -> LabelSet:
    """The classes of a run from its --data folders, --labels and --ordered (cheap: no crop is decoded)."""
    check_sources(args.data)
    explicit = [name.strip() for name in args.labels.split(",")] if args.labels else None
    return resolve_labels(found_labels(args.data), explicit, args.ordered)


def check_class_sizes(sources: list[Source], labels: LabelSet, min_train: int) -> None:
    """Every class needs `min_train` training crops and one validation crop, over all sources.
    Raises DatasetError with one line per class that falls short."""
    problems = []
    for split, needed in (("train", min_train), ("val", 1)):
        counts = dict.fromkeys(labels.names, 0)
        for src in sources:
            if split in src.splits:
                for name, n in src.splits[split].class_counts().items():
                    counts[name] += n
        problems += [
            f"label {name}: {n} {split} crop(s), at least {needed} needed" for name, n in counts.items() if n < needed
        ]
    if problems:
        raise DatasetError(
            "\n".join(problems),
            "add photos of those labels, or leave their folders out (--min-per-label sets the floor)",
        )


def load_run_data(args: argparse.Namespace, device: torch.device) -> RunData:
    """Everything the run learns from and is scored on (see the module docstring)."""
    labels = run_labels(args)  # LabelError: the entry point reports it like a DatasetError
    sources = load_sources(args.data, args.limit, use_cache=args.cache, labels=labels.names)
    log(
        "loaded "
        + "; ".join(f"{src.name}: " + ", ".join(f"{n} {len(s)}" for n, s in src.splits.items()) for src in sources)
        + f" ({len(labels.names)} labels{', ordered' if labels.ordered else ''}: {', '.join(labels.names)})"
    )
    check_class_sizes(sources, labels, args.min_per_label)
    held_out = {split: {src.name: src.splits[split] for src in sources if split in src.splits} for split in HELD_OUT}
    train_parts = [(src.root, src.splits["train"]) for src in sources if "train" in src.splits]
    if args.fold_val:
        train_parts += [(src.root, src.splits["val"]) for src in sources if "val" in src.splits]
    train = concat_splits("train+val" if args.fold_val else "train", [split for _, split in train_parts])
    if args.fold_val:
        log(f"--fold-val: training on {len(train)} crops; the last epoch is kept, val is no longer held out")
    data = RunData(labels, sources, held_out, train_parts, train, dataset_info(args, sources))
    if args.age_balance > 0:
        try:
            weights, bands = training_weights(train_parts, args.age_balance)
        except ValueError as err:
            raise SystemExit(f"error: {err}") from err
        data.info["age_balance"] = {"strength": args.age_balance, "bands": bands}
        log(f"age balance {args.age_balance}: {json.dumps(bands)}")
        data.train_weights = weights.to(device)
    if args.age_targets > 0:
        try:
            targets, counts = age_targets(train_parts, labels, args.age_targets)
        except ValueError as err:
            raise SystemExit(f"error: {err}") from err
        data.info["age_targets"] = {"sigma_years": args.age_targets, **counts}
        log(f"age targets (sigma {args.age_targets} years): {json.dumps(counts)}")
        data.train_targets = targets.to(device)
    if args.teacher:
        if args.age_targets > 0:
            raise SystemExit("error: --teacher and --age-targets both set the training targets: choose one")
        if not labels.binary:
            raise SystemExit("error: --teacher gives P(male) per photo: it needs the two labels female and male")
        teacher = teacher_targets(args.teacher, train, args.teacher_weight)
        data.info["teacher"] = dict(teacher.summary(args.teacher_weight), path=str(Path(args.teacher).resolve()))
        log(
            f"teacher: {teacher.covered}/{len(train)} crops with a probability, "
            f"agreeing with the label on {teacher.agree}"
        )
        if teacher.covered < 0.5 * len(train):
            log("warning: the teacher covers under half of the training crops (is the CSV for this dataset?)")
        data.train_targets = teacher.targets.to(device)
    return data


def dataset_info(args: argparse.Namespace, sources: list[Source]) -> dict:
    """The checkpoint's `dataset`: where the crops came from, how many per split and class, what
    `dataset prepare` dropped, and the crop geometry the model learns."""
    return {
        "path": str(Path(args.data[0]).resolve()),
        "manifest_sha256": manifest_sha256(args.data[0]),
        "limit": args.limit,
        "counts": {
            name: concat_splits(name, [src.splits[name] for src in sources if name in src.splits]).class_counts()
            for name in ("train", "val", "test")
            if any(name in src.splits for src in sources)
        },
        "sources": [
            {
                "name": src.name,
                "path": str(src.root.resolve()),
                "manifest_sha256": manifest_sha256(src.root),
                "counts": {n: s.class_counts() for n, s in src.splits.items()},
                "dropped_faces": skipped_faces(src.root),
            }
            for src in sources
        ],
        # The crop geometry the model learns; export writes it into the board's manifest.
        "alignment": common_alignment({src.name: src.alignment for src in sources}),
    }

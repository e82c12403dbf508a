"""A head on the face embedding for any labelled photo folders: the heads stage and the report of
`faceedge train --on-embedding` (issue 24 §4).

    python3 -m faceedge_train.heads_folders train --embeddings <work>/embeddings.jsonl --out <work>/heads \
        [--labels a,b,c] [--ordered] [--epochs 40] [--seed 0]
    python3 -m faceedge_train.heads_folders score --embeddings … --head <work>/heads/head.pt \
        --manifest <exported>/manifest.json [--pair-key pair]

`train` trains the head grid (`heads_report.task_grid`, logistic and MLP) on the train faces of the embeddings
file (`src/training/embed-labelled-faces.ts` wrote it; the label is each photo's folder) and keeps the one
with the best val score (`heads.select_head`: val accuracy + macro recall). Test chooses nothing: `score`
reads it once, after the export, for the exported head and, when the manifest has a `combination` (paired with
a 64x64 model), for the pair as the board decides it. Each prints one JSON line last; no embedding is printed.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch

from .heads import head_logits, select_head
from .heads_data import FOLDERS, HeadsDataError, build_task, read_records
from .heads_export import combined_scores, load_head
from .heads_report import scores, task_grid


def label_names(records: list[dict], requested: str | None) -> tuple[str, ...]:
    """The head's labels in output order: `--labels` (the folders' labels exactly) or the sorted folder names."""
    found = sorted({r["label"] for r in records if r.get("split") == "train"})
    if not requested:
        return tuple(found)
    names = tuple(n.strip() for n in requested.split(","))
    if sorted(names) != found:
        raise HeadsDataError(f"--labels {list(names)} are not the folders' labels {found}")
    return names


def train(args: argparse.Namespace) -> dict:
    records = read_records(args.embeddings)
    labels = label_names(records, args.labels)
    task = build_task(FOLDERS, records, labels, args.ordered)
    splits = task.splits
    log = lambda line: print(line, file=sys.stderr, flush=True)  # noqa: E731
    log(f"[heads] faces train {len(splits['train'])}, val {len(splits['val'])}, test {len(splits['test'])}")
    grid = [replace(c, seed=args.seed) for c in task_grid(FOLDERS, args.epochs, args.batch)]
    train_split, val = splits["train"], splits["val"]
    config, head, tried = select_head(
        grid,
        (train_split.embeddings, train_split.labels, None),
        (val.embeddings, val.labels),
        labels,
        args.ordered,
        log=log,
    )
    args.out.mkdir(parents=True, exist_ok=True)
    saved = {"task": FOLDERS, "config": asdict(config), "labels": labels, "ordered": args.ordered}
    torch.save({**saved, "state": head.state_dict()}, args.out / "head.pt")
    chosen = max(tried, key=lambda r: r["score"])
    summary = {
        "labels": list(labels),
        "faces": {s: len(splits[s]) for s in splits},
        "dropped": {s: splits[s].dropped for s in splits},
        "chosen": {**asdict(config), "parameters": sum(p.numel() for p in head.parameters())},
        "val": chosen["val"],
        "tried": len(tried),
    }
    (args.out / "selection.json").write_text(json.dumps({**summary, "selection": tried}, indent=1))
    return summary


def score(args: argparse.Namespace) -> dict:
    head, saved = load_head(args.head)
    labels, ordered = tuple(saved["labels"]), bool(saved["ordered"])
    test = build_task(FOLDERS, read_records(args.embeddings), labels, ordered).splits["test"]
    manifest = json.loads(args.manifest.read_text())
    logits = head_logits(head, test.embeddings)
    result = {"head": scores(logits.argmax(axis=1), test.labels, labels, ordered)}
    combination = manifest.get("combination")
    if combination:
        if args.pair_key not in test.model_probabilities:
            raise HeadsDataError(f"the embeddings file has no 64x64 model {args.pair_key!r} on the test faces")
        pair = combined_scores(test.model_probabilities[args.pair_key], logits, manifest.get("temperature", 1.0))
        result["pair"] = scores(np.asarray(pair).argmax(axis=1), test.labels, labels, ordered)
        probabilities = test.model_probabilities[args.pair_key]
        result["64x64"] = scores(probabilities.argmax(axis=1), test.labels, labels, ordered)
    return {"split": "test", "dropped": test.dropped, **result}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    modes = parser.add_subparsers(dest="mode", required=True)
    t = modes.add_parser("train", help="train the grid, choose on val")
    t.add_argument("--embeddings", type=Path, required=True)
    t.add_argument("--out", type=Path, required=True, help="folder for head.pt and selection.json")
    t.add_argument("--labels", help="the output order of the labels (default: sorted folder names)")
    t.add_argument("--ordered", action="store_true", help="the labels are a scale (off by more than one)")
    t.add_argument("--epochs", type=int, default=40)
    t.add_argument("--batch", type=int, default=256)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--threads", type=int, default=1)
    s = modes.add_parser("score", help="the exported head (and its pair) once on test")
    s.add_argument("--embeddings", type=Path, required=True)
    s.add_argument("--head", type=Path, required=True)
    s.add_argument("--manifest", type=Path, required=True)
    s.add_argument("--pair-key", default="pair")
    args = parser.parse_args(argv)
    if args.mode == "train":
        torch.set_num_threads(args.threads)
    try:
        result = train(args) if args.mode == "train" else score(args)
    except HeadsDataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

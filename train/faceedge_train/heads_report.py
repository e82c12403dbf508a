"""Heads on the face embedding against the 64x64 models, on the same faces in the same run (issue 24 §4).

    python3 -m faceedge_train.heads_report --embeddings data/heads/embeddings.jsonl --out data/heads/report

For each task (age bands 13+, gender) it trains the logistic and the MLP heads of `task_grid`, keeps the best
of each kind on val (`heads.select_head`: val accuracy + macro recall), and scores them once on test next to
every 64x64 model whose outputs the embeddings file recorded for the same faces: band accuracy, macro recall,
off by more than one band, and the same per group (UTKFace ethnicity, gender; per source and age band for
gender). Writes `<out>/report.json`, `<out>/<task>-<kind>.pt` (the chosen heads, for export) and prints
markdown tables. Test chooses nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch

from .datasets.age_bands import AGE_BANDS, band_of
from .heads import HeadConfig, head_logits, select_head
from .heads_data import AGE_LABELS, Task, TaskSplit, build_task, read_records
from .metrics import multiclass_metrics

RACE_NAMES = {"0": "White", "1": "Black", "2": "Asian", "3": "Indian", "4": "Other"}  # UTKFace's codes
MIN_GROUP = 20  # groups with fewer test faces are listed but not compared


def task_grid(task: str, epochs: int, batch: int = 256) -> list[HeadConfig]:
    """The configurations val chooses among, fixed before any test figure was seen."""
    base = HeadConfig(epochs=epochs, batch=batch)
    aged = task.startswith("age")
    targets = [{"smoothing": 0.1}, {"smoothing": 0.0, "age_sigma": 3.0}] if aged else [{"smoothing": 0.1}]
    balances = [True, False] if aged else [True]
    shapes = [{"kind": "logistic", "weight_decay": wd} for wd in (1e-4, 1e-2)]
    shapes += [
        {"kind": "mlp", "hidden": hidden, "dropout": 0.3, "weight_decay": wd}
        for hidden in (128, 512)
        for wd in (1e-3, 5e-2)
    ]
    return [replace(base, **s, **t, balance=b) for s in shapes for t in targets for b in balances]


def scores(pred: np.ndarray, truth: np.ndarray, names: tuple[str, ...], ordered: bool) -> dict:
    """accuracy, macro recall, recall per class (and off by more than one band for ordered labels)."""
    one_hot = np.eye(len(names))[pred]
    m = multiclass_metrics(truth, one_hot, names, ordered)
    out = {"n": m["n"], "accuracy": m["accuracy"], "macro_recall": m["macro_recall"]}
    if ordered:
        out["off_by_more_than_one"] = m["off_by_more_than_one"]
    out["recall"] = {k: v["recall"] for k, v in m["per_class"].items() if v["support"]}
    return out


def group_keys(task: str, split: TaskSplit) -> dict[str, np.ndarray]:
    """Per face, its group under each grouping of the report ('' where a face has none)."""
    race = np.asarray([RACE_NAMES.get(g.get("race", ""), "") for g in split.groups])
    keys = {"ethnicity": race, "gender": np.asarray([g.get("gender", "") for g in split.groups])}
    if task == "age6":  # the 13+ faces on their own: the test set and targets
        keys["ages"] = np.where(split.labels > 0, "13+", "0-12")
    if task == "gender":
        ages = [band_of(int(a), AGE_BANDS) if a >= 0 else None for a in split.ages]
        keys = {"source": split.sources, "ethnicity": race, "age band": np.asarray([a or "" for a in ages])}
    return keys


def predictions(task: Task, split: TaskSplit, heads: dict[str, torch.nn.Module]) -> dict[str, tuple]:
    """name → (predicted index, true index, label names) for every head and every recorded 64x64 model."""
    out = {}
    for name, head in heads.items():
        out[name] = (head_logits(head, split.embeddings).argmax(axis=1), split.labels, task.label_names)
    if task.name == "age6" and "age" in split.model_probabilities:
        probabilities = split.model_probabilities["age"]
        out["64x64 age"] = (probabilities.argmax(axis=1), split.labels, task.label_names)
        model_log = np.log(np.clip(probabilities, 1e-9, None))
        for name, head in heads.items():
            head_log = torch.log_softmax(torch.from_numpy(head_logits(head, split.embeddings)), dim=1).numpy()
            out[f"{name} + 64x64"] = ((head_log + model_log).argmax(axis=1), split.labels, task.label_names)
    if task.name == "age" and "age" in split.model_probabilities:
        # the 64x64 model has six bands (0-12 too): scored in its own label space, as `faceedge eval` does
        probabilities = split.model_probabilities["age"]
        if probabilities.shape[1] == len(AGE_BANDS):
            out["64x64 age"] = (probabilities.argmax(axis=1), split.labels + AGE_BANDS.index(AGE_LABELS[0]), AGE_BANDS)
            # both on the board: the mean of the head's and the 64x64 model's log-probabilities over the five
            # 13+ bands (the 64x64 model's 0-12 share dropped, the rest renormalised)
            adult = probabilities[:, AGE_BANDS.index(AGE_LABELS[0]) :]
            adult_log = np.log(np.clip(adult / adult.sum(axis=1, keepdims=True), 1e-9, None))
            for name, head in heads.items():
                head_log = torch.log_softmax(torch.from_numpy(head_logits(head, split.embeddings)), dim=1).numpy()
                out[f"{name} + 64x64"] = ((head_log + adult_log).argmax(axis=1), split.labels, task.label_names)
    if task.name == "gender" and "gender" in split.model_labels:
        decided = np.asarray([task.label_names.index(label) for label in split.model_labels["gender"]])
        out["64x64 gender"] = (decided, split.labels, task.label_names)
    return out


def compare(task: Task, split: TaskSplit, heads: dict[str, torch.nn.Module]) -> dict:
    """Overall and per-group scores of every predictor on one split."""
    preds = predictions(task, split, heads)
    result = {name: {"all": scores(p, t, names, task.ordered)} for name, (p, t, names) in preds.items()}
    for grouping, keys in group_keys(task.name, split).items():
        for group in sorted(set(keys) - {""}):
            mask = keys == group
            for name, (p, t, names) in preds.items():
                result[name].setdefault(grouping, {})[group] = scores(p[mask], t[mask], names, task.ordered)
    return result


def markdown(task: Task, compared: dict) -> str:
    """Tables: overall, then per group (groups of at least MIN_GROUP faces)."""
    metric_names = ["accuracy", "macro_recall"] + (["off_by_more_than_one"] if task.ordered else [])
    pct = lambda v: "n/a" if v is None else f"{100 * v:.1f}"  # noqa: E731
    header = "| " + " | ".join(["model", "faces", *metric_names]) + " |"
    lines = [f"### {task.name}: test", "", header, "|" + " --- |" * (2 + len(metric_names))]
    for name, r in compared.items():
        lines.append(f"| {name} | {r['all']['n']} | " + " | ".join(pct(r["all"][m]) for m in metric_names) + " |")
    names = list(compared)
    groupings = [g for g in next(iter(compared.values())) if g != "all"]
    for grouping in groupings:
        lines += [
            "",
            f"Per {grouping} (accuracy / macro recall" + (" / off by >1" if task.ordered else "") + ", %):",
            "",
        ]
        lines.append("| group | faces | " + " | ".join(names) + " |")
        lines.append("|" + " --- |" * (2 + len(names)))
        for group, first in compared[names[0]][grouping].items():
            if first["n"] < MIN_GROUP:
                continue
            cells = [" / ".join(pct(compared[n][grouping][group][m]) for m in metric_names) for n in names]
            lines.append(f"| {group} | {first['n']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def run_task(name: str, records: list[dict], out: Path, epochs: int, batch: int, log) -> dict:
    task = build_task(name, records)
    train, val, test = (task.splits[s] for s in ("train", "val", "test"))
    log(f"[heads] {name}: faces train {len(train)}, val {len(val)}, test {len(test)}")
    grid = task_grid(name, epochs, batch)
    chosen, records_by_kind, heads = {}, {}, {}
    for kind in ("logistic", "mlp"):
        started = time.monotonic()
        config, head, tried = select_head(
            [c for c in grid if c.kind == kind],
            (train.embeddings, train.labels, train.ages if task.ordered else None),
            (val.embeddings, val.labels),
            task.label_names,
            task.ordered,
            log=log,
        )
        key = f"{kind} head"
        heads[key] = head
        chosen[key] = asdict(config)
        records_by_kind[kind] = {"tried": tried, "seconds": round(time.monotonic() - started, 1)}
        params = sum(p.numel() for p in head.parameters())
        torch.save(
            {
                "task": name,
                "config": asdict(config),
                "labels": task.label_names,
                "ordered": task.ordered,
                "state": head.state_dict(),
            },
            out / f"{name}-{kind}.pt",
        )
        chosen[key]["parameters"] = params
    result = {
        "labels": task.label_names,
        "faces": {s: len(task.splits[s]) for s in task.splits},
        "dropped": {s: task.splits[s].dropped for s in task.splits},
        "chosen": chosen,
        "selection": records_by_kind,
        "val": compare(task, val, heads),
        "test": compare(task, test, heads),
    }
    print(markdown(task, result["test"]), flush=True)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--embeddings", type=Path, required=True, help="scripts/heads/embed-faces.ts output")
    parser.add_argument("--out", type=Path, required=True, help="folder for report.json and the chosen heads")
    parser.add_argument("--tasks", default="age,gender")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    records = read_records(args.embeddings)
    log = lambda line: print(line, file=sys.stderr, flush=True)  # noqa: E731
    report = {task: run_task(task, records, args.out, args.epochs, args.batch, log) for task in args.tasks.split(",")}
    (args.out / "report.json").write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

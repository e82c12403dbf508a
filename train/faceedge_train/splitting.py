"""From a user's labelled photo folders to the split layout `faceedge dataset prepare` reads.

    python3 -m faceedge_train.splitting <photos> --out <split dir> [--seed 0] [--val 0.1] [--test 0.1]
        [--min-per-label 20] [--link symlink|hardlink|copy]

Input: `<photos>/<label>/*` (2 to 50 labels), or `<photos>/{train,val,test}/<label>/*` when the user has
chosen the splits. An optional `<photos>/labels.csv` with a `path` column (relative to <photos>) may give a
`person` column: all photos of one person then land in one split (and any other columns, e.g. `age`,
travel on to the output's labels.csv).

Output: `<out>/{train,val,test}/<label>/<file>` (links to the photos by default), `<out>/labels.csv`
(`path,label,source[,person,...]`) and `<out>/split.json` (seed, fractions, counts, what was dropped and
why). Rules:
- every file is opened and decoded; a corrupt one is dropped with one line saying why;
- a photo is never in two splits: identical files are found by content, kept once, and a photo filed
  under two labels is dropped everywhere (its label is unknown);
- without given splits, the photos are split with --seed, per label, by person where labels.csv gives
  one (else every photo is its own group): each label's groups are shuffled and the first ones fill test,
  then val, up to the fractions of that label's photos;
- a label with fewer than --min-per-label photos, or whose split leaves val or test empty, refuses the
  whole split, one line per label (exit status 2); nothing is written then.
A run over unchanged input with the same settings finds its own split.json and leaves the folder as it is.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import random
import shutil
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from .labels import LabelError, resolve_labels

SPLITS = ("train", "val", "test")
IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"}  # dataset prepare's
PLAN = "split.json"


class SplitError(ValueError):
    """The photos cannot be split as asked; one line per problem."""


@dataclass
class Photo:
    rel: str  # path relative to the photos folder
    label: str
    split: str | None  # given by the layout, or None
    sha256: str
    person: str | None = None
    extra: dict = field(default_factory=dict)  # labels.csv's other columns


def readable(path: Path) -> str | None:
    """None when the image decodes, else why not (a JPEG decodes at 1/8 scale: cheap, still complete)."""
    try:
        with Image.open(path) as image:
            image.draft("RGB", (64, 64))
            image.load()
    except Exception as err:  # PIL raises many types for broken files: any of them means "cannot use it"
        return f"{type(err).__name__}: {err}"
    return None


def list_photos(root: Path) -> tuple[list[tuple[str, str, str | None]], bool]:
    """(relative path, label, given split) of every image file, and whether the layout has splits."""
    has_splits = any((root / s).is_dir() for s in SPLITS)
    bases = [(root / s, s) for s in SPLITS if (root / s).is_dir()] if has_splits else [(root, None)]
    found = []
    for base, split in bases:
        for label_dir in sorted(p for p in base.iterdir() if p.is_dir() and not p.name.startswith(".")):
            for file in sorted(label_dir.iterdir()):
                if file.is_file() and file.suffix.lower() in IMAGE_EXTENSIONS:
                    found.append((str(file.relative_to(root)), label_dir.name, split))
    return found, has_splits


def read_labels_csv(root: Path) -> dict[str, dict]:
    """{relative path: row} of `<root>/labels.csv`, or {} without one."""
    path = root / "labels.csv"
    if not path.is_file():
        return {}
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        if "path" not in (reader.fieldnames or []):
            raise SplitError(f"{path} has no 'path' column")
        return {row["path"]: row for row in reader}


def scan(root: Path, say) -> tuple[list[Photo], bool, Counter]:
    """Every usable photo (decodable, one copy, one label) and the counts of what was dropped."""
    found, has_splits = list_photos(root)
    rows = read_labels_csv(root)
    dropped: Counter = Counter()
    by_content: dict[str, list[Photo]] = defaultdict(list)
    for rel, label, split in found:
        problem = readable(root / rel)
        if problem is not None:
            say(f"corrupt: {rel} ({problem})")
            dropped["corrupt"] += 1
            continue
        row = rows.get(rel, {})
        person = (row.get("person") or "").strip() or None
        extra = {k: v for k, v in row.items() if k not in ("path", "label", "person")}
        digest = hashlib.sha256((root / rel).read_bytes()).hexdigest()
        by_content[digest].append(Photo(rel, label, split, digest, person, extra))
    photos = []
    for copies in by_content.values():
        labels = sorted({p.label for p in copies})
        if len(labels) > 1:
            say(f"same photo under labels {', '.join(labels)}: {', '.join(p.rel for p in copies)} (dropped)")
            dropped["same photo under several labels"] += len(copies)
            continue
        # One copy stays; in a given layout the one in the earliest split (train before val before test).
        copies.sort(key=lambda p: (SPLITS.index(p.split) if p.split else 0, p.rel))
        for extra_copy in copies[1:]:
            say(f"duplicate: {extra_copy.rel} is {copies[0].rel} (dropped)")
            dropped["duplicate"] += 1
        photos.append(copies[0])
    photos.sort(key=lambda p: p.rel)
    return photos, has_splits, dropped


def assign(photos: list[Photo], labels: tuple[str, ...], seed: int, fractions: dict[str, float]) -> None:
    """Set each photo's split: per label, groups (persons, or single photos) shuffled with `seed`, the
    first filling test, then val, up to the fractions of that label's photos; a person's photos stay
    together (under the label most of them have)."""
    groups: dict[str, list[Photo]] = defaultdict(list)
    for photo in photos:
        groups[f"person:{photo.person}" if photo.person else f"photo:{photo.sha256}"].append(photo)
    by_label: dict[str, list[str]] = defaultdict(list)
    for key in sorted(groups):
        counts = Counter(p.label for p in groups[key])
        main = max(labels, key=lambda name: (counts[name], -labels.index(name)))
        by_label[main].append(key)
    for label in labels:
        keys = by_label[label]
        random.Random(f"{seed}:{label}").shuffle(keys)
        total = sum(len(groups[k]) for k in keys)
        targets = {"test": round(total * fractions["test"]), "val": round(total * fractions["val"])}
        filled = Counter()
        for key in keys:
            split = next((s for s in ("test", "val") if filled[s] < targets[s]), "train")
            filled[split] += len(groups[key])
            for photo in groups[key]:
                photo.split = split


def check_sizes(photos: list[Photo], labels: tuple[str, ...], min_per_label: int) -> None:
    """One line per label with too few photos, or with an empty split."""
    problems = []
    counts = Counter(p.label for p in photos)
    per_split = Counter((p.split, p.label) for p in photos)
    for label in labels:
        if counts[label] < min_per_label:
            problems.append(f"label {label}: {counts[label]} usable photos, at least {min_per_label} needed")
            continue
        empty = [s for s in SPLITS if per_split[(s, label)] == 0]
        if empty:
            problems.append(f"label {label}: no photo in {', '.join(empty)} (add photos, or give more to those splits)")
    if problems:
        raise SplitError("\n".join(problems))


def _person_splits(photos: list[Photo]) -> dict[str, set[str]]:
    splits: dict[str, set[str]] = defaultdict(set)
    for p in photos:
        if p.person:
            splits[p.person].add(p.split)
    return splits


def plan_key(photos: list[Photo], settings: dict) -> str:
    """sha256 of the settings and every photo's path, label, given split, person and content."""
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode())
    for p in photos:
        digest.update(f"{p.rel}\0{p.label}\0{p.split}\0{p.person}\0{p.sha256}\n".encode())
    return digest.hexdigest()


def split_photos(
    root: Path,
    out: Path,
    seed: int = 0,
    val: float = 0.1,
    test: float = 0.1,
    min_per_label: int = 20,
    link: str = "symlink",
    say=print,
) -> dict:
    """Split `root` into `out` (see the module docstring); returns what split.json records."""
    root, out = Path(root).resolve(), Path(out)
    if not (0 <= val < 1 and 0 <= test < 1 and val + test < 1):
        raise SplitError(f"--val {val} and --test {test} must be shares that leave some photos for train")
    if not root.is_dir():
        raise SplitError(f"{root} is not a folder")
    photos, has_splits, dropped = scan(root, say)
    try:
        labels = resolve_labels({p.label for p in photos}).names
    except LabelError as err:
        raise SplitError(str(err)) from err
    settings = {"seed": seed, "val": val, "test": test, "min_per_label": min_per_label, "link": link}
    key = plan_key(photos, settings)  # of the input, before any split is assigned
    if not has_splits:
        assign(photos, labels, seed, {"val": val, "test": test})
    else:
        spread = Counter(person for person, splits in _person_splits(photos).items() if len(splits) > 1)
        if spread:
            say(f"warning: {len(spread)} person(s) have photos in several of the given splits")
    check_sizes(photos, labels, min_per_label)
    if (out / PLAN).is_file() and json.loads((out / PLAN).read_text()).get("input_sha256") == key:
        say(f"{out} is up to date")
        return json.loads((out / PLAN).read_text())
    if out.exists() and any(out.iterdir()) and not (out / PLAN).is_file():
        raise SplitError(f"{out} exists and was not written by this command: choose an empty folder")
    for split in SPLITS:
        shutil.rmtree(out / split, ignore_errors=True)
    extra_columns = sorted({k for p in photos for k in p.extra})
    rows = []
    for p in photos:
        target = out / p.split / p.label / Path(p.rel).name
        target.parent.mkdir(parents=True, exist_ok=True)
        source = root / p.rel
        if link == "symlink":
            target.symlink_to(source)
        elif link == "hardlink":
            os.link(source, target)
        else:
            shutil.copy2(source, target)
        rows.append(
            [str(target.relative_to(out)), p.label, p.rel, p.person or "", *(p.extra.get(k, "") for k in extra_columns)]
        )
    with open(out / "labels.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "label", "source", "person", *extra_columns])
        writer.writerows(rows)
    per_split = Counter((p.split, p.label) for p in photos)
    record = {
        "source": str(root),
        "labels": list(labels),
        "splits_given": has_splits,
        **settings,
        "by_person": any(p.person for p in photos),
        "counts": {s: {label: per_split[(s, label)] for label in labels} for s in SPLITS},
        "dropped": dict(dropped),
        "input_sha256": key,
    }
    (out / PLAN).write_text(json.dumps(record, indent=2) + "\n")
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m faceedge_train.splitting", description=__doc__.split("\n\n")[0])
    parser.add_argument("photos", type=Path, help="<label>/* or {train,val,test}/<label>/* photo folder")
    parser.add_argument("--out", required=True, type=Path, help="split folder to write")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--val", type=float, default=0.1, help="share of each label's photos for val")
    parser.add_argument("--test", type=float, default=0.1, help="share of each label's photos for test")
    parser.add_argument("--min-per-label", type=int, default=20, help="refuse a label with fewer usable photos")
    parser.add_argument("--link", choices=("symlink", "hardlink", "copy"), default="symlink")
    args = parser.parse_args(argv)

    def say(line: str) -> None:
        print(f"[split] {line}", file=sys.stderr, flush=True)

    try:
        record = split_photos(args.photos, args.out, args.seed, args.val, args.test, args.min_per_label, args.link, say)
    except (SplitError, OSError) as err:
        for line in str(err).splitlines():
            say(f"error: {line}")
        return 2
    print(json.dumps({k: record[k] for k in ("labels", "counts", "dropped")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

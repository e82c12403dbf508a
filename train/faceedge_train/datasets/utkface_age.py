"""Build the age-band photo folder from the UTKFace snapshot, deterministically.

    python3 -m faceedge_train.datasets.utkface_age --git <UTKFace git dir> --out data/utkface-age
        [--check-against data/faces-more/utkface/labels.csv]

Writes `<out>/{train,val,test}/<band>/<name>.jpg` (bands: age_bands.AGE_BANDS), `<out>/labels.csv`
(`path,label,age,gender,race,source_id`) and `<out>/build.json` (snapshot commit, seeds, counts, what
was dropped). `faceedge dataset prepare <out> <crops>` then makes the training crops.

How the photos are read, deduplicated and split is the faces-more recipe's
(`shared/data/recipes/build_faces_more.py`), reimplemented here so that the ages 13+ photos land in
exactly the splits faces-more's `utkface` put them in (seed 11): UTKFace test is then the same 1,989
images the age anchor was measured on, and a gender model trained on faces-more has not seen this
test split either. `--check-against` proves it against a faces-more build. Ages 0-12, which faces-more
leaves out, form the `0-12` band and are split with a seed of their own (CHILD_SEED), so adding them
moves none of the other photos.

UTKFace encodes each label in the file name, `<age>_<gender>_<race>_<date>.jpg.chip.jpg` (gender 0
male, 1 female; race 0 White, 1 Black, 2 Asian, 3 Indian, 4 Other). Byte-identical files are kept
once; a group of identical files whose names disagree on gender is dropped whole (the recipe's rule).
Its terms: non-commercial research only, image copyright with the owners; never commit the photos.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .age_bands import AGE_BANDS, band_of

UTK_COMMIT = "d5a7ff2988caf3f49d2c6b47c7569fcf3fc85a0f"  # the snapshot faces-more pins
ADULT_MIN_AGE = 13  # faces-more's MIN_AGE: its split covers exactly these photos
ADULT_SEED = 11  # faces-more's seed: the same shuffle gives the same splits
CHILD_SEED = 1012  # the 0-12 photos' own shuffle, so that adding them moves no adult photo
GENDERS = {0: "male", 1: "female"}  # UTKFace's code
SPLIT_ORDER = ("train", "val", "test")


@dataclass(frozen=True)
class Photo:
    """One kept UTKFace file. `name` is the snapshot's file name (the recipe's sort key)."""

    name: str
    gender: int
    age: int
    race: str

    @property
    def clean_name(self) -> str:
        """The file name faces-more writes (no spaces, one `.jpg`)."""
        return self.name.replace(" ", "").replace(".jpg.chip.jpg", ".jpg").replace("jpg.chip.jpg", ".jpg")


def _git(git_dir: str, *args: str) -> str:
    return subprocess.run(["git", f"--git-dir={git_dir}", *args], check=True, capture_output=True, text=True).stdout


def snapshot_files(git_dir: str, commit: str = UTK_COMMIT, prefix: str = "data/") -> Iterator[tuple[str, bytes]]:
    """(file name, bytes) of every file under `prefix` at `commit`, read in one `git cat-file --batch` pass."""
    paths = [p for p in _git(git_dir, "ls-tree", "-r", "--name-only", commit, prefix).split("\n") if p]
    request = "".join(f"{commit}:{p}\n" for p in paths).encode()
    out = subprocess.run(
        ["git", f"--git-dir={git_dir}", "cat-file", "--batch"], input=request, check=True, capture_output=True
    ).stdout
    pos = 0
    for path in paths:
        header_end = out.index(b"\n", pos)
        size = int(out[pos:header_end].split()[2])
        yield os.path.basename(path), out[header_end + 1 : header_end + 1 + size]
        pos = header_end + 1 + size + 1


def parse_name(name: str) -> tuple[int, int, str] | None:
    """(age, gender code, race code or "") from a UTKFace file name; None when it carries no age and gender."""
    fields = name.split("_")
    try:
        age, gender = int(fields[0]), int(fields[1])
    except (ValueError, IndexError):
        return None
    race = fields[2] if len(fields) > 3 and fields[2].isdigit() else ""
    return age, gender, race


@dataclass
class Deduplicated:
    photos: list[Photo]  # one per distinct file content, sorted by content hash
    gender_conflicts: int  # groups of identical files dropped because their names disagree on gender
    band_conflicts: int  # kept groups whose names put the same file in different age bands (first name kept)
    unparsed: int  # files whose names carry no age and gender


def deduplicate(files: Iterator[tuple[str, bytes]]) -> tuple[Deduplicated, dict[str, bytes]]:
    """The recipe's deduplication: identical bytes kept once (the first name in sorted order)."""
    groups: dict[str, list[Photo]] = defaultdict(list)
    data_of: dict[str, bytes] = {}
    unparsed = 0
    for name, data in files:
        parsed = parse_name(name)
        if parsed is None:
            unparsed += 1
            continue
        age, gender, race = parsed
        groups[hashlib.sha256(data).hexdigest()].append(Photo(name, gender, age, race))
        data_of[name] = data
    kept, gender_conflicts, band_conflicts = [], 0, 0
    for digest in sorted(groups):
        members = sorted(groups[digest], key=lambda p: (p.name, p.gender, p.age, p.race))
        if len({p.gender for p in members}) > 1:
            gender_conflicts += 1
            continue
        band_conflicts += len({band_of(p.age) for p in members}) > 1
        kept.append(members[0])
    return Deduplicated(kept, gender_conflicts, band_conflicts, unparsed), data_of


def seeded_split(photos: list[Photo], seed: int) -> dict[str, list[Photo]]:
    """The recipe's split: sort, shuffle with `seed`, first tenth test, second tenth val, the rest train."""
    ordered = sorted(photos, key=lambda p: (p.name, p.gender, p.age, p.race))
    random.Random(seed).shuffle(ordered)
    n = len(ordered)
    return {"test": ordered[: n // 10], "val": ordered[n // 10 : n // 5], "train": ordered[n // 5 :]}


def assign_splits(photos: list[Photo]) -> dict[str, list[Photo]]:
    """Adults (13+, the recipe's photos) by seed 11, children (0-12) by their own seed; both genders coded."""
    coded = [p for p in photos if p.gender in GENDERS]
    adults = seeded_split([p for p in coded if p.age >= ADULT_MIN_AGE], ADULT_SEED)
    children = seeded_split([p for p in coded if p.age < ADULT_MIN_AGE], CHILD_SEED)
    return {split: adults[split] + children[split] for split in SPLIT_ORDER}


def build(git_dir: str, out: Path, overwrite: bool = False) -> dict:
    """Write the folder (see the module docstring); returns what build.json records."""
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise SystemExit(f"error: {out} is not empty (hint: --overwrite to rebuild it)")
        shutil.rmtree(out)
    dedup, data_of = deduplicate(snapshot_files(git_dir))
    splits = assign_splits(dedup.photos)
    rows, written = [], set()
    for split in SPLIT_ORDER:
        for photo in sorted(splits[split], key=lambda p: p.clean_name):
            band = band_of(photo.age)
            rel = f"{split}/{band}/{photo.clean_name}"
            if photo.clean_name in written:
                raise SystemExit(f"error: two photos would be written as {photo.clean_name}")
            written.add(photo.clean_name)
            target = out / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data_of[photo.name])
            rows.append((rel, band, photo.age, GENDERS[photo.gender], photo.race, photo.name))
    with open(out / "labels.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "label", "age", "gender", "race", "source_id"])
        writer.writerows(rows)
    counts = Counter((row[0].split("/")[0], row[1]) for row in rows)
    record = {
        "source": {"repository": "xerow03/UTKFace", "commit": UTK_COMMIT},
        "labels": list(AGE_BANDS),
        "ordered": True,
        "seeds": {"ages 13+": ADULT_SEED, "ages 0-12": CHILD_SEED},
        "counts": {s: {b: counts[(s, b)] for b in AGE_BANDS} for s in SPLIT_ORDER},
        "dropped": {
            "identical files disagreeing on gender (groups)": dedup.gender_conflicts,
            "names without age and gender": dedup.unparsed,
            "gender code other than 0/1": sum(p.gender not in GENDERS for p in dedup.photos),
        },
        "kept groups whose names disagree on the age band (first name's age kept)": dedup.band_conflicts,
        "terms": "UTKFace: non-commercial research only; image copyright stays with the owners. Never commit.",
    }
    (out / "build.json").write_text(json.dumps(record, indent=2) + "\n")
    return record


def check_against(out: Path, faces_more_labels: Path) -> list[str]:
    """Photos of a faces-more `utkface/labels.csv` that this build put in another split, or left out."""
    ours = {}
    with open(out / "labels.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            ours[row["source_id"]] = row["path"].split("/")[0]
    problems = []
    with open(faces_more_labels, newline="") as handle:
        for row in csv.DictReader(handle):
            theirs = row["path"].split("/")[0]
            if ours.get(row["source_id"]) != theirs:
                problems.append(f"{row['source_id']}: faces-more {theirs}, here {ours.get(row['source_id'])}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python3 -m faceedge_train.datasets.utkface_age", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--git", required=True, help="git directory of the xerow03/UTKFace snapshot")
    parser.add_argument("--out", required=True, type=Path, help="folder to write (e.g. data/utkface-age)")
    parser.add_argument("--overwrite", action="store_true", help="replace a non-empty --out")
    parser.add_argument(
        "--check-against", type=Path, help="a faces-more utkface/labels.csv whose split assignment must be kept"
    )
    args = parser.parse_args(argv)
    record = build(args.git, args.out, args.overwrite)
    print(json.dumps(record["counts"]))
    if args.check_against:
        problems = check_against(args.out, args.check_against)
        for line in problems[:20]:
            print(f"split differs from faces-more: {line}", file=sys.stderr)
        if problems:
            print(f"error: {len(problems)} photos are not in faces-more's split", file=sys.stderr)
            return 1
        print(f"every photo of {args.check_against} is in the same split here", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Builds the face-recognition validation sets from CelebA identities, deterministically.

    CELEBA_GIT=<git dir of ShaharKSegal/CelebA_Samples> LABELS_GIT=<git dir of
    yiliucs/Secure-aggregation-for-federated-learning> /usr/bin/python3 -m \\
    faceedge_train.recognition.build_pairs <out dir> [--seed 23]

The snapshot holds 5 photos (CelebA's aligned 178x218 JPEGs) for each of 9,343 identities. The
identities are shuffled with --seed and partitioned so that no person is in two sets:

- pairs: 10 folds of 300 identities. Each fold has 300 same-person pairs (one per identity, two of
  its photos) and 300 different-person pairs (two identities of the fold, one photo each): the
  standard 10 x (300 + 300) layout, identities disjoint across folds.
- open-set: 300 enrolled people (4 photos enrolled, the 5th probed) and 1,000 strangers (one
  photo each, probed).
- train-pool: every other identity, the only ones a network trained for faceedge may see.

Writes <out>/images/<identity>/<file>.jpg for the pairs and open-set photos, <out>/pairs.csv
(path_a,path_b,same,fold; paths relative to the CSV's folder), <out>/open-set.csv
(path,identity,role: enrol | probe | stranger), <out>/identities.csv (identity,partition,
faces_dev_split) and <out>/image-gender.csv (path,gender from CelebA's Male attribute). Nothing of it
is committed: datasets live in /work/data.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

CELEBA_COMMIT = "2a68dac53f1a175a4716f615d7f096c8a6122482"
LABELS_COMMIT = "0919bcf2499f31dc1bea7e973db2f324e3916485"
PREFIX = "celeba_identity_samples/"
FOLDS = 10
PAIRS_PER_FOLD = 300  # of each kind
ENROLLED = 300
ENROL_PHOTOS = 4
STRANGERS = 1000
PARTITION_TO_SPLIT = {"0": "train", "1": "val", "2": "test"}


def git(gitdir: str, *args: str, data: bytes | None = None) -> bytes:
    return subprocess.run(["git", f"--git-dir={gitdir}", *args], input=data, check=True, capture_output=True).stdout


def list_photos(celeba_git: str) -> dict[str, list[str]]:
    """Photo file names by identity, sorted."""
    names = git(celeba_git, "ls-tree", "-r", "--name-only", CELEBA_COMMIT, PREFIX).decode().split()
    by_identity: dict[str, list[str]] = defaultdict(list)
    for path in names:
        name = path[len(PREFIX) :]
        by_identity[name.split("_", 1)[0]].append(name)
    return {k: sorted(v) for k, v in sorted(by_identity.items(), key=lambda kv: int(kv[0]))}


def partition(identities: list[str], seed: int) -> dict[str, list[str]]:
    order = list(identities)
    random.Random(seed).shuffle(order)
    parts: dict[str, list[str]] = {}
    at = 0
    for fold in range(FOLDS):
        parts[f"pairs-fold-{fold}"] = order[at : at + PAIRS_PER_FOLD]
        at += PAIRS_PER_FOLD
    parts["open-set-enrolled"] = order[at : at + ENROLLED]
    at += ENROLLED
    parts["open-set-stranger"] = order[at : at + STRANGERS]
    at += STRANGERS
    parts["train-pool"] = order[at:]
    return parts


def make_pairs(parts: dict[str, list[str]], photos: dict[str, list[str]], seed: int) -> list[tuple[str, str, int, int]]:
    rng = random.Random(seed + 1)
    rows = []
    for fold in range(FOLDS):
        people = parts[f"pairs-fold-{fold}"]
        for person in people:
            a, b = rng.sample(photos[person], 2)
            rows.append((f"{person}/{a}", f"{person}/{b}", 1, fold))
        for _ in range(PAIRS_PER_FOLD):
            p, q = rng.sample(people, 2)
            rows.append((f"{p}/{rng.choice(photos[p])}", f"{q}/{rng.choice(photos[q])}", 0, fold))
    return rows


def make_open_set(parts: dict[str, list[str]], photos: dict[str, list[str]], seed: int) -> list[tuple[str, str, str]]:
    rng = random.Random(seed + 2)
    rows = []
    for person in parts["open-set-enrolled"]:
        chosen = rng.sample(photos[person], len(photos[person]))
        rows += [(f"{person}/{n}", person, "enrol") for n in sorted(chosen[:ENROL_PHOTOS])]
        rows += [(f"{person}/{n}", person, "probe") for n in sorted(chosen[ENROL_PHOTOS:])]
    for person in parts["open-set-stranger"]:
        rows.append((f"{person}/{rng.choice(photos[person])}", person, "stranger"))
    return rows


def faces_dev_splits(labels_git: str) -> tuple[dict[str, str], dict[str, str]]:
    """(CelebA image file -> its official partition, which faces-dev keeps; file -> gender)."""
    text = git(labels_git, "show", f"{LABELS_COMMIT}:celeba-gender-partitions.csv").decode()
    rows = list(csv.reader(text.splitlines()))[1:]
    return {r[0]: PARTITION_TO_SPLIT[r[2]] for r in rows}, {r[0]: ("male" if r[1] == "1" else "female") for r in rows}


def write_images(out: Path, celeba_git: str, relatives: list[str]) -> None:
    """The photos, read in one `git cat-file --batch` pass."""
    request = "".join(f"{CELEBA_COMMIT}:{PREFIX}{r.split('/', 1)[1]}\n" for r in relatives).encode()
    blob = git(celeba_git, "cat-file", "--batch", data=request)
    pos = 0
    for rel in relatives:
        header_end = blob.index(b"\n", pos)
        size = int(blob[pos:header_end].split()[2])
        target = out / "images" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(blob[header_end + 1 : header_end + 1 + size])
        pos = header_end + 1 + size + 1


def write_csv(path: Path, header: list[str], rows) -> None:
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)


def build(out: Path, celeba_git: str, labels_git: str, seed: int) -> dict:
    photos = list_photos(celeba_git)
    parts = partition(list(photos), seed)
    pairs = make_pairs(parts, photos, seed)
    open_set = make_open_set(parts, photos, seed)
    split_of, gender_of = faces_dev_splits(labels_git)
    used = sorted({p for r in pairs for p in r[:2]} | {r[0] for r in open_set})
    out.mkdir(parents=True, exist_ok=True)
    write_images(out, celeba_git, used)
    write_csv(
        out / "pairs.csv",
        ["path_a", "path_b", "same", "fold"],
        [(f"images/{a}", f"images/{b}", s, f) for a, b, s, f in pairs],
    )
    write_csv(out / "open-set.csv", ["path", "identity", "role"], [(f"images/{p}", i, r) for p, i, r in open_set])
    identity_rows = [
        (person, name, split_of[photos[person][0].split("_", 1)[1]])
        for name, people in parts.items()
        for person in people
    ]
    write_csv(
        out / "identities.csv",
        ["identity", "partition", "faces_dev_split"],
        sorted(identity_rows, key=lambda r: int(r[0])),
    )
    write_csv(
        out / "image-gender.csv", ["path", "gender"], [(f"images/{p}", gender_of[p.split("_", 1)[1]]) for p in used]
    )
    return {name: len(people) for name, people in parts.items()} | {
        "pairs": len(pairs),
        "open_set_rows": len(open_set),
        "images": len(used),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python3 -m faceedge_train.recognition.build_pairs", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("out", type=Path)
    parser.add_argument("--seed", type=int, default=23)
    args = parser.parse_args(argv)
    try:
        celeba, labels = os.environ["CELEBA_GIT"], os.environ["LABELS_GIT"]
    except KeyError as err:
        print(f"set {err.args[0]} to the snapshot's git dir (see the module docstring)", file=sys.stderr)
        return 2
    print(build(args.out, celeba, labels, args.seed))
    return 0


if __name__ == "__main__":
    sys.exit(main())

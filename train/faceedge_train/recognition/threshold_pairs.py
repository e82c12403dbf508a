"""Pairs for choosing the recognition threshold, from train-pool identities only, deterministically.

    /usr/bin/python3 -m faceedge_train.recognition.threshold_pairs /work/data/recog \\
        [--identities 600] [--impostors 30000] [--seed 23]

The threshold shipped in the embedder's manifest is the similarity at which a stated share of
different-person pairs is accepted (its FAR). Choosing it on the pairs we report (`pairs.csv`) or on
the open-set people would flatter both figures, so it is chosen here on people who are in neither:
a seeded sample of the train-pool (`identities.csv`, partition `train-pool`; photos in
`<root>/train-pool/images/<identity>/`). Every two photos of a sampled person make a same-person
pair (10 per person with 5 photos); the different-person pairs are drawn at random from photos of
two distinct sampled people, without repeats. Writes `<root>/threshold-pairs.csv`
(path_a,path_b,same; no fold column: one threshold over all of it), paths relative to `<root>`.
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
from itertools import combinations
from pathlib import Path

TRAIN_POOL = "train-pool"


def train_pool_photos(root: Path) -> dict[str, list[str]]:
    """Photo paths (relative to root) of each train-pool identity that has at least two photos."""
    with (root / "identities.csv").open(newline="") as f:
        pool = [r["identity"] for r in csv.DictReader(f) if r["partition"] == TRAIN_POOL]
    photos: dict[str, list[str]] = {}
    for identity in pool:
        folder = root / TRAIN_POOL / "images" / identity
        files = sorted(p.name for p in folder.glob("*.jpg")) if folder.is_dir() else []
        if len(files) >= 2:
            photos[identity] = [f"{TRAIN_POOL}/images/{identity}/{name}" for name in files]
    return photos


def build(photos: dict[str, list[str]], identities: int, impostors: int, seed: int) -> list[tuple[str, str, int]]:
    rng = random.Random(seed)
    chosen = sorted(rng.sample(sorted(photos), min(identities, len(photos))), key=int)
    rows = [(a, b, 1) for identity in chosen for a, b in combinations(photos[identity], 2)]
    seen: set[tuple[str, str]] = set()
    while len(seen) < impostors:
        first, second = rng.sample(chosen, 2)
        pair = tuple(sorted((rng.choice(photos[first]), rng.choice(photos[second]))))
        if pair not in seen:
            seen.add(pair)
            rows.append((pair[0], pair[1], 0))
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python3 -m faceedge_train.recognition.threshold_pairs")
    p.add_argument("root", help="the recognition data folder (identities.csv, train-pool/images/)")
    p.add_argument("--identities", type=int, default=600, help="train-pool people sampled (default 600)")
    p.add_argument("--impostors", type=int, default=30000, help="different-person pairs (default 30000)")
    p.add_argument("--seed", type=int, default=23)
    args = p.parse_args(argv)
    root = Path(args.root)
    photos = train_pool_photos(root)
    if len(photos) < 2:
        raise SystemExit(f"{root}: fewer than two train-pool identities with two photos")
    rows = build(photos, args.identities, args.impostors, args.seed)
    with (root / "threshold-pairs.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["path_a", "path_b", "same"])
        writer.writerows(rows)
    same = sum(r[2] for r in rows)
    print(f"[threshold-pairs] {same} same-person + {len(rows) - same} different-person pairs -> {f.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""threshold_pairs: only train-pool people, every same-person pair, distinct impostor pairs, seeded."""

from __future__ import annotations

import csv

from faceedge_train.recognition.threshold_pairs import main


def _dataset(root, pool: int, held_out: int) -> None:
    rows = [("identity", "partition", "faces_dev_split")]
    for k in range(1, pool + held_out + 1):
        partition = "train-pool" if k <= pool else "pairs-fold-0"
        rows.append((str(k), partition, "train"))
        folder = root / ("train-pool" if k <= pool else "") / "images" / str(k)
        folder.mkdir(parents=True)
        for n in range(5):
            (folder / f"{k}_{n:06d}.jpg").write_bytes(b"x")
    with (root / "identities.csv").open("w", newline="") as f:
        csv.writer(f).writerows(rows)


def _read(root) -> list[dict]:
    with (root / "threshold-pairs.csv").open(newline="") as f:
        return list(csv.DictReader(f))


def test_pairs_come_from_train_pool_people_only_and_are_reproducible(tmp_path):
    _dataset(tmp_path, pool=30, held_out=10)
    assert main([str(tmp_path), "--identities", "20", "--impostors", "300", "--seed", "5"]) == 0
    rows = _read(tmp_path)
    same = [r for r in rows if r["same"] == "1"]
    different = [r for r in rows if r["same"] == "0"]
    assert len(same) == 20 * 10 and len(different) == 300
    person = lambda path: path.split("/")[2]  # noqa: E731
    assert all(r["path_a"].startswith("train-pool/images/") and r["path_b"].startswith("train-pool/") for r in rows)
    assert all(int(person(r["path_a"])) <= 30 for r in rows)
    assert all(person(r["path_a"]) == person(r["path_b"]) for r in same)
    assert all(person(r["path_a"]) != person(r["path_b"]) for r in different)
    assert len({(r["path_a"], r["path_b"]) for r in different}) == 300
    assert all((tmp_path / r["path_a"]).is_file() for r in rows)
    main([str(tmp_path), "--identities", "20", "--impostors", "300", "--seed", "5"])
    assert _read(tmp_path) == rows

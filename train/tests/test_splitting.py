"""Splitting a user's labelled photos: no photo in two splits, persons kept together, refusals with one line
each, corrupt files dropped, a given split layout respected, and an unchanged input left as it is."""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from faceedge_train.splitting import SplitError, main, split_photos
from PIL import Image


def photo(path: Path, seed: int) -> None:
    """A small distinct JPEG (its content is decided by `seed`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, (24, 24, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path, quality=90)


def folder(root: Path, per_label: dict[str, int]) -> Path:
    seed = 0
    for label, n in per_label.items():
        for i in range(n):
            seed += 1
            photo(root / label / f"{label}-{i:03d}.jpg", seed)
    return root


def read_rows(out: Path) -> list[dict]:
    with open(out / "labels.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def contents(out: Path) -> dict[str, list[str]]:
    """sha256 of every photo in the split folder -> the split/label paths holding it."""
    found: dict[str, list[str]] = {}
    for path in sorted(out.glob("*/*/*")):
        found.setdefault(hashlib.sha256(path.read_bytes()).hexdigest(), []).append(str(path.relative_to(out)))
    return found


def test_a_seeded_split_per_label_never_puts_a_photo_in_two_splits(tmp_path):
    photos = folder(tmp_path / "photos", {"staff": 40, "visitor": 30, "delivery": 25})
    shutil.copy(photos / "staff" / "staff-000.jpg", photos / "staff" / "staff-copy.jpg")  # a duplicate
    shutil.copy(photos / "staff" / "staff-001.jpg", photos / "visitor" / "looks-like-staff.jpg")  # two labels
    lines = []
    record = split_photos(photos, tmp_path / "out", seed=3, say=lines.append)
    assert record["labels"] == ["delivery", "staff", "visitor"]
    assert record["dropped"] == {"duplicate": 1, "same photo under several labels": 2}
    assert any("duplicate: staff/staff-copy.jpg is staff/staff-000.jpg" in line for line in lines)
    assert all(len(paths) == 1 for paths in contents(tmp_path / "out").values())  # one place per photo
    counts = record["counts"]
    assert counts["test"] == {"delivery": 2, "staff": 4, "visitor": 3}  # 10 % of each label, rounded
    assert counts["val"] == counts["test"]
    assert sum(counts["train"].values()) == 94 - 18  # 39 staff (one lost to the two-label photo), 30, 25
    rows = read_rows(tmp_path / "out")
    assert len(rows) == 94 and all((tmp_path / "out" / r["path"]).is_file() for r in rows)
    # The same input and seed: the same split; another seed: another one.
    again = split_photos(photos, tmp_path / "again", seed=3, say=lambda _: None)
    assert again["counts"] == counts and read_rows(tmp_path / "again") == rows
    other = split_photos(photos, tmp_path / "other", seed=4, say=lambda _: None)
    assert {r["path"] for r in read_rows(tmp_path / "other")} != {r["path"] for r in rows}
    assert other["counts"] == counts


def test_a_persons_photos_stay_in_one_split(tmp_path):
    photos = folder(tmp_path / "photos", {"a": 30, "b": 30})
    with open(photos / "labels.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "person", "age"])
        for label in ("a", "b"):
            for i in range(30):
                writer.writerow([f"{label}/{label}-{i:03d}.jpg", f"{label}{i // 3}", 20 + i])  # 3 photos a person
    split_photos(photos, tmp_path / "out", seed=0, say=lambda _: None)
    rows = read_rows(tmp_path / "out")
    splits_of = {}
    for row in rows:
        splits_of.setdefault(row["person"], set()).add(row["path"].split("/")[0])
    assert len(splits_of) == 20 and all(len(s) == 1 for s in splits_of.values())
    assert Counter(r["path"].split("/")[0] for r in rows) == {"train": 48, "val": 6, "test": 6}
    assert {r["age"] for r in rows} == {str(20 + i) for i in range(30)}  # other columns travel along
    assert json.loads((tmp_path / "out" / "split.json").read_text())["by_person"] is True


def test_too_few_photos_and_corrupt_files_are_refused_with_one_line_each(tmp_path):
    photos = folder(tmp_path / "photos", {"big": 30, "small": 12, "tiny": 5})
    (photos / "big" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    data = (photos / "big" / "big-000.jpg").read_bytes()
    (photos / "big" / "truncated.jpg").write_bytes(data[: len(data) // 2])
    lines = []
    with pytest.raises(SplitError) as refused:
        split_photos(photos, tmp_path / "out", say=lines.append)
    assert str(refused.value).splitlines() == [
        "label small: 12 usable photos, at least 20 needed",
        "label tiny: 5 usable photos, at least 20 needed",
    ]
    assert [line.split(" (")[0] for line in lines] == ["corrupt: big/broken.jpg", "corrupt: big/truncated.jpg"]
    assert not (tmp_path / "out").exists()  # nothing written
    # Through the CLI: exit status 2, one line per problem.
    assert main([str(photos), "--out", str(tmp_path / "out"), "--min-per-label", "6"]) == 2
    assert (
        main([str(photos), "--out", str(tmp_path / "out"), "--min-per-label", "5", "--val", "0.2", "--test", "0.2"])
        == 0
    )
    record = json.loads((tmp_path / "out" / "split.json").read_text())
    assert record["dropped"] == {"corrupt": 2} and sum(record["counts"]["train"].values()) > 0


def test_a_given_split_layout_is_kept_and_cleaned_of_leaks(tmp_path):
    photos = tmp_path / "photos"
    for split, n, offset in (("train", 25, 0), ("val", 5, 100), ("test", 5, 200)):
        for label in ("x", "y"):
            for i in range(n):
                photo(photos / split / label / f"{i}.jpg", offset + i + (1000 if label == "y" else 0))
    shutil.copy(photos / "train" / "x" / "0.jpg", photos / "test" / "x" / "leak.jpg")  # a train photo in test
    lines = []
    record = split_photos(photos, tmp_path / "out", min_per_label=5, say=lines.append)
    assert record["splits_given"] is True and record["dropped"] == {"duplicate": 1}
    assert record["counts"] == {"train": {"x": 25, "y": 25}, "val": {"x": 5, "y": 5}, "test": {"x": 5, "y": 5}}
    assert not (tmp_path / "out" / "test" / "x" / "leak.jpg").exists()
    assert lines == ["duplicate: test/x/leak.jpg is train/x/0.jpg (dropped)"]


def test_an_unchanged_input_is_left_as_it_is_and_a_changed_one_is_redone(tmp_path):
    photos = folder(tmp_path / "photos", {"p": 20, "q": 20})
    split_photos(photos, tmp_path / "out", say=lambda _: None)
    lines = []
    split_photos(photos, tmp_path / "out", say=lines.append)
    assert lines == [f"{tmp_path / 'out'} is up to date"]
    photo(photos / "q" / "new.jpg", 999)
    record = split_photos(photos, tmp_path / "out", say=lambda _: None)
    assert sum(n for split in record["counts"].values() for n in split.values()) == 41
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "notes.txt").write_text("mine")
    with pytest.raises(SplitError, match="not written by this command"):
        split_photos(photos, tmp_path / "foreign", say=lambda _: None)

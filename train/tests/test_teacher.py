"""Distillation targets: a teacher CSV is matched to crops by split, class and stem, and blended."""

from __future__ import annotations

import pytest
import torch
from faceedge_train.data import DatasetError, Split
from faceedge_train.teacher import read_teacher_csv, teacher_targets


def split_of(paths: list[str]) -> Split:
    labels = torch.tensor([1 if "/male/" in p else 0 for p in paths])
    return Split("train", torch.zeros(len(paths), 64, 64, 3, dtype=torch.uint8), labels, paths)


def write(tmp_path, text: str):
    path = tmp_path / "teacher.csv"
    path.write_text(text)
    return path


def test_targets_blend_the_label_with_the_teachers_probability(tmp_path):
    csv = write(
        tmp_path, "train,female,a.jpg,0.100\ntrain,male,b.jpg,0.300\ntrain,male,c.jpg,\nval,female,d.jpg,0.900\n"
    )
    split = split_of(["train/female/a.png", "train/male/b.png", "train/male/c.png", "train/female/d.png"])
    result = teacher_targets(csv, split, weight=0.5)
    # a: 0.5*0 + 0.5*0.1; b: teacher disagrees (0.3 < 0.5) yet the target stays male at w = 0.5;
    # c: no face for the teacher -> label; d: the row is for val, not train -> label.
    assert result.targets.tolist() == pytest.approx([0.05, 0.65, 1.0, 0.0])
    assert (result.covered, result.agree) == (2, 1)
    summary = result.summary(0.5)
    assert summary["covered"] == 2 and summary["of"] == 4 and summary["teacher_accuracy_on_covered"] == 0.5
    assert len(summary["sha256"]) == 64


def test_weight_zero_gives_the_labels_back_and_weight_out_of_range_is_refused(tmp_path):
    csv = write(tmp_path, "train,female,a.jpg,0.900\n")
    split = split_of(["train/female/a.png"])
    assert teacher_targets(csv, split, weight=0.0).targets.tolist() == [0.0]
    assert teacher_targets(csv, split, weight=1.0).targets.tolist() == pytest.approx([0.9])
    with pytest.raises(ValueError, match="weight"):
        teacher_targets(csv, split, weight=1.5)


@pytest.mark.parametrize(
    "text, message",
    [
        ("train,female,a.jpg\n", "expected split,label,file,p_male"),
        ("train,other,a.jpg,0.5\n", "expected split,label,file,p_male"),
        ("train,male,a.jpg,1.7\n", "not a probability"),
        ("train,male,a.jpg,high\n", "not a number"),
    ],
)
def test_a_malformed_row_names_its_line(tmp_path, text, message):
    with pytest.raises(DatasetError, match=message):
        read_teacher_csv(write(tmp_path, "train,female,ok.jpg,0.2\n" + text))
    with pytest.raises(DatasetError, match=":2:"):
        read_teacher_csv(write(tmp_path, "train,female,ok.jpg,0.2\n" + text))

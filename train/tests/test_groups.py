"""Age-band loss weights (--age-balance): bands, where ages come from, and the weights themselves."""

from __future__ import annotations

import json

import pytest
import torch
from crops_fixture import make_crops
from faceedge_train import train as train_module
from faceedge_train.groups import age_band, band_weights, crop_ages, crop_bands
from faceedge_train.step import bce_loss


def test_bands_match_the_fairness_report():
    assert [age_band(a) for a in (13, 19, 20, 29, 35, 59, 60, 101)] == [
        "13-19",
        "13-19",
        "20-29",
        "20-29",
        "30-39",
        "50-59",
        "60+",
        "60+",
    ]


def with_ages(crops, photos, ages_by_index):
    """Point the crops' manifest at a photo folder whose labels.csv gives every train crop an age."""
    manifest = json.loads((crops / "manifest.json").read_text())
    manifest["source"] = str(photos)
    (crops / "manifest.json").write_text(json.dumps(manifest))
    photos.mkdir(exist_ok=True)
    rows = ["path,label,source_id,age,race"]
    for label in ("female", "male"):
        for i, path in enumerate(sorted((crops / "train" / label).glob("*.png"))):
            rows.append(f"train/{label}/{path.stem}.jpg,{label},{path.stem},{ages_by_index(i)},0")
    (photos / "labels.csv").write_text("\n".join(rows) + "\n")
    return crops


def test_rare_bands_weigh_more_and_the_mean_stays_one():
    paths = [f"train/female/{i}.png" for i in range(10)] + ["train/male/unknown.png"]
    ages = {f"train/female/{i}": (25 if i < 8 else 15) for i in range(10)}  # 8 in 20-29, 2 in 13-19
    bands = crop_bands(paths, ages)
    w = band_weights(bands, strength=1.0)
    assert w[8] / w[0] == pytest.approx(4.0)  # 8 / 2, every band counts equally
    assert w[:10].mean() == pytest.approx(1.0)
    assert w[10] == 1.0  # no age: untouched
    half = band_weights(bands, strength=0.5)
    assert half[8] / half[0] == pytest.approx(2.0)
    capped = band_weights(bands, strength=1.0, cap=3.0)
    assert capped[8] / capped[0] == pytest.approx(3.0)
    assert torch.equal(band_weights(crop_bands(paths, {}), strength=1.0), torch.ones(11))


def test_a_weight_of_zero_removes_a_sample_from_the_loss():
    logits = torch.tensor([2.0, -1.0, 0.5])
    labels = torch.tensor([1.0, 1.0, 0.0])
    weighted = bce_loss(logits, labels, 0.1, None, sample_weight=torch.tensor([1.0, 0.0, 1.0]))
    kept = bce_loss(logits[[0, 2]], labels[[0, 2]], 0.1, None)
    assert weighted * 3 / 2 == pytest.approx(kept.item())


def test_crop_ages_come_from_the_photo_folder(tmp_path):
    crops = make_crops(tmp_path / "crops", {"train": 3})
    assert crop_ages(crops) == {}  # no source recorded
    with_ages(crops, tmp_path / "photos", lambda i: 14 + 20 * i)
    assert crop_ages(crops) == {
        "train/female/0000": 14,
        "train/female/0001": 34,
        "train/female/0002": 54,
        "train/male/0000": 14,
        "train/male/0001": 34,
        "train/male/0002": 54,
    }


def test_training_records_the_bands_and_refuses_sources_without_ages(tmp_path):
    crops = make_crops(tmp_path / "crops", {"train": 24, "val": 8})
    args = train_module.parse_args(
        [
            "--data",
            str(crops),
            "--out",
            str(tmp_path / "run"),
            "--epochs",
            "1",
            "--batch-size",
            "12",
            "--threads",
            "1",
            "--width",
            "0.35",
            "--last-channels",
            "128",
            "--age-balance",
            "1",
        ]
    )
    with pytest.raises(SystemExit, match="no --data folder's photos have a labels.csv with ages"):
        train_module.run(args)
    with_ages(crops, tmp_path / "photos", lambda i: 15 if i < 6 else 30)  # 12 teens, 36 in their thirties
    ckpt = train_module.run(args)
    bands = ckpt["dataset"]["age_balance"]["bands"][f"{crops.name}/train"]
    assert {b: v["crops"] for b, v in bands.items()} == {"13-19": 12, "30-39": 36}
    assert bands["13-19"]["weight"] / bands["30-39"]["weight"] == pytest.approx(3.0, rel=1e-2)

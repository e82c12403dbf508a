"""Crops loading and its cache, the augmentation pipeline, and the numpy metrics."""

from __future__ import annotations

import io
import itertools

import numpy as np
import pytest
import torch
from crops_fixture import make_crops
from faceedge_train import data as data_module
from faceedge_train.augment import AugmentConfig, Augmenter, jpeg_approx
from faceedge_train.data import DatasetError, load_split
from faceedge_train.metrics import binary_metrics, roc_auc
from faceedge_train.preprocess import to_model_input
from PIL import Image

IDENTITY = AugmentConfig(
    scale=(1.0, 1.0),
    translate=0.0,
    rotate_deg=0.0,
    flip_p=0.0,
    brightness=0.0,
    contrast=0.0,
    saturation=0.0,
    hue_deg=0.0,
    gray_p=0.0,
    blur_p=0.0,
    noise_p=0.0,
    jpeg_p=0.0,
    occlude_p=0.0,
)


@pytest.fixture()
def crops(tmp_path):
    return make_crops(tmp_path / "crops", {"train": 6, "val": 3, "test": 0})


def test_split_loads_whole_with_labels(crops):
    split = load_split(crops, "train")
    assert split.images.shape == (12, 64, 64, 3) and split.images.dtype == torch.uint8
    assert split.labels.tolist() == [0] * 6 + [1] * 6 and split.class_counts() == {"female": 6, "male": 6}
    png = np.asarray(Image.open(crops / split.paths[7]))
    assert np.array_equal(split.images[7].numpy(), png)


def test_cache_is_reused_and_invalidated_by_a_changed_file(crops, monkeypatch):
    first = load_split(crops, "val")
    assert len(list((crops / ".cache").glob("val-*.npz"))) == 1

    def no_decode(*args, **kwargs):
        raise AssertionError("decoded although the cache is valid")

    monkeypatch.setattr(data_module, "decode_files", no_decode)
    assert torch.equal(load_split(crops, "val").images, first.images)
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(crops / "val/male/0000.png")
    with pytest.raises(AssertionError, match="decoded"):
        load_split(crops, "val")
    monkeypatch.undo()
    assert load_split(crops, "val").images[3].sum() == 0
    assert len(list((crops / ".cache").glob("val-*.npz"))) == 1  # the stale cache is gone


def test_missing_empty_and_malformed_splits_fail_clearly(crops, tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        load_split(tmp_path / "nowhere", "train")
    with pytest.raises(DatasetError, match="no .png"):
        load_split(crops, "test")
    (crops / "train").rename(crops / "elsewhere")
    with pytest.raises(DatasetError, match="train.*does not exist"):
        load_split(crops, "train")
    Image.fromarray(np.zeros((32, 64, 3), np.uint8)).save(crops / "val/female/0000.png")
    with pytest.raises(DatasetError, match="64x32, crops must be 64x64"):
        load_split(crops, "val", use_cache=False)


def test_limit_keeps_both_classes(crops):
    split = load_split(crops, "train", limit=4)
    assert split.class_counts() == {"female": 2, "male": 2}
    assert split.paths == [
        "train/female/0000.png",
        "train/female/0003.png",
        "train/male/0000.png",
        "train/male/0003.png",
    ]


def batch(n=16, seed=0):
    return torch.from_numpy(np.random.default_rng(seed).integers(0, 256, (n, 64, 64, 3), dtype=np.uint8))


def test_identity_config_is_exactly_the_model_input_contract():
    images = batch()
    assert torch.equal(Augmenter(IDENTITY)(images), to_model_input(images))
    assert to_model_input(images).shape == (16, 3, 64, 64)
    assert to_model_input(torch.full((1, 1, 1, 3), 128, dtype=torch.uint8)).abs().max() == 0


def test_flip_only_mirrors_left_right():
    images = batch()
    flipped = Augmenter(AugmentConfig(**{**IDENTITY.to_dict(), "flip_p": 1.0}))(images)
    assert torch.equal(flipped, torch.flip(to_model_input(images), dims=[3]))


def test_occluder_paints_one_flat_rectangle_of_the_drawn_size():
    images = torch.full((32, 64, 64, 3), 200, dtype=torch.uint8)
    images[:, :, :, 0] = 17  # a colour no occluder is likely to match exactly in all channels
    config = AugmentConfig(**{**IDENTITY.to_dict(), "occlude_p": 1.0, "occlude_side": (0.25, 0.5)})
    out = torch.round(Augmenter(config, seed=3)(images) * 128 + 128)
    changed = (out != out[:, :, :1, :1].new_tensor([17.0, 200.0, 200.0])[None, :, None, None]).any(dim=1)
    for mask in changed:
        rows, cols = mask.any(dim=1).nonzero().squeeze(1), mask.any(dim=0).nonzero().squeeze(1)
        assert 16 <= len(rows) <= 33 and 16 <= len(cols) <= 33
        assert mask[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1].all()  # one solid rectangle
        assert mask.sum() == len(rows) * len(cols)
    untouched = Augmenter(IDENTITY, seed=3)(images)
    assert torch.equal(untouched, (images.permute(0, 3, 1, 2).float() - 128) / 128)


def test_augmentation_is_seeded_and_stays_in_range():
    images = batch(32)
    a, b, c = Augmenter(seed=1)(images), Augmenter(seed=1)(images), Augmenter(seed=2)(images)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.shape == (32, 3, 64, 64) and a.dtype == torch.float32
    assert a.min() >= -1 and a.max() <= 127 / 128
    assert torch.equal(torch.round(a * 128), a * 128)  # whole uint8 pixel levels, as on the board
    augmenter = Augmenter(seed=1)
    assert not torch.equal(augmenter(images), augmenter(images))  # the stream moves on


def face_like(n=24):
    """Smooth images (JPEG's home ground; noise would be all high frequencies)."""
    yy, xx = np.mgrid[0:64, 0:64] / 64.0
    rng = np.random.default_rng(5)
    out = []
    for _ in range(n):
        f = rng.uniform(1, 4, 3)
        img = [128 + 100 * np.sin(f[c] * 3 * xx + rng.uniform(0, 6)) * np.cos(f[c] * 2 * yy) for c in range(3)]
        out.append(np.stack(img, -1))
    return np.clip(out, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("quality", [30, 75])
def test_jpeg_approximation_is_close_to_a_real_encoder(quality):
    images = face_like()
    real = []
    for image in images:
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, "JPEG", quality=quality)
        real.append(np.asarray(Image.open(buffer)))
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255
    real = torch.from_numpy(np.stack(real)).permute(0, 3, 1, 2).float() / 255
    sim = jpeg_approx(x, torch.full((len(images),), float(quality)))

    def rms(a, b):
        return float(((a - b) ** 2).mean().sqrt() * 255)

    # Same amount of damage as libjpeg, and much closer to libjpeg's output than to the original.
    assert rms(x, sim) == pytest.approx(rms(x, real), rel=0.3)
    assert rms(sim, real) < 0.5 * rms(x, real)


def test_roc_auc_matches_pairwise_definition_with_ties():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 60)
    scores = np.round(rng.normal(labels * 0.8, 1.0), 1)  # rounding makes ties
    pairs = [(p, n) for p, n in itertools.product(scores[labels == 1], scores[labels == 0])]
    expected = np.mean([1.0 if p > n else 0.5 if p == n else 0.0 for p, n in pairs])
    assert roc_auc(labels, scores) == pytest.approx(expected, abs=1e-12)
    assert roc_auc(np.ones(3), np.arange(3)) is None


def test_binary_metrics_confusion_and_recalls():
    labels = np.array([0, 0, 0, 1, 1])
    logits = np.array([-2.0, 0.5, -1.0, 3.0, -0.1])
    m = binary_metrics(labels, logits, flipped_logits=np.array([-2.0, -1.5, -1.0, 3.0, 0.5]))
    assert m["confusion"] == [[2, 1], [1, 1]]
    assert m["accuracy"] == pytest.approx(0.6)
    assert m["per_class"]["female"] == {"precision": 2 / 3, "recall": 2 / 3, "support": 3}
    assert m["per_class"]["male"] == {"precision": 0.5, "recall": 0.5, "support": 2}
    assert m["tta_accuracy"] == pytest.approx(1.0)  # means: -2, -0.5, -1, 3, 0.2
    assert m["roc_auc"] == pytest.approx(5 / 6)


def test_cache_write_failure_only_warns(crops, capsys):
    (crops / ".cache").write_text("a file where the cache folder should be")
    assert len(load_split(crops, "val")) == 6
    assert "could not write cache" in capsys.readouterr().err

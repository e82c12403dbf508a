"""CPU smoke test of the training CLI on a tiny synthetic crops folder (about 20 s on one core).

One reference run; a second run with the same seed is interrupted after epoch 3 and resumed, and
must end with exactly the reference's weights (seeding and resume both reproduce the stream).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from crops_fixture import make_crops
from faceedge_train import train as train_module
from faceedge_train.checkpoint import load_checkpoint, model_from_checkpoint
from faceedge_train.data import load_split
from faceedge_train.evaluate import evaluate_model, predict_logits

EPOCHS = 6
ALIGNMENT = {"size": 64, "sideInEyeDistances": 2.2, "centreBelowEyes": 0.3, "padding": "mirror"}
TIMING_KEYS = {"seconds", "images_per_s"}


class Interrupted(Exception):
    pass


def cli(data, out, *extra):
    return train_module.parse_args(
        [
            "--data",
            str(data),
            "--out",
            str(out),
            "--epochs",
            str(EPOCHS),
            "--batch-size",
            "12",
            "--threads",
            "1",
            "--width",
            "0.35",
            "--last-channels",
            "128",
            "--warmup-epochs",
            "0.5",
            "--eval-batch-size",
            "64",
            "--seed",
            "3",
            *extra,
        ]
    )


@pytest.fixture(scope="module")
def crops(tmp_path_factory):
    return make_crops(tmp_path_factory.mktemp("crops"), {"train": 96, "val": 24, "test": 24})


@pytest.fixture(scope="module")
def reference(crops, tmp_path_factory):
    out = tmp_path_factory.mktemp("reference")
    return out, train_module.run(cli(crops, out))


def without_timing(history):
    return [{k: v for k, v in record.items() if k not in TIMING_KEYS} for record in history]


def test_loss_decreases_and_the_classes_are_learned(reference):
    _, ckpt = reference
    history = ckpt["history"]
    assert [r["epoch"] for r in history] == list(range(1, EPOCHS + 1))
    assert history[-1]["train_loss"] < 0.75 * history[0]["train_loss"]
    assert history[0]["train_acc"] < 0.8 < history[-1]["train_acc"]
    assert ckpt["metrics"]["val"]["accuracy"] >= 0.85  # chance is 0.5; 0.96 seen with torch 1.13
    assert ckpt["metrics"]["test"]["accuracy"] >= 0.85


def test_checkpoint_describes_itself(reference, crops):
    out, ckpt = reference
    saved = load_checkpoint(out / "best.pt")
    assert set(saved) >= {"model_state", "model_config", "training", "dataset", "history", "metrics"}
    assert "resume" not in saved  # the shipped file carries no optimizer state
    for name, tensor in saved["model_state"].items():
        assert tensor.device.type == "cpu"
        assert tensor.dtype in (torch.float32, torch.int64), name
    assert saved["model_config"] == {
        "width": 0.35,
        "stem_stride": 2,
        "late_stride": 2,
        "last_channels": 128,
        "dropout": 0.2,
        "input_size": 64,
    }
    training = saved["training"]
    assert training["seed"] == 3 and training["epochs_run"] == EPOCHS and training["lr"] == 3e-3
    assert training["wall_seconds"] > 0 and training["device_name"] and training["parameters"] > 0
    assert training["torch_version"] == torch.__version__ and training["python_version"].count(".") == 2
    assert training["augment_config"]["rotate_deg"] == 15.0
    dataset = saved["dataset"]
    assert dataset["counts"] == {s: {"female": n, "male": n} for s, n in (("train", 96), ("val", 24), ("test", 24))}
    assert len(dataset["manifest_sha256"]) == 64
    for split, n in (("val", 48), ("test", 48)):
        m = saved["metrics"][split]
        assert m["n"] == n and sum(map(sum, m["confusion"])) == n
        (tn, fp), (fn, tp) = m["confusion"]
        assert m["accuracy"] == pytest.approx((tn + tp) / n)
        assert m["per_class"]["male"]["recall"] == pytest.approx(tp / (tp + fn))
        assert m["per_class"]["female"]["recall"] == pytest.approx(tn / (tn + fp))
        assert 0 <= m["roc_auc"] <= 1 and 0 <= m["tta_accuracy"] <= 1
    lines = [json.loads(line) for line in (out / "history.jsonl").read_text().splitlines()]
    assert lines == saved["history"] == json.loads((out / "history.json").read_text())
    assert json.loads((out / "metrics.json").read_text())["test"] == saved["metrics"]["test"]
    assert "resume" in load_checkpoint(out / "last.pt")


def test_reloaded_checkpoint_gives_identical_outputs(reference, crops):
    out, ckpt = reference
    # Same memory format as in the run (channels_last is the default): NCHW kernels round differently.
    cl = torch.channels_last
    model = model_from_checkpoint(load_checkpoint(out / "best.pt")).to(memory_format=cl)
    val = load_split(crops, "val")
    metrics = evaluate_model(model, val, torch.device("cpu"), memory_format=cl, flip_tta=True)
    # The loss is a function of every logit: equality to 1e-12 means the same outputs as in the run.
    assert metrics["loss"] == pytest.approx(ckpt["metrics"]["val"]["loss"], abs=1e-12, rel=0)
    assert metrics["accuracy"] == ckpt["metrics"]["val"]["accuracy"]
    again = model_from_checkpoint(load_checkpoint(out / "best.pt")).to(memory_format=cl)
    np.testing.assert_array_equal(
        predict_logits(model, val.images, torch.device("cpu"), memory_format=cl),
        predict_logits(again, val.images, torch.device("cpu"), memory_format=cl),
    )
    # Plain NCHW (how an exporter walks the model) agrees to float32 rounding.
    plain = model_from_checkpoint(load_checkpoint(out / "best.pt"))
    np.testing.assert_allclose(
        predict_logits(plain, val.images, torch.device("cpu")),
        predict_logits(model, val.images, torch.device("cpu"), memory_format=cl),
        atol=1e-5,
    )


def test_same_seed_reproduces_the_run_across_an_interruption(reference, crops, tmp_path, monkeypatch):
    ref_out, ref = reference
    real_save = train_module.save_checkpoint

    def save_then_crash(path, checkpoint):
        real_save(path, checkpoint)
        if path.name == "last.pt" and checkpoint["training"]["epochs_run"] == 3:
            raise Interrupted  # as if the machine went away after epoch 3's checkpoint

    monkeypatch.setattr(train_module, "save_checkpoint", save_then_crash)
    with pytest.raises(Interrupted):
        train_module.run(cli(crops, tmp_path))
    monkeypatch.setattr(train_module, "save_checkpoint", real_save)
    with pytest.raises(SystemExit, match="--resume"):
        train_module.run(cli(crops, tmp_path))
    # The crash hit after last.pt but before epoch 3's line: resuming must restore that line.
    assert len((tmp_path / "history.jsonl").read_text().splitlines()) == 2
    resumed = train_module.run(cli(crops, tmp_path, "--resume"))

    assert without_timing(resumed["history"]) == without_timing(ref["history"])
    assert resumed["model_state"].keys() == ref["model_state"].keys()
    for name, tensor in ref["model_state"].items():
        assert torch.equal(resumed["model_state"][name], tensor), name
    assert resumed["metrics"]["test"] == ref["metrics"]["test"]
    assert len((tmp_path / "history.jsonl").read_text().splitlines()) == EPOCHS

    train_module.run(cli(crops, tmp_path, "--overwrite", "--epochs", "1"))  # a fresh run replaces it all
    assert len((tmp_path / "history.jsonl").read_text().splitlines()) == 1
    assert load_checkpoint(tmp_path / "best.pt")["training"]["epochs_run"] == 1


def test_teacher_targets_are_what_the_model_learns(crops, tmp_path):
    # A teacher that contradicts every label, at full weight: the model must learn the contradiction,
    # which only happens if the soft targets really replace the labels in the loss.
    rows = [
        f"train,{label},{path.stem}.jpg,{0.0 if label == 'male' else 1.0}"
        for label in ("female", "male")
        for path in sorted((crops / "train" / label).glob("*.png"))
    ]
    (tmp_path / "teacher.csv").write_text("\n".join(rows) + "\n")
    ckpt = train_module.run(
        cli(
            crops,
            tmp_path / "run",
            "--teacher",
            str(tmp_path / "teacher.csv"),
            "--teacher-weight",
            "1",
            "--label-smoothing",
            "0",
        )
    )
    assert ckpt["dataset"]["teacher"]["covered"] == 192
    assert ckpt["dataset"]["teacher"]["teacher_accuracy_on_covered"] == 0.0
    # Against the true labels the last epoch is inverted (best.pt, chosen by true val accuracy, is not).
    assert ckpt["history"][-1]["val_acc"] <= 0.15 and ckpt["history"][-1]["train_acc"] <= 0.3


def test_fold_val_trains_on_train_and_val_and_keeps_the_last_epoch(crops, tmp_path):
    ckpt = train_module.run(cli(crops, tmp_path, "--fold-val", "--epochs", "3"))
    history = ckpt["history"]
    assert ckpt["training"]["fold_val"] is True and ckpt["training"]["best_epoch"] == 3
    assert all(record["best"] for record in history)
    # (96 + 24) crops per class, batch 12: the folded split's steps, not the train split's 16.
    assert ckpt["training"]["steps_per_epoch"] == 20


def test_mixed_sources_train_together_and_are_scored_each(crops, tmp_path_factory):
    # A second source with only a train split (like celeba-extra) and a third with its own val/test
    # (like UTKFace): training uses every train split; val and test are scored per source and the
    # epoch is chosen on the mean of the sources' val accuracies.
    # Two of them record their crop geometry (the first, hand-made, does not): the run keeps it.
    extra = make_crops(tmp_path_factory.mktemp("extra"), {"train": 48}, seed=5, alignment=ALIGNMENT)
    wild = make_crops(
        tmp_path_factory.mktemp("wild"), {"train": 48, "val": 12, "test": 12}, seed=7, alignment=ALIGNMENT
    )
    out = tmp_path_factory.mktemp("mixed")
    args = cli(crops, out, "--epochs", "3")
    args.data = [str(crops), str(extra), str(wild)]
    ckpt = train_module.run(args)
    dataset = ckpt["dataset"]
    assert [s["name"] for s in dataset["sources"]] == [crops.name, extra.name, wild.name]
    assert dataset["counts"]["train"] == {"female": 96 + 48 + 48, "male": 96 + 48 + 48}
    assert dataset["sources"][1]["counts"] == {"train": {"female": 48, "male": 48}}
    assert dataset["alignment"] == ALIGNMENT
    # (96 + 48 + 48) crops per class, batch 12.
    assert ckpt["training"]["steps_per_epoch"] == 32
    for split, sizes in (("val", {crops.name: 48, wild.name: 24}), ("test", {crops.name: 48, wild.name: 24})):
        m = ckpt["metrics"][split]
        assert {n: s["n"] for n, s in m["by_source"].items()} == sizes
        assert m["accuracy"] == pytest.approx(np.mean([s["accuracy"] for s in m["by_source"].values()]))
        assert m["n"] == sum(sizes.values())
    assert set(ckpt["history"][-1]["val_acc_by_source"]) == {crops.name, wild.name}


def test_sources_cropped_differently_are_refused_before_decoding(crops, tmp_path):
    # A model learns its crops' framing and the board crops as the manifest says: one run, one geometry.
    tight = make_crops(tmp_path / "tight", {"train": 4}, alignment=ALIGNMENT)
    wide = make_crops(tmp_path / "wide", {"train": 4}, alignment={**ALIGNMENT, "sideInEyeDistances": 3.0})
    args = cli(crops, tmp_path / "run")
    args.data = [str(crops), str(tight), str(wide)]
    with pytest.raises(Exception, match=r"cropped differently .*tight: .*2\.2.*wide: .*3\.0.*same --side"):
        train_module.run(args)
    assert not (tight / ".cache").exists()  # refused before any PNG was decoded


def test_a_source_without_any_split_is_refused(crops, tmp_path):
    (tmp_path / "empty").mkdir()
    args = cli(crops, tmp_path / "run")
    args.data = [str(crops), str(tmp_path / "empty")]
    with pytest.raises(Exception, match="has none of the splits"):
        train_module.run(args)


def test_init_starts_from_a_trained_model_and_refuses_other_weight_shapes(reference, crops, tmp_path):
    reference_out, _ = reference
    ckpt = train_module.run(
        cli(crops, tmp_path / "warm", "--init", str(reference_out / "best.pt"), "--epochs", "1", "--lr", "1e-4")
    )
    # One epoch at a small learning rate from the trained weights: already as good as the reference's best.
    assert ckpt["history"][0]["val_acc"] >= 0.95
    assert ckpt["training"]["init"] == str(reference_out / "best.pt")
    with pytest.raises(SystemExit, match="hint: pass the same --width and --last-channels"):
        train_module.run(cli(crops, tmp_path / "other", "--init", str(reference_out / "best.pt"), "--width", "0.5"))
    # A stride holds no weights: going on at another stride is allowed.
    strided = train_module.run(
        cli(
            crops, tmp_path / "strided", "--init", str(reference_out / "best.pt"), "--epochs", "1", "--late-stride", "1"
        )
    )
    assert strided["model_config"]["late_stride"] == 1

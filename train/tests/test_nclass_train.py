"""Training with three classes: the classes come from the folders, are learned, recorded and scored; ordered
labels; the refusals; a stop in the middle of an epoch that --resume continues bit for bit; --init across
class counts; the loss pieces."""

from __future__ import annotations

import json
import math
import signal

import pytest
import torch
from faceedge_train import train as train_module
from faceedge_train.age_targets import age_targets, band_distribution, band_edges
from faceedge_train.checkpoint import load_checkpoint, load_weights_into, save_checkpoint
from faceedge_train.data import DatasetError, load_split
from faceedge_train.interrupt import Stopped, StopRequest
from faceedge_train.labels import LabelError, LabelSet
from faceedge_train.model import FaceClassifier, ModelConfig
from faceedge_train.objective import class_weights, smoothed_targets
from nclass_fixture import make_three_class_crops

LABELS = ("checks", "horizontal", "vertical")  # sorted, so that the folder order is this order
EPOCHS = 8


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
            "5",
            *extra,
        ]
    )


@pytest.fixture(scope="module")
def crops(tmp_path_factory):
    # make_three_class_crops gives shapes in the order of its labels: checks are horizontal stripes here,
    # which does not matter: what matters is three separable classes under these names.
    return make_three_class_crops(
        tmp_path_factory.mktemp("three"), LABELS, {"train": 48, "val": 12, "test": 12}, seed=1
    )


@pytest.fixture(scope="module")
def reference(crops, tmp_path_factory):
    out = tmp_path_factory.mktemp("ref3")
    return out, train_module.run(cli(crops, out))


def test_three_classes_are_learned_and_recorded(reference):
    out, ckpt = reference
    assert ckpt["labels"] == list(LABELS) and ckpt["ordered_labels"] is False
    assert ckpt["model_config"]["classes"] == 3
    assert ckpt["training"]["select_metric"] == "macro_recall"
    assert ckpt["dataset"]["counts"]["train"] == dict.fromkeys(LABELS, 48)
    assert ckpt["dataset"]["sources"][0]["dropped_faces"] == {"no face": 1}
    history = ckpt["history"]
    assert history[-1]["train_loss"] < 0.7 * history[0]["train_loss"]
    assert "val_auc" not in history[-1] and 0 <= history[-1]["val_macro_recall"] <= 1
    assert "val_off_by_more_than_one" not in history[-1]
    for split in ("val", "test"):
        m = ckpt["metrics"][split]
        assert m["n"] == 36 and sum(map(sum, m["confusion"])) == 36 and len(m["confusion"]) == 3
        assert m["accuracy"] >= 0.8  # chance is 1/3
        assert m["macro_recall"] == pytest.approx(sum(c["recall"] for c in m["per_class"].values()) / 3)
        assert 0 <= m["ece"] <= 1 and 0 <= m["tta_accuracy"] <= 1
    saved = load_checkpoint(out / "best.pt")
    assert saved["labels"] == list(LABELS)
    events = [json.loads(line) for line in (out / "progress.jsonl").read_text().splitlines()]
    kinds = [e["event"] for e in events]
    assert kinds[0] == "stage" and kinds[-1] == "done" and kinds.count("epoch") == EPOCHS
    start = next(e for e in events if e["event"] == "start")
    assert start["labels"] == list(LABELS) and start["steps_per_epoch"] == 12 and start["resumed"] is False
    assert [e["stage"] for e in events if e["event"] == "stage"] == ["data", "model", "train", "final"]


def test_ordered_labels_are_put_in_numeric_order_and_scored_by_steps(tmp_path):
    crops = make_three_class_crops(tmp_path / "bands", ("5-9", "10-19", "20+"), {"train": 16, "val": 6}, seed=2)
    ckpt = train_module.run(cli(crops, tmp_path / "run", "--ordered", "--epochs", "2"))
    assert ckpt["labels"] == ["5-9", "10-19", "20+"] and ckpt["ordered_labels"] is True
    assert 0 <= ckpt["history"][-1]["val_off_by_more_than_one"] <= 1
    assert "off_by_more_than_one" in ckpt["metrics"]["val"] and "test" not in ckpt["metrics"]
    explicit = train_module.run(cli(crops, tmp_path / "run2", "--labels", "20+,10-19,5-9", "--epochs", "1"))
    assert explicit["labels"] == ["20+", "10-19", "5-9"] and explicit["ordered_labels"] is False


def test_labels_that_do_not_fit_are_refused_with_one_line_each(crops, tmp_path):
    with pytest.raises(LabelError, match=r"'stripes'.*\n.*checks/ folder that --labels does not name"):
        train_module.run(cli(crops, tmp_path / "a", "--labels", "stripes,horizontal,vertical"))
    with pytest.raises(DatasetError, match=r"label checks: 48 train crop\(s\), at least 49.*\n.*label horizontal"):
        train_module.run(cli(crops, tmp_path / "b", "--min-per-label", "49"))
    with pytest.raises(LabelError, match="cannot be called 'Unknown'"):
        LabelSet(("Unknown", "known"))
    with pytest.raises(LabelError, match="2 to 50 labels, got 1"):
        LabelSet(("only",))


def test_the_cli_reports_bad_input_with_exit_status_2(crops, tmp_path, capsys):
    out = tmp_path / "bad"
    assert train_module.main([*cli_argv(crops, out), "--labels", "a,b"]) == 2
    err = capsys.readouterr().err
    assert "[train] error: --labels names 'a'" in err and "[train] error: the data has a checks/ folder" in err
    events = [json.loads(line) for line in (out / "progress.jsonl").read_text().splitlines()]
    assert events[-1]["event"] == "error" and "--labels names 'a'" in events[-1]["message"]


def cli_argv(data, out):
    return ["--data", str(data), "--out", str(out), "--epochs", "1", "--batch-size", "12", "--threads", "1"]


class StopAtCheck(StopRequest):
    """A SIGINT that arrives just before the `after`-th look the loop takes at the stop flag."""

    def __init__(self, after: int):
        super().__init__()
        self.looks, self.after = 0, after

    @property
    def requested(self) -> bool:
        self.looks += 1
        if self.looks >= self.after:
            self.signum = signal.SIGINT
        return self.signum is not None


def test_a_stop_mid_epoch_saves_the_step_and_resume_continues_bit_for_bit(reference, crops, tmp_path):
    _, ref = reference
    # Looks: one before each epoch, one before every step after an epoch's first (12 steps per epoch).
    # The 18th look is before step 5 of the second epoch (1 + 11 looks in the first epoch, then 1 + 5).
    with pytest.raises(Stopped) as stopped:
        train_module.run(cli(crops, tmp_path), StopAtCheck(18))
    assert stopped.value.exit_status == 130
    last = load_checkpoint(tmp_path / "last.pt")
    partial = last["resume"]["partial"]
    assert last["resume"]["epoch"] == 0 and partial["step"] == 5 and last["training"]["epochs_run"] == 1
    events = [json.loads(line) for line in (tmp_path / "progress.jsonl").read_text().splitlines()]
    assert events[-1] == {**events[-1], "event": "stopped", "signal": "SIGINT", "epoch": 2, "step": 5}
    resumed = train_module.run(cli(crops, tmp_path, "--resume"))
    strip = lambda history: [{k: v for k, v in r.items() if k not in ("seconds", "images_per_s")} for r in history]  # noqa: E731
    assert strip(resumed["history"]) == strip(ref["history"])
    for name, tensor in ref["model_state"].items():
        assert torch.equal(resumed["model_state"][name], tensor), name
    start = [json.loads(line) for line in (tmp_path / "progress.jsonl").read_text().splitlines() if '"start"' in line]
    assert start[-1]["resumed"] is True and (start[-1]["start_epoch"], start[-1]["start_step"]) == (1, 5)


def test_init_from_a_two_class_model_keeps_the_features_and_starts_a_new_head(tmp_path):
    two = FaceClassifier(ModelConfig(width=0.35, last_channels=128))
    save_checkpoint(
        tmp_path / "two.pt",
        {
            "model_state": two.state_dict(),
            "model_config": two.config.to_dict(),
            **{k: {} for k in ("training", "dataset", "metrics")},
            "history": [],
        },
    )
    three = FaceClassifier(ModelConfig(width=0.35, last_channels=128, classes=3))
    head = three.classifier.weight.detach().clone()
    changed = load_weights_into(three, tmp_path / "two.pt")
    assert changed == {"classes": (2, 3)}
    assert torch.equal(three.features[0].conv.weight, two.features[0].conv.weight)
    assert torch.equal(three.classifier.weight, head) and three.classifier.weight.shape == (3, 128)


def test_class_weights_and_smoothed_targets():
    labels = torch.tensor([0, 0, 0, 1, 2, 2])
    assert torch.allclose(class_weights(labels, 3), torch.tensor([6 / 9, 6 / 3, 6 / 6]))
    plain = smoothed_targets(torch.tensor([0, 1]), 3, 0.1, ordered=False)
    assert torch.allclose(plain, torch.tensor([[0.9, 0.05, 0.05], [0.05, 0.9, 0.05]]))
    ordered = smoothed_targets(torch.tensor([0, 1, 3]), 4, 0.2, ordered=True)
    expected = [[0.8, 0.2, 0, 0], [0.1, 0.8, 0.1, 0], [0, 0, 0.2, 0.8]]
    assert torch.allclose(ordered, torch.tensor(expected))


def test_age_targets_spread_a_photo_over_the_bands_next_to_its_age(tmp_path):
    labels = LabelSet(("0-12", "13-19", "20+"), ordered=True)
    edges = band_edges(labels)
    assert edges == [(-math.inf, 13.0), (13.0, 20.0), (20.0, math.inf)]
    edge = band_distribution(19, edges, 2.0)  # 19.5 years: a quarter sigma below 20
    assert sum(edge) == pytest.approx(1.0) and edge[2] == pytest.approx(0.5 - 0.0987, abs=1e-3)
    assert band_distribution(16, edges, 2.0)[1] > 0.9
    crops = make_three_class_crops(tmp_path / "crops", labels.names, {"train": 3, "val": 1})
    manifest = json.loads((crops / "manifest.json").read_text())
    (crops / "manifest.json").write_text(json.dumps({**manifest, "source": str(tmp_path / "photos")}))
    (tmp_path / "photos").mkdir()
    rows = ["path,label,age", "train/0-12/0000.jpg,0-12,5", "train/13-19/0000.jpg,13-19,19", "train/20+/0001.jpg,20+,9"]
    (tmp_path / "photos" / "labels.csv").write_text("\n".join(rows) + "\n")
    split = load_split(crops, "train", labels=labels.names)
    targets, counts = age_targets([(crops, split)], labels, 2.0)
    assert counts == {"with_age": 2, "without_age": 6, "age_outside_band": 1}
    assert torch.allclose(targets[3], torch.tensor(band_distribution(19, edges, 2.0)))  # 13-19/0000
    assert targets[0, 0] > 0.99 and torch.equal(targets[1], torch.tensor([1.0, 0.0, 0.0]))
    assert torch.equal(targets[7], torch.tensor([0.0, 0.0, 1.0]))  # 20+/0001 says 9: kept one-hot
    with pytest.raises(ValueError, match="ordered"):
        age_targets([(crops, split)], LabelSet(labels.names), 2.0)

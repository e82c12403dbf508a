"""Heads on the face embedding: reading the embeddings file into tasks, training and choosing heads on val, and
the report that scores them against the 64x64 models on the same faces."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from faceedge_train.datasets.age_bands import AGE_BANDS
from faceedge_train.heads import HeadConfig, head_logits, select_head, soft_age_targets, train_head
from faceedge_train.heads_data import AGE_LABELS, HeadsDataError, build_task, read_records
from faceedge_train.heads_export import combined_scores, export_head, head_layers
from faceedge_train.heads_report import compare, main

BAND_AGE = {"0-12": 8, "13-19": 16, "20-29": 25, "30-44": 37, "45-59": 52, "60+": 70}


def _unit(v: np.ndarray) -> list[float]:
    return (v / np.linalg.norm(v)).round(6).tolist()


def _records(per_band: int = 40, seed: int = 0, dims: int = 16) -> list[dict]:
    """UTKFace-like age records whose embeddings cluster by band (and carry a gender direction), and faces-dev
    gender records; the 64x64 models' outputs always say 20-29 and female."""
    rng = np.random.default_rng(seed)
    centres = {band: rng.normal(size=dims) * 3 for band in AGE_BANDS}
    male = rng.normal(size=dims) * 3
    out = []
    for split in ("train", "val", "test"):
        for band in AGE_BANDS:
            for i in range(per_band):
                gender = "male" if i % 2 else "female"
                e = centres[band] + (male if gender == "male" else 0) + rng.normal(size=dims)
                out.append(
                    {
                        "source": "utkface",
                        "split": split,
                        "label": band,
                        "path": f"{split}/{band}/{i}.jpg",
                        "status": "ok",
                        "groups": {"age": str(BAND_AGE[band]), "gender": gender, "race": str(i % 5)},
                        "embedding": _unit(e),
                        "models": {
                            "age": {"label": "20-29", "probabilities": [0.0, 0.1, 0.6, 0.1, 0.1, 0.1]},
                            "gender": {"label": "female", "probabilities": [0.9, 0.1]},
                        },
                    }
                )
        for i in range(per_band):
            gender = "male" if i % 2 else "female"
            out.append(
                {
                    "source": "faces-dev",
                    "split": split,
                    "label": gender,
                    "path": f"{split}/{gender}/{i}.jpg",
                    "status": "ok",
                    "embedding": _unit((male if gender == "male" else 0) + rng.normal(size=dims)),
                    "models": {"gender": {"label": "female", "probabilities": [0.9, 0.1]}},
                }
            )
    return out


def _write(tmp_path, records: list[dict], tail: str = "") -> object:
    path = tmp_path / "embeddings.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records) + tail)
    return path


def test_age_task_keeps_utkface_13_plus_faces_once_and_counts_the_photos_without_one(tmp_path):
    records = _records(per_band=4)
    first_test = next(r for r in records if r["split"] == "test" and r["label"] == "30-44")
    no_face = {**first_test, "path": "test/30-44/lost.jpg", "status": "no face"}
    no_face.pop("embedding")
    path = _write(tmp_path, [*records, first_test, no_face], tail='{"source": "utkface", "spl')
    task = build_task("age", read_records(path))
    assert task.label_names == AGE_LABELS and task.ordered
    assert [len(task.splits[s]) for s in ("train", "val", "test")] == [20, 20, 20]  # 5 bands x 4, no 0-12, no repeat
    assert set(task.splits["test"].sources) == {"utkface"}
    assert task.splits["test"].dropped == {"utkface": {"no face": 1}}
    assert task.splits["train"].model_probabilities["age"].shape == (20, 6)


def test_gender_task_reads_utkface_gender_from_labels_csv_and_faces_dev_from_the_folder(tmp_path):
    task = build_task("gender", read_records(_write(tmp_path, _records(per_band=4))))
    test = task.splits["test"]
    assert task.label_names == ("female", "male") and not task.ordered
    assert len(test) == 20 + 4  # UTKFace 13+ and faces-dev
    utk = test.sources == "utkface"
    expected = [1 if g["gender"] == "male" else 0 for g, u in zip(test.groups, utk, strict=True) if u]
    assert test.labels[utk].tolist() == expected


def test_a_missing_split_is_one_clear_error(tmp_path):
    records = [r for r in _records(per_band=2) if r["split"] != "val"]
    with pytest.raises(HeadsDataError, match="no faces in the val split"):
        build_task("age", read_records(_write(tmp_path, records)))
    with pytest.raises(HeadsDataError, match="no embeddings file"):
        read_records(tmp_path / "absent.jsonl")


@pytest.mark.parametrize("kind", ["logistic", "mlp"])
def test_a_head_learns_bands_the_embedding_separates(tmp_path, kind):
    task = build_task("age", read_records(_write(tmp_path, _records(per_band=40))))
    train, val = task.splits["train"], task.splits["val"]
    config = HeadConfig(kind=kind, hidden=32, epochs=30, batch=64)
    head = train_head(config, train.embeddings, train.labels, task.label_names, True)
    accuracy = (head_logits(head, val.embeddings).argmax(axis=1) == val.labels).mean()
    assert accuracy > 0.9
    again = train_head(config, train.embeddings, train.labels, task.label_names, True)
    assert torch.equal(head.layers[0].weight, again.layers[0].weight)  # same seed, same head


def test_val_chooses_the_better_configuration():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(300, 8)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    untrained = HeadConfig(lr=1e-9, epochs=1, smoothing=0.0)
    trained = HeadConfig(lr=1e-2, epochs=30, batch=32, smoothing=0.0)
    config, _, tried = select_head(
        [untrained, trained], (x[:200], y[:200], None), (x[200:], y[200:]), ("a", "b"), False, log=lambda _: None
    )
    assert config == trained and len(tried) == 2
    assert tried[1]["val"]["accuracy"] > 0.9


def test_age_targets_put_the_mass_in_the_faces_band_and_sum_to_one():
    targets = soft_age_targets(np.array([16, 37, 80]), AGE_LABELS, 3.0)
    assert torch.allclose(targets.sum(dim=1), torch.ones(3))
    assert targets.argmax(dim=1).tolist() == [0, 2, 4]
    with pytest.raises(ValueError, match="every training face's age"):
        soft_age_targets(np.array([16, -1]), AGE_LABELS, 3.0)


def test_the_64x64_age_model_is_scored_in_its_six_bands_so_a_child_guess_counts_as_a_miss(tmp_path):
    records = _records(per_band=3)
    for r in records:
        if r["source"] == "utkface" and r["split"] == "test" and r["label"] == "20-29":
            r["models"]["age"]["probabilities"] = [0.9, 0.02, 0.02, 0.02, 0.02, 0.02]  # says 0-12
    task = build_task("age", read_records(_write(tmp_path, records)))
    result = compare(task, task.splits["test"], heads={})["64x64 age"]["all"]
    # it says 20-29 for every face: right for the 3 faces of 20-29 only, which it now calls 0-12 (two bands off)
    assert result["n"] == 15 and result["accuracy"] == pytest.approx(0.0)
    assert result["off_by_more_than_one"] == pytest.approx((3 + 3 + 3) / 15)  # 20-29 → 0-12, 45-59 and 60+ → 20-29


def test_the_report_scores_heads_and_64x64_models_on_the_same_faces_per_group(tmp_path, capsys):
    path = _write(tmp_path, _records(per_band=30))
    out = tmp_path / "report"
    assert main(["--embeddings", str(path), "--out", str(out), "--epochs", "5", "--batch", "32"]) == 0
    report = json.loads((out / "report.json").read_text())
    age = report["age"]["test"]
    assert set(age) == {"logistic head", "mlp head", "64x64 age", "logistic head + 64x64", "mlp head + 64x64"}
    assert {r["all"]["n"] for r in age.values()} == {150}
    assert set(age["logistic head"]["ethnicity"]) == {"White", "Black", "Asian", "Indian", "Other"}
    assert age["64x64 age"]["all"]["accuracy"] == pytest.approx(30 / 150)  # always 20-29
    assert age["logistic head"]["all"]["accuracy"] > 0.5
    assert len(report["age"]["selection"]["logistic"]["tried"]) == 8
    gender = report["gender"]["test"]
    assert set(gender["64x64 gender"]["source"]) == {"utkface", "faces-dev"}
    assert (out / "age-mlp.pt").is_file() and (out / "gender-logistic.pt").is_file()
    assert "### age: test" in capsys.readouterr().out


def _numpy_forward(layers, x: np.ndarray) -> np.ndarray:
    for layer in layers:
        x = x @ layer.weight.T.astype(np.float64) + layer.bias
        if layer.activation == "relu":
            x = np.maximum(x, 0)
    return x


@pytest.mark.parametrize("kind", ["logistic", "mlp"])
def test_the_exported_layers_fold_the_standardisation_and_compute_the_head(kind):
    rng = np.random.default_rng(2)
    x = rng.normal(size=(64, 16)).astype(np.float32) * 0.2 + 0.1
    head = train_head(
        HeadConfig(kind=kind, hidden=8, epochs=2, batch=16), x, (x[:, 0] > 0.1).astype(np.int64), ("a", "b"), False
    )
    layers = head_layers(head)
    assert [layer.activation for layer in layers] == (["none"] if kind == "logistic" else ["relu", "none"])
    np.testing.assert_allclose(_numpy_forward(layers, x.astype(np.float64)), head_logits(head, x), atol=1e-5)


def test_an_exported_head_runs_in_the_tflite_runtime_with_a_manifest_that_names_its_embedder(tmp_path):
    path = _write(tmp_path, _records(per_band=30, dims=128))
    out = tmp_path / "report"
    assert main(["--embeddings", str(path), "--out", str(out), "--epochs", "2", "--batch", "64", "--tasks", "age"]) == 0
    embedder = tmp_path / "embedder.json"
    embedder.write_text(
        json.dumps(
            {
                "id": "faceedge-face-embed",
                "embedding": {"dimensions": 128},
                "test_time_flip": True,
                "files": {"int8": {"sha256": "ab"}},
            }
        )
    )
    manifest = export_head(out / "age-mlp.pt", path, embedder, tmp_path / "export", "test-age-head")
    assert manifest["labels"] == list(AGE_LABELS) and manifest["ordered"]
    assert manifest["input"] == {
        "kind": "face-embedding",
        "embedder": {"id": "faceedge-face-embed", "sha256": "ab"},
        "dimensions": 128,
        "normalization": "l2",
        "test_time_flip": True,
    }
    assert (tmp_path / "export" / "test-age-head_float32.tflite").stat().st_size == manifest["files"]["float32"][
        "bytes"
    ]
    check = manifest["runtime_check"]
    if check["runtime"] == "unavailable":
        pytest.skip(check["reason"])
    assert check["max_abs_diff"] < 1e-4 and check["argmax_agreement"] == 1.0
    assert len(manifest["selftest"]) == 4 and len(manifest["selftest"][0]["expected_logits"]) == 5
    with pytest.raises(ValueError, match="dimensions"):
        embedder.write_text(json.dumps({"embedding": {"dimensions": 64}}))
        export_head(out / "age-mlp.pt", path, embedder, tmp_path / "export2", "x")


def test_the_six_band_task_keeps_children_and_reports_the_13_plus_faces_on_their_own(tmp_path):
    task = build_task("age6", read_records(_write(tmp_path, _records(per_band=5))))
    assert task.label_names == AGE_BANDS and task.ordered
    assert len(task.splits["test"]) == 30
    result = compare(task, task.splits["test"], heads={})
    # the 64x64 model always says 20-29: right on the 5 faces of 20-29, 25 faces aged 13 and up
    assert result["64x64 age"]["ages"]["13+"]["n"] == 25
    assert result["64x64 age"]["ages"]["13+"]["accuracy"] == pytest.approx(5 / 25)
    assert result["64x64 age"]["ages"]["0-12"]["accuracy"] == 0


def test_the_pair_mean_of_log_probabilities_is_renormalised_and_clamped_like_the_board():
    image = np.array([[0.0, 0.5, 0.5]])  # a zero probability: the board's vote clamps its log at -12
    head = np.log(np.array([[0.2, 0.2, 0.6]]))
    scores = combined_scores(image, head, 1.0)
    image_log = np.array([-12.0, np.log(0.5), np.log(0.5)])
    image_log = image_log - np.log(np.exp(image_log).sum())
    expected = (image_log + np.log([0.2, 0.2, 0.6])) / 2
    np.testing.assert_allclose(scores[0], expected, atol=1e-12)


def test_a_paired_head_export_fits_the_combination_on_val_and_refuses_other_labels(tmp_path):
    path = _write(tmp_path, _records(per_band=30, dims=128))
    out = tmp_path / "report"
    assert (
        main(["--embeddings", str(path), "--out", str(out), "--epochs", "2", "--batch", "64", "--tasks", "age6"]) == 0
    )
    embedder = tmp_path / "embedder.json"
    embedder.write_text(json.dumps({"id": "e", "embedding": {"dimensions": 128}, "files": {"int8": {"sha256": "ab"}}}))
    pair = tmp_path / "age.json"
    pair.write_text(json.dumps({"id": "faceedge-age", "labels": list(AGE_BANDS), "files": {"int8": {"sha256": "cd"}}}))
    manifest = export_head(out / "age6-mlp.pt", path, embedder, tmp_path / "export", "h", pair_with=pair)
    combination = manifest["combination"]
    assert combination["rule"] == "mean-log-probabilities"
    assert combination["with"] == {"id": "faceedge-age", "sha256": "cd", "labels": list(AGE_BANDS)}
    assert combination["temperature"] > 0 and 0 <= combination["unsure_floor"] < 1
    assert combination["val"]["n"] == len(AGE_BANDS) * 30
    pair.write_text(json.dumps({"id": "x", "labels": list(reversed(AGE_BANDS)), "files": {}}))
    with pytest.raises(ValueError, match="same order"):
        export_head(out / "age6-mlp.pt", path, embedder, tmp_path / "export2", "h", pair_with=pair)

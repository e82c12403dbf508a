"""`faceedge train --on-embedding`'s engine side: the folders task (each photo's folder label), the head chosen
on val, and the once-on-test score of the head and its pair."""

from __future__ import annotations

import json

import numpy as np
import pytest
from faceedge_train.heads_data import FOLDERS, HeadsDataError, build_task
from faceedge_train.heads_folders import label_names, main

LABELS = ("small", "medium", "large")


def _write(path, per_label: int = 20, dims: int = 16, seed: int = 0) -> None:
    """Embeddings that cluster by label, a 64x64 `pair` model that always says `medium`, one photo without a face."""
    rng = np.random.default_rng(seed)
    centres = {label: rng.normal(size=dims) * 3 for label in LABELS}
    lines = []
    for split, n in (("train", per_label), ("val", per_label // 2), ("test", per_label // 2)):
        for label in LABELS:
            for k in range(n):
                v = centres[label] + rng.normal(size=dims)
                record = {"source": "split-0", "split": split, "label": label, "path": f"{split}/{label}/{k}.jpg"}
                pair = {"label": "medium", "probabilities": [0.2, 0.6, 0.2]}
                embedding = (v / np.linalg.norm(v)).tolist()
                lines.append({**record, "status": "ok", "embedding": embedding, "models": {"pair": pair}})
        faceless = {"source": "split-0", "split": split, "label": "small", "path": f"{split}/x.jpg"}
        lines.append({**faceless, "status": "no face"})
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))


def test_folders_task_keeps_the_callers_label_order_and_counts_faceless_photos(tmp_path):
    _write(tmp_path / "e.jsonl")
    records = [json.loads(line) for line in (tmp_path / "e.jsonl").read_text().splitlines()]
    task = build_task(FOLDERS, records, ("large", "medium", "small"), ordered=True)
    assert task.label_names == ("large", "medium", "small") and task.ordered
    test = task.splits["test"]
    assert len(test) == 30 and test.dropped == {"split-0": {"no face": 1}}
    assert set(test.labels.tolist()) == {0, 1, 2}
    with pytest.raises(HeadsDataError):
        build_task(FOLDERS, records)


def test_labels_must_be_the_folders_labels(tmp_path):
    records = [{"split": "train", "label": name} for name in LABELS]
    assert label_names(records, None) == ("large", "medium", "small")
    assert label_names(records, "small,medium,large") == LABELS
    with pytest.raises(HeadsDataError, match="not the folders' labels"):
        label_names(records, "small,large")


def test_train_chooses_on_val_and_score_reads_test_for_head_and_pair(tmp_path, capsys):
    from faceedge_train.heads_export import export_head

    _write(tmp_path / "e.jsonl")
    args = ["train", "--embeddings", str(tmp_path / "e.jsonl"), "--out", str(tmp_path / "heads")]
    assert main([*args, "--labels", ",".join(LABELS), "--ordered", "--epochs", "20"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["labels"] == list(LABELS) and summary["faces"]["test"] == 30
    assert summary["tried"] > 1 and "test" not in json.dumps(summary["val"])
    selection = json.loads((tmp_path / "heads" / "selection.json").read_text())
    best = max(r["score"] for r in selection["selection"])
    assert summary["val"] == next(r["val"] for r in selection["selection"] if r["score"] == best)

    embedder = tmp_path / "embedder.json"
    embedder.write_text(json.dumps({"id": "e", "embedding": {"dimensions": 16}, "files": {"int8": {"sha256": "ab"}}}))
    pair = tmp_path / "pair.json"
    pair.write_text(json.dumps({"id": "p", "labels": list(LABELS), "files": {"int8": {"sha256": "cd"}}}))
    export_head(tmp_path / "heads" / "head.pt", tmp_path / "e.jsonl", embedder, tmp_path / "x", "h", pair, "pair")
    score = ["score", "--embeddings", str(tmp_path / "e.jsonl"), "--head", str(tmp_path / "heads" / "head.pt")]
    assert main([*score, "--manifest", str(tmp_path / "x" / "manifest.json")]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["head"]["n"] == 30 and result["head"]["accuracy"] > 0.9  # clustered: learnable
    assert result["64x64"]["accuracy"] == pytest.approx(1 / 3)  # always `medium`
    assert {"head", "pair", "64x64"} <= set(result) and "off_by_more_than_one" in result["pair"]


def test_a_missing_label_order_mismatch_exits_2(tmp_path, capsys):
    _write(tmp_path / "e.jsonl")
    args = ["train", "--embeddings", str(tmp_path / "e.jsonl"), "--out", str(tmp_path / "h"), "--labels", "a,b"]
    assert main(args) == 2
    assert "not the folders' labels" in capsys.readouterr().err

"""A head on the face embedding (`heads_report`'s `<task>-<kind>.pt`) as a float32 TFLite file and its manifest.

    python3 -m faceedge_train.heads_export --head data/heads/report/age-mlp.pt \
        --embeddings data/heads/embeddings.jsonl --embedder models/face-embed/manifest.json \
        --out data/heads/export/faceedge-age-head --name faceedge-age-head

The input is not an image: it is the shipped embedder's L2-normalised embedding of the face ([1, D] float32),
which a board computes anyway when recognition is on. The training set's standardisation is folded into the
first dense layer (x' = (x - mean) * scale, so W' = W * scale and b' = b - W' mean); the graph is FULLY_CONNECTED
(+ fused ReLU for the MLP) layers of the project's writer, ending in one logit per label. It stays float32: a
head is 1-70 k weights (4-270 kB), and int8 would save nothing a board notices while costing a calibration.
Like the 64x64 N-class models, softmax at the manifest's `temperature` and the `unsure_floor` (both fitted on
val logits, `confidence.fit_confidence`) run on the board. The file is checked in the TFLite runtime against
the PyTorch head on every val embedding; the self-test inputs are seeded random unit vectors, so the manifest
holds no one's biometric data.

With `--pair-with <64x64 manifest>` (an age head is shipped as a pair with the 64x64 age model, see
models/age/README.md) the manifest also gets `combination`: the board decides a track from the mean of the two
models' log-probabilities (each at its own manifest temperature; the 64x64 one clamped at -12 as the board's
track vote clamps it), softmax at the combination's own `temperature`, `unknown` below its `unsure_floor`, both
fitted here on the val faces of the embeddings file, whose `models.<pair-key>.probabilities` are that 64x64
model's on the same detected faces. The labels of the two models must be identical, in the same order.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch

from .confidence import fit_confidence
from .heads import EmbeddingHead, head_logits
from .heads_data import build_task, read_records
from .layers import Layer
from .metrics import multiclass_metrics
from .tflite.convert import build_graph
from .tflite.runtime import RuntimeUnavailable, run_tflite

SELFTEST_INPUTS = 4
LOG_PROBABILITY_FLOOR = -12.0  # the board's track vote clamps a frame's log-probability here (LOGIT_LIMIT)
MAX_RUNTIME_DIFF = 1e-4  # float32 TFLite against PyTorch, logits


def load_head(path: Path) -> tuple[EmbeddingHead, dict]:
    saved = torch.load(path, map_location="cpu")
    config = saved["config"]
    dims = saved["state"]["mean"].shape[0]
    head = EmbeddingHead(dims, len(saved["labels"]), config["kind"], config["hidden"], config["dropout"])
    head.load_state_dict(saved["state"])
    head.eval()
    return head, saved


def head_layers(head: EmbeddingHead, input_name: str = "embedding") -> list[Layer]:
    """The head as dense layers, the standardisation folded into the first."""
    dense = [m for m in head.layers if isinstance(m, torch.nn.Linear)]
    mean = head.mean.double().numpy()
    scale = head.scale.double().numpy()
    first_w = dense[0].weight.detach().double().numpy() * scale[None, :]
    first_b = dense[0].bias.detach().double().numpy() - first_w @ mean
    weights = [(first_w, first_b)] + [
        (d.weight.detach().double().numpy(), d.bias.detach().double().numpy()) for d in dense[1:]
    ]
    layers, source = [], input_name
    for k, (w, b) in enumerate(weights):
        last = k == len(weights) - 1
        name = "logits" if last else f"hidden{k}"
        activation = "none" if last else "relu"
        layers.append(
            Layer(
                "dense", [source], name, weight=w.astype(np.float32), bias=b.astype(np.float32), activation=activation
            )
        )
        source = name
    return layers


def selftest_inputs(dims: int, count: int = SELFTEST_INPUTS, seed: int = 24) -> np.ndarray:
    x = np.random.default_rng(seed).normal(size=(count, dims))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def log_softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    z = np.asarray(logits, dtype=np.float64) / temperature
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def combined_scores(image_probabilities: np.ndarray, head_logits_: np.ndarray, head_temperature: float) -> np.ndarray:
    """The pair's scores before its temperature: the mean of the 64x64 model's log-probabilities (clamped at
    the board's floor, renormalised) and the head's log-softmax at its temperature. Mirrors
    src/classification/paired-decision.ts."""
    image = np.maximum(np.log(np.clip(image_probabilities, 1e-300, None)), LOG_PROBABILITY_FLOOR)
    return (log_softmax(image) + log_softmax(head_logits_, head_temperature)) / 2


def fit_combination(
    pair_manifest: Path,
    pair_key: str,
    labels: tuple[str, ...],
    ordered: bool,
    val,
    val_logits: np.ndarray,
    head_t: float,
) -> dict:
    """`combination` of the manifest: the pair's temperature and unsure floor fitted on val, and its val scores."""
    pair = json.loads(pair_manifest.read_text())
    if tuple(pair.get("labels", ())) != labels:
        raise ValueError(f"{pair_manifest}: labels {pair.get('labels')} are not the head's {list(labels)} (same order)")
    if pair_key not in val.model_probabilities:
        raise ValueError(f"the embeddings file has no 64x64 model {pair_key!r} on the val faces (--pair-key)")
    scores = combined_scores(val.model_probabilities[pair_key], val_logits, head_t)
    confidence = fit_confidence(scores, val.labels)
    metrics = multiclass_metrics(val.labels, scores / confidence["temperature"], labels, ordered)
    files = pair.get("files") or {}
    int8 = files.get("int8") or next(iter(files.values()), {})
    return {
        "rule": "mean-log-probabilities",
        "with": {"id": pair.get("id"), "sha256": int8.get("sha256"), "labels": list(labels)},
        "temperature": confidence["temperature"],
        "unsure_floor": confidence["unsure_floor"],
        "confidence_calibration": {**confidence, "split": "val"},
        "val": {k: metrics[k] for k in ("n", "accuracy", "macro_recall", "off_by_more_than_one") if k in metrics},
    }


def export_head(
    head_path: Path,
    embeddings: Path,
    embedder_manifest: Path,
    out: Path,
    name: str,
    pair_with: Path | None = None,
    pair_key: str = "age",
) -> dict:
    head, saved = load_head(head_path)
    labels = tuple(saved["labels"])
    dims = int(head.mean.shape[0])
    embedder = json.loads(embedder_manifest.read_text())
    if embedder.get("embedding", {}).get("dimensions") != dims:
        raise ValueError(f"{embedder_manifest}: the embedder's dimensions are not the head's {dims}")
    task = build_task(
        saved.get("task", "age" if saved["ordered"] else "gender"),
        read_records(embeddings),
        labels,
        bool(saved["ordered"]),
    )
    val = task.splits["val"]
    val_logits = head_logits(head, val.embeddings)
    confidence = fit_confidence(val_logits, val.labels)

    out.mkdir(parents=True, exist_ok=True)
    graph = build_graph(head_layers(head), input_name="embedding", input_shape=[1, dims])
    model_path = out / f"{name}_float32.tflite"
    model_path.write_bytes(graph.serialize(f"{name} (float32), faceedge_train.heads_export"))
    data = model_path.read_bytes()

    check = {"n": len(val), "runtime": "unavailable"}
    tests = selftest_inputs(dims)
    expected = head_logits(head, tests)
    try:
        runtime_logits, report = run_tflite(model_path, np.concatenate([val.embeddings, tests]))
        diff = float(np.abs(runtime_logits[: len(val)] - val_logits).max())
        if diff > MAX_RUNTIME_DIFF:
            raise RuntimeError(f"{model_path}: TFLite logits differ from PyTorch by {diff:.2e} on val")
        agree = float((runtime_logits[: len(val)].argmax(1) == val_logits.argmax(1)).mean())
        check = {
            "n": len(val),
            "runtime": report.get("delegate", "tflite"),
            "max_abs_diff": diff,
            "argmax_agreement": agree,
        }
        expected = runtime_logits[len(val) :].astype(np.float64)
    except RuntimeUnavailable as err:
        check["reason"] = str(err)
    val_metrics = multiclass_metrics(val.labels, val_logits, labels, saved["ordered"])
    combination = (
        fit_combination(pair_with, pair_key, labels, bool(saved["ordered"]), val, val_logits, confidence["temperature"])
        if pair_with
        else None
    )
    manifest = {
        "id": name,
        "task": "classification",
        "labels": list(labels),
        "ordered": bool(saved["ordered"]),
        "input": {
            "kind": "face-embedding",
            "embedder": {"id": embedder.get("id"), "sha256": _embedder_sha(embedder)},
            "dimensions": dims,
            "normalization": "l2",
            "test_time_flip": embedder.get("test_time_flip", False),
        },
        "output": {"kind": "logits", "activation": "softmax", "shape": [1, len(labels)]},
        "temperature": confidence["temperature"],
        "unsure_floor": confidence["unsure_floor"],
        "confidence_calibration": {**confidence, "split": "val"},
        "files": {
            "float32": {
                "path": model_path.name,
                "dtype": "float32",
                "input": {"name": "embedding", "dtype": "float32", "shape": [1, dims]},
                "output": {"name": "logits", "dtype": "float32", "shape": [1, len(labels)]},
                "sha256": hashlib.sha256(data).hexdigest(),
                "bytes": len(data),
            }
        },
        "head": {"config": saved["config"], "parameters": sum(p.numel() for p in head.parameters())},
        "val": {
            k: val_metrics[k] for k in ("n", "accuracy", "macro_recall", "off_by_more_than_one") if k in val_metrics
        },
        "runtime_check": check,
        **({"combination": combination} if combination else {}),
        "selftest": [
            {"embedding": [round(float(v), 7) for v in x], "expected_logits": [round(float(v), 6) for v in y]}
            for x, y in zip(tests, expected, strict=True)
        ],
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def _embedder_sha(embedder: dict) -> str | None:
    files = embedder.get("files") or {}
    for entry in files.values():
        if isinstance(entry, dict) and entry.get("sha256"):
            return entry["sha256"]
    return embedder.get("sha256")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--head", type=Path, required=True)
    parser.add_argument("--embeddings", type=Path, required=True)
    parser.add_argument("--embedder", type=Path, default=Path("models/face-embed/manifest.json"))
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument(
        "--pair-with", type=Path, help="manifest of the 64x64 model the head is shipped with: fit `combination`"
    )
    parser.add_argument(
        "--pair-key", default="age", help="that model's name under `models` in the embeddings file (default age)"
    )
    args = parser.parse_args(argv)
    manifest = export_head(
        args.head, args.embeddings, args.embedder, args.out, args.name, args.pair_with, args.pair_key
    )
    keys = ("id", "labels", "temperature", "unsure_floor", "val", "runtime_check", "combination")
    summary = {k: manifest[k] for k in keys if k in manifest}
    summary.get("combination", {}).pop("confidence_calibration", None)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())

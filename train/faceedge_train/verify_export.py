"""Check an exported model folder against PyTorch on a whole split, in the real TFLite runtime.

    python3 -m faceedge_train.verify_export --model-dir <export dir> --data <crops dir>
        [--split test] [--checkpoint ckpt.pt] [--limit N] [--delegate xnnpack|cpu] [--check]
        [--only-labels A,B,...]

Every crop of the split goes through `<id>_float32.tflite` and `<id>_int8.tflite` (each as one batch,
one `scripts/tflite-run.ts` call) and through the PyTorch checkpoint the export recorded in its
manifest (or --checkpoint). Prints one JSON object:
  n, float_max_abs_diff (TFLite float32 vs PyTorch probability), int8_float_agreement (share of crops
  where the int8 and float32 files give the same class), float_accuracy, int8_accuracy,
  pytorch_accuracy, int8_mean_abs_diff (probability), plus where it ran. Two classes decide at the
  manifest's threshold; more take the argmax (probabilities: softmax at the manifest's temperature) and
  add float_metrics / int8_metrics (metrics.multiclass_metrics: macro recall, off by more than one, ...).
--only-labels scores only the crops of those true labels (the model still answers with all of its labels):
an age model with a 0-12 band on a test set of ages 13 and over, as the age anchor was measured.
With --check it exits 1 unless float_max_abs_diff <= 1e-4 and int8_float_agreement >= 0.995.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import torch

from .data import DatasetError, load_split
from .export import load_checkpoint, model_from
from .export_check import float_outputs
from .labels import from_checkpoint
from .metrics import multiclass_metrics, softmax
from .preprocess import float_input_nhwc, int8_input_nhwc
from .tflite.runtime import run_tflite

MAX_FLOAT_DIFF = 1e-4
MIN_AGREEMENT = 0.995


def verify(
    model_dir: Path,
    data: Path,
    split: str = "test",
    checkpoint: Path | None = None,
    limit: int | None = None,
    delegate: str = "xnnpack",
    only_labels: list[str] | None = None,
) -> dict:
    manifest = json.loads((model_dir / "manifest.json").read_text())
    files = manifest["files"]
    for entry in files.values():
        digest = hashlib.sha256((model_dir / entry["path"]).read_bytes()).hexdigest()
        if digest != entry["sha256"]:
            raise ValueError(f"{entry['path']}: sha256 does not match the manifest")
    if checkpoint is None:
        source = manifest.get("source_checkpoint") or {}
        if not source.get("path"):
            raise ValueError("the manifest names no checkpoint; pass --checkpoint")
        checkpoint = Path(source["path"])
    ckpt = load_checkpoint(checkpoint)
    label_set = from_checkpoint(ckpt)
    if list(label_set.names) != list(manifest["labels"]):
        raise ValueError(f"the checkpoint's labels {label_set.names} are not the manifest's {manifest['labels']}")
    model = model_from(ckpt)

    loaded = load_split(data, split, limit, labels=label_set.names)
    images, labels = loaded.images, loaded.labels.numpy()
    if only_labels:
        unknown = [name for name in only_labels if name not in label_set.names]
        if unknown:
            raise ValueError(f"--only-labels {', '.join(unknown)}: not among the model's labels {label_set.names}")
        keep = np.isin(labels, [label_set.index(name) for name in only_labels])
        images, labels = images[torch.from_numpy(keep)], labels[keep]
    pixels = images.numpy()
    float_out, float_report = run_tflite(model_dir / files["float32"]["path"], float_input_nhwc(pixels), delegate)
    int8_out, int8_report = run_tflite(model_dir / files["int8"]["path"], int8_input_nhwc(pixels), delegate)
    q = int8_report["output"]["quantization"]
    int8_values = (int8_out.reshape(len(pixels), -1).astype(np.float64) - q["zeroPoint"]) * q["scale"]
    ref = float_outputs(model, pixels).astype(np.float64)
    if label_set.binary:
        p_ref, p_float, p_int8 = ref, float_out.reshape(-1).astype(np.float64), int8_values.reshape(-1)
        threshold = float(manifest.get("threshold", 0.5))
        c_ref, c_float, c_int8 = (p_ref >= threshold), (p_float >= threshold), (p_int8 >= threshold)
        truth = labels.astype(bool)
        extra = {}
    else:
        temperature = float(manifest["temperature"])
        float_logits = float_out.reshape(len(pixels), -1).astype(np.float64)
        p_ref, p_float, p_int8 = (softmax(v, temperature) for v in (ref, float_logits, int8_values))
        c_ref, c_float, c_int8 = (p.argmax(axis=1) for p in (p_ref, p_float, p_int8))
        truth = labels
        extra = {
            name: multiclass_metrics(labels, logits, label_set.names, label_set.ordered)
            for name, logits in (("float_metrics", float_logits), ("int8_metrics", int8_values))
        }
    return {
        "n": int(len(labels)),
        "split": split,
        "float_max_abs_diff": float(np.abs(p_float - p_ref).max()),
        "int8_float_agreement": float((c_int8 == c_float).mean()),
        "float_accuracy": float((c_float == truth).mean()),
        "int8_accuracy": float((c_int8 == truth).mean()),
        "pytorch_accuracy": float((c_ref == truth).mean()),
        "int8_mean_abs_diff": float(np.abs(p_int8 - p_float).mean()),
        "int8_disagreements": int((c_int8 != c_float).sum()),
        "delegate": {"float32": float_report["delegate"]["active"], "int8": int8_report["delegate"]["active"]},
        "model_id": manifest.get("id"),
        "checkpoint": str(checkpoint),
        **extra,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python3 -m faceedge_train.verify_export", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--model-dir", required=True, type=Path, help="folder written by faceedge_train.export")
    parser.add_argument("--data", required=True, type=Path, help="crops folder: {train,val,test}/<label>/*.png")
    parser.add_argument("--split", default="test", help="split to run (default test)")
    parser.add_argument("--checkpoint", type=Path, help="PyTorch checkpoint (default: the one in the manifest)")
    parser.add_argument("--limit", type=int, help="at most this many crops (default: all)")
    parser.add_argument("--delegate", default="xnnpack", choices=["xnnpack", "cpu"], help="default xnnpack")
    parser.add_argument("--only-labels", help="score only crops of these true labels (comma-separated)")
    parser.add_argument(
        "--check",
        action="store_true",
        help=f"exit 1 unless float diff <= {MAX_FLOAT_DIFF} and agreement >= {MIN_AGREEMENT}",
    )
    args = parser.parse_args(argv)
    try:
        only = [name.strip() for name in args.only_labels.split(",")] if args.only_labels else None
        result = verify(args.model_dir, args.data, args.split, args.checkpoint, args.limit, args.delegate, only)
    except (ValueError, OSError, DatasetError) as err:
        print(f"[verify_export] error: {err}", file=sys.stderr)
        return 2
    print(json.dumps(result))
    if args.check and (result["float_max_abs_diff"] > MAX_FLOAT_DIFF or result["int8_float_agreement"] < MIN_AGREEMENT):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

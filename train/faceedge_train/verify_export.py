"""Check an exported model folder against PyTorch on a whole split, in the real TFLite runtime.

    python3 -m faceedge_train.verify_export --model-dir <export dir> --data <crops dir>
        [--split test] [--checkpoint ckpt.pt] [--limit N] [--delegate xnnpack|cpu] [--check]

Every crop of the split goes through `<id>_float32.tflite` and `<id>_int8.tflite` (each as one batch,
one `scripts/tflite-run.ts` call) and through the PyTorch checkpoint the export recorded in its
manifest (or --checkpoint). Prints one JSON object:
  n, float_max_abs_diff (TFLite float32 vs PyTorch probability), int8_float_agreement (share of crops
  where the int8 and float32 files give the same class), float_accuracy, int8_accuracy,
  pytorch_accuracy, int8_mean_abs_diff (probability), plus where it ran.
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
from .preprocess import float_input_nhwc, int8_input_nhwc, to_model_input
from .tflite.runtime import run_tflite

MAX_FLOAT_DIFF = 1e-4
MIN_AGREEMENT = 0.995


def pytorch_probabilities(model: torch.nn.Module, images: torch.Tensor, batch: int = 256) -> np.ndarray:
    """Sigmoid probability of "male" for uint8 (N, 64, 64, 3) crops."""
    out = []
    with torch.no_grad():
        for i in range(0, len(images), batch):
            out.append(torch.sigmoid(model(to_model_input(images[i : i + batch]))).numpy())
    return np.concatenate(out).astype(np.float64)


def verify(
    model_dir: Path,
    data: Path,
    split: str = "test",
    checkpoint: Path | None = None,
    limit: int | None = None,
    delegate: str = "xnnpack",
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
    model = model_from(load_checkpoint(checkpoint))

    loaded = load_split(data, split, limit)
    images, labels = loaded.images, loaded.labels.numpy()
    ref = pytorch_probabilities(model, images)
    pixels = images.numpy()
    float_out, float_report = run_tflite(model_dir / files["float32"]["path"], float_input_nhwc(pixels), delegate)
    int8_out, int8_report = run_tflite(model_dir / files["int8"]["path"], int8_input_nhwc(pixels), delegate)
    p_float = float_out.reshape(-1).astype(np.float64)
    q = int8_report["output"]["quantization"]
    p_int8 = (int8_out.reshape(-1).astype(np.float64) - q["zeroPoint"]) * q["scale"]
    threshold = float(manifest.get("threshold", 0.5))
    c_ref, c_float, c_int8 = (ref >= threshold), (p_float >= threshold), (p_int8 >= threshold)
    return {
        "n": int(len(labels)),
        "split": split,
        "float_max_abs_diff": float(np.abs(p_float - ref).max()),
        "int8_float_agreement": float((c_int8 == c_float).mean()),
        "float_accuracy": float((c_float == labels.astype(bool)).mean()),
        "int8_accuracy": float((c_int8 == labels.astype(bool)).mean()),
        "pytorch_accuracy": float((c_ref == labels.astype(bool)).mean()),
        "int8_mean_abs_diff": float(np.abs(p_int8 - p_float).mean()),
        "int8_disagreements": int((c_int8 != c_float).sum()),
        "delegate": {"float32": float_report["delegate"]["active"], "int8": int8_report["delegate"]["active"]},
        "model_id": manifest.get("id"),
        "checkpoint": str(checkpoint),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python3 -m faceedge_train.verify_export", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--model-dir", required=True, type=Path, help="folder written by faceedge_train.export")
    parser.add_argument("--data", required=True, type=Path, help="crops folder: {train,val,test}/{female,male}/*.png")
    parser.add_argument("--split", default="test", help="split to run (default test)")
    parser.add_argument("--checkpoint", type=Path, help="PyTorch checkpoint (default: the one in the manifest)")
    parser.add_argument("--limit", type=int, help="at most this many crops (default: all)")
    parser.add_argument("--delegate", default="xnnpack", choices=["xnnpack", "cpu"], help="default xnnpack")
    parser.add_argument(
        "--check",
        action="store_true",
        help=f"exit 1 unless float diff <= {MAX_FLOAT_DIFF} and agreement >= {MIN_AGREEMENT}",
    )
    args = parser.parse_args(argv)
    try:
        result = verify(args.model_dir, args.data, args.split, args.checkpoint, args.limit, args.delegate)
    except (ValueError, OSError, DatasetError) as err:
        print(f"[verify_export] error: {err}", file=sys.stderr)
        return 2
    print(json.dumps(result))
    if args.check and (result["float_max_abs_diff"] > MAX_FLOAT_DIFF or result["int8_float_agreement"] < MIN_AGREEMENT):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Export a training checkpoint as float32 and full-int8 TFLite models plus `manifest.json`.

    python3 -m faceedge_train.export --checkpoint runs/x/best.pt --calibration <crops dir> --out <dir>
        [--name faceedge-gender] [--calibration-count 500] [--calibration-method mse|minmax] [--seed 0]
        [--no-runtime-check]

Writes `<name>_float32.tflite`, `<name>_int8.tflite` and `manifest.json` into --out. The int8 model
is calibrated on --calibration-count crops drawn with --seed from `<crops>/train` (or from
`<crops>/{female,male}` when the folder has no splits), ranges chosen by --calibration-method
(see faceedge_train.calibrate). When node and the project's
`scripts/tflite-run.ts` are available, both files are run in the real TFLite runtime on the
manifest's self-test crops before the manifest is written, and the export fails if the float
model is off PyTorch by more than 1e-4.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .calibrate import METHODS, calibrate
from .checkpoint import load_checkpoint as _load_checkpoint
from .checkpoint import model_from_checkpoint
from .data import LABELS, crop_alignment, decode_files, list_split
from .fold import fold_model, run_layers
from .manifest import manifest_problems
from .model import FaceClassifier, parameter_count
from .preprocess import NORMALIZATION, float_input_nhwc, int8_input_nhwc, to_model_input
from .quantize import quantize_model, simulate_int8
from .tflite.convert import build_graph
from .tflite.runtime import run_tflite, unavailable_reason

FLOAT_TOLERANCE = 1e-4  # max |TFLite float32 - PyTorch| probability accepted
# The runtime may round an intermediate value differently from the emulation (fixed-point
# multipliers); the network carries such a difference as far as it carries quantization noise,
# so the accepted |runtime - emulation| is this many output steps plus |emulation - float|.
# Wrong scales, zero points or layouts give differences far beyond that.
INT8_TOLERANCE_STEPS = 3
SELFTEST_PER_CLASS = 2


class ExportError(RuntimeError):
    """The export cannot proceed or produced a model that does not match PyTorch."""


def load_checkpoint(path: str | os.PathLike) -> dict:
    """A checkpoint with at least what export needs (model_state, model_config)."""
    try:
        return _load_checkpoint(path, required=("model_state", "model_config"))
    except ValueError as err:
        raise ExportError(str(err)) from err


model_from = model_from_checkpoint


def calibration_files(root: Path) -> tuple[list[tuple[str, int]], str]:
    """(relative path, label index) of every crop to draw calibration from, and where they came from."""
    if (root / "train").is_dir():
        return list_split(root, "train"), "train"
    files = []
    for index, label in enumerate(LABELS):
        folder = root / label
        if folder.is_dir():
            files += [(f"{label}/{n}", index) for n in sorted(os.listdir(folder)) if n.lower().endswith(".png")]
    if not files:
        raise ExportError(f"no calibration crops in {root}/train/ or {root}/{{{','.join(LABELS)}}}/")
    return files, "."


def draw(files: list, count: int, seed: int) -> list:
    """`count` files drawn without replacement by a seeded generator, kept in listing order."""
    if count >= len(files):
        return list(files)
    picks = np.sort(np.random.default_rng(seed).choice(len(files), size=count, replace=False))
    return [files[i] for i in picks]


def _selftest_indices(model: FaceClassifier, images: np.ndarray, labels: list[int]) -> list[int]:
    """SELFTEST_PER_CLASS crops of each class from the calibration draw, in draw order, preferring
    ones the model classifies correctly with |p - 0.5| > 0.2: a self-test on another machine (whose
    kernels may round differently) then also agrees on the class."""
    with torch.no_grad():
        prob = np.concatenate(
            [
                torch.sigmoid(model(to_model_input(torch.from_numpy(images[i : i + 256])))).numpy()
                for i in range(0, len(images), 256)
            ]
        )
    chosen = []
    for c in range(len(LABELS)):
        of_class = [k for k, label in enumerate(labels) if label == c]
        clear = [k for k in of_class if (prob[k] >= 0.5) == bool(c) and abs(prob[k] - 0.5) > 0.2]
        chosen += (clear + [k for k in of_class if k not in clear])[:SELFTEST_PER_CLASS]
    return chosen


def _png_base64(image: np.ndarray) -> str:
    buf = io.BytesIO()
    Image.fromarray(image, "RGB").save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _file_entry(path: Path, graph, dtype: str) -> dict:
    data = path.read_bytes()

    def tensor(index: int) -> dict:
        t = graph.tensors[index]
        q = None if t.quant is None else {"scale": t.quant.scale[0], "zero_point": t.quant.zero_point[0]}
        return {"name": t.name, "dtype": dtype, "shape": t.shape, "quantization": q}

    return {
        "path": path.name,
        "dtype": dtype,
        "input": tensor(graph.inputs[0]),
        "output": tensor(graph.outputs[0]),
        "sha256": hashlib.sha256(data).hexdigest(),
        "bytes": len(data),
    }


def export(
    checkpoint: dict,
    calibration_root: str | os.PathLike,
    out_dir: str | os.PathLike,
    name: str = "faceedge-gender",
    calibration_count: int = 500,
    seed: int = 0,
    runtime_check: bool = True,
    log=print,
    checkpoint_path: str | os.PathLike | None = None,
    calibration_method: str = "mse",
) -> dict:
    """Write both models and the manifest; returns the manifest dict.

    checkpoint_path (optional) is recorded, with its sha256, as the manifest's source_checkpoint,
    which `verify_export` uses to find the PyTorch reference.
    """
    root, out = Path(calibration_root), Path(out_dir)
    alignment = trained_alignment(checkpoint, root)  # first: a mismatch must stop the export before any work
    model = model_from(checkpoint)
    layers = fold_model(model)
    all_files, split = calibration_files(root)
    files = draw(all_files, calibration_count, seed)
    images = decode_files(root, files)
    batches = [to_model_input(torch.from_numpy(images[i : i + 100])) for i in range(0, len(images), 100)]
    qmodel = quantize_model(layers, calibrate(layers, batches, calibration_method, seed))
    log(f"[export] calibrated ({calibration_method}) on {len(files)} crops from {root / split}")

    graphs = {
        "float32": build_graph(layers, input_size=model.config.input_size),
        "int8": build_graph(layers, qmodel, input_size=model.config.input_size),
    }
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for dtype, graph in graphs.items():
        paths[dtype] = out / f"{name}_{dtype}.tflite"
        tmp = paths[dtype].with_name(paths[dtype].name + ".tmp")
        tmp.write_bytes(graph.serialize(f"{name} ({dtype}), faceedge_train.export"))
        os.replace(tmp, paths[dtype])

    chosen = _selftest_indices(model, images, [label for _, label in files])
    golden = images[chosen]
    with torch.no_grad():
        x = to_model_input(torch.from_numpy(golden))
        prob = torch.sigmoid(model(x)).numpy()
        folded_prob = run_layers(layers, x)["prob"].reshape(-1).numpy()
    if np.abs(folded_prob - prob).max() > 1e-5:
        raise ExportError("BatchNorm folding changed the model's output")
    int8_out, emulated_prob = simulate_int8(qmodel, x)
    source = "emulation"
    reason = unavailable_reason() if runtime_check else "runtime check disabled"
    if reason is None:
        int8_out, source = _runtime_check(paths, golden, prob, int8_out, emulated_prob, log)
    else:
        log(f"[export] not checked in the TFLite runtime ({reason}); self-test int8 values are emulated")
    selftest = [
        {
            "png_base64": _png_base64(golden[k]),
            "label": LABELS[files[i][1]],
            "source": files[i][0],
            "expected_probability": float(prob[k]),
            "expected_int8": int(int8_out[k]),
            "expected_int8_probability": (int(int8_out[k]) + 128) / 256.0,
            "int8_expected_from": source,
        }
        for k, i in enumerate(chosen)
    ]

    manifest = {
        "id": name,
        "task": "binary-classification",
        "labels": list(LABELS),
        "threshold": 0.5,
        "output": {"kind": "sigmoid", "positive_label": LABELS[1], "shape": [1, 1]},
        "input": {
            "width": model.config.input_size,
            "height": model.config.input_size,
            "channels": 3,
            "layout": "NHWC",
            "color": "RGB",
            "normalization": dict(NORMALIZATION),
        },
        "files": {dtype: _file_entry(paths[dtype], graphs[dtype], dtype) for dtype in graphs},
        "parameter_count": parameter_count(model),
        "model_config": dict(checkpoint["model_config"]),
        "metrics": checkpoint.get("metrics"),
        "dataset": checkpoint.get("dataset"),
        "training": checkpoint.get("training"),
        # The learning curves travel with the model (eval's report draws them).
        "history": checkpoint.get("history"),
        # The crop geometry the model was trained on: the board must align faces the same way.
        "alignment": alignment,
        "source_checkpoint": None
        if checkpoint_path is None
        else {
            "path": str(Path(checkpoint_path).resolve()),
            "sha256": hashlib.sha256(Path(checkpoint_path).read_bytes()).hexdigest(),
        },
        "calibration": {
            "root": str(root.resolve()),
            "split": split,
            "count": len(files),
            "seed": seed,
            "method": calibration_method,
        },
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "exporter": {"module": "faceedge_train.export", "torch_version": torch.__version__},
        "selftest": selftest,
    }
    text = json.dumps(manifest, indent=2, default=_json_default) + "\n"
    problems = manifest_problems(json.loads(text))
    if problems:  # the board would refuse it: fail here, where the cause is known
        raise ExportError("the manifest breaks the contract: " + "; ".join(problems))
    (out / "manifest.json.tmp").write_text(text)
    os.replace(out / "manifest.json.tmp", out / "manifest.json")
    log(f"[export] wrote {paths['float32'].name}, {paths['int8'].name}, manifest.json to {out}")
    return json.loads(text)


def trained_alignment(checkpoint: dict, calibration_root: Path) -> dict | None:
    """The crop geometry the board must use: the one the checkpoint was trained on.

    Checkpoints from before the record fall back to the calibration crops' manifest (the folder or its
    parent). When both are known they must agree: int8 ranges measured on crops of another framing
    would not be the ranges the board's crops produce, and a mix-up of folders is the likely cause.
    """
    trained = (checkpoint.get("dataset") or {}).get("alignment")
    calibration = crop_alignment(calibration_root) or crop_alignment(calibration_root.parent)
    if trained is not None and calibration is not None and trained != calibration:
        raise ExportError(
            f"the checkpoint was trained on crops aligned as {json.dumps(trained, sort_keys=True)}, "
            f"but the calibration crops in {calibration_root} as {json.dumps(calibration, sort_keys=True)}: "
            "pass --calibration a crops folder prepared like the training data"
        )
    return trained if trained is not None else calibration


def _runtime_check(
    paths: dict, golden: np.ndarray, prob: np.ndarray, emulated: np.ndarray, emulated_prob: np.ndarray, log
):
    float_out, _ = run_tflite(paths["float32"], float_input_nhwc(golden))
    diff = float(np.abs(float_out.reshape(-1) - prob).max())
    if diff > FLOAT_TOLERANCE:
        raise ExportError(f"float32 TFLite differs from PyTorch by {diff:.2e} (> {FLOAT_TOLERANCE})")
    int8_out, _ = run_tflite(paths["int8"], int8_input_nhwc(golden))
    int8_out = int8_out.reshape(-1)
    steps = np.abs(int8_out.astype(int) - emulated.astype(int))
    allowed = INT8_TOLERANCE_STEPS + np.ceil(np.abs(emulated_prob - prob) * 256)
    if np.any(steps > allowed):
        k = int(np.argmax(steps - allowed))
        raise ExportError(
            f"int8 TFLite output is {steps[k]} steps off its emulation on self-test crop {k} (> {int(allowed[k])})"
        )
    steps = int(steps.max())
    log(f"[export] TFLite runtime check: float max |diff| {diff:.2e}, int8 within {steps} step(s) of emulation")
    return int8_out, "tflite-runtime"


def _json_default(value):
    """Checkpoint metadata may hold numpy scalars or tensors; anything else unknown becomes text."""
    if isinstance(value, (np.generic, torch.Tensor)):
        return value.tolist() if isinstance(value, torch.Tensor) else value.item()
    return str(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m faceedge_train.export", description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", required=True, help="checkpoint .pt (model_state + model_config)")
    parser.add_argument("--calibration", required=True, help="crops folder: {train,val,test}/{female,male}/*.png")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--name", default="faceedge-gender", help="model id and file name prefix")
    parser.add_argument("--calibration-count", type=int, default=500, help="crops to calibrate on (default 500)")
    parser.add_argument(
        "--calibration-method",
        choices=METHODS,
        default="mse",
        help="activation ranges: mse-optimal clipping or plain min/max (default mse)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the calibration draw (default 0)")
    parser.add_argument("--no-runtime-check", action="store_true", help="skip running the files in TFLite")
    args = parser.parse_args(argv)
    try:
        export(
            load_checkpoint(args.checkpoint),
            args.calibration,
            args.out,
            args.name,
            args.calibration_count,
            args.seed,
            runtime_check=not args.no_runtime_check,
            checkpoint_path=args.checkpoint,
            calibration_method=args.calibration_method,
        )
    except ExportError as err:
        print(f"[export] error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

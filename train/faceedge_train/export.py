"""Export a training checkpoint as float32 and full-int8 TFLite models plus `manifest.json`.

    python3 -m faceedge_train.export --checkpoint runs/x/best.pt --calibration <crops dir> --out <dir>
        [--name faceedge-gender] [--calibration-count 500] [--calibration-method mse|minmax] [--seed 0]
        [--no-runtime-check] [--confidence-data <crops dir>] [--unsure-target 0.5]

Writes `<name>_float32.tflite`, `<name>_int8.tflite` and `manifest.json` into --out. The int8 model
is calibrated on --calibration-count crops drawn with --seed from `<crops>/train` (or from
`<crops>/<label>` when the folder has no splits), ranges chosen by --calibration-method
(see faceedge_train.calibrate). When node and the project's
`scripts/tflite-run.ts` are available, both files are run in the real TFLite runtime on the
manifest's self-test crops before the manifest is written, and the export fails if the float
model is off PyTorch by more than 1e-4.

Two classes: one sigmoid output, the probability of labels[1], decided at the manifest's `threshold`
(`faceedge model calibrate` chooses it). Three or more: one logit per class (output kind "logits"); the
board applies softmax(logits / temperature). The temperature and the `unsure` floor are fitted here
(confidence.py) on the int8 model's outputs for the val split of --confidence-data (default: the
calibration folder), run in the TFLite runtime where it is available.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch

from .calibrate import METHODS, calibrate
from .checkpoint import load_checkpoint as _load_checkpoint
from .checkpoint import model_from_checkpoint
from .confidence import DEFAULT_TARGET
from .data import DatasetError, decode_files, list_split
from .export_check import ExportError, golden_outputs
from .export_head import binary_head, fit_on_val, multiclass_head
from .fold import fold_model
from .labels import GENDER, LabelSet, from_checkpoint
from .manifest import manifest_problems
from .model import parameter_count
from .preprocess import NORMALIZATION, to_model_input
from .quantize import quantize_model
from .selftest import binary_cases, multiclass_cases
from .sources import crop_alignment
from .tflite.convert import build_graph


def load_checkpoint(path: str | os.PathLike) -> dict:
    """A checkpoint with at least what export needs (model_state, model_config)."""
    try:
        return _load_checkpoint(path, required=("model_state", "model_config"))
    except ValueError as err:
        raise ExportError(str(err)) from err


model_from = model_from_checkpoint


def calibration_files(root: Path, labels: LabelSet = GENDER) -> tuple[list[tuple[str, int]], str]:
    """(relative path, label index) of every crop to draw calibration from, and where they came from."""
    if (root / "train").is_dir():
        return list_split(root, "train", labels=labels.names), "train"
    files = []
    for index, label in enumerate(labels.names):
        folder = root / label
        if folder.is_dir():
            files += [(f"{label}/{n}", index) for n in sorted(os.listdir(folder)) if n.lower().endswith(".png")]
    if not files:
        raise ExportError(f"no calibration crops in {root}/train/ or {root}/{{{','.join(labels.names)}}}/")
    return files, "."


def draw(files: list, count: int, seed: int) -> list:
    """`count` files drawn without replacement by a seeded generator, kept in listing order."""
    if count >= len(files):
        return list(files)
    picks = np.sort(np.random.default_rng(seed).choice(len(files), size=count, replace=False))
    return [files[i] for i in picks]


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
    confidence_root: str | os.PathLike | None = None,
    unsure_target: float = DEFAULT_TARGET,
) -> dict:
    """Write both models and the manifest; returns the manifest dict.

    checkpoint_path (optional) is recorded, with its sha256, as the manifest's source_checkpoint,
    which `verify_export` uses to find the PyTorch reference. confidence_root / unsure_target: where the
    val crops for an N-class model's temperature and unsure floor come from (default: calibration_root),
    and the floor's target accuracy (confidence.py).
    """
    root, out = Path(calibration_root), Path(out_dir)
    alignment = trained_alignment(checkpoint, root)  # first: a mismatch must stop the export before any work
    labels = from_checkpoint(checkpoint)
    model = model_from(checkpoint)
    if model.config.classes != len(labels.names):
        raise ExportError(f"the checkpoint has {model.config.classes} outputs' classes but labels {labels.names}")
    layers = fold_model(model)
    all_files, split = calibration_files(root, labels)
    files = draw(all_files, calibration_count, seed)
    images = decode_files(root, files)
    batches = [to_model_input(torch.from_numpy(images[i : i + 100])) for i in range(0, len(images), 100)]
    qmodel = quantize_model(layers, calibrate(layers, batches, calibration_method, seed))
    log(f"[export] calibrated ({calibration_method}) on {len(files)} crops from {root / split}")

    graphs, paths = write_models(layers, qmodel, out, name, model.config.input_size)
    golden = golden_outputs(model, layers, qmodel, images, files, labels, paths, runtime_check, log)
    names = [labels.names[files[i][1]] for i in golden.chosen]
    sources = [files[i][0] for i in golden.chosen]
    output_quant = qmodel.activations[layers[-1].output]
    if labels.binary:
        head = binary_head(labels)
        selftest = binary_cases(golden.images, names, sources, golden.reference, golden.int8, golden.int8_from)
    else:
        conf_root = Path(confidence_root) if confidence_root is not None else root
        runtime = golden.int8_from == "tflite-runtime"
        confidence = fit_on_val(conf_root, labels, paths["int8"], qmodel, output_quant, runtime, unsure_target)
        log(f"[export] confidence on {conf_root / 'val'}: {json.dumps(confidence)}")
        head = multiclass_head(labels, confidence, str(conf_root.resolve()))
        selftest = multiclass_cases(
            golden.images,
            names,
            sources,
            golden.reference,
            golden.int8,
            output_quant.scale[0],
            output_quant.zero_point[0],
            confidence["temperature"],
            golden.int8_from,
        )

    manifest = {
        "id": name,
        **head,
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


def write_models(layers, qmodel, out: Path, name: str, input_size: int) -> tuple[dict, dict]:
    """The float32 and int8 graphs written as `<name>_<dtype>.tflite` (atomically): (graphs, paths) by dtype."""
    graphs = {
        "float32": build_graph(layers, input_size=input_size),
        "int8": build_graph(layers, qmodel, input_size=input_size),
    }
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for dtype, graph in graphs.items():
        paths[dtype] = out / f"{name}_{dtype}.tflite"
        tmp = paths[dtype].with_name(paths[dtype].name + ".tmp")
        tmp.write_bytes(graph.serialize(f"{name} ({dtype}), faceedge_train.export"))
        os.replace(tmp, paths[dtype])
    return graphs, paths


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


def _json_default(value):
    """Checkpoint metadata may hold numpy scalars or tensors; anything else unknown becomes text."""
    if isinstance(value, (np.generic, torch.Tensor)):
        return value.tolist() if isinstance(value, torch.Tensor) else value.item()
    return str(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m faceedge_train.export", description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", required=True, help="checkpoint .pt (model_state + model_config)")
    parser.add_argument("--calibration", required=True, help="crops folder: {train,val,test}/<label>/*.png")
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
    parser.add_argument(
        "--confidence-data",
        default=None,
        help="N classes: crops folder whose val split fits the temperature and unsure floor (default --calibration)",
    )
    parser.add_argument(
        "--unsure-target",
        type=float,
        default=DEFAULT_TARGET,
        help="N classes: faces below the unsure floor, taken together, are right less often than this on val",
    )
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
            confidence_root=args.confidence_data,
            unsure_target=args.unsure_target,
        )
    except (ExportError, DatasetError) as err:
        print(f"[export] error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""What an exported model's output means, as the manifest says it.

Two classes: one sigmoid probability of labels[1], decided at `threshold` (0.5 until `faceedge model
calibrate` chooses one on validation through the board's path). Three or more: one logit per class; the
board computes softmax(logits / temperature) and reports `unknown` below `unsure_floor`. Both are fitted
here on the int8 model's logits for a val split (confidence.py).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .confidence import fit_confidence
from .data import DatasetError, load_split
from .export_check import ExportError
from .labels import LabelSet
from .preprocess import int8_input_nhwc, to_model_input
from .quantize import simulate_int8
from .tflite.runtime import run_tflite


def binary_head(labels: LabelSet) -> dict:
    """The manifest fields that say what a one-sigmoid model's output means (the gender model's)."""
    head = {
        "task": "binary-classification",
        "labels": list(labels.names),
        "threshold": 0.5,
        "output": {"kind": "sigmoid", "positive_label": labels.names[1], "shape": [1, 1]},
    }
    if labels.ordered:
        head["ordered"] = True
    return head


def multiclass_head(labels: LabelSet, confidence: dict, confidence_root: str) -> dict:
    """The manifest fields of a model with one logit per class: softmax(logits / temperature) on the board,
    `unknown` below the unsure floor."""
    return {
        "task": "classification",
        "labels": list(labels.names),
        "ordered": labels.ordered,
        "output": {"kind": "logits", "activation": "softmax", "shape": [1, len(labels.names)]},
        "temperature": confidence["temperature"],
        "unsure_floor": confidence["unsure_floor"],
        "confidence_calibration": dict(confidence, data=confidence_root, split="val"),
    }


def fit_on_val(root: Path, labels: LabelSet, int8_path: Path, qmodel, output_quant, runtime: bool, target: float):
    """confidence.fit_confidence on the int8 model's logits for `<root>/val`: from the TFLite runtime where
    it runs (what the board computes), else from the int8 emulation. `from` says which."""
    try:
        val = load_split(root, "val", labels=labels.names)
    except DatasetError as err:
        raise ExportError(f"an N-class model's temperature is fitted on val crops: {err}") from err
    pixels = val.images.numpy()
    if runtime:
        raw, _ = run_tflite(int8_path, int8_input_nhwc(pixels))
        logits = (raw.reshape(len(pixels), -1).astype(np.float64) - output_quant.zero_point[0]) * output_quant.scale[0]
        origin = "tflite-runtime"
    else:
        logits = np.concatenate(
            [simulate_int8(qmodel, to_model_input(val.images[i : i + 256]))[1] for i in range(0, len(pixels), 256)]
        )
        origin = "emulation"
    return dict(fit_confidence(logits, val.labels.numpy(), target), logits_from=origin)

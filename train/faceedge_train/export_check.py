"""The export's proof that the written files compute what PyTorch computes, in the real TFLite runtime.

Both files run on the self-test crops through the project's own TFLite binding (tflite/runtime.py): the
float32 file must give PyTorch's probabilities within FLOAT_TOLERANCE; the int8 file must give its
emulation's outputs (quantize.simulate_int8) within INT8_TOLERANCE_STEPS output steps, plus however far
the emulation itself is from float.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .fold import run_layers
from .labels import LabelSet
from .metrics import softmax
from .preprocess import float_input_nhwc, int8_input_nhwc, to_model_input
from .quantize import simulate_int8
from .selftest import choose_cases
from .tflite.runtime import run_tflite, unavailable_reason

FLOAT_TOLERANCE = 1e-4  # max |TFLite float32 - PyTorch| probability accepted
# The runtime may round an intermediate value differently from the emulation (fixed-point
# multipliers); the network carries such a difference as far as it carries quantization noise,
# so the accepted |runtime - emulation| is this many output steps plus |emulation - float|.
# Wrong scales, zero points or layouts give differences far beyond that.
INT8_TOLERANCE_STEPS = 3


class ExportError(RuntimeError):
    """The export cannot proceed or produced a model that does not match PyTorch."""


def runtime_check_files(
    paths: dict, golden: np.ndarray, reference: np.ndarray, emulated: np.ndarray, emulated_out, scale: float, log
):
    """Run both files on the self-test crops in the real TFLite runtime: the float file must give PyTorch's
    probabilities within FLOAT_TOLERANCE, the int8 file its emulation's outputs within INT8_TOLERANCE_STEPS
    steps plus the emulation's own distance from float. Returns (int8 outputs, "tflite-runtime")."""
    binary = reference.ndim == 1
    float_out, _ = run_tflite(paths["float32"], float_input_nhwc(golden))
    float_out = float_out.reshape(reference.shape)
    diff = float(
        np.abs(float_out - reference).max() if binary else np.abs(softmax(float_out) - softmax(reference)).max()
    )
    if diff > FLOAT_TOLERANCE:
        raise ExportError(f"float32 TFLite differs from PyTorch by {diff:.2e} (> {FLOAT_TOLERANCE})")
    int8_out, _ = run_tflite(paths["int8"], int8_input_nhwc(golden))
    int8_out = int8_out.reshape(emulated.shape)
    steps = np.abs(int8_out.astype(int) - emulated.astype(int))
    if binary:  # the output scale is the LOGISTIC's fixed 1/256
        allowed = INT8_TOLERANCE_STEPS + np.ceil(np.abs(emulated_out - reference) * 256)
    else:
        allowed = INT8_TOLERANCE_STEPS + np.ceil(np.abs(emulated_out - reference) / scale)
    if np.any(steps > allowed):
        k = np.unravel_index(int(np.argmax(steps - allowed)), steps.shape)
        raise ExportError(
            f"int8 TFLite output is {steps[k]} steps off its emulation on self-test crop {k[0]} (> {int(allowed[k])})"
        )
    steps = int(steps.max())
    log(f"[export] TFLite runtime check: float max |diff| {diff:.2e}, int8 within {steps} step(s) of emulation")
    return int8_out, "tflite-runtime"


def float_outputs(model, images: np.ndarray, batch: int = 256) -> np.ndarray:
    """The PyTorch model's outputs as the float TFLite file gives them: the probability of labels[1] (N,)
    for a one-logit model, the logits (N, classes) for one logit per class."""
    with torch.no_grad():
        out = [model(to_model_input(torch.from_numpy(images[i : i + batch]))) for i in range(0, len(images), batch)]
    out = torch.cat(out)
    return (torch.sigmoid(out) if out.ndim == 1 else out).numpy()


@dataclass
class Golden:
    """The self-test crops (`chosen`: indices into the calibration draw) and their outputs: PyTorch's
    (`reference`: probability or logits) and the int8 file's (from the runtime where it ran)."""

    chosen: list[int]
    images: np.ndarray
    reference: np.ndarray
    int8: np.ndarray
    int8_from: str


def golden_outputs(model, layers, qmodel, images, files, labels: LabelSet, paths, runtime_check: bool, log) -> Golden:
    """Choose the self-test crops and compute their outputs; checks that BatchNorm folding kept the model's
    function and, where the TFLite runtime runs, that both files compute what PyTorch and the emulation do."""
    chosen = choose_cases(float_outputs(model, images), [label for _, label in files], labels)
    golden = images[chosen]
    reference = float_outputs(model, golden, batch=len(golden))
    with torch.no_grad():
        x = to_model_input(torch.from_numpy(golden))
        folded = run_layers(layers, x)[layers[-1].output].numpy()
    folded = folded.reshape(-1) if labels.binary else folded
    if np.abs(_comparable(folded, labels) - _comparable(reference, labels)).max() > 1e-5:
        raise ExportError("BatchNorm folding changed the model's output")
    int8_out, emulated = simulate_int8(qmodel, x)
    reason = unavailable_reason() if runtime_check else "runtime check disabled"
    if reason is not None:
        log(f"[export] not checked in the TFLite runtime ({reason}); self-test int8 values are emulated")
        return Golden(chosen, golden, reference, int8_out, "emulation")
    scale = qmodel.activations[layers[-1].output].scale[0]
    int8_out, source = runtime_check_files(paths, golden, reference, int8_out, emulated, scale, log)
    return Golden(chosen, golden, reference, int8_out, source)


def _comparable(outputs: np.ndarray, labels: LabelSet) -> np.ndarray:
    """Outputs on the scale their tolerances are stated in: probabilities (sigmoid or softmax)."""
    return outputs if labels.binary else softmax(outputs)

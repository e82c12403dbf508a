"""The golden self-test a model package carries (`manifest.selftest`): crops with the outputs the export saw.

A board loads a candidate model in its own interpreter and must reproduce these outputs before the model
may replace the serving one. The crops come from the calibration draw, preferring ones the model
classifies right and clearly (so that a board whose kernels round a little differently still agrees on the
class):
- two classes: SELFTEST_PER_CLASS crops per class, |p - 0.5| > 0.2; each case records the float model's
  probability of labels[1] (`expected_probability`) and the int8 model's raw output (`expected_int8`) and
  its probability (`expected_int8_probability`), as before N classes;
- three or more: one crop per class (at most MAX_MULTICLASS_CASES, the first classes in label order), its
  top logit CLEAR_GAP above the second (e-fold more likely); each case records the logits
  (`expected_logits`, float model; `expected_int8` raw int8 outputs and `expected_int8_logits`
  dequantized), the calibrated probabilities
  (`expected_probabilities`: softmax at the manifest's temperature) and `expected_probability`, the top one.
"""

from __future__ import annotations

import base64
import io

import numpy as np
from PIL import Image

from .labels import LabelSet
from .metrics import softmax

SELFTEST_PER_CLASS = 2
MAX_MULTICLASS_CASES = 12
CLEAR_MARGIN = 0.2  # two classes: |p - 0.5| above this
CLEAR_GAP = 1.0  # more: the top logit at least this far above the second


def choose_cases(outputs: np.ndarray, labels: list[int], label_set: LabelSet) -> list[int]:
    """Indices into the calibration draw of the self-test crops, in draw order within each class.

    outputs: the float model's probability of labels[1] (N,) for two classes, logits (N, C) for more;
    labels: each drawn crop's class index."""
    if label_set.binary:
        per_class = SELFTEST_PER_CLASS

        def clear(k: int, c: int) -> bool:
            return (outputs[k] >= 0.5) == bool(c) and abs(outputs[k] - 0.5) > CLEAR_MARGIN
    else:
        per_class = 1
        ranked = np.sort(outputs, axis=1)

        def clear(k: int, c: int) -> bool:
            return int(outputs[k].argmax()) == c and ranked[k, -1] - ranked[k, -2] > CLEAR_GAP

    chosen: list[int] = []
    for c in range(len(label_set.names)):
        of_class = [k for k, label in enumerate(labels) if label == c]
        clear_ones = [k for k in of_class if clear(k, c)]
        chosen += (clear_ones + [k for k in of_class if k not in clear_ones])[:per_class]
        if not label_set.binary and len(chosen) >= MAX_MULTICLASS_CASES:
            break
    return chosen


def png_base64(image: np.ndarray) -> str:
    buf = io.BytesIO()
    Image.fromarray(image, "RGB").save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def binary_cases(golden, names, sources, prob, int8_out, int8_from: str) -> list[dict]:
    """Self-test entries of a two-class model (the fields the board has checked since the first model)."""
    return [
        {
            "png_base64": png_base64(golden[k]),
            "label": names[k],
            "source": sources[k],
            "expected_probability": float(prob[k]),
            "expected_int8": int(int8_out[k]),
            "expected_int8_probability": (int(int8_out[k]) + 128) / 256.0,
            "int8_expected_from": int8_from,
        }
        for k in range(len(golden))
    ]


def multiclass_cases(
    golden, names, sources, logits, int8_out, int8_scale: float, int8_zero_point: int, temperature, int8_from
) -> list[dict]:
    """Self-test entries of a model with one logit per class (see the module docstring)."""
    probabilities = softmax(logits, temperature)
    cases = []
    for k in range(len(golden)):
        raw = [int(v) for v in int8_out[k]]
        cases.append(
            {
                "png_base64": png_base64(golden[k]),
                "label": names[k],
                "source": sources[k],
                "expected_logits": [float(v) for v in logits[k]],
                "expected_probabilities": [float(p) for p in probabilities[k]],
                "expected_probability": float(probabilities[k].max()),
                "expected_int8": raw,
                "expected_int8_logits": [(v - int8_zero_point) * int8_scale for v in raw],
                "int8_expected_from": int8_from,
            }
        )
    return cases

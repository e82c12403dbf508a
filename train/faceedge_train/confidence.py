"""How sure an N-class model is allowed to sound: a temperature and an `unsure` floor, fitted on validation.

A network trained with cross-entropy is usually over-confident: its top probability says 0.9 where it is
right 70 % of the time. Dividing every logit by one temperature T > 1 (fitted to minimise the negative
log-likelihood of the validation labels; T < 1 where it is under-confident) makes the softmax honest
without changing which class wins (Guo et al., "On Calibration of Modern Neural Networks", 2017).

The floor is where a guess stops being worth making: the top probability below which a prediction is
right less often than `target` (0.5: more often wrong than right). How often a prediction of top
probability p is right is read off the validation predictions themselves, by an isotonic (monotone
non-decreasing) fit of correct/wrong on p, so it does not depend on the temperature being perfect. A face
whose top probability is below the floor is reported as `unknown`. (A rule on the declined faces taken
together, "right less often than target as a group", declined 73 % of the age model's validation faces,
whose accuracy is 59 % overall: too strict a reading of "rather than guess".) Both numbers go into the
manifest (`temperature`, `unsure_floor`), with what they did on validation (`confidence_calibration`).
Two-class models keep their decision threshold instead.
"""

from __future__ import annotations

import math

import numpy as np

from .metrics import expected_calibration_error, softmax

T_MIN, T_MAX = 0.05, 20.0
DEFAULT_TARGET = 0.5


def nll(logits: np.ndarray, labels: np.ndarray, temperature: float) -> float:
    """Mean negative log-likelihood of int labels under softmax(logits / temperature)."""
    z = np.asarray(logits, dtype=np.float64) / temperature
    z = z - z.max(axis=1, keepdims=True)
    log_norm = np.log(np.exp(z).sum(axis=1))
    return float(np.mean(log_norm - z[np.arange(len(labels)), labels]))


def fit_temperature(logits: np.ndarray, labels: np.ndarray, iterations: int = 80) -> float:
    """The temperature in [T_MIN, T_MAX] minimising `nll`. The NLL is convex in 1/T, so a golden-section
    search over log T finds the minimum to ~1e-6 relative in 80 steps."""
    labels = np.asarray(labels).astype(np.int64)
    lo, hi = math.log(T_MIN), math.log(T_MAX)
    ratio = (math.sqrt(5) - 1) / 2
    a, b = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
    fa, fb = nll(logits, labels, math.exp(a)), nll(logits, labels, math.exp(b))
    for _ in range(iterations):
        if fa < fb:
            hi, b, fb = b, a, fa
            a = hi - ratio * (hi - lo)
            fa = nll(logits, labels, math.exp(a))
        else:
            lo, a, fa = a, b, fb
            b = lo + ratio * (hi - lo)
            fb = nll(logits, labels, math.exp(b))
    return float(math.exp((lo + hi) / 2))


def isotonic(values: np.ndarray) -> np.ndarray:
    """The non-decreasing sequence closest to `values` in squared error (pool adjacent violators)."""
    means, sizes = [], []
    for value in np.asarray(values, dtype=np.float64):
        means.append(value)
        sizes.append(1)
        while len(means) > 1 and means[-2] > means[-1]:
            size = sizes[-2] + sizes[-1]
            means[-2:] = [(means[-2] * sizes[-2] + means[-1] * sizes[-1]) / size]
            sizes[-2:] = [size]
    return np.repeat(means, sizes)


def unsure_floor(top: np.ndarray, correct: np.ndarray, target: float = DEFAULT_TARGET) -> float:
    """The top-probability floor below which a prediction is right less often than `target`, by an isotonic
    fit of correctness on the top probability (equal probabilities pooled first, so a floor never splits
    them): midway between the last distinct probability fitted below target and the first fitted at or above
    it; 0 when even the least confident is right often enough, just above the largest when none is."""
    order = np.argsort(top, kind="mergesort")
    top, correct = np.asarray(top, dtype=np.float64)[order], np.asarray(correct, dtype=np.float64)[order]
    distinct, first = np.unique(top, return_index=True)
    counts = np.diff(np.r_[first, len(top)])
    pooled = np.add.reduceat(correct, first) / counts
    fitted = isotonic(np.repeat(pooled, counts))[first]  # one value per distinct probability
    reached = np.flatnonzero(fitted >= target)
    if len(reached) == 0:
        return float(np.nextafter(distinct[-1], 1.0))
    k = int(reached[0])
    if k == 0:
        return 0.0
    return float((distinct[k - 1] + distinct[k]) / 2)


def fit_confidence(logits: np.ndarray, labels: np.ndarray, target: float = DEFAULT_TARGET) -> dict:
    """Temperature and unsure floor for (N, C) validation logits and int labels, with what they do there:
    {temperature, unsure_floor, target, n, nll and ece before/after, answered (share above the floor),
    accuracy_answered, accuracy_all}."""
    labels = np.asarray(labels).astype(np.int64)
    temperature = round(fit_temperature(logits, labels), 4)  # what the manifest holds is what is scored here
    probabilities = softmax(logits, temperature)
    top = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    floor = round(unsure_floor(top, correct, target), 4)
    answered = top >= floor
    return {
        "temperature": temperature,
        "unsure_floor": floor,
        "target": target,
        "n": int(len(labels)),
        "nll": {"before": round(nll(logits, labels, 1.0), 4), "after": round(nll(logits, labels, temperature), 4)},
        "ece": {
            "before": round(expected_calibration_error(labels, softmax(logits)), 4),
            "after": round(expected_calibration_error(labels, probabilities), 4),
        },
        "answered": round(float(answered.mean()), 4),
        "accuracy_answered": round(float(correct[answered].mean()), 4) if answered.any() else None,
        "accuracy_all": round(float(correct.mean()), 4),
    }

"""How sure an N-class model is allowed to sound: a temperature and an `unsure` floor, fitted on validation.

A network trained with cross-entropy is usually over-confident: its top probability says 0.9 where it is
right 70 % of the time. Dividing every logit by one temperature T > 1 (fitted to minimise the negative
log-likelihood of the validation labels; T < 1 where it is under-confident) makes the softmax honest
without changing which class wins (Guo et al., "On Calibration of Modern Neural Networks", 2017).

With honest probabilities, the floor is where a guess stops being worth making: the largest top
probability below which the validation predictions, taken together, are right less often than
`target` (0.5: more often wrong than right). A face whose top probability is below the floor is reported
as `unknown`. Both numbers go into the manifest (`temperature`, `unsure_floor`), with what they did on
validation (`confidence_calibration`). Two-class models keep their decision threshold instead.
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


def unsure_floor(top: np.ndarray, correct: np.ndarray, target: float = DEFAULT_TARGET) -> float:
    """The top-probability floor: midway between the largest group of least-confident predictions that is
    right less often than `target` and the next prediction up; 0 when even the least confident one alone
    is right often enough (the model is then never unsure)."""
    order = np.argsort(top, kind="mergesort")
    top, correct = np.asarray(top, dtype=np.float64)[order], np.asarray(correct, dtype=np.float64)[order]
    running = np.cumsum(correct) / np.arange(1, len(top) + 1)
    below = np.flatnonzero(running < target)
    if len(below) == 0:
        return 0.0
    k = int(below[-1])  # the k + 1 least confident, together, are right less often than target
    while k >= 0 and k + 1 < len(top) and top[k] == top[k + 1]:
        k -= 1  # a floor cannot split equal probabilities: leave all of them answered
    if k < 0:
        return 0.0
    if k + 1 == len(top):
        return float(np.nextafter(top[k], 1.0))  # every prediction is unsure
    return float((top[k] + top[k + 1]) / 2)


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

"""The N-class confidence calibration: the temperature and the unsure floor on inputs whose answer is known."""

from __future__ import annotations

import numpy as np
import pytest
from faceedge_train.confidence import fit_confidence, fit_temperature, isotonic, nll, unsure_floor
from faceedge_train.metrics import expected_calibration_error, multiclass_metrics, softmax


def sampled(n: int, classes: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Logits z and labels drawn from softmax(z): z is perfectly calibrated at temperature 1."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 2.0, (n, classes))
    p = softmax(z)
    labels = np.array([rng.choice(classes, p=row) for row in p])
    return z, labels


@pytest.mark.parametrize("scale", [3.0, 1.0, 0.5])
def test_the_temperature_undoes_a_known_over_or_under_confidence(scale):
    z, labels = sampled(20_000, 5, seed=1)
    t = fit_temperature(z * scale, labels)  # logits `scale` times too confident: T = scale puts them back
    assert t == pytest.approx(scale, rel=0.05)
    assert nll(z * scale, labels, t) <= nll(z * scale, labels, 1.0) + 1e-12


def test_the_fitted_temperature_minimises_the_nll():
    z, labels = sampled(3_000, 4, seed=2)
    t = fit_temperature(z * 2.2, labels)
    for other in (t * 0.9, t * 1.1):
        assert nll(z * 2.2, labels, t) < nll(z * 2.2, labels, other)


def test_the_unsure_floor_on_known_inputs():
    top = np.array([0.9, 0.2, 0.6, 0.3, 0.4])
    # In order of probability: wrong, wrong, right, right, right: guesses from 0.4 up are worth making.
    assert unsure_floor(top, np.array([1, 0, 1, 0, 1])) == pytest.approx(0.35)  # midway between 0.3 and 0.4
    assert unsure_floor(top, np.array([1, 0, 1, 0, 1]), target=0.9) == pytest.approx(0.35)
    # right, wrong, wrong, right, right: the monotone fit pools the first three at 1/3, so 0.6 is the first
    # probability right at least half the time.
    assert unsure_floor(top, np.array([1, 1, 1, 0, 0])) == pytest.approx(0.5)
    assert unsure_floor(top, np.ones(5)) == 0.0  # always right: never unsure
    assert unsure_floor(top, np.zeros(5)) > 0.9  # always wrong: always unsure
    # A floor never splits equal probabilities: the three 0.4s, right once, are pooled at 1/3.
    tied = np.array([0.3, 0.4, 0.4, 0.4, 0.8])
    assert unsure_floor(tied, np.array([0, 1, 0, 0, 1])) == pytest.approx(0.6)
    assert unsure_floor(tied, np.array([0, 0, 1, 1, 1])) == pytest.approx(0.35)


def test_isotonic_fit_pools_adjacent_violators():
    np.testing.assert_allclose(isotonic([0, 1, 0, 1, 1]), [0, 0.5, 0.5, 1, 1])
    np.testing.assert_allclose(isotonic([1, 0, 0, 1]), [1 / 3, 1 / 3, 1 / 3, 1])
    np.testing.assert_allclose(isotonic([0.1, 0.2, 0.3]), [0.1, 0.2, 0.3])


def test_fit_confidence_reports_what_the_floor_does_on_validation():
    z, labels = sampled(5_000, 6, seed=3)
    result = fit_confidence(z * 2.0, labels)
    assert result["temperature"] == pytest.approx(2.0, rel=0.08)
    assert result["nll"]["after"] < result["nll"]["before"] and result["ece"]["after"] < result["ece"]["before"]
    assert 0 < result["unsure_floor"] < 1 and 0 < result["answered"] < 1
    assert result["accuracy_answered"] > result["accuracy_all"]
    top = softmax(z * 2.0, result["temperature"]).max(axis=1)
    assert result["answered"] == pytest.approx(float((top >= result["unsure_floor"]).mean()), abs=1e-4)


def test_multiclass_metrics_count_steps_for_ordered_labels():
    labels = np.array([0, 1, 2, 3, 3, 0])
    logits = np.eye(4)[[0, 2, 2, 0, 3, 3]] * 5  # predicted 0, 2, 2, 0, 3, 3
    m = multiclass_metrics(labels, logits, ("a", "b", "c", "d"), ordered=True)
    assert m["confusion"] == [[1, 0, 0, 1], [0, 0, 1, 0], [0, 0, 1, 0], [1, 0, 0, 1]]
    assert m["accuracy"] == pytest.approx(3 / 6) and m["macro_recall"] == pytest.approx((0.5 + 0 + 1 + 0.5) / 4)
    assert m["off_by_more_than_one"] == pytest.approx(2 / 6)  # 3 -> 0 and 0 -> 3
    assert m["mean_abs_step_error"] == pytest.approx((0 + 1 + 0 + 3 + 0 + 3) / 6)
    assert m["per_class"]["b"] == {"precision": None, "recall": 0.0, "support": 1}
    assert "off_by_more_than_one" not in multiclass_metrics(labels, logits, ("a", "b", "c", "d"))


def test_expected_calibration_error_is_zero_for_honest_probabilities():
    labels = np.array([0] * 8 + [1] * 2)  # 80 % right at probability 0.8
    probabilities = np.tile([0.8, 0.2], (10, 1))
    assert expected_calibration_error(labels, probabilities) == pytest.approx(0.0)
    assert expected_calibration_error(np.ones(10, dtype=int), probabilities) == pytest.approx(0.8)

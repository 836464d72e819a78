"""Temperature scaling, the calibration error and the "not sure" threshold, on numbers with known answers."""

import numpy as np
import pytest

from nocode_widgets.models.calibrate import (apply_temperature, calibrate, ece, fit_temperature, reliability,
                                             sure_threshold)


def softmax(z):
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def overconfident(n=4000, classes=4, sharpen=2.5, seed=0):
    """Labels drawn from softmax(z); the "model" reports softmax(sharpen * z): overconfident by `sharpen`."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 1.5, (n, classes))
    truth = softmax(z)
    labels = np.array([rng.choice(classes, p=p) for p in truth])
    return softmax(sharpen * z), labels


def test_temperature_scaling_finds_how_overconfident_a_model_is_and_fixes_its_calibration():
    probs, labels = overconfident(sharpen=2.5)
    t = fit_temperature(probs, labels)
    assert t == pytest.approx(2.5, rel=0.12)
    calibrated = apply_temperature(probs, t)
    assert (calibrated.argmax(1) == probs.argmax(1)).all()  # never changes the answer
    assert ece(calibrated, labels) < 0.3 * ece(probs, labels)
    result = calibrate(probs, labels)
    assert result["ece_after"] < 0.5 * result["ece_before"] and result["nll_after"] < result["nll_before"]


def test_an_underconfident_model_is_sharpened_and_a_perfect_one_left_alone():
    probs, labels = overconfident(sharpen=0.5, seed=1)
    assert fit_temperature(probs, labels) == pytest.approx(0.5, rel=0.15)
    right = np.array([[0.7, 0.3], [0.2, 0.8], [0.6, 0.4]])
    assert fit_temperature(right, np.array([0, 1, 0])) == 1.0  # no mistake: no evidence to sharpen on
    assert np.allclose(apply_temperature(right, 1.0), right)


def test_the_reliability_bins_count_every_answer_and_measure_their_accuracy():
    probs = np.array([[0.95, 0.05], [0.92, 0.08], [0.55, 0.45], [0.15, 0.85]])
    labels = np.array([0, 1, 0, 1])
    bins = reliability(probs, labels)
    assert sum(b["count"] for b in bins) == 4 and len(bins) == 10
    top = bins[9]  # confidences 0.95 and 0.92: one right, one wrong
    assert top["count"] == 2 and top["accuracy"] == 0.5 and top["confidence"] == pytest.approx(0.935)
    assert ece(probs, labels) == pytest.approx((2 * abs(0.5 - 0.935) + abs(1 - 0.55) + abs(1 - 0.85)) / 4)


def test_the_sure_threshold_keeps_answers_right_at_least_95_percent_of_the_time():
    probs, labels = overconfident(n=3000, sharpen=1.0, seed=2)
    chosen = sure_threshold(probs, labels)
    conf, right = probs.max(1), probs.argmax(1) == labels
    kept = conf >= chosen["threshold"]
    assert right[kept].mean() >= 0.95 and chosen["sure_accuracy"] == pytest.approx(right[kept].mean())
    assert 0 < chosen["coverage"] < 1 and chosen["coverage"] == pytest.approx(kept.mean())
    lower = conf >= np.quantile(conf[~kept], 0.5) if (~kept).any() else kept
    assert right[lower].mean() < 0.95 or lower.sum() == kept.sum()  # going lower would break the promise
    hopeless = sure_threshold(np.full((20, 2), 0.5), np.array([0, 1] * 10))
    assert hopeless["threshold"] == 1.0 and hopeless["sure_accuracy"] is None

import numpy as np
import pytest

from nocode_widgets.models.evaluate import confusion_matrix, evaluate


def test_metrics_against_hand_computed_values():
    # true: a a a b b c ; predicted: a a b b c c
    y = [0, 0, 0, 1, 1, 2]
    probs = np.eye(3)[[0, 0, 1, 1, 2, 2]] * 0.7 + 0.1
    ev = evaluate(y, probs, ["a", "b", "c"])
    # a: P=2/2 R=2/3 F1=0.8 ; b: P=1/2 R=1/2 F1=0.5 ; c: P=1/2 R=1/1 F1=2/3
    assert ev.accuracy == pytest.approx(4 / 6)
    assert [round(c.f1, 6) for c in ev.per_class] == [0.8, 0.5, round(2 / 3, 6)]
    assert [c.support for c in ev.per_class] == [3, 2, 1]
    assert ev.weighted_f1 == pytest.approx((0.8 * 3 + 0.5 * 2 + 2 / 3 * 1) / 6)
    assert ev.macro_f1 == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)
    assert ev.confusion == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    assert [(m.index, m.true, m.predicted) for m in ev.mistakes] == [(2, "a", "b"), (4, "b", "c")]
    assert ev.mistakes[0].confidence == pytest.approx(0.8)


def test_mistakes_are_sorted_most_confident_first():
    probs = np.array([[0.4, 0.6], [0.1, 0.9], [0.8, 0.2]])
    ev = evaluate([0, 0, 1], probs, ["x", "y"])
    assert [m.index for m in ev.mistakes] == [1, 2, 0]  # confidences 0.9, 0.8, 0.6


def test_class_never_predicted_has_zero_precision_not_nan():
    ev = evaluate([0, 1], np.array([[0.9, 0.1], [0.8, 0.2]]), ["x", "y"])
    assert ev.per_class[1].precision == 0 and ev.per_class[1].f1 == 0


def test_confusion_matrix_rows_are_true_classes():
    assert confusion_matrix([0, 1, 1], [1, 1, 0], 2).tolist() == [[0, 1], [1, 1]]

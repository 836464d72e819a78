"""Metrics for a classifier, from true labels and predicted probabilities: accuracy, weighted and
macro F1, per-class precision/recall/F1/support, the confusion matrix (rows: true class, columns:
predicted class) and the mistakes, most confident first. Plain numpy, no torch."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class ClassScore:
    label: str
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class Mistake:
    index: int  # position in the evaluated set
    true: str
    predicted: str
    confidence: float  # probability given to the predicted class


@dataclass(frozen=True)
class Evaluation:
    split: str  # which part it was measured on: "validation" or "test"
    accuracy: float
    weighted_f1: float
    macro_f1: float
    per_class: list[ClassScore]
    confusion: list[list[int]]
    mistakes: list[Mistake]
    count: int

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict) -> "Evaluation":
        return cls(d["split"], d["accuracy"], d["weighted_f1"], d["macro_f1"],
                   [ClassScore(**c) for c in d["per_class"]], d["confusion"], [Mistake(**m) for m in d["mistakes"]],
                   d["count"])


def confusion_matrix(y_true, y_pred, num_classes: int) -> np.ndarray:
    m = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(m, (np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)), 1)
    return m


def f1_scores(y_true, y_pred, num_classes: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-class precision, recall, F1 and support (0 where undefined, as scikit-learn does)."""
    return confusion_f1(confusion_matrix(y_true, y_pred, num_classes))


def confusion_scores(m) -> dict:
    """Accuracy, weighted and macro F1 (over classes present) and per-class F1 from a confusion matrix alone:
    what scoring a hidden test set keeps (no per-picture answer)."""
    m = np.asarray(m, dtype=np.int64)
    _, _, f1, support = confusion_f1(m)
    total, present = support.sum(), support > 0
    return {"accuracy": float(np.trace(m) / total) if total else 0.0,
            "weighted_f1": float((f1 * support).sum() / total) if total else 0.0,
            "macro_f1": float(f1[present].mean()) if present.any() else 0.0,
            "per_class_f1": [float(x) for x in f1]}


def confusion_f1(m: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-class precision, recall, F1 and support of a confusion matrix (rows: true class)."""
    tp = np.diag(m).astype(float)
    predicted, support = m.sum(0).astype(float), m.sum(1).astype(float)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, support, out=np.zeros_like(tp), where=support > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)
    return precision, recall, f1, support.astype(int)


def weighted_f1(y_true, y_pred, num_classes: int) -> float:
    _, _, f1, support = f1_scores(y_true, y_pred, num_classes)
    return float((f1 * support).sum() / support.sum()) if support.sum() else 0.0


def evaluate(y_true, probs, classes: list[str], split: str = "validation", max_mistakes: int = 200) -> Evaluation:
    y_true = np.asarray(y_true, dtype=np.int64)
    probs = np.asarray(probs, dtype=np.float64).reshape(len(y_true), len(classes))
    y_pred = probs.argmax(1) if len(y_true) else np.zeros(0, dtype=np.int64)
    k = len(classes)
    precision, recall, f1, support = f1_scores(y_true, y_pred, k)
    present = support > 0
    wrong = np.flatnonzero(y_pred != y_true)
    conf = probs[wrong, y_pred[wrong]] if len(wrong) else np.zeros(0)
    order = wrong[np.argsort(-conf, kind="stable")][:max_mistakes]
    return Evaluation(
        split=split,
        accuracy=float((y_pred == y_true).mean()) if len(y_true) else 0.0,
        weighted_f1=float((f1 * support).sum() / support.sum()) if support.sum() else 0.0,
        macro_f1=float(f1[present].mean()) if present.any() else 0.0,
        per_class=[ClassScore(classes[c], float(precision[c]), float(recall[c]), float(f1[c]), int(support[c]))
                   for c in range(k)],
        confusion=confusion_matrix(y_true, y_pred, k).tolist(),
        mistakes=[Mistake(int(i), classes[y_true[i]], classes[y_pred[i]], float(probs[i, y_pred[i]])) for i in order],
        count=int(len(y_true)),
    )

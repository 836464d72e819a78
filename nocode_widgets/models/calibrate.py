"""Confidence you can trust, in plain numpy (page kernels and predictors use it without torch).

- *Temperature scaling* (Guo et al., 2017): one number T fitted on the held-back validation pictures;
  the calibrated probabilities are softmax(log p / T), which equals softmax(logits / T), so it applies on
  top of any model's probabilities (the ONNX model's included). It never changes which class wins.
- *Expected calibration error* (ECE, 10 equal-width confidence bins): how far "says 90%" is from
  "right 90% of the time", before and after. The "after" figure is cross-fitted: T fitted on one half of
  the validation pictures is measured on the other half, and the other way round, so it is not the
  flattering in-sample number.
- *The "not sure" threshold*: the lowest calibrated confidence above which answers on the validation
  pictures were right at least `target` (95%) of the time; below it, the app says "not sure".
"""

from __future__ import annotations

import numpy as np

from ..pictures.portable import picture_stats, with_temperature

BINS = 10
TARGET = 0.95
MIN_SURE = 5  # a threshold must leave at least this many validation answers "sure"
_LOG_T = (np.log(0.05), np.log(20.0))


def apply_temperature(probs: np.ndarray, temperature: float) -> np.ndarray:
    """softmax(log p / T), row by row (one definition: the bundle's predict.py applies it too)."""
    return with_temperature(probs, temperature)


def nll(probs: np.ndarray, labels: np.ndarray) -> float:
    return float(-np.log(np.clip(probs[np.arange(len(labels)), labels], 1e-12, 1.0)).mean())


def fit_temperature(probs: np.ndarray, labels: np.ndarray) -> float:
    """The T in [0.05, 20] with the lowest negative log-likelihood (golden-section search on log T;
    the NLL is convex in 1/T). With no mistake among the pictures, 1: the likelihood would only ever ask
    for sharper probabilities (T -> 0), which a handful of right answers does not justify."""
    labels = np.asarray(labels, dtype=np.int64)
    if len(labels) < 2 or bool((np.argmax(probs, axis=1) == labels).all()):
        return 1.0
    loss = lambda log_t: nll(apply_temperature(probs, float(np.exp(log_t))), labels)  # noqa: E731
    lo, hi = _LOG_T
    ratio = (np.sqrt(5) - 1) / 2
    a, b = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
    fa, fb = loss(a), loss(b)
    for _ in range(60):
        if fa < fb:
            hi, b, fb = b, a, fa
            a = hi - ratio * (hi - lo)
            fa = loss(a)
        else:
            lo, a, fa = a, b, fb
            b = lo + ratio * (hi - lo)
            fb = loss(b)
    return float(np.exp((lo + hi) / 2))


def reliability(probs: np.ndarray, labels: np.ndarray, bins: int = BINS) -> list[dict]:
    """Per confidence bin: its range, how many answers, their mean confidence and their accuracy."""
    conf, right = np.max(probs, axis=1), (np.argmax(probs, axis=1) == labels)
    edges = np.linspace(0, 1, bins + 1)
    where = np.clip(np.digitize(conf, edges[1:-1], right=True), 0, bins - 1)
    out = []
    for k in range(bins):
        mask = where == k
        out.append({"low": float(edges[k]), "high": float(edges[k + 1]), "count": int(mask.sum()),
                    "confidence": float(conf[mask].mean()) if mask.any() else None,
                    "accuracy": float(right[mask].mean()) if mask.any() else None})
    return out


def ece(probs: np.ndarray, labels: np.ndarray, bins: int = BINS) -> float:
    table, n = reliability(probs, labels, bins), max(len(labels), 1)
    return float(sum(b["count"] / n * abs(b["accuracy"] - b["confidence"]) for b in table if b["count"]))


def sure_threshold(probs: np.ndarray, labels: np.ndarray, target: float = TARGET) -> dict:
    """The lowest confidence t such that the answers at or above t were right at least `target` of the
    time (at least MIN_SURE of them, or all of a smaller set); with none, t = 1.0 (never sure)."""
    conf, right = np.max(probs, axis=1), (np.argmax(probs, axis=1) == labels)
    order = np.argsort(-conf, kind="stable")
    hits = np.cumsum(right[order])
    counts = np.arange(1, len(order) + 1)
    ok = (hits / counts >= target) & (counts >= min(MIN_SURE, len(order)))  # a tiny set: all of it
    if not ok.any():
        return {"threshold": 1.0, "coverage": 0.0, "sure_accuracy": None, "target": target}
    k = int(np.nonzero(ok)[0].max())  # the most answers kept while still right often enough
    return {"threshold": float(conf[order][k]), "coverage": float(counts[k] / len(order)),
            "sure_accuracy": float(hits[k] / counts[k]), "target": target}


def calibrate(probs: np.ndarray, labels: np.ndarray, seed: int = 0) -> dict:
    """Everything Results shows and predictors need, from the validation pictures' probabilities."""
    probs, labels = np.asarray(probs, dtype=np.float64), np.asarray(labels, dtype=np.int64)
    temperature = fit_temperature(probs, labels)
    calibrated = apply_temperature(probs, temperature)
    halves = np.random.default_rng(seed).permutation(len(labels)) % 2 == 0
    crossed = probs.copy()
    for fit_on in (halves, ~halves):
        if fit_on.sum() >= 2 and (~fit_on).any():
            crossed[~fit_on] = apply_temperature(probs[~fit_on], fit_temperature(probs[fit_on], labels[fit_on]))
    return {"temperature": temperature, "count": int(len(labels)),
            "ece_before": ece(probs, labels), "ece_after": ece(crossed, labels),
            "nll_before": nll(probs, labels) if len(labels) else None,
            "nll_after": nll(crossed, labels) if len(labels) else None,
            "reliability_before": reliability(probs, labels), "reliability_after": reliability(crossed, labels),
            **sure_threshold(calibrated, labels)}


def typical_pictures(train_uint8, held_uint8, batch: int = 256, quantile: float = 0.995, margin: float = 1.25) -> dict:
    """What `portable.unusual` compares a picture with: the training pictures' mean and (ridged) inverse
    covariance of `picture_stats`, and a distance limit: `margin` x the `quantile` of the held-back
    pictures' distances (they were not used for the mean), so nearly every real picture passes."""
    def stats(pictures):
        return np.concatenate([picture_stats(np.asarray(pictures[k:k + batch])) for k in range(0, len(pictures), batch)])

    train = stats(train_uint8)
    mean = train.mean(0)
    cov = np.cov(train, rowvar=False) if len(train) > 1 else np.eye(train.shape[1])
    cov = cov + np.eye(len(cov)) * max(1e-6, 1e-3 * float(np.trace(cov)) / len(cov))
    inverse = np.linalg.inv(cov)
    held = stats(held_uint8) if len(held_uint8) else train
    d = held - mean
    distances = np.sqrt(np.einsum("ni,ij,nj->n", d, inverse, d))
    return {"mean": mean.tolist(), "inverse_cov": inverse.tolist(),
            "limit": float(margin * np.quantile(distances, quantile))}

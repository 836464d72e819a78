"""Figures as PNG bytes: learning curves and confusion matrices. matplotlib's object API only (no
pyplot global state), so they work in Voila, JupyterLab, Colab and tests alike."""

from __future__ import annotations

import io

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator


def to_png(fig: Figure, dpi: int = 90) -> bytes:
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=dpi, bbox_inches="tight")
    return out.getvalue()


def learning_curves(history: list[dict], best_epoch: int = 0) -> bytes:
    """Loss (left) and accuracy (right) per epoch, training and validation, the best epoch marked."""
    fig = Figure(figsize=(8, 3))
    loss_ax, acc_ax = fig.subplots(1, 2)
    epochs = [h["epoch"] for h in history]
    loss_ax.plot(epochs, [h["train_loss"] for h in history], "o-", label="training")
    loss_ax.plot(epochs, [h["val_loss"] for h in history], "o-", label="validation")
    acc_ax.plot(epochs, [h["train_acc"] for h in history], "o-", label="training")
    acc_ax.plot(epochs, [h["val_acc"] for h in history], "o-", label="validation")
    for ax, title in ((loss_ax, "Loss (lower is better)"), (acc_ax, "Accuracy (higher is better)")):
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if best_epoch:
            ax.axvline(best_epoch, color="grey", linestyle=":", label="best epoch")
        ax.legend(fontsize=8)
    acc_ax.set_ylim(0, 1.02)
    return to_png(fig)


def confusion_figure(matrix: list[list[int]], classes: list[str], split: str = "validation") -> bytes:
    n = len(classes)
    fig = Figure(figsize=(1.2 + 0.6 * n, 1.0 + 0.6 * n))
    ax = fig.subplots()
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(n), classes, rotation=45, ha="right")
    ax.set_yticks(range(n), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"Confusion matrix ({split})")
    top = max(max(row) for row in matrix) if matrix else 0
    for i, row in enumerate(matrix):
        for j, v in enumerate(row):
            ax.text(j, i, str(v), ha="center", va="center", color="white" if v > top / 2 else "black")
    return to_png(fig)


def reliability_figure(calibration: dict) -> bytes:
    """Confidence (x) against how often the answers were right (y), per bin, before and after temperature
    scaling; the diagonal is perfect calibration and the "not sure" threshold is marked."""
    fig = Figure(figsize=(4.2, 3.6))
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="perfectly calibrated")
    for key, label in (("reliability_before", "as trained"), ("reliability_after", "calibrated")):
        bins = [b for b in calibration[key] if b["count"]]
        ece = calibration["ece_before" if key.endswith("before") else "ece_after"]
        ax.plot([b["confidence"] for b in bins], [b["accuracy"] for b in bins], "o-",
                label=f"{label} (ECE {ece:.3f})")
    threshold = calibration.get("threshold", 0.0)
    if 0 < threshold <= 1:
        ax.axvline(threshold, color="tab:red", linestyle="--", linewidth=1, label="'not sure' below")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("confidence it gave")
    ax.set_ylabel("how often it was right")
    ax.set_title("Can you trust its confidence?")
    ax.legend(fontsize=7, loc="upper left")
    return to_png(fig)


def study_curves(curves: dict) -> bytes:
    """A study's validation accuracy per epoch, one line per model (all measured on the same pictures)."""
    fig = Figure(figsize=(7, 3.4))
    ax = fig.subplots()
    for title, accs in curves.items():
        if accs:
            ax.plot(range(1, len(accs) + 1), accs, "o-", label=title, markersize=3)
    ax.set_title("Validation accuracy per epoch (higher is better)")
    ax.set_xlabel("epoch")
    ax.set_ylim(0, 1.02)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(fontsize=8, loc="lower right")
    return to_png(fig)

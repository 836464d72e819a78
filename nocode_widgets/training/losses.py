"""Losses from the competition entry: class-weighted cross entropy, label smoothing, focal loss,
and CutMix (mixing a patch of one picture into another, the loss mixed in proportion)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class FocalLoss(nn.Module):
    """Cross entropy scaled by (1 - p_true)^gamma: easy examples count less, hard ones more."""

    def __init__(self, gamma: float = 2.0, weight: torch.Tensor | None = None, label_smoothing: float = 0.0):
        super().__init__()
        self.gamma, self.label_smoothing = gamma, label_smoothing
        self.register_buffer("weight", weight if weight is not None else None)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        ce = F.cross_entropy(logits, target, weight=self.weight, reduction="none",
                             label_smoothing=self.label_smoothing)
        p_true = torch.softmax(logits.float(), 1).gather(1, target.unsqueeze(1)).squeeze(1)
        return ((1 - p_true) ** self.gamma * ce).mean()


def make_loss(kind: str, class_weights: torch.Tensor | None, label_smoothing: float, gamma: float) -> nn.Module:
    if kind == "focal":
        return FocalLoss(gamma, class_weights, label_smoothing)
    return nn.CrossEntropyLoss(weight=class_weights, label_smoothing=label_smoothing)


def balanced_class_weights(counts: torch.Tensor) -> torch.Tensor:
    """n / (k * count_c): each class contributes equally to the loss."""
    counts = counts.float().clamp(min=1)
    return counts.sum() / (len(counts) * counts)


def cutmix(x: torch.Tensor, y: torch.Tensor, generator: torch.Generator | None = None, alpha: float = 1.0):
    """Paste a random box from a shuffled copy of the batch. Returns (mixed x, y, y_shuffled, lam)
    where lam is the share of each picture that is still its own."""
    n, _, h, w = x.shape
    lam = float(torch.distributions.Beta(alpha, alpha).sample()) if generator is None else \
        float(torch.rand(1, generator=generator))
    perm = torch.randperm(n, generator=generator).to(x.device)
    cut_h, cut_w = int(h * (1 - lam) ** 0.5), int(w * (1 - lam) ** 0.5)
    cy = int(torch.randint(h, (1,), generator=generator))
    cx = int(torch.randint(w, (1,), generator=generator))
    y0, y1 = max(cy - cut_h // 2, 0), min(cy + cut_h // 2, h)
    x0, x1 = max(cx - cut_w // 2, 0), min(cx + cut_w // 2, w)
    mixed = x.clone()
    mixed[:, :, y0:y1, x0:x1] = x[perm, :, y0:y1, x0:x1]
    lam = 1 - (y1 - y0) * (x1 - x0) / (h * w)
    return mixed, y, y[perm], lam

"""Augmentation on whole batches, on whatever device the batch is on (the GPU when there is one):
random flips, random resized crops and rotations in one affine resample per picture, and colour
jitter. Validation never goes through here."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class AugmentPreset:
    flip: bool
    scale: tuple[float, float]  # area fraction kept by the random crop
    rotate: float  # degrees either way
    jitter: float  # brightness/contrast/saturation strength

    @property
    def active(self) -> bool:
        return self.flip or self.scale != (1.0, 1.0) or self.rotate > 0 or self.jitter > 0


PRESETS = {
    "none": AugmentPreset(False, (1.0, 1.0), 0.0, 0.0),
    "light": AugmentPreset(True, (0.7, 1.0), 10.0, 0.1),
    "strong": AugmentPreset(True, (0.4, 1.0), 25.0, 0.3),
}


def augment(x: torch.Tensor, preset: AugmentPreset, generator: torch.Generator | None = None) -> torch.Tensor:
    """x: float [N,3,H,W], already normalized. Returns a new augmented batch."""
    if not preset.active:
        return x
    n = x.shape[0]
    rand = lambda *shape: torch.rand(*shape, generator=generator).to(x.device)  # noqa: E731
    if preset.scale != (1.0, 1.0) or preset.rotate > 0 or preset.flip:
        lo, hi = preset.scale
        side = torch.sqrt(lo + (hi - lo) * rand(n))  # crop side as a fraction of the picture
        angle = (rand(n) * 2 - 1) * math.radians(preset.rotate)
        flip = torch.where(rand(n) < 0.5, -1.0, 1.0) if preset.flip else torch.ones(n, device=x.device)
        shift = (rand(n, 2) * 2 - 1) * (1 - side).unsqueeze(1)  # keep the crop inside the picture
        cos, sin = torch.cos(angle) * side, torch.sin(angle) * side
        theta = torch.stack([torch.stack([cos * flip, -sin, shift[:, 0]], 1),
                             torch.stack([sin * flip, cos, shift[:, 1]], 1)], 1)
        grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
        x = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    if preset.jitter > 0:
        j = preset.jitter
        brightness = 1 + (rand(n, 1, 1, 1) * 2 - 1) * j
        contrast = 1 + (rand(n, 1, 1, 1) * 2 - 1) * j
        saturation = 1 + (rand(n, 1, 1, 1) * 2 - 1) * j
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        x = (x - mean) * contrast + mean * brightness
        grey = x.mean(dim=1, keepdim=True)
        x = (x - grey) * saturation + grey
    return x


def resized(x: torch.Tensor, side: int) -> torch.Tensor:
    """A batch at `side` x `side` px (antialiased, in the batch's memory layout): progressive resizing's
    smaller training pictures."""
    channels_last = x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous()
    small = F.interpolate(x, size=(side, side), mode="bilinear", antialias=True, align_corners=False)
    return small.contiguous(memory_format=torch.channels_last if channels_last else torch.contiguous_format)

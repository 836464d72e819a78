"""The one preprocessing path shared by training (the tensor cache) and prediction, so a model always
sees pictures prepared exactly as in validation: resize the shorter side to `size`, centre-crop a
`size` x `size` square, keep uint8; normalization happens on the batch."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

from .picture_formats import open_picture


def load_rgb(source) -> Image.Image:
    """A stored picture (path or bytes) as an RGB PIL image."""
    image = open_picture(source if isinstance(source, (str, Path)) else io.BytesIO(source))
    image.load()
    return image.convert("RGB") if image.mode != "RGB" else image


def to_uint8_tensor(image: Image.Image, size: int) -> torch.Tensor:
    """[3, size, size] uint8: shorter side resized to `size`, centre crop."""
    fitted = ImageOps.fit(image, (size, size), method=Image.Resampling.BILINEAR, centering=(0.5, 0.5))
    return torch.from_numpy(np.asarray(fitted, dtype=np.uint8).copy()).permute(2, 0, 1)


def normalize_batch(batch_uint8: torch.Tensor, mean, std) -> torch.Tensor:
    """uint8 [N,3,H,W] on any device -> float normalized."""
    m = torch.tensor(mean, device=batch_uint8.device).view(1, 3, 1, 1)
    s = torch.tensor(std, device=batch_uint8.device).view(1, 3, 1, 1)
    return (batch_uint8.float().div_(255.0) - m) / s

"""The one preprocessing definition shared by training (the tensor cache), PyTorch prediction and ONNX
prediction, so a model always sees pictures prepared exactly as in validation: resize the shorter side
to `size` (bilinear), centre-crop a `size` x `size` square, keep uint8 [3, size, size]; normalization
happens on the batch: (x / 255 - mean) / std in float32. numpy + PIL only: page kernels use it without
torch; the torch helpers wrap the same arrays."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from .picture_formats import open_picture


def load_rgb(source) -> Image.Image:
    """A stored picture (path or bytes) as an RGB PIL image."""
    image = open_picture(source if isinstance(source, (str, Path)) else io.BytesIO(source))
    image.load()
    return image.convert("RGB") if image.mode != "RGB" else image


def to_uint8_array(image: Image.Image, size: int) -> np.ndarray:
    """[3, size, size] uint8: shorter side resized to `size`, centre crop."""
    fitted = ImageOps.fit(image, (size, size), method=Image.Resampling.BILINEAR, centering=(0.5, 0.5))
    return np.ascontiguousarray(np.asarray(fitted, dtype=np.uint8).transpose(2, 0, 1))


def normalize_array(batch_uint8: np.ndarray, mean, std) -> np.ndarray:
    """uint8 [N,3,H,W] -> float32 normalized, the same float32 operations as `normalize_batch`."""
    m = np.asarray(mean, dtype=np.float32).reshape(1, 3, 1, 1)
    s = np.asarray(std, dtype=np.float32).reshape(1, 3, 1, 1)
    return (batch_uint8.astype(np.float32) / np.float32(255.0) - m) / s


def to_uint8_tensor(image: Image.Image, size: int):
    """`to_uint8_array` as a torch tensor (training and the PyTorch predictor)."""
    import torch

    return torch.from_numpy(to_uint8_array(image, size))


def normalize_batch(batch_uint8, mean, std):
    """uint8 [N,3,H,W] torch tensor on any device -> float normalized."""
    import torch

    m = torch.tensor(mean, device=batch_uint8.device).view(1, 3, 1, 1)
    s = torch.tensor(std, device=batch_uint8.device).view(1, 3, 1, 1)
    return (batch_uint8.float().div_(255.0) - m) / s

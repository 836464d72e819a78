"""The one preprocessing definition shared by training (the tensor cache), PyTorch prediction and ONNX
prediction, so a model always sees pictures prepared exactly as in validation: resize the shorter side
to `size` (bilinear), centre-crop a `size` x `size` square, keep uint8 [3, size, size]; normalization
happens on the batch: (x / 255 - mean) / std in float32. The numpy + PIL definitions live in
`portable.py` (also a bundle's predict.py); page kernels use them without torch; the torch helpers
wrap the same arrays."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from .formats import open_picture
from .portable import fit_array, normalize


def load_rgb(source) -> Image.Image:
    """A stored picture (path or bytes) as an RGB PIL image."""
    image = open_picture(source if isinstance(source, (str, Path)) else io.BytesIO(source))
    image.load()
    return image.convert("RGB") if image.mode != "RGB" else image


def to_uint8_array(image: Image.Image, size: int) -> np.ndarray:
    """[3, size, size] uint8: shorter side resized to `size`, centre crop (`portable.fit_array`)."""
    return fit_array(image, size)


def normalize_array(batch_uint8: np.ndarray, mean, std) -> np.ndarray:
    """uint8 [N,3,H,W] -> float32 normalized, the same float32 operations as `normalize_batch`."""
    return normalize(batch_uint8, mean, std)


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

"""Opening and preparing a picture, in numpy and Pillow only (no torch): what training, the page, the
exported bundle and every predictor share.

`formats` decodes the formats the app accepts (the one way to open a picture); `preprocess` is the one
preprocessing definition (resize, centre crop, normalization; its torch helper is imported lazily, for
workers); `portable` is the same preparation plus an onnxruntime predictor, copied as `predict.py` into
every model bundle, so it imports nothing of this package."""

from .formats import open_picture
from .preprocess import load_rgb, normalize_array, to_uint8_array

__all__ = ["load_rgb", "normalize_array", "open_picture", "to_uint8_array"]

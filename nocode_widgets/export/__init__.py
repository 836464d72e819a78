"""What leaves the app: `bundle` (the model zip: `model.onnx`, `predict.py`, a model card) and `eject` (a
run as a plain-PyTorch notebook, helpers copied from source files, not imported)."""

from .bundle import Bundle, make_bundle, write_bundle
from .eject import notebook_for, write_notebook

__all__ = ["Bundle", "make_bundle", "notebook_for", "write_bundle", "write_notebook"]

"""The networks, and what a trained one is judged by.

`zoo`: the architectures and pretrained-weight loading (torch imported only when a model is built, in
workers); `small_cnn` (torch): our own small CNN; `artifact` (torch): what training writes of a model
(`weights.pt`, `model.json`, the ONNX export and its parity check); `evaluate`: metrics in numpy;
`calibrate`: temperature scaling, ECE and the "not sure" line. This `__init__` exports only the torch-free
names."""

from .calibrate import calibrate
from .evaluate import Evaluation, evaluate
from .zoo import ARCHS, Arch, get_arch, recommended

__all__ = ["ARCHS", "Arch", "Evaluation", "calibrate", "evaluate", "get_arch", "recommended"]

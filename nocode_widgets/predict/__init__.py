"""Prediction without torch unless asked: `base` holds what every predictor shares (`Prediction`,
`Predictor`); `onnx` predicts with a run's `model.onnx` through onnxruntime and holds the factory
(`open_predictor`, `predictor_for`); `pytorch` (torch) is imported by the factory only for a run without a
good export."""

from .base import NO_MODEL, Prediction, Predictor
from .onnx import open_predictor, predictor_for

__all__ = ["NO_MODEL", "Prediction", "Predictor", "open_predictor", "predictor_for"]

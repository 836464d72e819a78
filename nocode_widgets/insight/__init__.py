"""What a trained model shows about itself and the data: `explain` (heat maps, cached per run, computed
by `gradcam` (torch) in a helper process), `label_check` ("Check my labels": ranking in numpy,
out-of-sample probabilities from `training.label_folds`), `plots` (curves and matrices as PNG; imported
where drawn, since matplotlib is slow to import)."""

from .explain import Explanation, explain
from .label_check import Review, check_labels

__all__ = ["Explanation", "Review", "check_labels", "explain"]

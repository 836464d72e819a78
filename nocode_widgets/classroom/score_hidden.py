"""The helper process that scores a submission on an assignment's hidden test set: `python -m
nocode_widgets.classroom.score_hidden JOB.json`. It runs the submitted run's exported model (ONNX; PyTorch only
for a run whose export failed; an ensemble's members together) and writes back one confusion matrix per half of
the hidden set, nothing per picture: the page and the store only ever see aggregates.

The job (JSON): {"model": run folder, "classes": the hidden set's classes, "pictures": [[path, class index,
half], ...], "out": path, "progress": path, "max_side": int, "max_pixels": int}. Progress: {"done", "total"}."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from ..errors import NocodeError
from ..files import write_json_atomic
from ..slots import helper_main
from ..predict.onnx import Prediction, job_predictor

BATCH = 64
HALVES = ("public", "final")


def work(job: dict) -> dict:
    predictor = job_predictor(job)
    classes = job["classes"]
    if sorted(predictor.classes) != sorted(classes):
        raise NocodeError("This model knows other classes than the assignment's")
    column = {c: classes.index(c) for c in predictor.classes}
    k = len(classes)
    matrices = {h: np.zeros((k, k), dtype=np.int64) for h in HALVES}
    pictures, unreadable = job["pictures"], 0
    for start in range(0, len(pictures), BATCH):
        batch = pictures[start:start + BATCH]
        results = predictor.predict([(str(i), Path(path).read_bytes()) for i, (path, _, _) in enumerate(batch)])
        for (_, truth, half), result in zip(batch, results):
            if isinstance(result, Prediction):
                matrices[HALVES[half]][truth, column[result.label]] += 1
            else:  # a hidden picture the model cannot read counts as wrong: the teacher's set is the measure
                matrices[HALVES[half]][truth, (truth + 1) % k] += 1
                unreadable += 1
        write_json_atomic(Path(job["progress"]), {"done": min(start + BATCH, len(pictures)), "total": len(pictures)})
    return {"confusion": {h: m.tolist() for h, m in matrices.items()}, "unreadable": unreadable}


if __name__ == "__main__":
    sys.exit(helper_main(sys.argv[1:], work))

"""Check my labels: which pictures are probably in the wrong class. Torch-free (the page uses it): the
out-of-sample probabilities come from a worker process (`training/label_folds.py`, K-fold), the ranking is
numpy here, and the result is cached per dataset version (`reviews/` in the dataset folder), so opening
it again is instant and any change to the pictures makes a fresh check.

Ranking (confident learning, Northcutt et al. 2021): a picture's *score* is the out-of-sample probability
of its given class (self-confidence; low = suspicious). Each class j gets a threshold t_j, the mean
probability of class j over the pictures labelled j. A picture labelled i counts as "confidently j" when
j is the likeliest class whose probability reaches its threshold; for each class i, as many of its
pictures are flagged (lowest score first) as it has pictures confidently in another class. The suggested
class is the likeliest other class.

Acting on a flag: Keep (remembered for the dataset, not flagged again), Move (a new dataset version;
nothing is deleted), Delete (the page asks first). Runs keep the version they trained on.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from filelock import FileLock, Timeout

from ..datasets import dataset_folder, delete_images, get_own_dataset, relabel_images
from ..errors import DatasetError, NocodeError
from ..files import read_json, write_json_atomic
from ..slots import helper_slot, run_job
from ..workspace import Workspace

FOLDS = (3, 4, 5)
DEFAULT_FOLDS = 4
TIMEOUT_S = 3 * 3600


@dataclass(frozen=True)
class Flag:
    file: str  # in the dataset folder
    hash: str
    given: str
    suggested: str
    score: float  # out-of-sample probability of the given class
    suggested_probability: float
    flagged: bool  # confident learning says it is probably mislabelled

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Review:
    dataset_id: str
    version: int
    folds: int
    ranked: list[Flag]  # every picture not kept, lowest score first
    seconds: float
    how: str  # Auto's model for the folds, in words

    @property
    def flagged(self) -> list[Flag]:
        return [f for f in self.ranked if f.flagged]


def rank(probs, labels) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(order: lowest self-confidence first, flagged: bool per picture, suggested class, score)."""
    probs, labels = np.asarray(probs, dtype=np.float64), np.asarray(labels, dtype=np.int64)
    n, classes = probs.shape
    score = probs[np.arange(n), labels]
    thresholds = np.array([probs[labels == j, j].mean() if (labels == j).any() else 1.0 for j in range(classes)])
    above = probs >= thresholds[None, :] - 1e-9
    confident = np.where(above, probs, -1.0).argmax(1)
    elsewhere = above.any(1) & (confident != labels)
    order = np.argsort(score, kind="stable")
    flagged = np.zeros(n, dtype=bool)
    for c in range(classes):
        members = order[labels[order] == c]  # this class's pictures, lowest score first
        flagged[members[:int(elsewhere[labels == c].sum())]] = True
    others = probs.copy()
    others[np.arange(n), labels] = -1.0
    return order, flagged, others.argmax(1), score


def check_labels(ws: Workspace, user, dataset_id: str, folds: int = DEFAULT_FOLDS,
                 progress=lambda done, total, what: None) -> Review:
    """The ranked pictures of one of the user's datasets (computed, or from this version's cache)."""
    if folds not in FOLDS:
        raise NocodeError(f"Use 3, 4 or 5 folds (got {folds}).")
    ds = get_own_dataset(ws, user, dataset_id)  # the owner's only
    thin = [c for c in ds.classes if 0 < ds.counts.get(c, 0) < folds]
    if sum(1 for c in ds.classes if ds.counts.get(c, 0) >= folds) < 2 or thin:
        raise DatasetError(f"Checking labels with {folds} folds needs at least two classes and {folds} pictures in "
                           f"every class{' (too few in: ' + ', '.join(thin) + ')' if thin else ''}.")
    folder = dataset_folder(ws, ds)
    cached = folder / "reviews" / f"v{ds.version}-k{folds}.json"
    result = read_json(cached)
    if result is None or result.get("version") != ds.version:
        result = _compute(ws, user, ds, folds, cached, progress)
    kept = set(read_json(folder / "reviews" / "kept.json") or [])
    order, flagged, suggested, score = rank(result["probabilities"], result["labels"])
    classes = result["classes"]
    ranked = [Flag(result["files"][i], result["hashes"][i], classes[result["labels"][i]], classes[int(suggested[i])],
                   float(score[i]), float(result["probabilities"][i][int(suggested[i])]), bool(flagged[i]))
              for i in order if result["hashes"][i] not in kept]
    return Review(ds.id, ds.version, folds, ranked, result["seconds"], result["how"])


def _compute(ws: Workspace, user, ds, folds: int, out: Path, progress) -> dict:
    """Run the K-fold worker: one check per person at a time, in one of the machine's helper slots."""
    mine = FileLock(str(ws.settings.user_dir(user.id) / "review.lock"))
    try:
        mine.acquire(timeout=0)
    except Timeout:
        raise NocodeError("A label check of yours is already running; wait for it to finish.") from None
    try:
        with helper_slot(ws, user.id, "label checks, heat maps and estimates") as slot:
            result = run_job(ws, slot, "nocode_widgets.training.label_folds",
                             {"user": user.id, "dataset": ds.id, "folds": folds, "save_to": str(out)},
                             lambda state: progress(state["done"], state["total"], state["what"]), TIMEOUT_S,
                             "Checking the labels took too long and was stopped.", "The labels could not be checked")
    finally:
        mine.release()
    return result


def keep(ws: Workspace, user, dataset_id: str, hashes) -> None:
    """These pictures are right as they are: not flagged again in this dataset."""
    ds = get_own_dataset(ws, user, dataset_id)
    path = dataset_folder(ws, ds) / "reviews" / "kept.json"
    write_json_atomic(path, sorted(set(read_json(path) or []) | set(hashes)))


def move(ws: Workspace, user, dataset_id: str, moves: dict):
    """{hash: class}: a new dataset version with those pictures in their new classes."""
    return relabel_images(ws, user, dataset_id, moves)


def delete(ws: Workspace, user, dataset_id: str, hashes):
    """Remove pictures for good (the page asks first): a new dataset version."""
    return delete_images(ws, user, dataset_id, hashes)

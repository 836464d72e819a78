"""Suggestions for a dataset's inbox: which class each unsorted picture probably belongs to, and which
pictures to label first. Torch-free (the page uses it): a helper process (`score_inbox.py`) scores the
pictures with a finished run's model, and the result is cached per run and picture in the dataset folder
(`suggestions/<run>.json`), so opening the inbox again, or after filing some, scores only what is new.

Orders:
- "useful": the most informative first. Uncertainty sampling by *margin* (the top class's probability less
  the second's; smallest first), with diversity: look-alike pictures (near-duplicate signatures) form a
  group, and a group's second picture comes only after every group's first, so a page is not filled with
  copies of one hard picture.
- "sure": the most confident first, for accepting many at once.
- "newest": as they arrived (also the order when no run has finished yet).

"Sure" is the run's own line (chosen on its validation pictures so that sure answers were right 95% of the
time) and not unusual. Accepting the sure ones files exactly those pictures, each in its suggested class."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..accounts.auth import current_user
from ..accounts.quota import reserved
from ..datasets import Dataset, dataset_folder, file_pictures, get_own_dataset, inbox_pictures
from ..errors import NocodeError
from ..files import read_json, write_json_atomic
from ..predict.onnx import NO_MODEL
from ..runs.records import RunRecord, get_run, list_runs, model_classes, run_folder
from ..slots import helper_slot, run_job
from ..workspace import Workspace

ORDERS = ("useful", "sure", "newest")
NEAR = 0.95  # signatures (unit vectors) closer than this cosine are look-alikes
TIMEOUT_S = 1800
CACHE_BYTES_PER_PICTURE = 2048  # reserved in the owner's space before scoring (a cache line is ~0.7 KB)
HELPERS = "inbox suggestions, heat maps, estimates and label checks"


@dataclass(frozen=True)
class Suggestion:
    id: str
    file: str  # relative to the dataset folder
    original: str
    added: float
    suggested: str = ""  # "" when no model scored it
    probability: float = 0.0  # calibrated, of the suggested class
    second: str = ""
    margin: float = 1.0  # probability of the suggested class less the second's
    sure: bool = False
    unusual: bool = False
    rank: int = 0  # 1 = look at it first

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Suggestions:
    dataset_id: str
    run_id: str  # "" when no run scored them
    order: str
    threshold: float  # the run's "sure" line
    pictures: list[Suggestion] = field(default_factory=list)
    scored_now: int = 0  # pictures the helper scored for this answer (the rest came from the cache)
    seconds: float = 0.0

    @property
    def sure_ones(self) -> list[Suggestion]:
        return [p for p in self.pictures if p.sure and p.suggested]

    def sure_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for p in self.sure_ones:
            counts[p.suggested] = counts.get(p.suggested, 0) + 1
        return dict(sorted(counts.items()))


def usable_runs(ws: Workspace, user, dataset_id: str) -> list[RunRecord]:
    """The user's finished runs of this dataset that have a model, newest first."""
    return [r for r in list_runs(ws, user, dataset_id=dataset_id) if r.usable]


def suggest(ws: Workspace, user, dataset_id: str, run_id: str | None = None, order: str = "useful",
            progress=lambda done, total: None) -> Suggestions:
    """The inbox of one of the user's datasets, each picture with its suggestion from `run_id` (default: the
    newest finished run of the dataset; none yet: no suggestions, newest first), in `order`."""
    if order not in ORDERS:
        raise NocodeError(f"Unknown order {order!r}: choose one of {', '.join(ORDERS)}.")
    started = time.time()
    ds = get_own_dataset(ws, user, dataset_id)
    pictures = inbox_pictures(ws, user, ds.id)
    run = _pick_run(ws, user, ds, run_id)
    if run is None or not pictures:
        ranked = [Suggestion(p.id, p.file, p.original, p.added, rank=k) for k, p in enumerate(pictures, 1)]
        return Suggestions(ds.id, run.id if run else "", "newest", 0.0, ranked, 0, time.time() - started)
    cache, scored_now = _scores(ws, user, ds, run, pictures, progress)
    classes = cache["classes"]
    scored = [p for p in pictures if p.id in cache["scores"]]
    rest = [p for p in pictures if p.id not in cache["scores"]]  # could not be read by the model: last
    probs = np.asarray([cache["scores"][p.id]["p"] for p in scored], dtype=np.float64).reshape(len(scored), len(classes))
    signatures = np.asarray([cache["scores"][p.id]["sig"] for p in scored], dtype=np.float64).reshape(len(scored), -1) \
        if scored else np.zeros((0, 64))
    if order == "useful":
        positions = useful_order(probs, signatures)
    elif order == "sure":
        positions = sure_order(probs)
    else:
        positions = np.arange(len(scored))  # inbox_pictures is newest first
    top2 = np.argsort(-probs, axis=1, kind="stable")[:, :2] if len(classes) > 1 else np.zeros((len(scored), 2), int)
    ranked = []
    for rank, i in enumerate(positions, 1):
        p, row, first, second = scored[i], cache["scores"][scored[i].id], top2[i][0], top2[i][1]
        ranked.append(Suggestion(p.id, p.file, p.original, p.added, classes[first], float(probs[i, first]),
                                 classes[second], float(probs[i, first] - probs[i, second]), bool(row["sure"]),
                                 bool(row["unusual"]), rank))
    ranked += [Suggestion(p.id, p.file, p.original, p.added, rank=len(ranked) + k) for k, p in enumerate(rest, 1)]
    return Suggestions(ds.id, run.id, order, float(cache["threshold"]), ranked, scored_now, time.time() - started)


def accept_sure(ws: Workspace, user, dataset_id: str, run_id: str | None = None,
                progress=lambda done, total: None, only=None) -> tuple[Dataset, dict[str, int]]:
    """File every picture the run is sure about in its suggested class (one new dataset version); returns the
    dataset and how many went into each class. `only`: the ids a person confirmed (pictures added since are
    left in the inbox)."""
    found = suggest(ws, user, dataset_id, run_id, "sure", progress)
    if not found.run_id:
        raise NocodeError("Train a model on this dataset first: its answers are the suggestions.")
    sure = [p for p in found.sure_ones if only is None or p.id in set(only)]
    if not sure:
        raise NocodeError("The model is not sure about any picture in the inbox; sort them by hand, or add more "
                          "pictures to the classes and train again.")
    counts: dict[str, int] = {}
    for p in sure:
        counts[p.suggested] = counts.get(p.suggested, 0) + 1
    return file_pictures(ws, user, dataset_id, {p.id: p.suggested for p in sure}), dict(sorted(counts.items()))


def useful_order(probs: np.ndarray, signatures: np.ndarray, near: float = NEAR) -> np.ndarray:
    """Positions, most informative first: smallest margin first, look-alikes spread out (see the module)."""
    n = len(probs)
    if n == 0:
        return np.arange(0)
    ordered = np.sort(probs, axis=1)
    margin = ordered[:, -1] - (ordered[:, -2] if probs.shape[1] > 1 else 0.0)
    by_margin = np.lexsort((np.arange(n), margin))
    depth = np.full(n, -1)
    unassigned = np.ones(n, dtype=bool)
    for i in by_margin:
        if not unassigned[i]:
            continue
        alike = unassigned & (signatures @ signatures[i] > near) if np.any(signatures[i]) else np.zeros(n, bool)
        alike[i] = True
        members = by_margin[alike[by_margin]]  # the group, smallest margin first
        depth[members] = np.arange(len(members))
        unassigned &= ~alike
    position = np.empty(n, dtype=np.int64)
    position[by_margin] = np.arange(n)
    return np.lexsort((position, depth))


def sure_order(probs: np.ndarray) -> np.ndarray:
    """Positions, the most confident answer first."""
    return np.lexsort((np.arange(len(probs)), -probs.max(axis=1))) if len(probs) else np.arange(0)


def _pick_run(ws: Workspace, user, ds: Dataset, run_id: str | None) -> RunRecord | None:
    if run_id is None:
        runs = usable_runs(ws, user, ds.id)
        run = runs[0] if runs else None
    else:
        run = get_run(ws, user, run_id)  # the user's own (an admin's too, but the dataset is the user's)
        if run.dataset_id != ds.id:
            raise NocodeError("That model was trained on another dataset; choose one of this dataset's.")
        if not run.usable:
            raise NocodeError(NO_MODEL)
    if run is not None:
        missing = [c for c in model_classes(ws, run) if c not in ds.classes]
        if missing:
            raise NocodeError(f"That model knows a class the dataset no longer has ({missing[0]!r}); train again "
                              "to get suggestions.")
    return run


def _scores(ws: Workspace, user, ds: Dataset, run: RunRecord, pictures, progress) -> tuple[dict, int]:
    """The run's cached scores of the inbox, with the pictures not scored yet scored now (in a helper process)."""
    folder = dataset_folder(ws, ds)
    path = folder / "suggestions" / f"{run.id}.json"
    cache = read_json(path) or {}
    scores = cache.get("scores", {})
    todo = [p for p in pictures if p.id not in scores]
    if todo or "classes" not in cache:
        with reserved(ws, ds.owner, len(todo) * CACHE_BYTES_PER_PICTURE), helper_slot(ws, current_user(ws, user).id, HELPERS) as slot:
            fresh = _run_helper(ws, slot, folder, run, todo, progress)
        scores.update({pid: {"p": p, "sure": s, "unusual": u, "sig": sig} for pid, p, s, u, sig in
                       zip(fresh["ids"], fresh["probabilities"], fresh["sure"], fresh["unusual"], fresh["signatures"])})
        cache = {"run_id": run.id, "classes": fresh["classes"], "threshold": fresh["threshold"],
                 "inbox_version": ds.inbox_version}
    waiting = {p.id for p in pictures}
    cache["scores"] = {pid: row for pid, row in scores.items() if pid in waiting}  # filed or discarded: gone
    write_json_atomic(path, cache)
    return cache, len(todo)


def _run_helper(ws: Workspace, slot: int, folder: Path, run: RunRecord, todo, progress) -> dict:
    progress(0, len(todo))
    return run_job(ws, slot, "nocode_widgets.insight.score_inbox",
                   {"model": str(run_folder(ws, run)), "pictures": [[p.id, str(folder / p.file)] for p in todo]},
                   lambda state: progress(state["done"], state["total"]), TIMEOUT_S,
                   "Scoring the inbox took too long and was stopped.", "The inbox could not be scored")

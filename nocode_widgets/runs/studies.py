"""Studies and baggings: groups of ordinary runs queued together (the origin projects' model comparison and
the competition's bagging, in one click).

- A *study* trains 2 to 8 architectures on one dataset with the same split (same seed and shares) and the
  same budget (the same epoch cap), then shows them as one table (`study_table`) with one plot of validation
  accuracy per epoch and a plain recommendation.
- A *bagging* trains K models with the same settings, each holding out one of K stratified folds
  (`TrainConfig.folds/fold`); when the last one finishes they are combined into an ensemble scored out of
  fold (`ensemble.make_ensemble`).

A group's runs count against the owner's run limit like any run: the rest wait in the group's record and
`groups.top_up`, called by the queue's scheduler, queues them as room frees and makes a finished bagging's
ensemble. Each run can be cancelled on its own; cancelling the group cancels its runs and drops what was
still pending."""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass

from ..accounts.auth import User, current_user
from ..errors import NotFound, TrainingError
from ..store import Table, new_id
from .train_config import MAX_FOLDS, MIN_FOLDS
from .records import ACTIVE, FINAL, load_run, read_history, run_folder
from ..workspace import Workspace
from ..models.zoo import ARCHS, get_arch, recommended
from .groups import Study, maybe_run, top_up  # noqa: F401 - top_up: how the queue moves groups on
from . import jobs
from .jobs import check_trainable
from .queue import schedule

log = logging.getLogger("nocode_widgets.runs.studies")

MIN_ARCHS, MAX_ARCHS = 2, 8
DEFAULT_EPOCHS = 10  # a study's shared epoch cap (early stopping may end a run sooner)
CLOSE = 0.01  # "within 1 point of the best"
PRESETS = {  # key -> (title, architectures; None: chosen for the device)
    "quick": ("Quick on this device", None),
    "university": ("The university benchmark", ("alexnet", "efficientnet_b0", "vgg16", "resnet50", "mobilenet_v3_large",
                                                "mnasnet0_5", "shufflenet_v2_x1_0", "mobilenet_v2")),
    "competition": ("The competition", ("resnet152", "densenet161", "inception_v3", "efficientnet_v2_m")),
}


def preset_archs(preset: str, device_type: str) -> list[str]:
    """The architectures of a preset; "quick": the three the benchmarks found quickest to train well here."""
    if preset not in PRESETS:
        raise TrainingError(f"Unknown preset {preset!r}; choose one of {', '.join(PRESETS)}.")
    return list(PRESETS[preset][1] or recommended(device_type)[:3])


def start_preset(ws: Workspace, user: User, dataset_id: str, preset: str, device_type: str,
                 epochs: int | None = None, extra: dict | None = None, runner=None) -> Study:
    """Queue one of the PRESETS (its architectures for this device, its name as the title)."""
    return start_study(ws, user, dataset_id, preset_archs(preset, device_type), epochs, PRESETS[preset][0], extra,
                       runner)


def start_study(ws: Workspace, user: User, dataset_id: str, archs: list[str], epochs: int | None = None,
                title: str = "", extra: dict | None = None, runner=None) -> Study:
    """Queue a comparison of `archs` on the dataset (the same split, the same epoch cap for every one)."""
    archs = list(dict.fromkeys(a.strip() for a in archs if a and a.strip()))
    unknown = [a for a in archs if a not in ARCHS]
    if unknown:
        raise TrainingError(f"Unknown architecture {unknown[0]!r}.")
    if not MIN_ARCHS <= len(archs) <= MAX_ARCHS:
        raise TrainingError(f"A comparison needs {MIN_ARCHS} to {MAX_ARCHS} different models.")
    base = {**(extra or {}), "epochs": int(epochs or DEFAULT_EPOCHS), "seed": int((extra or {}).get("seed", 0))}
    configs = [{**base, "arch": a} for a in archs]
    title = title or "Compare " + ", ".join(get_arch(a).title for a in archs)
    return _start(ws, user, dataset_id, "study", title, configs, runner)


def start_bagging(ws: Workspace, user: User, dataset_id: str, config: dict | None = None, folds: int = 3,
                  runner=None) -> Study:
    """Queue K runs with the same settings, each trained on K-1 folds; combined when the last finishes."""
    if not MIN_FOLDS <= int(folds) <= MAX_FOLDS:
        raise TrainingError(f"Bagging needs {MIN_FOLDS} to {MAX_FOLDS} models.")
    base = {k: v for k, v in (config or {}).items() if v is not None and k not in ("folds", "fold", "test_fraction")}
    configs = [{**base, "folds": int(folds), "fold": k} for k in range(int(folds))]
    return _start(ws, user, dataset_id, "bagging", f"Bagging: {folds} models on different folds", configs, runner)


def _start(ws, user, dataset_id, kind, title, configs, runner) -> Study:
    user = current_user(ws, user)
    ds = check_trainable(ws, user, dataset_id, configs)
    if kind == "bagging":
        k = configs[0]["folds"]
        short = [c for c in ds.classes if 0 < ds.counts.get(c, 0) < k]
        if short:
            raise TrainingError(f"Bagging with {k} folds needs at least {k} pictures in every class "
                                f"({short[0]!r} has {ds.counts[short[0]]}).")
    study = Study(new_id("study"), user.id, ds.id, ds.name, kind, title, configs, created=time.time())
    ws.store.insert(Table.STUDIES, study.to_json())
    schedule(ws, runner)  # queues what the run limit allows now (top_up), and starts it
    study = load_study(ws, study.id)
    if not study.runs:
        ws.store.remove(Table.STUDIES, study.id)
        raise TrainingError("You already have as many runs waiting or training as you may; cancel one or wait for "
                            "one to finish, then start the comparison again.")
    return study


def load_study(ws: Workspace, study_id: str) -> Study:
    doc = ws.store.get(Table.STUDIES, study_id)
    if doc is None:
        raise NotFound("That comparison does not exist (or is not yours).")
    return Study.from_doc(doc)


def get_study(ws: Workspace, user: User, study_id: str) -> Study:
    user = current_user(ws, user)
    study = load_study(ws, study_id)
    if study.owner != user.id and not user.is_admin:
        raise NotFound("That comparison does not exist (or is not yours).")
    return study


def list_studies(ws: Workspace, user: User, dataset_id: str | None = None) -> list[Study]:
    user = current_user(ws, user)
    where = {"owner": user.id, **({"dataset_id": dataset_id} if dataset_id else {})}
    return sorted((Study.from_doc(d) for d in ws.store.find(Table.STUDIES, **where)), key=lambda s: -s.created)


def cancel_study(ws: Workspace, user: User, study_id: str) -> Study:
    """Drop the runs still pending and cancel the queued and running ones (finished ones are kept)."""
    study = get_study(ws, user, study_id)
    if study.status == "open":
        ws.store.update(Table.STUDIES, study.id, {"status": "cancelled"})
    for run_id in study.runs:
        try:
            if load_run(ws, run_id).is_active:
                jobs.cancel(ws, user, run_id)
        except NotFound:
            continue
    return load_study(ws, study.id)


# What Results shows -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class StudyRow:
    run_id: str
    arch: str
    title: str
    status: str
    accuracy: float | None
    weighted_f1: float | None
    macro_f1: float | None
    training_s: float | None
    pictures_per_s: float | None
    peak_memory_mb: float | None
    parameters: int | None
    best_epoch: int
    epochs_run: int
    split: str

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class StudyTable:
    study: Study
    rows: list[StudyRow]
    curves: dict  # title -> validation accuracy per epoch
    recommendation: str
    reason: str
    waiting: int  # members not yet queued
    same_pictures: bool  # every finished row was measured on the same dataset version's split

    def to_json(self) -> dict:
        return {"study": self.study.to_json(), "rows": [r.to_json() for r in self.rows], "curves": self.curves,
                "recommendation": self.recommendation, "reason": self.reason, "waiting": self.waiting,
                "same_pictures": self.same_pictures}


def study_table(ws: Workspace, user: User, study_id: str) -> StudyTable:
    study = get_study(ws, user, study_id)
    rows, curves, versions = [], {}, set()
    for config, run_id in zip(study.configs, study.runs):
        try:
            run = jobs.get(ws, user, run_id)
        except NotFound:  # deleted by its owner
            continue
        title = get_arch(config.get("arch") or (run.resolved or {}).get("arch") or "small_cnn").title
        if study.kind == "bagging":
            title = f"fold {config['fold'] + 1} of {config['folds']}"
        finished = run.usable and run.status in FINAL
        m, usage = run.metrics if finished else {}, run.usage or {}
        on = "test" if study.kind == "bagging" else "val"  # a bagging member: its held-out fold
        rows.append(StudyRow(run.id, (run.resolved or config).get("arch", ""), title, run.status,
                             m.get(f"{on}_accuracy"), m.get(f"{on}_weighted_f1"), m.get(f"{on}_macro_f1"),
                             run.timings.get("training"), usage.get("pictures_per_s"), usage.get("peak_memory_mb"),
                             usage.get("parameters"), run.best_epoch, run.epochs_run,
                             ("its held-out fold" if on == "test" else m.get("split", "")) if m else ""))
        curves[title] = [h["val_acc"] for h in read_history(run_folder(ws, run))]
        if finished:
            versions.add(run.dataset_version)
    text, reason = recommend(rows) if study.kind == "study" else ("", "")
    return StudyTable(study, rows, curves, text, reason, len(study.pending), len(versions) <= 1)


def recommend(rows: list[StudyRow]) -> tuple[str, str]:
    """(what to pick, why) among the finished rows: the fastest to train of those within CLOSE of the best
    accuracy (ties in accuracy go to weighted F1)."""
    done = [r for r in rows if r.accuracy is not None and r.training_s]
    if len(done) < 2:
        return "", "The recommendation comes when at least two models have finished."
    best = max(done, key=lambda r: (r.accuracy, r.weighted_f1 or 0.0))
    pick = min((r for r in done if r.accuracy >= best.accuracy - CLOSE), key=lambda r: r.training_s)
    why = (f"Of the models within {CLOSE * 100:.0f} point of the best validation accuracy, the one that trained "
           "fastest: it is cheaper to train again and quicker to answer.")
    if pick is best:
        return f"{best.title}: the most accurate ({best.accuracy:.1%}) and the fastest of those close to it.", why
    gap = (best.accuracy - pick.accuracy) * 100
    within = "as accurate as the best" if gap < 0.05 else f"within {gap:.1f} point{'s' if gap >= 1.05 else ''} of the best"
    return (f"{pick.title}: {within} ({best.title}, {best.accuracy:.1%}), {best.training_s / pick.training_s:.1f}x "
            "faster.", why)


def is_active(ws: Workspace, study: Study) -> bool:
    """Some member still waits (in the group or the queue) or trains."""
    return bool(study.pending) or any((run := maybe_run(ws, i)) is not None and run.status in ACTIVE
                                      for i in study.runs)

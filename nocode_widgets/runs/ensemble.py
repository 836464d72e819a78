"""Ensembles: two or more finished runs of one dataset combined by soft vote (the weighted mean of their
calibrated probabilities), kept as a run of kind "ensemble" so it is tested, predicted with, shown in
Results and downloaded like any model. Torch-free: it is made from the members' `predictions.json`,
without retraining and without touching a picture.

Honest numbers: an ensemble is scored only on pictures none of its members trained on.
- Members of one bagging (`folds` = K, one per fold): *out of fold*: every picture is scored by the
  members that held it out (its fold's member), so the figure covers the whole dataset.
- Any other members: the pictures every member was validated on (the intersection of their validation
  parts, likewise their test parts). When their splits differ it says so; when nothing is left it refuses.

The ensemble's folder holds a copy (a hard link where the disk allows) of each member's model files under
`members/<n>/`, so deleting a member never breaks it, and its `model.json` (kind "ensemble", the members and
their weights, its own temperature and "sure" threshold) is what `predict.EnsemblePredictor` and the
bundle's `predict.py` (`portable.open_model`) read."""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..accounts.auth import User, current_user
from ..models.calibrate import apply_temperature, calibrate
from ..datasets.catalog import clean_name
from ..errors import TrainingError
from ..models.evaluate import evaluate
from ..files import link_or_copy, read_json, write_json_atomic
from ..accounts.quota import check_space
from ..store import Table, new_id
from .records import RunRecord, get_run, run_folder
from ..workspace import Workspace

MAX_MEMBERS = 10
MEMBER_FILES = ("model.json", "model.onnx", "weights.pt", "export.json")
OUT_OF_FOLD = "out-of-fold"


@dataclass(frozen=True)
class Member:
    run: RunRecord
    folder: Path
    card: dict  # model.json
    predictions: dict  # predictions.json: part -> {files, labels, probabilities}
    weight: float


@dataclass(frozen=True)
class Scored:
    """One part an ensemble is measured on: its pictures, their labels and the soft vote's probabilities."""

    part: str  # "validation", "test" or OUT_OF_FOLD
    files: list[str]
    labels: np.ndarray
    probabilities: np.ndarray


def make_ensemble(ws: Workspace, user: User, run_ids: list[str], weights: list[float] | None = None,
                  name: str = "", study: str = "") -> RunRecord:
    """Combine the user's finished runs into an ensemble run; refuses, in plain words, members that are not
    theirs, not finished, of another dataset or other classes, or with no picture none of them trained on."""
    user = current_user(ws, user)
    members = load_members(ws, user, run_ids, weights)
    scored, how = score(members)
    check_space(ws, user)
    classes = members[0].card["classes"]
    first = members[0].run
    record = RunRecord(new_id("run"), user.id, first.dataset_id, first.dataset_name, first.dataset_version,
                       {"ensemble": [m.run.id for m in members], "weights": [m.weight for m in members]},
                       status="done", kind="ensemble", members=[m.run.id for m in members], study=study,
                       name=clean_name(name, "ensemble") if (name or "").strip() else default_name(members), created=time.time())
    folder = run_folder(ws, record)
    try:
        report, predictions, calibration = evaluate_parts(scored, classes)
        write_member_files(folder, members, classes, calibration)
        write_json_atomic(folder / "evaluation.json", report)
        write_json_atomic(folder / "predictions.json", predictions)
        main = report.get("test") or report.get(OUT_OF_FOLD) or report["validation"]
        metrics = {"split": main["split"], "val_accuracy": main["accuracy"], "val_weighted_f1": main["weighted_f1"],
                   "val_macro_f1": main["macro_f1"]}
        archs = [m.card.get("arch", "?") for m in members]
        done = time.time()
        record = replace(record, resolved={"arch": "ensemble", "members": archs, "weights": [m.weight for m in members]},
                         explanation=how, started=done, finished=done, best_epoch=1, metrics=metrics,
                         export={"ok": True, "ensemble": len(members)}, seconds=sum(m.run.seconds for m in members))
        ws.store.insert(Table.RUNS, record.to_json())
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return record


def parse_weights(text: str | None) -> list[float] | None:
    """"2,1,1" -> [2.0, 1.0, 1.0]; empty -> None (equal weights); anything else: a plain refusal."""
    if not text or not text.strip():
        return None
    try:
        return [float(x) for x in text.split(",")]
    except ValueError:
        raise TrainingError("Weights are numbers separated by commas, like 2,1,1.") from None


def default_name(members: list[Member]) -> str:
    return f"ensemble of {len(members)}: " + " + ".join(m.card.get("arch", "?") for m in members)


def load_members(ws: Workspace, user: User, run_ids: list[str], weights: list[float] | None) -> list[Member]:
    ids = list(dict.fromkeys(i.strip() for i in run_ids if i and i.strip()))
    if not 2 <= len(ids) <= MAX_MEMBERS:
        raise TrainingError(f"An ensemble needs 2 to {MAX_MEMBERS} different runs.")
    weights = [1.0] * len(ids) if weights is None else [float(x) for x in weights]
    if len(weights) != len(ids) or not all(np.isfinite(weights)) or min(weights) < 0 or sum(weights) <= 0:
        raise TrainingError("Give one weight per run: numbers of zero or more, not all zero.")
    members = []
    for run_id, weight in zip(ids, weights):
        run = get_run(ws, user, run_id)
        if run.owner != user.id:
            raise TrainingError("An ensemble can only be made of your own runs.")
        what = f"Run {run.id[-6:]} ({(run.resolved or {}).get('arch', 'auto')})"
        if run.kind == "ensemble":
            raise TrainingError(f"{what} is already an ensemble; choose its members instead.")
        folder = run_folder(ws, run)
        card, predictions = read_json(folder / "model.json"), read_json(folder / "predictions.json")
        if not run.usable or card is None:
            raise TrainingError(f"{what} has no trained model yet (it is {run.status}).")
        if not predictions:
            raise TrainingError(f"{what} was trained before runs recorded their validation answers; train it again "
                                "to use it in an ensemble.")
        members.append(Member(run, folder, card, predictions, weight / sum(weights)))
    first = members[0]
    for m in members[1:]:
        if m.run.dataset_id != first.run.dataset_id:
            raise TrainingError(f"The runs were trained on different datasets ({first.run.dataset_name!r} and "
                                f"{m.run.dataset_name!r}); an ensemble combines models of one dataset.")
        if list(m.card["classes"]) != list(first.card["classes"]):
            raise TrainingError("The runs do not know the same classes (" + ", ".join(first.card["classes"]) + " vs "
                                + ", ".join(m.card["classes"]) + "), so their answers cannot be averaged. Combine runs "
                                "trained on the same classes.")
    return members


def is_bagging(members: list[Member]) -> bool:
    """One member per fold of the same K-fold split (one bagging's members)."""
    cfgs = [m.run.resolved or {} for m in members]
    k, seed = cfgs[0].get("folds"), cfgs[0].get("seed")
    return bool(k) and all(c.get("folds") == k and c.get("seed") == seed for c in cfgs) \
        and sorted(c.get("fold") for c in cfgs) == list(range(k)) \
        and len({m.run.dataset_version for m in members}) == 1


def score(members: list[Member]) -> tuple[list[Scored], str]:
    """The parts the ensemble is measured on and one plain sentence saying which pictures they are."""
    if is_bagging(members):
        scored = out_of_fold(members)
        return [scored], (f"Soft vote of {len(members)} models trained on different folds; measured out of fold: each "
                          f"of the {len(scored.files)} pictures by the model that did not train on it.")
    scored, notes = [], []
    for part in ("validation", "test"):
        if not all(part in m.predictions for m in members):
            continue
        s, sizes = shared_pictures(members, part)
        if len(s.files):
            scored.append(s)
        if len(set(sizes)) > 1 or len(s.files) < max(sizes):
            notes.append(f"{part}: {len(s.files)} pictures all of them held out (of {', '.join(map(str, sizes))})")
    if not scored:
        raise TrainingError("These runs have no validation picture in common: every picture one of them was checked "
                            "on, another one trained on, so the ensemble cannot be measured honestly. Combine runs "
                            "trained on the same dataset version with the same validation settings.")
    how = (f"Soft vote of {len(members)} models, measured on the {len(scored[0].files)} {scored[0].part} pictures "
           "none of them trained on.")
    if notes:
        how += (" The models were validated on different pictures (other seeds, shares or dataset versions), so "
                "only the pictures every one of them held out count: " + "; ".join(notes) + ".")
    return scored, how


def _part(m: Member, part: str) -> dict:
    p = m.predictions[part]
    return {f: (y, probs) for f, y, probs in zip(p["files"], p["labels"], p["probabilities"])}


def shared_pictures(members: list[Member], part: str) -> tuple[Scored, list[int]]:
    """The pictures in every member's `part` with the same label everywhere (a picture moved to another
    class in a later version is left out), and the soft vote on them."""
    parts = [_part(m, part) for m in members]
    files = [f for f in parts[0] if all(f in p and p[f][0] == parts[0][f][0] for p in parts[1:])]
    width = len(members[0].card["classes"])
    probs = np.zeros((len(files), width))
    for m, p in zip(members, parts):
        probs += m.weight * np.asarray([p[f][1] for f in files], dtype=np.float64).reshape(len(files), width)
    labels = np.asarray([parts[0][f][0] for f in files], dtype=np.int64)
    return Scored(part, files, labels, probs), [len(p) for p in parts]


def out_of_fold(members: list[Member]) -> Scored:
    """Every picture held out by some member, scored by the (weight-normalised) members that held it out."""
    sums: dict[str, np.ndarray] = {}
    mass: dict[str, float] = {}
    label: dict[str, int] = {}
    for m in members:
        for f, (y, probs) in _part(m, "test").items():
            sums[f] = sums.get(f, 0.0) + m.weight * np.asarray(probs, dtype=np.float64)
            mass[f] = mass.get(f, 0.0) + m.weight
            label[f] = y
    files = sorted(f for f in sums if mass[f] > 0)
    probs = np.asarray([sums[f] / mass[f] for f in files]).reshape(len(files), len(members[0].card["classes"]))
    return Scored(OUT_OF_FOLD, files, np.asarray([label[f] for f in files], dtype=np.int64), probs)


def evaluate_parts(scored: list[Scored], classes: list[str]) -> tuple[dict, dict, dict]:
    """(evaluation.json, predictions.json, the calibration): a temperature for the soft vote is fitted on the
    first part (validation, or out of fold), as a single run's is on its validation pictures."""
    calibration = calibrate(scored[0].probabilities, scored[0].labels)
    report, predictions = {}, {}
    for s in scored:
        probs = apply_temperature(s.probabilities, calibration["temperature"])
        data = evaluate(s.labels, probs, classes, split=s.part).to_json()
        for m in data["mistakes"]:
            m.update(file=s.files[m["index"]], original=s.files[m["index"]])
        if s is scored[0]:
            data["calibration"] = calibration
        report[s.part] = data
        predictions[s.part] = {"files": s.files, "labels": s.labels.tolist(), "probabilities": probs.round(5).tolist()}
    return report, predictions, calibration


def write_member_files(folder: Path, members: list[Member], classes: list[str], calibration: dict) -> None:
    """members/<n>/ with each member's model files (hard links where possible), and the ensemble's model.json."""
    for n, m in enumerate(members, 1):
        target = folder / "members" / str(n)
        target.mkdir(parents=True, exist_ok=True)
        for name in MEMBER_FILES:
            if (m.folder / name).exists():
                link_or_copy(m.folder / name, target / name)
    first = members[0].card
    write_json_atomic(folder / "model.json", {
        "kind": "ensemble", "arch": "ensemble", "classes": classes,
        "members": [{"folder": f"members/{n}", "run_id": m.run.id, "arch": m.card.get("arch"), "weight": m.weight}
                    for n, m in enumerate(members, 1)],
        "image_size": max(m.card["image_size"] for m in members), "mean": first["mean"], "std": first["std"],
        "temperature": calibration["temperature"], "sure_threshold": calibration["threshold"]})

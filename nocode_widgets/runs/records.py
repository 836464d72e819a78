"""Runs, the unit the UI shows: a small summary record in the store (owner, dataset and version,
config, device, status, headline metrics, timings) and a folder with the bulk: `history.jsonl`
(one line per epoch), `progress.json` (live progress + heartbeat), `evaluation.json` (with the calibration),
`predictions.json` (every validation/test picture's calibrated probabilities),
`weights.pt` + `model.json` (no pickles), `split.json`, `worker.log`."""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..accounts.auth import User, current_user
from ..errors import NotFound, TrainingError
from ..files import read_json, write_json_atomic
from ..store import Table, new_id
from ..workspace import Workspace

ACTIVE = ("queued", "running")
EVERYONE_PAGE = 200  # runs in the administrator's view of everyone's
FINAL = ("done", "failed", "cancelled", "interrupted")
INTERRUPTED = ("The training process stopped unexpectedly (the server restarted or the process was ended). "
               "The best epoch so far is kept when there was one.")


class WorkerLost(Exception):
    """The process (or machine) fitting a run ended before it answered: the run is `interrupted`."""


@dataclass(frozen=True)
class RunRecord:
    id: str
    owner: str
    dataset_id: str
    dataset_name: str
    dataset_version: int
    config: dict  # as asked (None = Auto)
    status: str = "queued"
    resolved: dict | None = None  # the full config Auto filled in
    explanation: str = ""
    device: str = ""
    created: float = 0.0
    started: float | None = None
    finished: float | None = None
    epochs_run: int = 0
    best_epoch: int = 0
    metrics: dict = field(default_factory=dict)  # val_accuracy, val_weighted_f1, ... (the split is named)
    seconds: float = 0.0
    error: str = ""
    notice: str = ""
    pid: int | None = None
    pid_start: str = ""  # when that process started (/proc/PID/stat), so a reused pid is not taken for it
    host: str = ""
    launched: float | None = None  # when the scheduler started its worker (a waiting run has none)
    export: dict = field(default_factory=dict)  # model.onnx and its parity check (models/artifact.export_and_check)
    timings: dict = field(default_factory=dict)  # seconds per phase of the worker (engine.Laps)
    remote: dict = field(default_factory=dict)  # where a Ray run fits: node, pid, resources asked (on_ray)
    usage: dict = field(default_factory=dict)  # parameters, pictures per second, peak memory (engine.usage)
    kind: str = "run"  # or "ensemble": no training of its own, a soft vote of `members` (runs/ensemble.py)
    members: list = field(default_factory=list)  # an ensemble's run ids
    study: str = ""  # the study (or bagging) it belongs to (runs/studies.py)
    name: str = ""  # an ensemble's name, given by its owner
    stopped: str = ""  # why training ended: finished | learned | early-stopped | cancelled (fit.FitResult)
    follows: str = ""  # the run it trains again after new pictures were labelled (runs/retrain.py)

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE

    @property
    def waiting(self) -> bool:
        """Queued with no worker yet: costs nothing, never goes stale."""
        return self.status == "queued" and not self.launched

    @property
    def usable(self) -> bool:
        """Has weights to predict with."""
        return self.status in ("done", "cancelled", "interrupted") and self.best_epoch > 0

    @property
    def ending(self) -> str:
        """Why a run that ended early ended, in one plain sentence ("" when it used its whole budget)."""
        cap = (self.resolved or {}).get("epochs") or 0
        of = f"{self.epochs_run} of {cap} epochs" if cap else f"{self.epochs_run} epochs"
        if self.stopped == "learned":
            return f"It stopped after {of}: it had learned its training pictures and its score had stopped rising."
        if self.stopped == "early-stopped":
            patience = (self.resolved or {}).get("patience")
            return f"It stopped after {of}: its score had not improved for {patience} epochs."
        return ""

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_doc(cls, doc: dict) -> "RunRecord":
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in doc.items() if k in names})


def run_folder(ws: Workspace, run: RunRecord) -> Path:
    return ws.settings.user_dir(run.owner) / "runs" / run.id


def create_run(ws: Workspace, user: User, dataset, config: dict, limit: int | None = None,
               follows: str = "") -> RunRecord:
    """Record a queued run. With `limit`, refuse when the user already has that many runs queued or
    running (checked and inserted in one transaction, so parallel clicks cannot pass it)."""
    user = current_user(ws, user)
    run = RunRecord(new_id("run"), user.id, dataset.id, dataset.name, dataset.version, dict(config),
                    created=time.time(), follows=follows)
    with ws.store.transaction(user.id) as tx:
        active = [d for d in tx.find(Table.RUNS, owner=user.id) if d["status"] in ACTIVE]
        if limit is not None and len(active) >= limit:
            raise TrainingError(f"You already have {len(active)} runs waiting or training; cancel one or wait "
                                "for one to finish.")
        _check_runs_per_student(ws, tx, user, dataset)
        tx.insert(Table.RUNS, run.to_json())
    run_folder(ws, run).mkdir(parents=True, exist_ok=True)
    return run


class RunsPerStudentLimit(TrainingError):
    """A class's open assignment allows each student only so many runs on its shared dataset."""


def runs_limit(ws: Workspace, user_id: str, dataset_id: str, owner: str, source: str = "") -> tuple[str, int]:
    """(the shared dataset, the runs each student may train on it and their own copies of it) while an open
    assignment of its teacher limits them (the strictest), else ("", 0). No limit for the teacher."""
    shared_id = dataset_id if owner != user_id else source
    doc = ws.store.get(Table.DATASETS, shared_id) if shared_id else None
    if doc is None or doc["owner"] == user_id:
        return "", 0
    now = time.time()
    limits = [a["runs_per_student"] for a in ws.store.find(Table.ASSIGNMENTS, owner=doc["owner"], dataset=shared_id)
              if a["deadline"] > now and a.get("runs_per_student")]
    return shared_id, min(limits, default=0)


def _check_runs_per_student(ws: Workspace, tx, user: User, dataset) -> None:
    shared_id, limit = runs_limit(ws, user.id, dataset.id, dataset.owner, dataset.source)
    if not limit:
        return
    copies = {d["id"] for d in tx.find(Table.DATASETS, owner=user.id) if d.get("source") == shared_id}
    used = [d for d in tx.find(Table.RUNS, owner=user.id) if d["dataset_id"] in copies | {shared_id}
            and d["status"] != "failed"]
    if len(used) >= limit:
        raise RunsPerStudentLimit(f"Your teacher allows {limit} runs per student on this assignment's dataset (and "
                                  f"your copies of it), and you have trained {len(used)}. Submit the best of them.")


def _visible(doc: dict | None, user: User) -> bool:
    return doc is not None and (doc["owner"] == user.id or user.is_admin)


def get_run(ws: Workspace, user: User, run_id: str) -> RunRecord:
    """The run, if it is the user's (or the user is an admin)."""
    user = current_user(ws, user)
    doc = ws.store.get(Table.RUNS, run_id)
    if not _visible(doc, user):
        raise NotFound("That run does not exist (or is not yours).")
    return RunRecord.from_doc(doc)


def load_run(ws: Workspace, run_id: str) -> RunRecord:
    """For the worker and the service: no user check (they act for the run's owner)."""
    doc = ws.store.get(Table.RUNS, run_id)
    if doc is None:
        raise NotFound("That run no longer exists.")
    return RunRecord.from_doc(doc)


def list_runs(ws: Workspace, user: User, everyone: bool = False, dataset_id: str | None = None) -> list[RunRecord]:
    """The user's runs, newest first; `everyone` (admins only): everyone's newest `EVERYONE_PAGE`."""
    user = current_user(ws, user)
    if everyone and user.is_admin and not dataset_id:
        return newest_runs(ws, EVERYONE_PAGE)
    if everyone and user.is_admin:  # one dataset's runs, whoever made them: every person's file (rare)
        docs = ws.store.find(Table.RUNS, dataset_id=dataset_id)
        return sorted((RunRecord.from_doc(d) for d in docs), key=lambda r: r.created, reverse=True)
    where = {"owner": user.id, **({"dataset_id": dataset_id} if dataset_id else {})}
    runs = [RunRecord.from_doc(d) for d in ws.store.find(Table.RUNS, **where)]
    return sorted(runs, key=lambda r: r.created, reverse=True)


def newest_runs(ws: Workspace, count: int) -> list[RunRecord]:
    """Everyone's `count` newest runs, reading only the files of the people who have them (their newest
    run is in the owners' summary): the administrator's view costs the same at any size of history."""
    summaries = sorted(ws.store.owner_summaries().items(), key=lambda kv: -kv[1].get("newest_run", 0.0))
    found: list[RunRecord] = []
    with ws.store.snapshot() as tx:
        for owner, summary in summaries:
            if len(found) >= count and summary.get("newest_run", 0.0) < found[count - 1].created:
                break
            found += [RunRecord.from_doc(d) for d in tx.find(Table.RUNS, owner=owner)]
            found.sort(key=lambda r: r.created, reverse=True)
    return found[:count]


def update_run(ws: Workspace, run_id: str, **changes) -> None:
    ws.store.update(Table.RUNS, run_id, changes)


def transition(ws: Workspace, run_id: str, from_states: tuple[str, ...], **changes) -> bool:
    """Change the run only if its status is still one of `from_states` (one locked transaction), so
    a cancel, a worker starting and a reader noticing a dead worker cannot overwrite each other."""
    with ws.store.transaction_of(Table.RUNS, run_id) as tx:
        doc = tx and tx.get(Table.RUNS, run_id)
        if doc is None or doc["status"] not in from_states:
            return False
        tx.update(Table.RUNS, run_id, changes)
        return True


def delete_run(ws: Workspace, user: User, run_id: str) -> None:
    """Delete a finished run and its files (an active one must be cancelled first)."""
    run = get_run(ws, user, run_id)
    if run.owner != current_user(ws, user).id:
        raise NotFound("That run does not exist (or is not yours).")
    if run.is_active:
        raise TrainingError("This run is still going. Cancel it first.")
    used = ws.store.get(Table.DATASETS, run.dataset_id) or {}
    if run.status != "failed" and used and runs_limit(ws, run.owner, run.dataset_id, used["owner"], used.get("source", ""))[1]:
        raise TrainingError("This run counts toward your teacher's limit of runs for an open assignment, so it is "
                            "kept until the deadline.")
    ws.store.remove(Table.RUNS, run_id)
    shutil.rmtree(run_folder(ws, run), ignore_errors=True)


# Files in the run folder --------------------------------------------------------------------------------

def read_history(folder: Path) -> list[dict]:
    path = folder / "history.jsonl"
    if not path.exists():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:  # a torn last line after a crash
            break
    return rows


def append_history(folder: Path, row: dict) -> None:
    with (folder / "history.jsonl").open("a", encoding="utf-8") as f:
        f.write(json.dumps(row) + "\n")
        f.flush()


def read_progress(folder: Path) -> dict:
    return read_json(folder / "progress.json", default={}) or {}


def write_progress(folder: Path, progress: dict) -> None:
    write_json_atomic(folder / "progress.json", {**progress, "heartbeat": time.time()})


def read_evaluation(folder: Path) -> dict | None:
    return read_json(folder / "evaluation.json")


def model_classes(ws: Workspace, run: RunRecord) -> list[str]:
    """The classes of a run's model, in training order, from its model.json ([] when it has none)."""
    return list((read_json(run_folder(ws, run) / "model.json") or {}).get("classes", []))


def cell_pictures(ws: Workspace, run: RunRecord, split: str, true: str, said: str) -> list[dict] | None:
    """The pictures of one confusion-matrix cell (true class, class it said) with their calibrated
    probabilities, from the run's predictions.json: [{"file", "probabilities": {class: p}}], most confident
    first; None when the run has no such record (trained before it existed)."""
    part = (read_json(run_folder(ws, run) / "predictions.json") or {}).get(split)
    classes = model_classes(ws, run)
    if not part or true not in classes or said not in classes:
        return None if not part else []
    t, p = classes.index(true), classes.index(said)
    rows = [{"file": f, "probabilities": dict(zip(classes, probs))}
            for f, y, probs in zip(part["files"], part["labels"], part["probabilities"])
            if y == t and max(range(len(probs)), key=probs.__getitem__) == p]
    return sorted(rows, key=lambda r: -r["probabilities"][said])

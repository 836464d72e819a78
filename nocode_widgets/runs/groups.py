"""Groups of runs (comparisons and baggings): the record, and what the queue's scheduler does with the open
ones (`top_up`). Below the run service and the queue, which call it; `studies` builds the rest on it.

A group's runs count against the owner's run limit like any run: the group queues as many as the limit
allows and the rest wait in the group's record (`pending`), costing nothing; `top_up` (called by the
scheduler, so by every submit, finishing worker and page that follows a run) queues the next ones as room
frees and makes a finished bagging's ensemble."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field

from ..accounts.auth import User
from ..datasets import get_trainable_dataset
from .ensemble import make_ensemble
from ..errors import NocodeError, NotFound, TrainingError
from ..store import Table
from .records import FINAL, RunRecord, RunsPerStudentLimit, create_run, load_run
from ..workspace import Workspace

log = logging.getLogger("nocode_widgets.runs.groups")


@dataclass(frozen=True)
class Study:
    id: str
    owner: str
    dataset_id: str
    dataset_name: str
    kind: str  # "study" or "bagging"
    title: str
    configs: list  # one asked config per member, in order
    runs: list = field(default_factory=list)  # the run ids queued so far (configs[:len(runs)])
    status: str = "open"  # open | cancelled | stopped (its dataset is gone)
    ensemble: str = ""  # a bagging's ensemble run, once made
    note: str = ""  # why a bagging has no ensemble, or why the group stopped
    created: float = 0.0

    @property
    def pending(self) -> list:
        return self.configs[len(self.runs):] if self.status == "open" else []

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_doc(cls, doc: dict) -> "Study":
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in doc.items() if k in names})


def top_up(ws: Workspace) -> None:
    """For every open group: queue pending runs while the owner has room; make a finished bagging's ensemble.
    Called under the scheduler's lock, so two processes never queue the same member twice."""
    for doc in ws.store.watched(Table.STUDIES):  # the open ones, everyone's
        study = Study.from_doc(doc)
        try:
            if study.pending:
                _queue_pending(ws, study)
            elif study.kind == "bagging" and not study.ensemble and not study.note:
                _combine_if_finished(ws, study)
        except Exception:  # noqa: BLE001 - one broken group must not stop the queue
            log.exception("could not move study %s on", study.id)


def _owner(ws: Workspace, study: Study) -> User | None:
    doc = ws.store.get(Table.USERS, study.owner)
    return User.from_doc(doc) if doc else None


def _queue_pending(ws: Workspace, study: Study) -> None:
    owner = _owner(ws, study)
    try:
        ds = get_trainable_dataset(ws, owner, study.dataset_id) if owner else None
    except NotFound:
        ds = None
    if ds is None:
        ws.store.update(Table.STUDIES, study.id, {"status": "stopped", "note": "Its dataset was deleted."})
        return
    runs = list(study.runs)
    for config in study.pending:
        try:
            run = create_run(ws, owner, ds, config, limit=ws.settings.max_queued_runs_per_user)
        except RunsPerStudentLimit as exc:  # a class's limit: no room will come
            ws.store.update(Table.STUDIES, study.id, {"status": "stopped", "note": str(exc)})
            return
        except TrainingError:  # the owner's limit: the rest wait for room
            break
        ws.store.update(Table.RUNS, run.id, {"study": study.id})
        runs.append(run.id)
        ws.store.update(Table.STUDIES, study.id, {"runs": runs})


def _combine_if_finished(ws: Workspace, study: Study) -> None:
    members = [maybe_run(ws, i) for i in study.runs]
    if any(r is not None and r.status not in FINAL for r in members):
        return
    usable = [r for r in members if r is not None and r.usable]
    if len(usable) < len(study.runs):
        ws.store.update(Table.STUDIES, study.id, {"note": f"Only {len(usable)} of {len(study.runs)} models finished "
                        "with a model, so they were not combined (you can combine them yourself in Results)."})
        return
    owner = _owner(ws, study)
    try:
        ensemble = make_ensemble(ws, owner, [r.id for r in usable], name=study.title.replace("Bagging", "Bagged"),
                                 study=study.id)
    except NocodeError as exc:
        ws.store.update(Table.STUDIES, study.id, {"note": str(exc)})
        return
    ws.store.update(Table.STUDIES, study.id, {"ensemble": ensemble.id})


def maybe_run(ws: Workspace, run_id: str) -> RunRecord | None:
    try:
        return load_run(ws, run_id)
    except NotFound:
        return None

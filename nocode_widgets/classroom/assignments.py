"""Assignments: a teacher sets a class an exercise on a shared dataset, scored on a *hidden test set* that no
student ever sees; students submit finished runs; boards rank them.

- The hidden test set is a dataset of the teacher's, frozen and `hidden` (nobody else can read it, by any id),
  imported from a zip of class folders. It is split once into two fixed halves per class (by a keyed hash of
  each picture): the public board scores every submission on the first half until the deadline; the final
  board, opened at the deadline, scores on the other half, so tuning to the public board does not pay.
- A submission is scored in a helper process (`score_hidden`) with the run's exported model; only confusion
  matrices come back, and students are shown their metric and their per-class F1, never a picture, a label or a
  per-picture answer. A submission counts toward the daily limit (`per_day`, in any 24 hours) from the moment
  it is accepted (checked and recorded in one transaction: parallel tabs cannot pass it); one that failed to
  score does not count.
- Records live in the teacher's file: `Table.ASSIGNMENTS` and `Table.SUBMISSIONS` (owner: the teacher), so a
  board reads one file."""

from __future__ import annotations

import hashlib
import secrets
import time
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from datetime import datetime

from ..accounts.auth import User, current_user
from ..datasets import Dataset, create_dataset, dataset_folder, delete_dataset, import_archive, read_manifest
from ..errors import NocodeError, NotFound
from ..models.evaluate import confusion_scores
from ..runs.records import get_run, model_classes, run_folder
from ..slots import HelpersBusy, helper_slot, run_job
from ..store import Table, new_id
from ..workspace import Workspace
from .classes import (ClassError, Classroom, get_class, is_teacher_of, list_classes, share_dataset, take_off,
                      teaching)

METRICS = {"accuracy": "accuracy", "weighted_f1": "weighted F1", "macro_f1": "macro F1"}
PER_DAY = (1, 100)  # submissions per student per day: the bounds a teacher may choose
DAY_S = 24 * 3600.0
SCORE_TIMEOUT_S = 600.0
SLOT_WAIT_S = 600.0  # how long a submission waits for a free helper before it gives up (and does not count)
STALE_S = SCORE_TIMEOUT_S + SLOT_WAIT_S + 60  # a submission still "scoring" after this was lost (a page died)
MIN_PER_CLASS = 2  # hidden pictures per class: one for each half
NOT_FOUND = "That assignment does not exist (or is not in a class of yours)."


@dataclass(frozen=True)
class Assignment:
    id: str
    owner: str  # the teacher
    class_id: str
    title: str
    dataset_id: str  # the shared (frozen) dataset
    hidden_id: str  # the hidden test set (a hidden dataset of the teacher's)
    classes: tuple[str, ...]  # the hidden set's classes, in the shared dataset's order
    metric: str
    deadline: float
    per_day: int
    runs_per_student: int
    created: float
    hidden_count: int = 0
    overlap: int = 0  # hidden pictures also in the shared dataset (the teacher is told)

    @property
    def metric_name(self) -> str:
        return METRICS[self.metric]

    def is_open(self, now: float | None = None) -> bool:
        return (time.time() if now is None else now) < self.deadline

    @classmethod
    def from_doc(cls, doc: dict) -> "Assignment":
        return cls(doc["id"], doc["owner"], doc["class"], doc["title"], doc["dataset"], doc["hidden"],
                   tuple(doc["classes"]), doc["metric"], doc["deadline"], doc["per_day"], doc["runs_per_student"],
                   doc["created"], doc.get("hidden_count", 0), doc.get("overlap", 0))


@dataclass(frozen=True)
class Submission:
    id: str
    assignment: str
    student: str
    run_id: str
    created: float
    status: str  # scoring | scored | failed
    public: float | None = None
    final: float | None = None
    per_class_public: dict = field(default_factory=dict)  # class -> F1 on the public half
    per_class_final: dict = field(default_factory=dict)
    error: str = ""

    @classmethod
    def from_doc(cls, doc: dict) -> "Submission":
        return cls(doc["id"], doc["assignment"], doc["student"], doc["run"], doc["created"], doc["status"],
                   doc.get("public"), doc.get("final"), doc.get("per_class_public", {}), doc.get("per_class_final", {}),
                   doc.get("error", ""))


def parse_deadline(text: str) -> float:
    """An ISO date and time (`2026-12-20T17:00`, the server's time zone unless one is given) as a timestamp."""
    try:
        moment = datetime.fromisoformat((text or "").strip())
    except ValueError:
        raise ClassError(f"{text!r} is not a date and time like 2026-12-20T17:00.") from None
    return (moment if moment.tzinfo else moment.astimezone()).timestamp()


# Setting an assignment -----------------------------------------------------------------------------------

def create_assignment(ws: Workspace, user: User, class_id: str, dataset_id: str, hidden_zip, deadline: float,
                      title: str = "", metric: str = "weighted_f1", per_day: int = 5, runs_per_student: int = 0,
                      progress=None) -> Assignment:
    """Set an assignment: the dataset (shared with the class now if it is not yet), a hidden test set from a zip of
    class folders (every folder a class of the dataset, at least two pictures each), a deadline in the future,
    the metric, and the limits."""
    teacher, room = teaching(ws, user, class_id)  # the class's teacher: the records and files are theirs
    if metric not in METRICS:
        raise ClassError(f"Unknown metric {metric!r}: choose one of {', '.join(METRICS)}.")
    if not PER_DAY[0] <= int(per_day) <= PER_DAY[1]:
        raise ClassError(f"Submissions per day must be between {PER_DAY[0]} and {PER_DAY[1]}.")
    if int(runs_per_student) < 0:
        raise ClassError("Runs per student must be 0 (no limit) or more.")
    if deadline <= time.time():
        raise ClassError("The deadline must be in the future.")
    source = ws.store.get(Table.DATASETS, dataset_id) or {}
    shared = _shared_copy(ws, user, room, source)
    title = " ".join((title or source.get("name", "Assignment")).split())[:80]
    aid = new_id("asg")
    hidden = create_dataset(ws, teacher, f"Hidden test {aid[-6:]}: {title}"[:64], shared.classes)
    try:
        with ws.store.transaction(teacher.id) as tx:  # hidden before a picture arrives: never shareable
            tx.update(Table.DATASETS, hidden.id, {"hidden": True, "hidden_for": aid})
        import_archive(ws, teacher, hidden_zip, dataset_id=hidden.id, progress=progress)
        hidden = _check_hidden(ws, hidden.id, shared)
        doc = {"id": aid, "owner": teacher.id, "class": room.id, "title": title, "dataset": shared.id,
               "hidden": hidden.id, "classes": list(hidden.classes), "metric": metric, "deadline": float(deadline),
               "per_day": int(per_day), "runs_per_student": int(runs_per_student), "created": time.time(),
               "hidden_count": hidden.image_count, "overlap": _overlap(ws, shared, hidden),
               "salt": secrets.token_hex(16)}  # the halves' key: never shown to anyone
        with ws.store.transaction(teacher.id) as tx:
            tx.update(Table.DATASETS, hidden.id, {"frozen": True})
            tx.insert(Table.ASSIGNMENTS, doc)
    except BaseException:
        with ws.store.transaction(teacher.id) as tx:
            tx.update(Table.DATASETS, hidden.id, {"hidden_for": ""})
        delete_dataset(ws, teacher, hidden.id)
        raise
    return Assignment.from_doc(doc)


def _shared_copy(ws: Workspace, user: User, room: Classroom, doc: dict) -> Dataset:
    """The dataset as the class has it: already shared with it, or shared now (which checks whose it is)."""
    if doc.get("frozen") and room.id in doc.get("shared_with", ()):
        return Dataset.from_doc(doc)
    return share_dataset(ws, user, room.id, doc.get("id", ""))


def _check_hidden(ws: Workspace, hidden_id: str, shared: Dataset) -> Dataset:
    """Every class the students can learn (those with pictures) is in the hidden set, and only those."""
    hidden = Dataset.from_doc(ws.store.get(Table.DATASETS, hidden_id))
    strangers = [c for c in hidden.classes if c not in shared.classes]
    if strangers:
        raise ClassError(f"The hidden test set has folders that are not classes of {shared.name!r}: "
                         f"{', '.join(strangers)}. Its folders must be named like the dataset's classes.")
    learnable = [c for c in shared.classes if shared.counts.get(c, 0) > 0]
    thin = [c for c in learnable if hidden.counts.get(c, 0) < MIN_PER_CLASS]
    if thin:
        raise ClassError(f"Each class of the dataset needs at least {MIN_PER_CLASS} pictures in the hidden test set "
                         f"(one for each half of the board): {', '.join(thin)}.")
    return replace(hidden, classes=tuple(learnable))


def _overlap(ws: Workspace, shared: Dataset, hidden: Dataset) -> int:
    seen = {e.hash for e in read_manifest(dataset_folder(ws, shared))}
    return sum(e.hash in seen for e in read_manifest(dataset_folder(ws, hidden)))


def get_assignment(ws: Workspace, user: User, assignment_id: str) -> tuple[Assignment, Classroom]:
    """The assignment and its class, for its class's teacher, its students, or an administrator."""
    user = current_user(ws, user)
    doc = ws.store.get(Table.ASSIGNMENTS, assignment_id) if isinstance(assignment_id, str) else None
    if doc is None:
        raise NotFound(NOT_FOUND)
    try:
        room = get_class(ws, user, doc["class"])
    except NotFound:
        raise NotFound(NOT_FOUND) from None
    return Assignment.from_doc(doc), room


def list_assignments(ws: Workspace, user: User, class_id: str) -> list[Assignment]:
    """A class's assignments, the nearest deadline first."""
    room = get_class(ws, user, class_id)
    docs = ws.store.find(Table.ASSIGNMENTS, owner=room.teacher, **{"class": room.id})
    return sorted((Assignment.from_doc(d) for d in docs), key=lambda a: a.deadline)


def find_assignment(ws: Workspace, user: User, id_or_title: str) -> tuple[Assignment, Classroom]:
    """By id, or by title among the assignments of the user's classes."""
    wanted = (id_or_title or "").strip().casefold()
    named = [a for c in list_classes(ws, user) for a in list_assignments(ws, user, c.id) if a.title.casefold() == wanted]
    if len(named) > 1:
        raise ClassError(f"More than one assignment is called {id_or_title!r}: use its id.")
    return get_assignment(ws, user, named[0].id if named else id_or_title)


def close_now(ws: Workspace, user: User, assignment_id: str) -> Assignment:
    """End the assignment now: no more submissions, and the final board opens."""
    assignment, room = get_assignment(ws, user, assignment_id)
    teaching(ws, user, room.id)
    ws.store.update(Table.ASSIGNMENTS, assignment.id, {"deadline": min(assignment.deadline, time.time())})
    return get_assignment(ws, user, assignment.id)[0]


def remove_assignment(ws: Workspace, user: User, assignment_id: str) -> None:
    """Delete an assignment with its submissions and its hidden test set."""
    assignment, room = get_assignment(ws, user, assignment_id)
    teaching(ws, user, room.id)
    _remove(ws, assignment)


def remove_class(ws: Workspace, user: User, class_id: str) -> None:
    """Delete a class: its students leave it, its assignments (and their hidden test sets and submissions) go,
    its shared copies are no longer shared (they stay the teacher's, to delete when no longer needed)."""
    _, room = teaching(ws, user, class_id)
    remove_assignments_of(ws, room)
    with ws.store.transaction() as tx:
        take_off(tx, tx.find(Table.USERS), {room.id})
        for dataset_id in room.datasets:
            ds = tx.get(Table.DATASETS, dataset_id)
            if ds is not None:
                tx.update(Table.DATASETS, dataset_id, {"shared_with": [c for c in ds.get("shared_with", ())
                                                                       if c != room.id]})
        tx.remove(Table.CLASSES, room.id)


def remove_assignments_of(ws: Workspace, room: Classroom) -> None:
    """Every assignment of a class (its teacher or an administrator checked already)."""
    for doc in ws.store.find(Table.ASSIGNMENTS, owner=room.teacher, **{"class": room.id}):
        _remove(ws, Assignment.from_doc(doc))


def _remove(ws: Workspace, assignment: Assignment) -> None:
    with ws.store.transaction(assignment.owner) as tx:
        tx.remove_where(Table.SUBMISSIONS, owner=assignment.owner, assignment=assignment.id)
        tx.remove(Table.ASSIGNMENTS, assignment.id)
        tx.update(Table.DATASETS, assignment.hidden_id, {"hidden_for": ""})
    owner = User.from_doc(ws.store.get(Table.USERS, assignment.owner))
    delete_dataset(ws, owner, assignment.hidden_id)


# Submitting ----------------------------------------------------------------------------------------------

def submissions(ws: Workspace, assignment: Assignment, student: str | None = None) -> list[Submission]:
    """An assignment's submissions (one student's), oldest first. No check: callers checked the viewer."""
    found = ws.store.find(Table.SUBMISSIONS, owner=assignment.owner, assignment=assignment.id,
                          **({"student": student} if student else {}))
    return sorted((Submission.from_doc(d) for d in found), key=lambda s: s.created)


def submit(ws: Workspace, user: User, assignment_id: str, run_id: str, progress=lambda done, total: None,
           clock=time.time, waiting=lambda: None) -> Submission:
    """A student submits one of their trained runs (or ensembles) of the assignment's dataset (or of their own
    copy of it): checked, recorded against the deadline and the day's limit at once, then scored on the hidden
    test set in a helper process as soon as one is free (`waiting()` is called meanwhile). Returns it scored."""
    user = current_user(ws, user)
    assignment, room = get_assignment(ws, user, assignment_id)
    if room.id not in user.classes:
        raise ClassError("Only the class's students submit to its assignments.")
    run = get_run(ws, user, run_id)
    if run.owner != user.id:
        raise NotFound("That run does not exist (or is not yours).")
    if not run.usable:
        raise ClassError("Only a run with a trained model can be submitted. Wait for it to finish, or choose another.")
    trained_on = ws.store.get(Table.DATASETS, run.dataset_id) or {}
    if assignment.dataset_id not in (run.dataset_id, trained_on.get("source") if trained_on.get("owner") == user.id
                                     else None):
        raise ClassError("Submit a model trained on the assignment's dataset (or on your own copy of it).")
    card = model_classes(ws, run)
    if sorted(card) != sorted(assignment.classes):
        raise ClassError(f"This model knows the classes {', '.join(card)}, but the assignment asks for "
                         f"{', '.join(assignment.classes)}. Train it on all of the assignment's classes.")
    sid = _accept(ws, user, assignment, run.id, clock())  # in before the deadline, whatever the wait
    try:
        with ExitStack() as slot:
            result = run_job(ws, _take_slot(ws, user.id, slot, waiting), "nocode_widgets.classroom.score_hidden",
                             {"model": str(run_folder(ws, run)), "classes": list(assignment.classes),
                              "pictures": _hidden_pictures(ws, assignment)},
                             lambda state: progress(state["done"], state["total"]), SCORE_TIMEOUT_S, "Scoring took too long and was stopped.",
                             "The submission could not be scored")
    except BaseException as exc:
        _record(ws, assignment, sid, {"status": "failed", "error": str(exc) if isinstance(exc, NocodeError)
                                      else "The submission could not be scored."})
        raise
    scores = {half: confusion_scores(m) for half, m in result["confusion"].items()}
    _record(ws, assignment, sid, {
        "status": "scored", "public": scores["public"][assignment.metric], "final": scores["final"][assignment.metric],
        "per_class_public": dict(zip(assignment.classes, scores["public"]["per_class_f1"])),
        "per_class_final": dict(zip(assignment.classes, scores["final"]["per_class_f1"])),
        "confusion": result["confusion"], "unreadable": result.get("unreadable", 0)})
    return Submission.from_doc(ws.store.get(Table.SUBMISSIONS, sid))


def _take_slot(ws: Workspace, user_id: str, stack: ExitStack, waiting) -> int:
    """A helper slot for the scoring (its number), waited for up to SLOT_WAIT_S (a class submitting near its
    deadline)."""
    until = time.time() + SLOT_WAIT_S
    while True:
        try:
            return stack.enter_context(helper_slot(ws, user_id, "scoring a submission"))
        except HelpersBusy:
            if time.time() >= until:
                raise HelpersBusy("The server stayed too busy to score your submission; it does not count. "
                                  "Please submit again.") from None
            waiting()
            time.sleep(1.0)


def _accept(ws: Workspace, user: User, assignment: Assignment, run_id: str, now: float) -> str:
    """Check the deadline and the day's limit and record the submission, in one transaction of the teacher's file."""
    sid = new_id("sub")
    with ws.store.transaction(assignment.owner) as tx:
        doc = tx.get(Table.ASSIGNMENTS, assignment.id)
        if doc is None:
            raise NotFound(NOT_FOUND)
        if now >= doc["deadline"]:
            raise ClassError("The deadline has passed: this assignment takes no more submissions.")
        recent = _recent(tx.find(Table.SUBMISSIONS, owner=assignment.owner, assignment=assignment.id,
                                 student=user.id), now)
        if len(recent) >= doc["per_day"]:
            wait = recent[0] + DAY_S - now
            raise ClassError(f"You have made {len(recent)} submissions in the last 24 hours, the most this "
                             f"assignment allows. The next one is possible in {_hours(wait)}.")
        tx.insert(Table.SUBMISSIONS, {"id": sid, "owner": assignment.owner, "assignment": assignment.id,
                                      "student": user.id, "run": run_id, "created": now, "status": "scoring"})
    return sid


def _recent(docs: list[dict], now: float) -> list[float]:
    """When the submissions that count toward the day's limit were made, oldest first: in the last 24 hours,
    scored or still being scored (not failed, not lost with their page)."""
    return sorted(d["created"] for d in docs if now - d["created"] < DAY_S and (
        d["status"] == "scored" or (d["status"] == "scoring" and now - d["created"] < STALE_S)))


def submissions_left(ws: Workspace, user: User, assignment_id: str, now: float | None = None) -> int:
    """How many more the student may submit in the next 24 hours (the rule `submit` applies)."""
    user = current_user(ws, user)
    assignment, _ = get_assignment(ws, user, assignment_id)
    found = ws.store.find(Table.SUBMISSIONS, owner=assignment.owner, assignment=assignment.id, student=user.id)
    return max(0, assignment.per_day - len(_recent(found, time.time() if now is None else now)))


def _hours(seconds: float) -> str:
    minutes = int(seconds // 60) + 1
    return f"{minutes} minutes" if minutes < 90 else f"{minutes // 60} hours {minutes % 60} minutes"


def _record(ws: Workspace, assignment: Assignment, sid: str, fields: dict) -> None:
    with ws.store.transaction(assignment.owner) as tx:
        tx.update(Table.SUBMISSIONS, sid, fields)


def _hidden_pictures(ws: Workspace, assignment: Assignment) -> list[list]:
    """[path, class index, half] per hidden picture: per class, ordered by a hash keyed with the assignment's
    secret salt, the first half (rounded up) is public, the rest final: fixed for the assignment, unknown to
    anyone (the salt is in its record only, never shown)."""
    hidden = Dataset.from_doc(ws.store.get(Table.DATASETS, assignment.hidden_id))
    salt = (ws.store.get(Table.ASSIGNMENTS, assignment.id) or {}).get("salt", assignment.id)
    folder = dataset_folder(ws, hidden)
    manifest, rows = read_manifest(folder), []
    for k, label in enumerate(assignment.classes):
        entries = sorted((e for e in manifest if e.label == label),
                         key=lambda e: hashlib.sha256(f"{salt}:{e.hash}".encode()).hexdigest())
        public = (len(entries) + 1) // 2
        rows += [[str(folder / e.file), k, 0 if i < public else 1] for i, e in enumerate(entries)]
    return rows


def visible_submissions(ws: Workspace, user: User, assignment_id: str) -> list[Submission]:
    """The viewer's own submissions (their final-half scores only once the deadline passed); the teacher (or an
    administrator) sees everyone's, whole."""
    user = current_user(ws, user)
    assignment, room = get_assignment(ws, user, assignment_id)
    if is_teacher_of(user, room):
        return submissions(ws, assignment)
    return [as_student_sees(s, assignment) for s in submissions(ws, assignment, user.id)]


def as_student_sees(sub: Submission, assignment: Assignment, now: float | None = None) -> Submission:
    """Before the deadline a student must not learn anything of the final half."""
    return sub if not assignment.is_open(now) else replace(sub, final=None, per_class_final={})

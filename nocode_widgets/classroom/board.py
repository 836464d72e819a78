"""Leaderboards, the teacher's view of a class, and the grades.

Each student counts with one submission: their best on the public half (the earliest of equals). The public
board ranks those by their public score while the assignment is open; the final board, only once the deadline
passed, ranks the same submissions by their score on the final half. Equal scores share a rank.
Students see display names (or, when the teacher chose anonymous, only their own), their own per-class F1, and
nothing of the hidden set; the teacher sees everything of their class."""

from __future__ import annotations

import csv
import io
import time
from dataclasses import dataclass, field

from ..accounts.auth import User, current_user
from ..store import Table
from ..workspace import Workspace
from .assignments import Assignment, Submission, get_assignment, list_assignments, submissions
from .classes import ClassError, is_teacher_of, students_of, teaching

ANONYMOUS = "(a classmate)"


@dataclass(frozen=True)
class BoardRow:
    rank: int
    student: str  # user id (empty in what a student sees of others on an anonymous board)
    name: str
    score: float
    submissions: int | None  # None on an anonymous board's other rows
    last: float | None  # when they last submitted
    you: bool = False


@dataclass(frozen=True)
class Board:
    assignment: Assignment
    final: bool
    rows: list[BoardRow]
    students: int  # in the class now
    mine: dict = field(default_factory=dict)  # the viewer's per-class F1 (their counted submission), students only

    @property
    def title(self) -> str:
        return (f"Final board ({self.assignment.metric_name} on the final half of the hidden test set)" if self.final
                else f"Public board ({self.assignment.metric_name} on the public half of the hidden test set)")


def counted(subs: list[Submission]) -> dict[str, tuple[Submission, int, float]]:
    """Per student: their counted submission (best public, earliest of equals), how many they made, the last time."""
    out: dict[str, tuple[Submission, int, float]] = {}
    for s in subs:  # oldest first
        if s.status != "scored":
            continue
        best, n, _ = out.get(s.student, (None, 0, 0.0))
        out[s.student] = (s if best is None or s.public > best.public else best, n + 1, s.created)
    return out


def class_picks(ws: Workspace, assignment: Assignment, members) -> dict[str, tuple[Submission, int, float]]:
    """`counted` for the students of the class now: who left it leaves its boards and grades."""
    return {s: p for s, p in counted(submissions(ws, assignment)).items() if s in members}


def ranked(scores: list[tuple[str, float]]) -> list[tuple[int, str, float]]:
    """(rank, key, score), best first; equal scores share the rank (1, 2, 2, 4)."""
    ordered = sorted(scores, key=lambda kv: -kv[1])
    out, rank = [], 0
    for i, (key, score) in enumerate(ordered):
        if i == 0 or score < ordered[i - 1][1]:
            rank = i + 1
        out.append((rank, key, score))
    return out


def board(ws: Workspace, user: User, assignment_id: str, final: bool = False, now: float | None = None) -> Board:
    user = current_user(ws, user)
    assignment, room = get_assignment(ws, user, assignment_id)
    if final and assignment.is_open(now):
        raise ClassError(f"The final board opens at the deadline ({when(assignment.deadline)}).")
    teacher = is_teacher_of(user, room)
    names = {u.id: u.shown_name for u in students_of(ws, room)}
    picks = class_picks(ws, assignment, names)
    rows = []
    for rank, sid, score in ranked([(s, (p.final if final else p.public)) for s, (p, _, _) in picks.items()]):
        _, n, last = picks[sid]
        if not teacher and room.anonymous and sid != user.id:  # nothing that tells who it is
            rows.append(BoardRow(rank, "", ANONYMOUS, score, None, None))
        else:
            rows.append(BoardRow(rank, sid, names[sid], score, n, last, you=sid == user.id))
    mine = {}
    if user.id in picks:
        mine = picks[user.id][0].per_class_final if final else picks[user.id][0].per_class_public
    return Board(assignment, final, rows, len(names), dict(mine))


def when(moment: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(moment))


# The teacher's view and the grades -----------------------------------------------------------------------

@dataclass(frozen=True)
class StudentRow:
    id: str
    username: str
    name: str
    runs: int
    submissions: int
    best: dict  # assignment title -> their counted public score (and final, once closed): "0.91 / 0.88"
    last_active: float
    must_change: bool  # has not signed in yet (still on their one-time password)


def teacher_view(ws: Workspace, user: User, class_id: str) -> list[StudentRow]:
    """Per student of the class: runs, submissions, scores per assignment, last activity (its teacher or an admin)."""
    _, room = teaching(ws, user, class_id)
    works = list_assignments(ws, user, room.id)
    picks = {a.id: counted(submissions(ws, a)) for a in works}
    summaries = ws.store.owner_summaries()
    rows = []
    for student in students_of(ws, room):
        doc = ws.store.get(Table.USERS, student.id) or {}
        mine = [(a, picks[a.id][student.id]) for a in works if student.id in picks[a.id]]
        best = {f"{a.title} ({a.id[-4:]})" if titles_repeat(works) else a.title: _both(p[0], a) for a, p in mine}
        subs = sum(p[1] for _, p in mine)
        last = max([doc.get("last_login") or 0.0, summaries.get(student.id, {}).get("newest_run", 0.0)]
                   + [p[2] for _, p in mine])
        rows.append(StudentRow(student.id, student.username, student.shown_name,
                               summaries.get(student.id, {}).get("runs", 0), subs, best, last, student.must_change))
    return rows


def titles_repeat(works: list[Assignment]) -> bool:
    return len({a.title for a in works}) < len(works)


def _both(sub: Submission, assignment: Assignment) -> str:
    return f"{sub.public:.3f}" + ("" if assignment.is_open() else f" / {sub.final:.3f}")


def grades_csv(ws: Workspace, user: User, assignment_id: str) -> str:
    """One line per student of the class: username, name, submissions, public score, final score and rank (those
    two once the deadline passed)."""
    assignment, room = get_assignment(ws, user, assignment_id)
    teaching(ws, user, room.id)
    students = students_of(ws, room)
    picks = class_picks(ws, assignment, {s.id for s in students})
    closed = not assignment.is_open()
    ranks = {sid: rank for rank, sid, _ in ranked([(s, p[0].final) for s, p in picks.items()])} if closed else {}
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["username", "name", "submissions", f"public {assignment.metric}", f"final {assignment.metric}",
                     "final rank"])
    for student in students:
        pick = picks.get(student.id)
        writer.writerow([student.username, student.shown_name, pick[1] if pick else 0,
                         f"{pick[0].public:.4f}" if pick else "",
                         f"{pick[0].final:.4f}" if pick and closed else "", ranks.get(student.id, "")])
    return out.getvalue()

"""`nocode class ...` and `nocode assignment ...`: classes (create, list, show, add students from a roster, the join
code, join, remove, share a dataset) and assignments (create with a hidden test set, list, submit, board, grades,
close). Without `--user`, a command acts for the class's teacher (the operator runs the server); `--user` acts as
that person, with their rights only."""

from __future__ import annotations

import os
from pathlib import Path

from .. import classroom as C
from .. import datasets as D
from ..accounts import auth
from ..classroom import assignments as A
from ..classroom import classes as K
from ..classroom.board import when
from ..errors import NocodeError
from ..store import Table
from .common import add_common, emit, find_user_or_fail, open_workspace


def register(sub) -> None:
    p = sub.add_parser("class", help="classes: teachers, students, join codes, shared datasets")
    cmds = p.add_subparsers(dest="class_command", required=True)
    create = _cmd(cmds, "create", "make a class taught by --teacher", _create, room=False, user=False)
    create.add_argument("name")
    create.add_argument("--teacher", required=True, help="a teacher's (or an administrator's) username")
    create.add_argument("--anonymous", action="store_true", help="students see ranks, not each other's names")
    _cmd(cmds, "list", "the classes (everyone's, or those --user teaches or is in)", _list, room=False)
    _cmd(cmds, "show", "a class: its students with their runs, submissions and scores; datasets; assignments", _show)
    add = _cmd(cmds, "add-students", "new accounts from a CSV of names, with one-time passwords", _add_students)
    add.add_argument("--csv", required=True, help="one name per line, or columns name[,username]")
    add.add_argument("--out", help="write the one-time passwords here (else they are printed)")
    code = _cmd(cmds, "join-code", "the class's join code", _join_code)
    code.add_argument("--new", action="store_true", help="make a new one (the old one stops working)")
    join = _cmd(cmds, "join", "join a class with its code (as --user)", _join, room=False)
    join.add_argument("code")
    remove = _cmd(cmds, "remove", "delete a class (or take --student out of it)", _remove)
    remove.add_argument("--student", help="a student's username: only take them out")
    share = _cmd(cmds, "share", "share one of the teacher's datasets with the class (a frozen copy)", _share)
    share.add_argument("--dataset", required=True, help="name or id")

    p = sub.add_parser("assignment", help="assignments scored on a hidden test set; submissions; boards; grades")
    cmds = p.add_subparsers(dest="assignment_command", required=True)
    create = _cmd(cmds, "create", "set a class an assignment", _create_assignment)
    create.add_argument("--dataset", required=True, help="the teacher's dataset (shared with the class if not yet)")
    create.add_argument("--hidden-test", required=True, help="a zip of class folders nobody else will see")
    create.add_argument("--deadline", required=True, help="ISO date and time, e.g. 2026-12-20T17:00")
    create.add_argument("--metric", choices=list(A.METRICS), default="weighted_f1")
    create.add_argument("--per-day", type=int, default=5, help="submissions per student in any 24 hours")
    create.add_argument("--runs-per-student", type=int, default=0, help="runs each student may train on it (0: any)")
    create.add_argument("--title", default="")
    _cmd(cmds, "list", "a class's assignments", _list_assignments)
    submit = _cmd(cmds, "submit", "submit a finished run (as --user) and get its public score", _submit,
                  room=False, assignment=True, user_required=True)
    submit.add_argument("--run", required=True, dest="run_id")
    board = _cmd(cmds, "board", "the public board (or --final, after the deadline)", _board, room=False,
                 assignment=True)
    board.add_argument("--final", action="store_true")
    grades = _cmd(cmds, "grades", "write the grades as CSV", _grades, room=False, assignment=True)
    grades.add_argument("--out", required=True)
    _cmd(cmds, "close", "end the assignment now (the final board opens)", _close, room=False, assignment=True)


def _cmd(cmds, name, help_text, run, room=True, assignment=False, user=True, user_required=False):
    c = cmds.add_parser(name, help=help_text)
    add_common(c)
    if room:
        c.add_argument("room", metavar="CLASS", help="name or id")
    if assignment:
        c.add_argument("assignment", metavar="ASSIGNMENT", help="id or title")
    if user:
        c.add_argument("--user", required=user_required, help="act as this person (default: the class's teacher)")
    c.set_defaults(run=run)
    return c


def _as(ws, args) -> auth.User:
    return find_user_or_fail(ws, args.user) if getattr(args, "user", None) else auth.OPERATOR


def _room(ws, args) -> tuple[auth.User, K.Classroom]:
    """The class, and who acts: --user, else its teacher."""
    actor = _as(ws, args)
    room = C.find_class(ws, actor, args.room)
    return (actor if args.user else K.teaching(ws, actor, room.id)[0]), room  # the operator acts for the teacher


def _teacher_name(ws, user_id: str) -> str:
    return (ws.store.get(Table.USERS, user_id) or {}).get("username", "(no longer has an account)")


def _assignment(ws, args) -> tuple[auth.User, A.Assignment, K.Classroom]:
    actor = _as(ws, args)
    work, room = C.find_assignment(ws, actor, args.assignment)
    return (actor if args.user else K.teaching(ws, actor, room.id)[0]), work, room


def _class_json(room: K.Classroom, teacher: str) -> dict:
    return {"id": room.id, "name": room.name, "teacher": teacher, "code": room.code, "anonymous": room.anonymous,
            "datasets": list(room.datasets)}


def _create(args):
    ws = open_workspace(args)
    room = C.create_class(ws, find_user_or_fail(ws, args.teacher), args.name, anonymous=args.anonymous)
    emit(args, _class_json(room, args.teacher), f"Created {room.name} ({room.id}). Join code: {room.code}")


def _list(args):
    ws = open_workspace(args)
    rooms = C.list_classes(ws, _as(ws, args))
    rows = [_class_json(r, _teacher_name(ws, r.teacher)) for r in rooms]
    emit(args, rows, "\n".join(f"{r['name']:<32} {r['id']}  teacher {r['teacher']}" for r in rows) or "No classes.")


def _show(args):
    ws = open_workspace(args)
    user, room = _room(ws, args)
    students = C.teacher_view(ws, user, room.id)
    works = C.list_assignments(ws, user, room.id)
    data = {**_class_json(room, _teacher_name(ws, room.teacher)),
            "students": [{"username": s.username, "name": s.name, "runs": s.runs, "submissions": s.submissions,
                          "scores": s.best, "last_active": s.last_active, "signed_in": not s.must_change}
                         for s in students],
            "assignments": [{"id": a.id, "title": a.title, "deadline": when(a.deadline), "metric": a.metric}
                            for a in works]}
    lines = [f"{room.name} ({room.id}), join code {room.code}, {len(students)} students"]
    lines += [f"  {s.username:<24} {s.name:<24} runs {s.runs:<3} submissions {s.submissions:<3} "
              + "; ".join(f"{t}: {v}" for t, v in s.best.items()) for s in students]
    lines += [f"  assignment {a.id}: {a.title}, due {when(a.deadline)}" for a in works]
    emit(args, data, "\n".join(lines))


def _add_students(args):
    ws = open_workspace(args)
    user, room = _room(ws, args)
    try:
        text = Path(args.csv).read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise NocodeError(f"Cannot read {args.csv}: {exc.strerror}.") from None
    made, skipped = K.add_students(ws, user, room.id, K.read_roster(text))
    listing = K.roster_csv(made, room)
    if args.out:
        fd = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # passwords: the owner's eyes only
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(listing)
    data = {"added": [{"name": a.name, "username": a.username} | ({} if args.out else {"password": a.password})
                      for a in made], "skipped": skipped, "passwords_file": args.out or ""}
    text_out = (f"Added {len(made)} students to {room.name}; their one-time passwords are in {args.out}."
                if args.out else listing.rstrip())
    emit(args, data, text_out + "".join(f"\n  not added: {s}" for s in skipped))


def _join_code(args):
    ws = open_workspace(args)
    user, room = _room(ws, args)
    room = K.new_join_code(ws, user, room.id) if args.new else K.teaching(ws, user, room.id)[1]
    emit(args, {"id": room.id, "code": room.code}, room.code)


def _join(args):
    ws = open_workspace(args)
    if not args.user:
        raise NocodeError("Say who joins: --user NAME.")
    room = C.join(ws, find_user_or_fail(ws, args.user), args.code)
    emit(args, {"id": room.id, "name": room.name}, f"{args.user} joined {room.name}.")


def _remove(args):
    ws = open_workspace(args)
    user, room = _room(ws, args)
    if args.student:
        K.remove_student(ws, user, room.id, find_user_or_fail(ws, args.student).id)
        emit(args, {"removed": args.student, "class": room.id}, f"Took {args.student} out of {room.name}.")
        return
    C.remove_class(ws, user, room.id)
    emit(args, {"removed": room.id}, f"Deleted the class {room.name}.")


def _share(args):
    ws = open_workspace(args)
    user, room = _room(ws, args)
    ds = C.share_dataset(ws, user, room.id, D.find_dataset(ws, user, args.dataset).id)
    emit(args, {"dataset": ds.id, "name": ds.name, "version": ds.version, "class": room.id},
         f"Shared {ds.name} ({ds.id}) with {room.name}: read-only, fixed at version {ds.version}.")


def _create_assignment(args):
    ws = open_workspace(args)
    user, room = _room(ws, args)
    ds = D.find_dataset(ws, user, args.dataset)
    work = C.create_assignment(ws, user, room.id, ds.id, args.hidden_test, A.parse_deadline(args.deadline),
                               args.title, args.metric, args.per_day, args.runs_per_student)
    note = (f" Note: {work.overlap} hidden pictures are also in the dataset (scores will be too kind)."
            if work.overlap else "")
    emit(args, _assignment_json(work), f"Set {work.title!r} ({work.id}) for {room.name}: {work.hidden_count} hidden "
         f"pictures, {work.metric_name}, due {when(work.deadline)}.{note}")


def _assignment_json(work: A.Assignment) -> dict:
    return {"id": work.id, "title": work.title, "class": work.class_id, "dataset": work.dataset_id,
            "metric": work.metric, "deadline": work.deadline, "per_day": work.per_day,
            "runs_per_student": work.runs_per_student, "hidden_pictures": work.hidden_count, "overlap": work.overlap}


def _list_assignments(args):
    ws = open_workspace(args)
    user, room = _room(ws, args)
    works = C.list_assignments(ws, user, room.id)
    emit(args, [_assignment_json(a) for a in works],
         "\n".join(f"{a.id}  {a.title:<32} due {when(a.deadline)}" for a in works) or "No assignments.")


def _submit(args):
    ws = open_workspace(args)
    user, work, _ = _assignment(ws, args)
    sub = C.submit(ws, user, work.id, args.run_id)
    emit(args, {"id": sub.id, "assignment": work.id, "run": sub.run_id, "metric": work.metric, "public": sub.public,
                "per_class_public": sub.per_class_public},
         f"Scored {sub.public:.4f} ({work.metric_name}, public half of the hidden test set).")


def _board(args):
    ws = open_workspace(args)
    user, work, _ = _assignment(ws, args)
    shown = C.board(ws, user, work.id, final=args.final)
    rows = [{"rank": r.rank, "name": r.name, "score": r.score, "submissions": r.submissions, "you": r.you}
            for r in shown.rows]
    emit(args, {"assignment": work.id, "final": shown.final, "metric": work.metric, "rows": rows},
         "\n".join([shown.title] + [f"{r.rank:>3}. {r.name:<32} {r.score:.4f}"
                                    + ("" if r.submissions is None else f"  ({r.submissions} submissions)")
                                    for r in shown.rows]))


def _grades(args):
    ws = open_workspace(args)
    user, work, _ = _assignment(ws, args)
    Path(args.out).write_text(C.grades_csv(ws, user, work.id), encoding="utf-8")
    emit(args, {"assignment": work.id, "out": args.out}, f"Wrote the grades of {work.title!r} to {args.out}.")


def _close(args):
    ws = open_workspace(args)
    user, work, _ = _assignment(ws, args)
    work = A.close_now(ws, user, work.id)
    emit(args, _assignment_json(work), f"Closed {work.title!r}: the final board is open.")

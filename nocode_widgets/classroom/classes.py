"""Classes: a teacher's group of students, who join with a join code or are added from a roster (new accounts
with one-time passwords). A class holds the datasets its teacher shares with it (frozen copies: students
read and train, nobody changes them).

Who may do what, checked here on every call (the page and the command line only ask):
- a teacher (or an administrator) creates classes; a class's teacher, or an administrator, changes it;
- a student sees the classes they are in, and nothing of other students but what a board shows;
- an administrator sees every class.

The class is a small document in the accounts file (`Table.CLASSES`); who is in it is on each student's
account (`classes`), so "my classes" and "may I read this" need no scan."""

from __future__ import annotations

import csv
import io
import re
import secrets
import time
import unicodedata
from dataclasses import dataclass

from ..accounts import auth
from ..accounts.auth import User, current_user
from ..datasets import Dataset
from ..datasets.catalog import clean_name
from ..datasets.copies import copy_dataset
from ..errors import AuthError, NocodeError, NotFound
from ..store import Table, new_id
from ..workspace import Workspace

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud or off a board
CODE_LENGTH = 10  # 50 bits: not guessable, short enough to type
MAX_ROSTER = 500  # names in one roster
NOT_FOUND = "That class does not exist (or you are not in it)."


class ClassError(NocodeError):
    """Something about a class, an assignment or a submission, in plain words."""


@dataclass(frozen=True)
class Classroom:
    id: str
    teacher: str  # the teacher's user id
    name: str
    code: str  # the join code
    created: float
    anonymous: bool = False  # students see ranks, not each other's names
    datasets: tuple[str, ...] = ()  # the frozen datasets shared with it

    @classmethod
    def from_doc(cls, doc: dict) -> "Classroom":
        return cls(doc["id"], doc["teacher"], doc["name"], doc["code"], doc["created"], bool(doc.get("anonymous")),
                   tuple(doc.get("datasets", ())))


@dataclass(frozen=True)
class NewAccount:
    """A roster line made into an account: its one-time password is shown once, to the teacher."""
    name: str
    username: str
    password: str


def require_teacher(ws: Workspace, user: User) -> User:
    fresh = current_user(ws, user)
    if not fresh.is_teacher:
        raise AuthError("Only a teacher (or an administrator) can do that. An administrator can make you a teacher.")
    return fresh


def _code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def _clean_code(raw: str) -> str:
    return "".join(ch for ch in (raw or "").upper() if ch.isalnum())[:64]


def create_class(ws: Workspace, user: User, name: str, anonymous: bool = False) -> Classroom:
    teacher = require_teacher(ws, user)
    name = clean_name(name, "class")
    doc = {"id": new_id("cls"), "teacher": teacher.id, "name": name, "code": _code(), "created": time.time(),
           "anonymous": bool(anonymous), "datasets": []}
    with ws.store.transaction() as tx:
        if any(d["name"].casefold() == name.casefold() for d in tx.find(Table.CLASSES, teacher=teacher.id)):
            raise ClassError(f"You already have a class called {name!r}.")
        tx.insert(Table.CLASSES, doc)
    return Classroom.from_doc(doc)


def list_classes(ws: Workspace, user: User) -> list[Classroom]:
    """An administrator: every class; else the classes one teaches and the ones one is in. Oldest first."""
    user = current_user(ws, user)
    if user.is_admin:
        docs = ws.store.find(Table.CLASSES)
    else:
        docs = ws.store.find(Table.CLASSES, teacher=user.id) + [d for d in map(
            lambda c: ws.store.get(Table.CLASSES, c), user.classes) if d is not None]
    unique = {d["id"]: Classroom.from_doc(d) for d in docs}
    return sorted(unique.values(), key=lambda c: c.created)


def get_class(ws: Workspace, user: User, class_id: str) -> Classroom:
    """A class the user teaches, is in, or (an administrator) any."""
    user = current_user(ws, user)
    doc = ws.store.get(Table.CLASSES, class_id) if isinstance(class_id, str) else None
    if doc is None or not (user.is_admin or doc["teacher"] == user.id or doc["id"] in user.classes):
        raise NotFound(NOT_FOUND)
    return Classroom.from_doc(doc)


def find_class(ws: Workspace, user: User, name_or_id: str) -> Classroom:
    """By id, or by name among the classes the user sees (case-insensitive)."""
    wanted = (name_or_id or "").strip().casefold()
    named = [c for c in list_classes(ws, user) if c.name.casefold() == wanted or c.id == name_or_id]
    if len(named) > 1:
        raise ClassError(f"More than one class is called {name_or_id!r}: use its id.")
    if named:
        return named[0]
    return get_class(ws, user, name_or_id)


def teaching(ws: Workspace, user: User, class_id: str) -> tuple[User, Classroom]:
    """The class and its teacher's account, if the user is that teacher (still a teacher) or an administrator:
    what changing it needs. An administrator acting on a class acts for its teacher (their datasets, their file)."""
    user = current_user(ws, user)
    room = get_class(ws, user, class_id)
    if not user.is_teacher or (room.teacher != user.id and not user.is_admin):
        raise AuthError("Only the class's teacher can do that.")
    if room.teacher == user.id:
        return user, room
    doc = ws.store.get(Table.USERS, room.teacher)
    if doc is None:
        raise NotFound("The class's teacher no longer has an account.")
    return User.from_doc(doc), room


def is_teacher_of(user: User, room: Classroom) -> bool:
    return room.teacher == user.id or user.is_admin


def new_join_code(ws: Workspace, user: User, class_id: str) -> Classroom:
    """A fresh join code; the old one stops working (students already in stay)."""
    _, room = teaching(ws, user, class_id)
    ws.store.update(Table.CLASSES, room.id, {"code": _code()})
    return get_class(ws, user, room.id)


def join(ws: Workspace, user: User, code: str) -> Classroom:
    """Join the class whose join code this is."""
    user = current_user(ws, user)
    cleaned = _clean_code(code)
    found = ws.store.find(Table.CLASSES, code=cleaned) if len(cleaned) == CODE_LENGTH else []
    if not found:
        raise ClassError("No class has that join code. Check it with your teacher (letters and digits, "
                         f"{CODE_LENGTH} of them).")
    room = Classroom.from_doc(found[0])
    if room.teacher == user.id:
        raise ClassError("You teach this class, so you are in it already.")
    if user.id in found[0].get("removed", ()):
        raise ClassError("Your teacher took you out of this class. Ask them if that was a mistake.")
    with ws.store.transaction() as tx:
        doc = tx.get(Table.USERS, user.id)
        if doc is None:
            raise AuthError("Your session has ended. Please log in again.")
        if room.id not in doc.get("classes", []):
            tx.update(Table.USERS, user.id, {"classes": doc.get("classes", []) + [room.id]})
    return room


def members(ws: Workspace, user: User, class_id: str) -> list[User]:
    """The students of a class, by name (its teacher or an administrator only)."""
    _, room = teaching(ws, user, class_id)
    return students_of(ws, room)


def take_off(tx, accounts: list[dict], class_ids: set) -> None:
    """Take these classes off these accounts (in an accounts transaction)."""
    for doc in accounts:
        if class_ids & set(doc.get("classes", ())):
            tx.update(Table.USERS, doc["id"], {"classes": [c for c in doc["classes"] if c not in class_ids]})


def teacher_datasets(ws: Workspace, user: User, class_id: str) -> tuple[list[Dataset], list[Dataset]]:
    """The class's teacher's datasets (also when an administrator asks): those that can be shared (working
    ones), and those an assignment can use (working ones, which get shared, and the copies shared with it)."""
    teacher, room = teaching(ws, user, class_id)
    own = [Dataset.from_doc(d) for d in ws.store.find(Table.DATASETS, owner=teacher.id) if not d.get("hidden")]
    own.sort(key=lambda d: d.created, reverse=True)
    return ([d for d in own if not d.frozen], [d for d in own if not d.frozen or room.id in d.shared_with])


def students_of(ws: Workspace, room: Classroom) -> list[User]:
    """No check: for code that checked already (boards, the teacher's view)."""
    docs = [d for d in ws.store.find(Table.USERS) if room.id in d.get("classes", ())]
    return sorted((User.from_doc(d) for d in docs), key=lambda u: u.shown_name.casefold())


def remove_student(ws: Workspace, user: User, class_id: str, student_id: str) -> None:
    """Take a student out of the class: they leave its boards and cannot join again with the code (their
    account, runs and submissions stay)."""
    _, room = teaching(ws, user, class_id)
    with ws.store.transaction() as tx:
        doc = tx.get(Table.USERS, student_id)
        if doc is None or room.id not in doc.get("classes", ()):
            raise NotFound("That student is not in this class.")
        take_off(tx, [doc], {room.id})
        class_doc = tx.get(Table.CLASSES, room.id)
        tx.update(Table.CLASSES, room.id, {"removed": sorted(set(class_doc.get("removed", [])) | {student_id})})


# A roster: accounts in bulk ------------------------------------------------------------------------------

def read_roster(text: str) -> list[tuple[str, str]]:
    """(name, username) per student from a CSV: a header with `name` (and optionally `username`), or one
    name per line. A username is made from the name when none is given."""
    rows = [r for r in csv.reader(io.StringIO(text.lstrip("\ufeff"))) if any(cell.strip() for cell in r)]
    if not rows:
        raise ClassError("The roster is empty: one student's name per line, or a CSV with a 'name' column.")
    header = [cell.strip().casefold() for cell in rows[0]]
    name_col, user_col = (header.index("name") if "name" in header else None,
                          header.index("username") if "username" in header else None)
    if name_col is not None or user_col is not None:
        rows = rows[1:]
    out = []
    for row in rows:
        name = " ".join((row[name_col] if name_col is not None and name_col < len(row) else row[0]).split())
        username = row[user_col].strip() if user_col is not None and user_col < len(row) else ""
        if name or username:
            out.append((name[:64] or username, username))
    if len(out) > MAX_ROSTER:
        raise ClassError(f"A roster can have at most {MAX_ROSTER} names; split it in parts.")
    return out


def _username_from(name: str) -> str:
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    base = re.sub(r"[^a-z0-9]+", ".", plain).strip(".")[:24]
    return base if len(base) >= 3 else f"student.{base}".strip(".")


def add_students(ws: Workspace, user: User, class_id: str, roster: list[tuple[str, str]]) -> tuple[list[NewAccount], list[str]]:
    """New accounts for a roster, in the class, each with a one-time password they must change at their first
    sign-in. Returns the new accounts (the only time their passwords are shown) and what was skipped, and why
    (a username that is taken is never added: that person joins with the code)."""
    _, room = teaching(ws, user, class_id)
    prepared, skipped, seen, asked_for = [], [], set(), []
    for name, wanted in roster:
        try:
            username = auth.normalize_username(wanted or _username_from(name))
        except AuthError as exc:
            skipped.append(f"{name}: {exc}")
            continue
        if auth.username_key(username) in seen and not wanted:
            username = _free_variant(username, seen)
        if auth.username_key(username) in seen:
            skipped.append(f"{name}: the username {username} appears twice in the roster")
            continue
        seen.add(auth.username_key(username))
        password = auth.one_time_password()
        prepared.append((NewAccount(name, username, password), auth.hash_password(ws, password)))
        asked_for.append(bool(wanted))
    made = []
    with ws.store.transaction() as tx:
        for (account, password_hash), asked in zip(prepared, asked_for):
            taken = lambda name: bool(tx.find(Table.USERS, key=auth.username_key(name)))  # noqa: E731
            if taken(account.username) and not asked:  # a name made from theirs: the next free variant
                account = NewAccount(account.name, _free_variant(account.username, seen, taken), account.password)
                seen.add(auth.username_key(account.username))
            if taken(account.username):
                skipped.append(f"{account.name}: the username {account.username} is taken (if it is theirs, they "
                               "join with the class's join code)")
                continue
            tx.insert(Table.USERS, auth.account_doc(account.username, password_hash, classes=[room.id],
                                                    must_change=True, display_name=account.name, roster=room.id))
            made.append(account)
    return made, skipped


def _free_variant(username: str, seen: set, taken=lambda name: False) -> str:
    k = 2
    while auth.username_key(f"{username}{k}") in seen or taken(f"{username}{k}"):
        k += 1
    return f"{username}{k}"


def roster_csv(accounts: list[NewAccount], room: Classroom) -> str:
    """The list a teacher hands out: name, username, one-time password."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["class", "name", "username", "one-time password"])
    for a in accounts:
        writer.writerow([room.name, a.name, a.username, a.password])
    return out.getvalue()


def reset_student_password(ws: Workspace, user: User, class_id: str, student_id: str) -> NewAccount:
    """A new one-time password for a student the class's roster made (an account that joined with the code is
    its owner's own: an administrator resets those): their sign-ins end, and they choose their own password at
    the next one."""
    _, room = teaching(ws, user, class_id)
    doc = ws.store.get(Table.USERS, student_id)
    if doc is None or room.id not in doc.get("classes", ()):
        raise NotFound("That student is not in this class.")
    if doc.get("role") != "user" or doc.get("roster") != room.id:
        raise AuthError("This account was not made by this class's roster: only an administrator can reset its "
                        "password.")
    password = auth.one_time_password()
    auth.reset_password(ws, auth.OPERATOR, student_id, password, one_time=True)  # checked above: the class's student
    return NewAccount(doc.get("display_name") or doc["username"], doc["username"], password)


# Sharing a dataset ---------------------------------------------------------------------------------------

def share_dataset(ws: Workspace, user: User, class_id: str, dataset_id: str) -> Dataset:
    """Share one of the teacher's datasets with a class as it is now: a frozen copy (the pictures linked, not
    stored twice) that the students read and train on and that never changes. Sharing a frozen copy again
    (with another class) shares that same copy."""
    teacher, room = teaching(ws, user, class_id)
    ds = _own_or_frozen(ws, teacher, dataset_id)  # the class's teacher's, also when an administrator shares
    if ds.hidden:
        raise ClassError("That is an assignment's hidden test set: it is never shared.")
    if not ds.frozen:
        if ds.image_count == 0:
            raise ClassError(f"{ds.name!r} has no pictures yet.")
        same = [d for d in ws.store.find(Table.DATASETS, owner=teacher.id, source=ds.id)
                if d.get("frozen") and not d.get("hidden") and d["version"] == ds.version]
        ds = (Dataset.from_doc(same[0]) if same  # this version was shared already: the same copy, not another
              else copy_dataset(ws, teacher, ds.id, _frozen_name(ws, teacher, ds), frozen=True))
    with ws.store.transaction() as tx:
        doc = tx.get(Table.DATASETS, ds.id)
        tx.update(Table.DATASETS, ds.id, {"shared_with": sorted(set(doc.get("shared_with", [])) | {room.id})})
        class_doc = tx.get(Table.CLASSES, room.id)
        if class_doc is None:
            raise NotFound(NOT_FOUND)
        if ds.id not in class_doc["datasets"]:
            tx.update(Table.CLASSES, room.id, {"datasets": class_doc["datasets"] + [ds.id]})
    return _own_or_frozen(ws, teacher, ds.id)


def _own_or_frozen(ws: Workspace, teacher: User, dataset_id: str) -> Dataset:
    doc = ws.store.get(Table.DATASETS, dataset_id)
    if doc is None or doc["owner"] != teacher.id:
        raise NotFound("That dataset does not exist (or is not yours).")
    return Dataset.from_doc(doc)


def _frozen_name(ws: Workspace, teacher: User, ds: Dataset) -> str:
    taken = {d["name"].casefold() for d in ws.store.find(Table.DATASETS, owner=teacher.id)}
    base = f"{ds.name[:48]} (shared, version {ds.version})"
    name, k = base, 2
    while name.casefold() in taken:
        name, k = f"{base} {k}", k + 1
    return name

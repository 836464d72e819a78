"""Accounts: sign up, log in (with a growing lockout after repeated failures), log out, change
password, delete an account with all its data. Passwords are argon2id hashes, never kept in clear.

The UI holds a `User` for the signed-in person, but nothing trusts it: `current_user` reloads it
from the store so a deleted or disabled account stops working at once.
"""

from __future__ import annotations

import shutil
import time
import unicodedata
from dataclasses import dataclass
from typing import Callable

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from .errors import AuthError
from .store import Table, new_id
from .workspace import Workspace

ROLES = ("user", "admin")
MIN_PASSWORD = 8
NAME_LENGTH = (3, 32)
_WRONG = "Wrong username or password."


@dataclass(frozen=True)
class User:
    id: str
    username: str
    role: str
    created: float
    disabled: bool = False

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @classmethod
    def from_doc(cls, doc: dict) -> "User":
        return cls(doc["id"], doc["username"], doc["role"], doc["created"], doc.get("disabled", False))


def normalize_username(raw: str) -> str:
    """NFKC-normalized, trimmed; 3-32 characters of letters, digits, `_`, `-` or `.`."""
    name = unicodedata.normalize("NFKC", raw or "").strip()
    low, high = NAME_LENGTH
    if not low <= len(name) <= high:
        raise AuthError(f"A username needs {low} to {high} characters.")
    if not all(ch.isalnum() or ch in "_-." for ch in name):
        raise AuthError("A username may use letters, digits, '_', '-' and '.', but no spaces or other symbols.")
    return name


def username_key(name: str) -> str:
    """What makes two usernames the same: case and Unicode form do not count."""
    return unicodedata.normalize("NFKC", name).casefold()


def _hasher(ws: Workspace) -> PasswordHasher:
    s = ws.settings
    return PasswordHasher(time_cost=s.argon2_time_cost, memory_cost=s.argon2_memory_kib)


def _check_password(password: str) -> None:
    if len(password or "") < MIN_PASSWORD:
        raise AuthError(f"A password needs at least {MIN_PASSWORD} characters.")


def sign_up(ws: Workspace, username: str, password: str, admin: bool = False) -> User:
    """Create an account. The first account of an empty store is an admin."""
    name = normalize_username(username)
    _check_password(password)
    password_hash = _hasher(ws).hash(password)  # slow on purpose: done before taking the lock
    with ws.store.transaction() as tx:
        if tx.find(Table.USERS, key=username_key(name)):
            raise AuthError("That username is taken.")
        first = not tx.find(Table.USERS)
        doc = {
            "id": new_id("u"),
            "username": name,
            "key": username_key(name),
            "role": "admin" if (admin or first) else "user",
            "password_hash": password_hash,
            "created": time.time(),
            "failures": 0,
            "locked_until": 0.0,
            "disabled": False,
        }
        tx.insert(Table.USERS, doc)
    return User.from_doc(doc)


def _find_by_name(tx, username: str) -> dict | None:
    try:
        name = normalize_username(username)
    except AuthError:
        return None
    found = tx.find(Table.USERS, key=username_key(name))
    return found[0] if found else None


def find_user(ws: Workspace, username: str) -> User | None:
    doc = ws.store.read(lambda tx: _find_by_name(tx, username))
    return User.from_doc(doc) if doc else None


def log_in(ws: Workspace, username: str, password: str, clock: Callable[[], float] = time.time) -> User:
    """Check a password. After `login_failures_before_lockout` failures in a row the account refuses
    attempts for a delay that doubles with every further failure; the message says how long."""
    doc = ws.store.read(lambda tx: _find_by_name(tx, username))
    if doc is None:
        _hasher(ws).hash(password or "x")  # same cost as a real check: do not reveal who exists
        raise AuthError(_WRONG)
    now = clock()
    if doc["locked_until"] > now:
        raise AuthError(_locked_message(doc["locked_until"] - now))
    hasher = _hasher(ws)
    try:
        hasher.verify(doc["password_hash"], password or "")
    except (VerificationError, InvalidHashError):
        _record_failure(ws, doc["id"], now)
        raise AuthError(_WRONG) from None
    if doc.get("disabled"):
        raise AuthError("This account is disabled. Ask an administrator.")
    changes: dict = {"failures": 0, "locked_until": 0.0, "last_login": now}
    if hasher.check_needs_rehash(doc["password_hash"]):
        changes["password_hash"] = hasher.hash(password)
    ws.store.update(Table.USERS, doc["id"], changes)
    return User.from_doc(doc)


def _record_failure(ws: Workspace, user_id: str, now: float) -> None:
    s = ws.settings
    with ws.store.transaction() as tx:
        doc = tx.get(Table.USERS, user_id)
        if doc is None:
            return
        failures = doc["failures"] + 1
        locked_until = doc["locked_until"]
        extra = failures - s.login_failures_before_lockout
        if extra >= 0:
            delay = min(s.lockout_base_seconds * 2**extra, s.lockout_max_seconds)
            locked_until = now + delay
        tx.update(Table.USERS, user_id, {"failures": failures, "locked_until": locked_until})


def _locked_message(seconds: float) -> str:
    wait = f"{int(seconds) + 1} seconds" if seconds < 90 else f"{int(seconds / 60) + 1} minutes"
    return f"Too many wrong passwords. For your safety this account is locked; try again in {wait}."


def current_user(ws: Workspace, user: User | None) -> User:
    """The signed-in user as the store knows them now; refuses a deleted or disabled account."""
    if user is None:
        raise AuthError("Please log in first.")
    doc = ws.store.get(Table.USERS, user.id)
    if doc is None or doc.get("disabled"):
        raise AuthError("Your session has ended. Please log in again.")
    return User.from_doc(doc)


def require_admin(ws: Workspace, user: User | None) -> User:
    fresh = current_user(ws, user)
    if not fresh.is_admin:
        raise AuthError("Only an administrator can do that.")
    return fresh


def change_password(ws: Workspace, user: User, old: str, new: str) -> None:
    fresh = current_user(ws, user)
    log_in(ws, fresh.username, old)
    _check_password(new)
    ws.store.update(Table.USERS, fresh.id, {"password_hash": _hasher(ws).hash(new)})


def list_users(ws: Workspace) -> list[User]:
    docs = ws.store.find(Table.USERS)
    return sorted((User.from_doc(d) for d in docs), key=lambda u: u.created)


def set_role(ws: Workspace, actor: User, user_id: str, role: str) -> None:
    require_admin(ws, actor)
    if role not in ROLES:
        raise AuthError(f"Unknown role {role!r}.")
    _update_user(ws, user_id, {"role": role})


def set_disabled(ws: Workspace, actor: User, user_id: str, disabled: bool) -> None:
    admin = require_admin(ws, actor)
    if admin.id == user_id:
        raise AuthError("You cannot disable your own account.")
    _update_user(ws, user_id, {"disabled": bool(disabled)})


def _update_user(ws: Workspace, user_id: str, changes: dict) -> None:
    if not ws.store.update(Table.USERS, user_id, changes):
        raise AuthError("There is no such user.")


def delete_account(ws: Workspace, actor: User, user_id: str | None = None) -> None:
    """Delete an account with all its datasets, runs and files: one's own, or any as an admin."""
    actor = current_user(ws, actor)
    target = user_id or actor.id
    if target != actor.id:
        require_admin(ws, actor)
    with ws.store.transaction() as tx:
        if tx.get(Table.USERS, target) is None:
            raise AuthError("There is no such user.")
        for table in (Table.RUNS, Table.DATASETS):
            tx.remove_where(table, owner=target)
        tx.remove(Table.USERS, target)
    shutil.rmtree(ws.settings.user_dir(target), ignore_errors=True)

"""Accounts: sign up, log in (with a lockout after repeated failures), change or reset a password,
unlock, disable, delete an account with all its data. Passwords are argon2id hashes, never kept in
clear.

Failed log-ins count in a sliding window (`login_failure_window_s`), so they decay; the lock delay
doubles per further failure up to `lockout_max_seconds`. An attempt is counted *before* the password
is checked, in the same transaction as the lock check, so parallel pages cannot get more guesses.

The UI holds a `User` for the signed-in person, but nothing trusts it: `current_user` reloads it
from the store so a deleted or disabled account, or one whose password changed (its `stamp`
changes), stops working at once. `OPERATOR` is the person at the server's command line.
"""

from __future__ import annotations

import secrets
import shutil
import time
import unicodedata
from dataclasses import dataclass
from typing import Callable

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from ..errors import AuthError
from ..store import Table, new_id
from ..workspace import Workspace

ROLES = ("user", "teacher", "admin")  # teachers make classes (classroom/); admins do everything
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
    stamp: str = ""  # changes with the password or when disabled: older sign-ins end
    classes: tuple[str, ...] = ()  # the classes they are a student of (classroom/classes.py)
    must_change: bool = False  # a one-time password: no sign-in until they chose their own
    display_name: str = ""  # as a teacher typed it (a class's roster); else the username

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def is_teacher(self) -> bool:
        return self.role in ("teacher", "admin")

    @property
    def shown_name(self) -> str:
        return self.display_name or self.username

    @classmethod
    def from_doc(cls, doc: dict) -> "User":
        return cls(doc["id"], doc["username"], doc["role"], doc["created"], doc.get("disabled", False),
                   doc.get("stamp", ""), tuple(doc.get("classes", ())), bool(doc.get("must_change", False)),
                   doc.get("display_name", ""))


OPERATOR = User("operator", "(server operator)", "admin", 0.0)  # the command line: acts as an admin


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


def sign_up(ws: Workspace, username: str, password: str, admin: bool = False, role: str = "user") -> User:
    """Create an account (the operator's way: no sign-up policy). The first account of an empty
    store is an admin."""
    return _create(ws, username, password, admin, first_becomes_admin=True, role=role)


def sign_up_on_page(ws: Workspace, username: str, password: str) -> User:
    """Sign-up from the web page, under the server's policy: refused when sign-up is closed, and on
    a fresh store served beyond this machine nobody becomes admin through the page."""
    s = ws.settings
    if s.signup == "closed":
        raise AuthError("Sign-up is closed on this server. Ask an administrator for an account.")
    if not s.served_on_loopback and not has_accounts(ws):
        raise AuthError("This server has no administrator yet. The person who runs it creates the first one "
                        "with: nocode user add NAME --admin")
    return _create(ws, username, password, False, first_becomes_admin=s.served_on_loopback)


def create_account(ws: Workspace, actor: User, username: str, password: str, admin: bool = False,
                   role: str = "user") -> User:
    """An administrator creates an account (also when sign-up is closed)."""
    require_admin(ws, actor)
    return _create(ws, username, password, admin, first_becomes_admin=False, role=role)


def _create(ws: Workspace, username: str, password: str, admin: bool, first_becomes_admin: bool,
            role: str = "user") -> User:
    name = normalize_username(username)
    _check_password(password)
    password_hash = _hasher(ws).hash(password)  # slow on purpose: done before taking the lock
    with ws.store.transaction() as tx:
        if tx.find(Table.USERS, key=username_key(name)):
            raise AuthError("That username is taken.")
        first = first_becomes_admin and not tx.find(Table.USERS)
        doc = account_doc(name, password_hash, "admin" if (admin or first) else _role(role))
        tx.insert(Table.USERS, doc)
    return User.from_doc(doc)


def account_doc(name: str, password_hash: str, role: str = "user", **extra) -> dict:
    """A new account's document (`name` already normalized; `extra`: classes, must_change, display_name)."""
    return {"id": new_id("u"), "username": name, "key": username_key(name), "role": _role(role),
            "password_hash": password_hash, "created": time.time(), "failures": [], "locked_until": 0.0,
            "disabled": False, "stamp": secrets.token_hex(8), **extra}


def _role(role: str) -> str:
    if role not in ROLES:
        raise AuthError(f"Unknown role {role!r}: choose one of {', '.join(ROLES)}.")
    return role


def one_time_password() -> str:
    """A password to hand over once (a roster, a reset): 12 characters, no look-alikes (0/O, 1/l/I)."""
    alphabet = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "".join(secrets.choice(alphabet) for _ in range(12))


def hash_password(ws: Workspace, password: str) -> str:
    """The argon2id hash of a new password (checked for length first). Slow on purpose: call it before locking."""
    _check_password(password)
    return _hasher(ws).hash(password)


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
    """Check a password. After `login_failures_before_lockout` failures within the window the account
    refuses attempts for a while (the message says how long); an administrator can unlock it. This is
    the in-notebook sign-in's (JupyterLab, Colab); the web server's door throttles per client address
    instead (`verify_password` with `accounts/throttle.py`)."""
    now = clock()
    return _verified(ws, _count_attempt(ws, username, now), password, now)


def verify_password(ws: Workspace, username: str, password: str, clock: Callable[[], float] = time.time) -> User:
    """Check a password without counting toward the account's lock (the door counts per address). The
    same message and the same argon2 work whether or not the name exists."""
    return _verified(ws, _find_by_name(ws.store, username), password, clock())


def _verified(ws: Workspace, doc: dict | None, password: str, now: float) -> User:
    hasher = _hasher(ws)
    if doc is None:
        hasher.hash(password or "x")  # same cost as a real check: do not reveal who exists
        raise AuthError(_WRONG)
    try:
        hasher.verify(doc["password_hash"], password or "")
    except (VerificationError, InvalidHashError):
        raise AuthError(_WRONG) from None
    if doc.get("disabled"):
        raise AuthError("This account is disabled. Ask an administrator.")
    changes: dict = {"failures": [], "locked_until": 0.0, "last_login": now}
    if hasher.check_needs_rehash(doc["password_hash"]):
        changes["password_hash"] = hasher.hash(password)
    ws.store.update(Table.USERS, doc["id"], changes)
    return User.from_doc(doc)


def _count_attempt(ws: Workspace, username: str, now: float) -> dict | None:
    """In one transaction: refuse if locked, else count this attempt as a failure (a success resets the
    count) and lock once too many are in the window. None when there is no such user."""
    s = ws.settings
    with ws.store.transaction() as tx:
        doc = _find_by_name(tx, username)
        if doc is None:
            return None
        if doc.get("locked_until", 0.0) > now:
            raise AuthError(_locked_message(doc["locked_until"] - now))
        failures = recent_failures(doc, now, s.login_failure_window_s) + [now]
        extra = len(failures) - s.login_failures_before_lockout
        locked_until = now + min(s.lockout_base_seconds * 2**extra, s.lockout_max_seconds) if extra >= 0 else 0.0
        tx.update(Table.USERS, doc["id"], {"failures": failures, "locked_until": locked_until})
    return doc


def recent_failures(doc: dict, now: float, window: float) -> list[float]:
    """Times of the failed attempts still inside the window (a count from older versions is dropped)."""
    failures = doc.get("failures")
    return [t for t in failures if now - t < window] if isinstance(failures, list) else []


def _locked_message(seconds: float) -> str:
    wait = f"{int(seconds) + 1} seconds" if seconds < 90 else f"{int(seconds / 60) + 1} minutes"
    return f"Too many wrong passwords. For your safety this account is locked; try again in {wait}."


def current_user(ws: Workspace, user: User | None) -> User:
    """The signed-in user as the store knows them now; refuses a deleted or disabled account."""
    if user is None:
        raise AuthError("Please log in first.")
    if user is OPERATOR:
        return user
    doc = ws.store.get(Table.USERS, user.id)
    if doc is None or doc.get("disabled") or doc.get("stamp", "") != user.stamp:
        raise AuthError("Your session has ended. Please log in again.")
    return User.from_doc(doc)


def require_admin(ws: Workspace, user: User | None) -> User:
    fresh = current_user(ws, user)
    if not fresh.is_admin:
        raise AuthError("Only an administrator can do that.")
    return fresh


def change_password(ws: Workspace, user: User, old: str, new: str) -> User:
    """One's own password; every other sign-in of the account ends. Returns the renewed user."""
    fresh = current_user(ws, user)
    log_in(ws, fresh.username, old)
    return _set_password(ws, fresh.id, new)


def choose_own_password(ws: Workspace, username: str, one_time: str, new: str) -> User:
    """An account with a one-time password (`must_change`) replaces it with its own: the one-time password is
    checked again here (the caller throttles the attempts); afterwards it no longer works."""
    user = verify_password(ws, username, one_time)
    return replace_one_time_password(ws, user.id, user.stamp, new)


def replace_one_time_password(ws: Workspace, user_id: str, stamp: str, new: str) -> User:
    """Set the own password of an account still on its one-time password, as it was when that password was
    checked (`stamp`: a reset since then, or a change elsewhere, ends this chance)."""
    doc = ws.store.get(Table.USERS, user_id)
    if doc is None or doc.get("disabled") or not doc.get("must_change") or doc.get("stamp", "") != stamp:
        raise AuthError("This page has expired. Please sign in again.")
    try:
        _hasher(ws).verify(doc["password_hash"], new or "")
        same = True
    except (VerificationError, InvalidHashError):
        same = False
    if same:
        raise AuthError("Please choose a password of your own, not the one you were given.")
    return _set_password(ws, user_id, new)


def reset_password(ws: Workspace, actor: User, user_id: str, new: str, one_time: bool = False) -> None:
    """An administrator (or the operator) sets someone's password; their sign-ins end, the lock goes.
    `one_time`: they must choose their own at their next sign-in."""
    require_admin(ws, actor)
    _set_password(ws, user_id, new, must_change=one_time)


def _set_password(ws: Workspace, user_id: str, new: str, must_change: bool = False) -> User:
    password_hash = hash_password(ws, new)
    _update_user(ws, user_id, {"password_hash": password_hash, "stamp": secrets.token_hex(8), "failures": [],
                               "locked_until": 0.0, "must_change": must_change})
    _forget_devices(ws, user_id)  # their stamp no longer matches anyway: purge them
    return User.from_doc(ws.store.get(Table.USERS, user_id))


def _forget_devices(ws: Workspace, user_id: str) -> None:
    with ws.store.transaction() as tx:
        tx.remove_where(Table.DEVICES, user=user_id)


def unlock(ws: Workspace, actor: User, user_id: str) -> None:
    """Forget an account's failed log-ins and lift its lock."""
    require_admin(ws, actor)
    _update_user(ws, user_id, {"failures": [], "locked_until": 0.0})


def is_locked(ws: Workspace, user_id: str, now: float | None = None) -> bool:
    doc = ws.store.get(Table.USERS, user_id) or {}
    return doc.get("locked_until", 0.0) > (time.time() if now is None else now)


def has_accounts(ws: Workspace) -> bool:
    return bool(ws.store.find(Table.USERS))


def list_users(ws: Workspace) -> list[User]:
    docs = ws.store.find(Table.USERS)
    return sorted((User.from_doc(d) for d in docs), key=lambda u: u.created)


def set_role(ws: Workspace, actor: User, user_id: str, role: str) -> None:
    require_admin(ws, actor)
    _update_user(ws, user_id, {"role": _role(role)})


def set_disabled(ws: Workspace, actor: User, user_id: str, disabled: bool) -> None:
    admin = require_admin(ws, actor)
    if admin.id == user_id:
        raise AuthError("You cannot disable your own account.")
    _update_user(ws, user_id, {"disabled": bool(disabled), "stamp": secrets.token_hex(8)})
    _forget_devices(ws, user_id)


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
        for table in (Table.RUNS, Table.STUDIES, Table.DATASETS, Table.ASSIGNMENTS, Table.SUBMISSIONS):
            tx.remove_where(table, owner=target)
        tx.remove_where(Table.DEVICES, user=target)
        tx.remove_where(Table.DEVICES, person=target)  # their pages record (accounts/signins.py)
        taught = {c["id"] for c in tx.find(Table.CLASSES, teacher=target)}
        for doc in tx.find(Table.USERS):  # the classes they taught end (their assignments were in their file)
            if taught & set(doc.get("classes", ())):
                tx.update(Table.USERS, doc["id"], {"classes": [c for c in doc["classes"] if c not in taught]})
        tx.remove_where(Table.CLASSES, teacher=target)
        tx.remove(Table.USERS, target)
    shutil.rmtree(ws.settings.user_dir(target), ignore_errors=True)

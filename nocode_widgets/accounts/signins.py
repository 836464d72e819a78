"""Signed-in browsers: what the web server's door hands out and checks (`door.py`).

Signing in at the door starts a *sign-in*: a random token that only the browser holds, in an HttpOnly
cookie, and only its SHA-256 in the store (table `devices`), with an expiry (`NOCODE_REMEMBER_DAYS` with
"keep me signed in", else `SESSION_HOURS`) and the account's `stamp`, so a password change, a reset or
disabling the account ends it at once.

A page kernel never sees the cookie. Before Voila starts a kernel for a signed-in visitor, the door mints
a one-time *ticket* (`mint_ticket`): `<sign-in id>.<secret>`, only the secret's hash stored, good for
`TICKET_TTL_S`. The kernel redeems it (`redeem_ticket`) and so learns, from the store, whom it serves and
under which sign-in; a ticket is used up by its redemption, so it cannot be replayed, and without the
secret it cannot be forged. The redeemed ticket becomes one of the sign-in's *pages* (its kernel id and
process id), kept in the person's own *pages* record (kind "pages"), which no sign-in's end removes: what the
per-person page cap counts (logging out and in again does not reset it; a page leaves it when its kernel
ends) and what tells the door whose kernel a websocket is for.

Ending a sign-in (Log out, "Sign out all devices", a new password, the account disabled or deleted)
removes or invalidates its record; every page of it checks (`check`) every few seconds and ends."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Callable

from .auth import User, current_user, require_admin
from ..errors import AuthError, NocodeError
from ..files import process_exists
from ..store import Table, new_id
from ..workspace import Workspace

COOKIE = "nocode_session"
KIND = "door"  # records of this kind; older "keep me signed in" device tokens (browser storage) have none
PAGES = "pages"  # a person's open pages, in one record of their own (`person`, not `user`: it outlives sign-ins)
SESSION_HOURS = 24.0  # a sign-in without "keep me signed in"
TICKET_TTL_S = 60.0  # from the page's request to its kernel redeeming the ticket
MAX_SIGNINS_PER_USER = 20  # the oldest ends when a person signs in on more browsers than this
ENDED = "You were signed out (logged out elsewhere, or an administrator ended your sign-ins). Please sign in again."
TOO_MANY_PAGES = ("You have {count} pages of the app open, the most one person may. Close one of them (or wait a few "
                  "minutes after closing it) and try again.")


class TooManyPages(NocodeError):
    """A person has as many pages open as they may."""


@dataclass(frozen=True)
class SignIn:
    id: str
    user_id: str
    expires: float
    keep: bool


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def start(ws: Workspace, user: User, keep: bool, clock: Callable[[], float] = time.time) -> tuple[str, SignIn]:
    """A new sign-in for `user`: (the token for the browser's cookie, the sign-in). Only its hash is kept."""
    user = current_user(ws, user)
    if user.must_change:  # the door asks for their own password first; a one-time one opens nothing
        raise AuthError("Please choose your own password first.")
    token, now = secrets.token_urlsafe(32), clock()
    lifetime = ws.settings.remember_days * 86400 if keep else SESSION_HOURS * 3600
    record = {"id": new_id("dev"), "user": user.id, "hash": _digest(token), "stamp": user.stamp, "kind": KIND,
              "keep": bool(keep), "created": now, "expires": now + lifetime, "tickets": [], "pages": []}
    with ws.store.transaction() as tx:
        mine = sorted((d for d in tx.find(Table.DEVICES, user=user.id)), key=lambda d: d.get("created", 0.0))
        for old in mine:
            if "kind" not in old or old["expires"] <= now:
                tx.remove(Table.DEVICES, old["id"])  # expired, or a token of the old browser-storage kind
        live = [d for d in mine if d.get("kind") == KIND and d["expires"] > now]
        for old in live[:max(0, len(live) - MAX_SIGNINS_PER_USER + 1)]:
            tx.remove(Table.DEVICES, old["id"])
        tx.insert(Table.DEVICES, record)
    return token, SignIn(record["id"], user.id, record["expires"], bool(keep))


def find(ws: Workspace, token: str | None, clock: Callable[[], float] = time.time) -> tuple[User, SignIn] | None:
    """The person and sign-in a cookie's token stands for, if it is known, unexpired and still holds."""
    if not isinstance(token, str) or not 20 <= len(token) <= 200:
        return None
    found = ws.store.find(Table.DEVICES, hash=_digest(token))
    record = found[0] if found else None
    return _holding(ws, record, clock())


def _holding(ws: Workspace, record: dict | None, now: float) -> tuple[User, SignIn] | None:
    if record is None or record.get("kind") != KIND or record["expires"] <= now:
        return None
    doc = ws.store.get(Table.USERS, record["user"])
    if doc is None or doc.get("disabled") or doc.get("must_change") or doc.get("stamp", "") != record["stamp"]:
        return None
    return User.from_doc(doc), SignIn(record["id"], record["user"], record["expires"], record.get("keep", False))


def check(ws: Workspace, signin_id: str, clock: Callable[[], float] = time.time) -> User:
    """The person a page serves, as long as its sign-in holds; else AuthError (the page ends)."""
    held = _holding(ws, ws.store.get(Table.DEVICES, signin_id) if signin_id else None, clock())
    if held is None:
        raise AuthError(ENDED)
    return held[0]


def end(ws: Workspace, signin_id: str) -> None:
    """Log out: this sign-in ends, and with it every page opened under it."""
    ws.store.remove(Table.DEVICES, signin_id)


def end_all(ws: Workspace, actor: User, user_id: str) -> int:
    """"Sign out all devices": every sign-in of a person, by themselves or an administrator. How many."""
    actor = current_user(ws, actor)
    if actor.id != user_id:
        require_admin(ws, actor)
    with ws.store.transaction() as tx:
        return tx.remove_where(Table.DEVICES, user=user_id)


def count(ws: Workspace, user_id: str, clock: Callable[[], float] = time.time) -> int:
    """Sign-ins of a person that still hold."""
    return sum(1 for d in ws.store.find(Table.DEVICES, user=user_id) if _holding(ws, d, clock()))


def _pages_id(user_id: str) -> str:
    return f"pages-{user_id}"


def mint_ticket(ws: Workspace, signin: SignIn, max_pages: int, clock: Callable[[], float] = time.time,
                alive: Callable[[dict], bool] | None = None) -> str:
    """A one-time ticket for the kernel of a page about to start, unless the person has `max_pages` pages
    open already (open: a ticket not yet redeemed, or a page whose kernel is alive: `alive(page)`, by
    default its process still running)."""
    alive = alive or (lambda page: process_exists(page["pid"]))
    secret, now = secrets.token_urlsafe(24), clock()
    with ws.store.transaction() as tx:
        records = [d for d in tx.find(Table.DEVICES, user=signin.user_id) if d.get("kind") == KIND]
        mine = next((d for d in records if d["id"] == signin.id), None)
        if mine is None or mine["expires"] <= now:
            raise AuthError(ENDED)
        open_pages = 0
        for record in records:
            tickets = [t for t in record.get("tickets", []) if t["expires"] > now]
            if tickets != record.get("tickets", []):
                tx.update(Table.DEVICES, record["id"], {"tickets": tickets})
            open_pages += len(tickets)
            if record is mine:
                mine = dict(record, tickets=tickets)
        held = tx.get(Table.DEVICES, _pages_id(signin.user_id))
        if held is not None:
            pages = [p for p in held["pages"] if alive(p)]
            if pages != held["pages"]:
                tx.update(Table.DEVICES, held["id"], {"pages": pages})
            open_pages += len(pages)
        if open_pages >= max_pages:
            raise TooManyPages(TOO_MANY_PAGES.format(count=open_pages))
        tx.update(Table.DEVICES, signin.id, {"tickets": mine["tickets"] + [{"hash": _digest(secret),
                                                                          "expires": now + TICKET_TTL_S}]})
    return f"{signin.id}.{secret}"


def redeem_ticket(ws: Workspace, ticket: str, kernel_id: str, pid: int,
                  clock: Callable[[], float] = time.time) -> tuple[User, str]:
    """In the page's kernel: (the person, the sign-in id) a ticket was minted for; the ticket is used up."""
    signin_id, _, secret = (ticket or "").partition(".")
    if not signin_id or not secret or len(ticket) > 200:
        raise AuthError(ENDED)
    now = clock()
    with ws.store.transaction() as tx:
        record = tx.get(Table.DEVICES, signin_id)
        tickets = (record or {}).get("tickets", [])
        match = [t for t in tickets if t["hash"] == _digest(secret) and t["expires"] > now]
        if not match:
            raise AuthError(ENDED)
        tx.update(Table.DEVICES, signin_id, {"tickets": [t for t in tickets if t is not match[0]]})
        page = {"kernel": kernel_id, "pid": pid, "since": now, "signin": signin_id}
        held = tx.get(Table.DEVICES, _pages_id(record["user"]))
        if held is None:
            tx.insert(Table.DEVICES, {"id": _pages_id(record["user"]), "kind": PAGES, "person": record["user"],
                                      "pages": [page]})
        else:
            tx.update(Table.DEVICES, held["id"], {"pages": [p for p in held["pages"] if p["kernel"] != kernel_id]
                                                  + [page]})
    held = _holding(ws, ws.store.get(Table.DEVICES, signin_id), now)
    if held is None:
        raise AuthError(ENDED)
    return held[0], signin_id


def kernel_owner(ws: Workspace, kernel_id: str) -> str | None:
    """The id of the person whose page a kernel serves (None: no page of anyone's, or not yet redeemed)."""
    for record in ws.store.find(Table.DEVICES, kind=PAGES):
        if any(p["kernel"] == kernel_id for p in record.get("pages", [])):
            return record["person"]
    return None

""""Keep me signed in on this device": a random token kept by the browser, only its SHA-256 in the
store, with an expiry (`NOCODE_REMEMBER_DAYS`) and bound to the user's `stamp`, so a password change,
a reset or disabling the account revokes every device at once (and they are purged then). Log out
revokes the device it was made on; an administrator (or the person) can revoke all of someone's
devices. Tokens are never logged or shown; the UI only passes them between the browser and here."""

from __future__ import annotations

import hashlib
import secrets
import time
from typing import Callable

from .auth import User, current_user, require_admin
from ..errors import AuthError
from ..store import Table, new_id
from ..workspace import Workspace

EXPIRED = "Please log in again (this device's sign-in has expired or was revoked)."


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def remember_device(ws: Workspace, user: User, clock: Callable[[], float] = time.time) -> str:
    """A new device token for the signed-in user (give it to the browser; only its hash is kept)."""
    user = current_user(ws, user)
    token = secrets.token_urlsafe(32)
    now = clock()
    ws.store.insert(Table.DEVICES, {"id": new_id("dev"), "user": user.id, "hash": _digest(token), "stamp": user.stamp,
                                    "created": now, "expires": now + ws.settings.remember_days * 86400})
    return token


def sign_in_with_token(ws: Workspace, token: str, clock: Callable[[], float] = time.time) -> User:
    """The user a device token belongs to, if it is known, unexpired, and their sign-ins still hold."""
    if not isinstance(token, str) or not 20 <= len(token) <= 200:
        raise AuthError(EXPIRED)
    found = ws.store.find(Table.DEVICES, hash=_digest(token))
    if not found:
        raise AuthError(EXPIRED)
    device = found[0]
    if device["expires"] <= clock():
        ws.store.remove(Table.DEVICES, device["id"])
        raise AuthError(EXPIRED)
    doc = ws.store.get(Table.USERS, device["user"])
    if doc is None or doc.get("disabled") or doc.get("stamp", "") != device["stamp"]:
        raise AuthError(EXPIRED)
    return User.from_doc(doc)


def forget_device(ws: Workspace, token: str) -> None:
    """Revoke one device (its Log out)."""
    if isinstance(token, str) and token:
        with ws.store.transaction() as tx:
            tx.remove_where(Table.DEVICES, hash=_digest(token))


def forget_all_devices(ws: Workspace, actor: User, user_id: str) -> int:
    """Revoke every device of a user: the person themselves, or an administrator. Returns how many."""
    actor = current_user(ws, actor)
    if actor.id != user_id:
        require_admin(ws, actor)
    with ws.store.transaction() as tx:
        return tx.remove_where(Table.DEVICES, user=user_id)


def device_count(ws: Workspace, user_id: str) -> int:
    return len(ws.store.find(Table.DEVICES, user=user_id))

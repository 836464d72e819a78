"""A signed-in page is a `Session`: who is signed in, since when, and whether that still holds. Every
action of the page asks `session.user`, which is the user as the store knows them now, or an
AuthError once the session has ended: logged out, idle for `session_idle_minutes`, or the account
disabled, deleted or given a new password elsewhere. A page opened through the web server's door also
ends with its sign-in (`signin_id`: Log out in another tab, "Sign out all devices"). Whatever the page made while signed in is
adopted by the session and closed when it ends (the UI registers its widgets; this module does not
know ipywidgets)."""

from __future__ import annotations

import logging
import threading
import time
import weakref
from contextlib import contextmanager
from typing import Callable

from . import signins
from .auth import User, current_user
from ..errors import AuthError
from ..workspace import Workspace

log = logging.getLogger(__name__)
LOGGED_OUT = "You have logged out."
IDLE = "You were signed out after {minutes:g} minutes without activity. Please log in again."
ENDED = "Your session has ended. Please log in again."


class Session:
    def __init__(self, ws: Workspace, user: User, clock: Callable[[], float] = time.time, signin_id: str = ""):
        self.ws, self._user, self.clock, self.signin_id = ws, user, clock, signin_id
        self.started = self.last_action = clock()
        self.end_reason = ""
        self._opening = False
        self._owned: weakref.WeakSet = weakref.WeakSet()
        self._on_end: list[Callable[[str], None]] = []
        self._lock = threading.Lock()

    @property
    def ended(self) -> bool:
        return bool(self.end_reason)

    @property
    def signed_in_as(self) -> User | None:
        """Who signed in, as last checked (None once ended); for display, not for access decisions."""
        return None if self.ended else self._user

    @property
    def user(self) -> User:
        return self.check()

    def check(self) -> User:
        """The signed-in user, fresh from the store; ends the session (and raises) when it no longer holds."""
        if self.ended:
            raise AuthError(self.end_reason)
        minutes = self.ws.settings.session_idle_minutes
        if not self._opening and self.clock() - self.last_action > minutes * 60:
            self.end(IDLE.format(minutes=minutes))
            raise AuthError(self.end_reason)
        try:
            if self.signin_id:
                signins.check(self.ws, self.signin_id)
            self._user = current_user(self.ws, self._user)
        except AuthError as exc:
            self.end(str(exc) if self.signin_id else ENDED)
            raise
        return self._user

    @contextmanager
    def opening(self):
        """While the page is being built after sign-in (seconds, on a first visit): not idle."""
        self._opening = True
        try:
            yield self
        finally:
            self._opening = False
            self.touch()

    def touch(self) -> None:
        """The person did something (a click, a value set from the page)."""
        self.last_action = self.clock()

    def adopt(self, thing) -> None:
        """Close `thing` (anything with `.close()`) when the session ends."""
        self._owned.add(thing)

    def owned(self) -> list:
        """Everything adopted and not yet collected (a page's widgets: what a browser can talk to)."""
        return list(self._owned)

    def on_end(self, callback: Callable[[str], None]) -> None:
        self._on_end.append(callback)

    def end(self, reason: str = LOGGED_OUT) -> None:
        """End once: close everything adopted, then tell the listeners why."""
        with self._lock:
            if self.ended:
                return
            self.end_reason = reason
        for thing in list(self._owned):
            try:
                thing.close()
            except Exception:  # one widget failing to close must not keep the rest, or the sign-out, alive
                log.exception("closing %r at the end of a session", type(thing).__name__)
        for callback in self._on_end:
            callback(reason)


def as_session(ws: Workspace, who: "User | Session") -> Session:
    """Panels accept a Session, or a User (a panel shown on its own in JupyterLab gets its own session)."""
    return who if isinstance(who, Session) else Session(ws, who)

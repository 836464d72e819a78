"""Binds widgets to the session they were made in, structurally, so no panel can forget it:

- while a session is *active* (its panels being built, one of its widgets handling a message, or a
  thread that one of them started), every widget constructed is adopted by it: closed when it ends;
- a message from the page to such a widget (a click, a value set: anything a browser can send,
  whether the widget is shown, hidden or disabled) is dropped once the session ended or no longer
  holds, and otherwise counts as activity and runs with the session active.
"""

from __future__ import annotations

import contextvars
import functools
import logging
import threading
from contextlib import contextmanager

import ipywidgets as w

from ..errors import AuthError
from ..accounts.session import Session

log = logging.getLogger("nocode_widgets.ui")
_ACTIVE: contextvars.ContextVar[Session | None] = contextvars.ContextVar("nocode_session", default=None)
_USER_METHODS = ("update", "custom")  # what a person does; 'request_state' is the page drawing itself


@contextmanager
def active(session: Session):
    token = _ACTIVE.set(session)
    try:
        yield session
    finally:
        _ACTIVE.reset(token)


def start_thread(target, *args, name: str = "nocode") -> threading.Thread:
    """A daemon thread that keeps the caller's active session (widgets it makes are adopted too)."""
    context = contextvars.copy_context()
    thread = threading.Thread(target=context.run, args=(target, *args), daemon=True, name=name)
    thread.start()
    return thread


def _gated(widget, handle, msg) -> None:
    session = widget._nocode_session
    method = msg.get("content", {}).get("data", {}).get("method")
    try:
        session.check()
    except AuthError:
        log.info("dropped a %s message to a widget of an ended session", method)
        widget.close()
        return
    if method in _USER_METHODS:
        session.touch()
    with active(session):
        handle(widget, msg)


def _constructed(previous, widget) -> None:
    if previous is not None:
        previous(widget)
    session = _ACTIVE.get()
    if session is None or session.ended:
        return
    widget._nocode_session = session
    session.adopt(widget)
    # Found by ipywidgets when the comm opens (right after this), before the class's method.
    widget._handle_msg = functools.partial(_gated, widget, type(widget)._handle_msg)


def install() -> None:
    """Once per process: hook widget construction (keeping any hook that was already there)."""
    if getattr(w.Widget, "_nocode_guard", False):
        return
    w.Widget.on_widget_constructed(functools.partial(_constructed, w.Widget._widget_construction_callback))
    w.Widget._nocode_guard = True


install()

"""Small pieces every panel uses: messages in plain words, busy buttons, errors without tracebacks."""

from __future__ import annotations

import html
import logging
from contextlib import contextmanager

import ipywidgets as w

from ..errors import NocodeError

log = logging.getLogger("nocode_widgets.ui")

_COLORS = {"error": "#b00020", "ok": "#1b5e20", "info": "#333", "warn": "#8a5a00"}


class Message(w.HTML):
    """An inline line of text in plain words (errors in red, success in green)."""

    def show(self, text: str, kind: str = "info") -> None:
        self.value = f'<span class="nocode-msg nocode-{kind}" style="color:{_COLORS[kind]}">{html.escape(text)}</span>'

    def clear(self) -> None:
        self.value = ""

    @property
    def text(self) -> str:
        import re

        return html.unescape(re.sub(r"<[^>]+>", "", self.value))


@contextmanager
def busy(button: w.Button, message: Message):
    """Disable `button` while the work runs; show a user error's own words, anything else briefly."""
    button.disabled = True
    try:
        yield
    except NocodeError as exc:
        message.show(str(exc), "error")
    except Exception:  # never a traceback on the page; the log keeps it
        log.exception("unexpected error in a panel")
        message.show("Something went wrong. Please try again; if it keeps happening, tell an administrator.", "error")
    finally:
        button.disabled = False

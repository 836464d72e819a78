"""The page's watch on its server: an invisible anywidget that pings the kernel every few seconds and shows
a banner ("the server went away") when no answer comes, so a page open while the server stops says so
instead of silently doing nothing. The pings are not a person's activity: the widget belongs to no
session, so they neither keep a session from going idle nor reach anything else."""

from __future__ import annotations

import anywidget
import traitlets

from .parts import front_end


class ServerWatch(anywidget.AnyWidget):
    _esm = front_end("server_watch.js")
    every_s = traitlets.Float(4.0).tag(sync=True)
    quiet_s = traitlets.Float(12.0).tag(sync=True)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.on_msg(self._answer)

    def _answer(self, _widget, content, _buffers) -> None:
        if isinstance(content, dict) and content.get("kind") == "ping":
            self.send({"kind": "pong"})

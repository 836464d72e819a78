"""The browser's half of "keep me signed in on this device": an invisible anywidget that reads a
device token from the browser's localStorage when the page opens and sends it to the kernel, and
stores or forgets one when told. The token only travels over the page's own comm."""

from __future__ import annotations

from typing import Callable

import anywidget

from .parts import front_end


class DeviceKey(anywidget.AnyWidget):
    _esm = front_end("device.js")

    def __init__(self, on_token: Callable[[str | None], None]):
        super().__init__()
        self._on_token = on_token
        self.on_msg(self._message)

    def _message(self, _widget, content, _buffers) -> None:
        if isinstance(content, dict) and content.get("kind") == "token":
            value = content.get("value")
            self._on_token(value if isinstance(value, str) else None)

    def store(self, token: str) -> None:
        self.send({"kind": "store", "value": token})

    def forget(self) -> None:
        self.send({"kind": "forget"})

"""The browser's half of "keep me signed in on this device": an invisible anywidget that reads a
device token from the browser's localStorage when the page opens and sends it to the kernel, and
stores or forgets one when told. The token only travels over the page's own comm."""

from __future__ import annotations

from typing import Callable

import anywidget

_ESM = """
const KEY = "nocode-device-token";
function render({ model, el }) {
  el.classList.add("nocode-device");
  el.style.display = "none";
  let token = null;
  try { token = window.localStorage.getItem(KEY); } catch (e) { token = null; }
  model.send({ kind: "token", value: token });
  model.on("msg:custom", (msg) => {
    try {
      if (msg.kind === "store") { window.localStorage.setItem(KEY, msg.value); }
      else if (msg.kind === "forget") { window.localStorage.removeItem(KEY); }
    } catch (e) { /* private browsing: nothing is kept */ }
  });
}
export default { render };
"""


class DeviceKey(anywidget.AnyWidget):
    _esm = _ESM

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

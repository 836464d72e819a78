"""A download button's other half: bytes from the kernel saved by the browser under a file name.
Voila's file handler stays off (uploaded pictures are private), so the bytes travel over the widget's
comm in chunks (the page stays responsive for files of tens of MB) and the browser assembles them into
a Blob and saves it. An anywidget: the same small ES module works in Voila, JupyterLab and Colab."""

from __future__ import annotations

import anywidget
import traitlets

CHUNK = 512 * 1024

_ESM = """
function render({ model, el }) {
  let parts = [];
  el.classList.add("nocode-download");
  model.on("msg:custom", (msg, buffers) => {
    if (msg.kind === "start") { parts = []; }
    else if (msg.kind === "chunk") { parts.push(buffers[0]); }
    else if (msg.kind === "end") {
      const url = URL.createObjectURL(new Blob(parts, { type: msg.mime }));
      const link = document.createElement("a");
      link.href = url;
      link.download = msg.name;
      document.body.appendChild(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60000);
      parts = [];
      model.set("saved", model.get("saved") + 1);
      model.save_changes();
    }
  });
}
export default { render };
"""


class Download(anywidget.AnyWidget):
    _esm = _ESM
    saved = traitlets.Int(0).tag(sync=True)  # files the browser has saved (the page counts them)

    def send_file(self, name: str, data: bytes, mime: str = "application/zip") -> None:
        self.send({"kind": "start", "name": name, "size": len(data)})
        view = memoryview(data)
        for start in range(0, len(data), CHUNK):
            self.send({"kind": "chunk"}, buffers=[view[start:start + CHUNK]])
        self.send({"kind": "end", "name": name, "mime": mime, "size": len(data)})

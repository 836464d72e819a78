"""A download button's other half: bytes from the kernel saved by the browser under a file name.
Voila's file handler stays off (uploaded pictures are private), so the bytes travel over the widget's
comm in chunks (the page stays responsive for files of tens of MB) and the browser assembles them into
a Blob and saves it. An anywidget: the same small ES module works in Voila, JupyterLab and Colab."""

from __future__ import annotations

import anywidget
import traitlets

from .parts import front_end

CHUNK = 512 * 1024


class Download(anywidget.AnyWidget):
    _esm = front_end("download.js")
    saved = traitlets.Int(0).tag(sync=True)  # files the browser has saved (the page counts them)

    def send_file(self, name: str, data: bytes, mime: str = "application/zip") -> None:
        self.send({"kind": "start", "name": name, "size": len(data)})
        view = memoryview(data)
        for start in range(0, len(data), CHUNK):
            self.send({"kind": "chunk"}, buffers=[view[start:start + CHUNK]])
        self.send({"kind": "end", "name": name, "mime": mime, "size": len(data)})

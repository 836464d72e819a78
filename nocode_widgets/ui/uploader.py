"""Uploads that travel in chunks: drag and drop or choose files (or a zip); the browser checks type and
size before sending anything, then sends 512 KiB chunks one after another (each acknowledged, so the
progress bar shows what arrived and memory stays flat), with Cancel. The kernel streams them into temp
files in the owner's space and hands the panel `(name, path)` pairs; nothing is held whole in memory,
and the websocket never carries more than a chunk. An anywidget: Voila, JupyterLab and Colab alike."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import anywidget
import traitlets

from ..errors import NocodeError
from ..datasets.uploads import UploadFolder
from .parts import front_end

log = logging.getLogger(__name__)
CHUNK = 512 * 1024  # under every front end's message limit (Colab's is about 1 MB)
MAX_FILES = 5000


class UploadRefused(Exception):
    """What the page is told when an upload cannot go on (plain words)."""


@dataclass
class Received:
    """The files of one finished upload, in temp files; `discard()` when done with them."""

    files: list[tuple[str, Path]]
    folder: UploadFolder = field(repr=False)

    def discard(self) -> None:
        self.folder.discard()


class Receiver(anywidget.AnyWidget):
    """What the uploader and the camera share: a browser that asks, message by message (each answered
    with "ack" or "error" and its text), to stream files into a temp folder in the owner's space, and a
    panel that gets them as a `Received` at the end. Subclasses map message kinds to methods in `_steps`.

    A synced trait is a request, never a limit: the browser can set any of them. The traits named in
    `_limits` are copied into `self.limits` when the widget is made, and only that copy is enforced."""

    # shown and pre-checked by the page; what the server enforces is `self.limits`
    max_bytes = traitlets.Int(0).tag(sync=True)
    _limits: tuple[str, ...] = ("max_bytes",)

    def __init__(self, open_folder: Callable[[int], UploadFolder], max_bytes: int, on_done: Callable[[Received], None],
                 can_start: Callable[[], str | None] = lambda: None,
                 on_refused: Callable[[str], None] = lambda text: None, **traits):
        """`open_folder(nbytes)` makes the temp folder of an upload in its owner's space, `nbytes` reserved; `on_done(received)` owns
        the files (it must discard them; if it raises they are discarded); `can_start()` returns a reason to
        refuse a new upload (e.g. the panel is still busy), or None; `on_refused(text)` tells the panel why
        an upload was refused (the page shows it beside the widget too)."""
        super().__init__(max_bytes=max_bytes, **traits)
        self.limits = {name: getattr(self, name) for name in self._limits}  # Python's to change, not the page's
        self.open_folder, self.on_done, self.can_start, self.on_refused = open_folder, on_done, can_start, on_refused
        self._tmp: UploadFolder | None = None
        self.on_msg(self._message)

    _steps = {"cancel": "_cancel"}

    @property
    def receiving(self) -> bool:
        return self._tmp is not None

    def _message(self, _widget, content, buffers) -> None:
        kind = content.get("kind") if isinstance(content, dict) else None
        if kind not in self._steps:
            return
        try:
            try:
                reply = getattr(self, self._steps[kind])(content, buffers)
            except UploadRefused:
                raise
            except (TypeError, ValueError, AttributeError):  # a crafted message (or a bug: logged)
                log.warning("upload message %r not understood", kind, exc_info=True)
                raise UploadRefused("The upload was not understood. Please try again.") from None
            except NocodeError as exc:  # the person's space is full, the server is busy, ...
                raise UploadRefused(str(exc)) from None
            except Exception:
                log.exception("upload message %r failed", kind)
                raise UploadRefused("The upload could not be taken in. Please try again.") from None
        except UploadRefused as exc:
            self.discard()
            self.send({"kind": "error", "text": str(exc)})
            self.on_refused(str(exc))
            return
        self.send({"kind": "ack", **(reply or {})})

    def _cancel(self, _content, _buffers) -> None:
        self.discard()

    def _open(self, nbytes: int = 0) -> None:
        """A new temp folder with `nbytes` reserved, once the panel agrees."""
        self.discard()
        reason = self.can_start()
        if reason:
            raise UploadRefused(reason)
        self._tmp = self.open_folder(nbytes)

    def _hand_over(self, files: list[tuple[str, Path]]) -> None:
        received, self._tmp = Received(files, self._tmp), None  # on_done owns the files now
        try:
            received.folder.arrived()
            self.on_done(received)
        except BaseException:
            received.discard()
            raise

    def discard(self) -> None:
        """Forget an upload in progress and its temp files."""
        if self._tmp is not None:
            self._tmp.discard()
            self._tmp = None

    def close(self) -> None:
        try:
            self.discard()
        finally:
            super().close()


class Uploader(Receiver):
    _esm = front_end("uploader.js")
    accept = traitlets.Unicode("").tag(sync=True)
    multiple = traitlets.Bool(True).tag(sync=True)
    label = traitlets.Unicode("Choose files").tag(sync=True)
    _limits = Receiver._limits + ("accept", "multiple")
    _steps = {**Receiver._steps, "begin": "_begin", "chunk": "_chunk", "end": "_end"}

    def __init__(self, *args, **traits):
        super().__init__(*args, **traits)
        self._expected: list[tuple[str, int]] = []
        self._written: list[int] = []

    def _begin(self, content, _buffers) -> None:
        files, most = content.get("files"), MAX_FILES if self.limits["multiple"] else 1
        if not isinstance(files, list) or not 1 <= len(files) <= most:
            raise UploadRefused(f"Send between 1 and {most} files at a time." if most > 1 else "Send one file.")
        expected = [(str(f.get("name", ""))[:255] or "unnamed", int(f.get("size", -1))) for f in files]
        if any(size < 0 for _, size in expected):
            raise UploadRefused("The upload was not understood. Please choose the files again.")
        if self.limits["accept"] == ".zip" and not all(name.lower().endswith(".zip") for name, _ in expected):
            raise UploadRefused("Send a zip file (its name ends in .zip).")
        total, limit = sum(size for _, size in expected), self.limits["max_bytes"]
        if total > limit:
            raise UploadRefused(f"That is {total / 2**20:.1f} MB; the limit is {limit / 2**20:.0f} MB at a "
                                "time. Send fewer files, or a zip in parts.")
        self._open(total)
        self._expected, self._written = expected, [0] * len(expected)
        for k in range(len(expected)):
            (self._tmp.path / str(k)).touch()

    def _chunk(self, content, buffers) -> None:
        index, offset, data = content.get("index"), content.get("offset"), buffers[0] if buffers else b""
        if self._tmp is None:
            raise UploadRefused("The upload was interrupted. Please choose the files again.")
        if not isinstance(index, int) or not 0 <= index < len(self._expected) or offset != self._written[index]:
            raise UploadRefused("Part of the upload went missing. Please choose the files again.")
        data = memoryview(data).cast("B")
        if self._written[index] + len(data) > self._expected[index][1] or len(data) > 2 * CHUNK:
            raise UploadRefused("A file grew while it was being sent. Please choose the files again.")
        with open(self._tmp.path / str(index), "ab") as f:
            f.write(data)
        self._written[index] += len(data)

    def _end(self, _content, _buffers) -> None:
        if self._tmp is None or any(w != size for w, (_, size) in zip(self._written, self._expected)):
            raise UploadRefused("Part of the upload went missing. Please choose the files again.")
        self._hand_over([(name, self._tmp.path / str(k)) for k, (name, _) in enumerate(self._expected)])

"""The webcam, as Teachable Machine made people expect: a live preview, "hold to record" pictures into a
class (several a second, made smaller in the browser before they travel), and a live test that shows the
class probabilities as the camera moves (one picture in flight at a time: frames are skipped while the
kernel is busy). Browsers give pages a camera only over HTTPS or on localhost; the widget says so.

An anywidget (Voila, JupyterLab and Colab alike); recordings arrive through the uploader's `Receiver`, so
they reach the same ingest, limits and clean-up as uploaded pictures."""

from __future__ import annotations

import time
from typing import Callable

import traitlets

from .uploader import Receiver, UploadRefused
from .parts import front_end

MAX_FRAME_BYTES = 1 << 20  # a 320 px JPEG is ~20 KB; anything near this is not a camera frame
MAX_FRAMES = 300  # one hold: a minute at 5 a second
JPEG_START = b"\xff\xd8\xff"  # every frame is a JPEG made by the page's canvas


class Camera(Receiver):
    """`mode="record"`: each hold of the button becomes a `Received` of JPEG files for `on_done` (the same
    contract as `Uploader`). `mode="live"`: each frame goes to `on_live(jpeg_bytes)` and the browser sends
    the next one only after it returns."""

    _esm = front_end("camera.js")
    mode = traitlets.Unicode("record").tag(sync=True)
    size = traitlets.Int(320).tag(sync=True)  # longest side, made smaller in the browser
    rate = traitlets.Float(5.0).tag(sync=True)  # pictures a second at most
    max_frames = traitlets.Int(MAX_FRAMES).tag(sync=True)  # the page's own stop; enforced: self.limits
    _limits = Receiver._limits + ("mode", "max_frames", "rate")  # fixed by the panel that made it
    _steps = {**Receiver._steps, "begin": "_begin", "frame": "_frame", "end": "_end", "live": "_live"}

    def __init__(self, *args, on_live: Callable[[bytes], None] | None = None, **traits):
        super().__init__(*args, **traits)
        self.on_live = on_live
        self._last_live = 0.0
        self._frames: list[tuple[str, object]] = []
        self._bytes = 0

    def _begin(self, _content, _buffers) -> None:
        if self.limits["mode"] != "record":
            raise UploadRefused("This camera does not record.")
        self._open()
        self._frames, self._bytes = [], 0

    def _frame(self, _content, buffers) -> dict:
        if self._tmp is None:
            raise UploadRefused("The recording was interrupted. Please hold the button again.")
        data = self._picture(buffers)
        if len(self._frames) >= self.limits["max_frames"] or self._bytes + len(data) > self.limits["max_bytes"]:
            raise UploadRefused(f"That is as much as one recording can hold ({len(self._frames)} pictures). "
                                "Let go of the button, then record more.")
        self._tmp.claim(self._bytes + len(data), ahead=True)
        name = f"camera-{time.strftime('%Y%m%d-%H%M%S')}-{len(self._frames) + 1:03d}.jpg"
        path = self._tmp.path / f"{len(self._frames)}.jpg"
        path.write_bytes(data)
        self._frames.append((name, path))
        self._bytes = self._tmp.written = self._bytes + len(data)
        return {"count": len(self._frames)}

    def _end(self, _content, _buffers) -> None:
        if self._tmp is None or not self._frames:
            raise UploadRefused("Nothing was recorded. Hold the button a little longer.")
        frames, self._frames = self._frames, []
        self._hand_over(frames)

    def _live(self, _content, buffers) -> None:
        if self.limits["mode"] != "live" or self.on_live is None:
            raise UploadRefused("This camera does not test live.")
        picture = self._picture(buffers)
        if time.monotonic() - self._last_live < 1 / self.limits["rate"]:
            return  # faster than the panel's rate: skipped, as the page skips frames while the kernel is busy
        self._last_live = time.monotonic()
        self.on_live(picture)

    @staticmethod
    def _picture(buffers) -> bytes:
        """A frame's bytes, if they are a JPEG (what the page's canvas makes) of a sane size."""
        data = bytes(memoryview(buffers[0]).cast("B")) if buffers else b""
        if not data or len(data) > MAX_FRAME_BYTES or not data.startswith(JPEG_START):
            raise UploadRefused("The camera sent something that is not a picture.")
        return data

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

MAX_FRAME_BYTES = 1 << 20  # a 320 px JPEG is ~20 KB; anything near this is not a camera frame
MAX_FRAMES = 300  # one hold: a minute at 5 a second
JPEG_START = b"\xff\xd8\xff"  # every frame is a JPEG made by the page's canvas

_ESM = """
const NO_CAMERA_HERE = "The camera works only on a secure page: open the app over HTTPS (or on this computer, at localhost). "
  + "Ask whoever runs the app to set up HTTPS.";
function explain(err) {
  const name = (err && err.name) || "";
  if (name === "NotAllowedError" || name === "SecurityError")
    return "The browser was not allowed to use the camera. Allow it (the camera icon in the address bar) and press Start camera again.";
  if (name === "NotFoundError" || name === "OverconstrainedError") return "No camera was found on this device.";
  if (name === "NotReadableError") return "The camera is in use by another program. Close it and press Start camera again.";
  return "The camera could not be started (" + ((err && err.message) || name || "unknown reason") + ").";
}
const pause = (ms) => new Promise((r) => setTimeout(r, ms));

function render({ model, el }) {
  el.classList.add("nocode-camera");
  el.style.cssText = "display:flex;flex-direction:column;gap:6px;margin:4px 0";
  const row = document.createElement("div");
  row.style.cssText = "display:flex;gap:8px;align-items:center";
  const start = document.createElement("button");
  start.className = "jupyter-button nocode-camera-start";
  start.textContent = "Start camera";
  const action = document.createElement("button");
  action.className = "jupyter-button nocode-camera-action";
  action.textContent = model.get("mode") === "record" ? "Hold to record" : "Start live test";
  action.disabled = true;
  action.style.cssText = "min-width:140px";
  const note = document.createElement("span");
  note.className = "nocode-camera-note";
  row.append(start, action, note);
  const video = document.createElement("video");
  video.className = "nocode-camera-preview";
  video.muted = true; video.autoplay = true; video.playsInline = true;
  video.style.cssText = "width:320px;max-width:100%;border-radius:6px;background:#222;display:none";
  el.append(row, video);
  const canvas = document.createElement("canvas");

  let stream = null, active = false, waiting = null, timer = null;
  model.on("msg:custom", (msg) => {
    if (waiting) { const resolve = waiting; waiting = null; clearTimeout(timer); resolve(msg); }
  });
  // One question at a time; no answer in 15 s (the page signed out, the kernel gone) is an error.
  const ask = (msg, buffers) => new Promise((resolve) => {
    waiting = resolve;
    timer = setTimeout(() => { waiting = null; resolve({ kind: "error", text: "The app did not answer. Reload the page and sign in again." }); }, 15000);
    model.send(msg, undefined, buffers || []);
  });
  async function frame() {
    const w = video.videoWidth, h = video.videoHeight;
    if (!w || !h) return null;
    const scale = Math.min(1, model.get("size") / Math.max(w, h));
    canvas.width = Math.round(w * scale); canvas.height = Math.round(h * scale);
    canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
    const blob = await new Promise((r) => canvas.toBlob(r, "image/jpeg", 0.85));
    return blob ? await blob.arrayBuffer() : null;
  }
  function stopCamera() {
    active = false;
    if (stream) stream.getTracks().forEach((t) => t.stop());
    stream = null;
  }
  start.onclick = async () => {
    if (stream) { stopCamera(); video.style.display = "none"; start.textContent = "Start camera"; action.disabled = true; return; }
    if (!window.isSecureContext || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) { note.textContent = NO_CAMERA_HERE; return; }
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 640 }, height: { ideal: 480 } }, audio: false });
    } catch (err) { note.textContent = explain(err); return; }
    video.srcObject = stream; video.style.display = "";
    start.textContent = "Stop camera"; action.disabled = false;
    note.textContent = model.get("mode") === "record" ? "Hold the button down while you show the object." : "";
  };

  // Record: pictures while the button is held, then handed to the app together.
  async function record() {
    if (active || !stream) return;
    active = true;
    let reply = await ask({ kind: "begin" });
    if (reply.kind === "error") { active = false; note.textContent = reply.text; return; }
    let count = 0;
    const every = 1000 / model.get("rate");
    while (active && count < model.get("max_frames")) {
      const began = performance.now();
      const data = await frame();
      if (data) {
        reply = await ask({ kind: "frame" }, [data]);
        if (reply.kind === "error") { active = false; note.textContent = reply.text; return; }
        count = reply.count;
        note.textContent = "Recording… " + count + " picture" + (count === 1 ? "" : "s");
      }
      await pause(Math.max(0, every - (performance.now() - began)));
    }
    active = false;
    if (!count) { await ask({ kind: "cancel" }); note.textContent = "Nothing recorded: hold the button a little longer."; return; }
    note.textContent = "Adding " + count + " pictures…";
    reply = await ask({ kind: "end" });
    note.textContent = reply.kind === "error" ? reply.text : "Recorded " + count + " picture" + (count === 1 ? "" : "s") + ".";
  }
  const release = () => { active = false; };
  // Live: a picture, its answer, then the next (skipping frames while the app is busy).
  async function live() {
    if (active) { active = false; action.textContent = "Start live test"; return; }
    active = true; action.textContent = "Stop live test";
    const every = 1000 / model.get("rate");
    while (active && stream) {
      const began = performance.now();
      const data = await frame();
      if (data) {
        const reply = await ask({ kind: "live" }, [data]);
        if (reply.kind === "error") { note.textContent = reply.text; break; }
      }
      await pause(Math.max(0, every - (performance.now() - began)));
    }
    active = false; action.textContent = "Start live test";
  }
  if (model.get("mode") === "record") {
    action.onpointerdown = (e) => { e.preventDefault(); record(); };
    action.onpointerup = release; action.onpointerleave = release; action.onpointercancel = release;
    action.onkeydown = (e) => { if ((e.key === " " || e.key === "Enter") && !e.repeat) record(); };
    action.onkeyup = release;
  } else {
    action.onclick = live;
  }
  return () => stopCamera();  // the view is gone: the camera light goes off
}
export default { render };
"""


class Camera(Receiver):
    """`mode="record"`: each hold of the button becomes a `Received` of JPEG files for `on_done` (the same
    contract as `Uploader`). `mode="live"`: each frame goes to `on_live(jpeg_bytes)` and the browser sends
    the next one only after it returns."""

    _esm = _ESM
    mode = traitlets.Unicode("record").tag(sync=True)
    size = traitlets.Int(320).tag(sync=True)  # longest side, made smaller in the browser
    rate = traitlets.Float(5.0).tag(sync=True)  # pictures a second at most
    max_frames = traitlets.Int(MAX_FRAMES).tag(sync=True)
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

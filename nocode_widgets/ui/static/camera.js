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

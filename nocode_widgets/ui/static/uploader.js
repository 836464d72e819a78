const CHUNK = 512 * 1024;
const mb = (n) => (n / 1048576).toFixed(1) + " MB";
function accepted(file, accept) {
  if (!accept) return true;
  const name = file.name.toLowerCase();
  return accept.split(",").map((a) => a.trim().toLowerCase()).some((a) =>
    a.endsWith("/*") ? (file.type || "").startsWith(a.slice(0, -1)) || /\.(jpe?g|png|gif|bmp|webp|tiff?)$/.test(name)
                     : name.endsWith(a));
}
function render({ model, el }) {
  el.classList.add("nocode-uploader");
  const zone = document.createElement("div");
  zone.className = "nocode-dropzone";
  zone.style.cssText = "border:2px dashed #9aa5b1;border-radius:6px;padding:10px 14px;display:flex;gap:12px;align-items:center";
  const input = document.createElement("input");
  input.type = "file";
  input.multiple = model.get("multiple");
  input.accept = model.get("accept");
  input.style.display = "none";
  const choose = document.createElement("button");
  choose.className = "jupyter-button nocode-choose";
  choose.textContent = model.get("label");
  const hint = document.createElement("span");
  hint.textContent = "or drop " + (model.get("accept") === ".zip" ? "a zip" : "files") + " here (up to " + mb(model.get("max_bytes")) + ")";
  zone.append(input, choose, hint);
  const row = document.createElement("div");
  row.style.cssText = "display:flex;gap:8px;align-items:center";
  const bar = document.createElement("progress");
  bar.className = "nocode-upload-progress";
  bar.style.cssText = "width:320px;display:none";
  const cancel = document.createElement("button");
  cancel.className = "jupyter-button nocode-upload-cancel";
  cancel.textContent = "Cancel";
  cancel.style.display = "none";
  const note = document.createElement("span");
  note.className = "nocode-upload-note";
  row.append(bar, cancel, note);
  el.append(zone, row);

  let waiting = null, cancelled = false, busy = false;
  model.on("msg:custom", (msg) => {
    if (msg.kind === "error") note.textContent = msg.text;
    if (waiting) { const resolve = waiting; waiting = null; resolve(msg); }
  });
  const ask = (msg, buffers) => new Promise((resolve) => { waiting = resolve; model.send(msg, undefined, buffers || []); });
  const finish = (text) => { busy = false; bar.style.display = "none"; cancel.style.display = "none"; if (text) note.textContent = text; input.value = ""; };
  async function send(list) {
    const files = Array.from(list);
    if (!files.length || busy) return;
    const bad = files.find((f) => !accepted(f, model.get("accept")));
    if (bad) { note.textContent = bad.name + (model.get("accept") === ".zip" ? " is not a zip file." : " is not a picture."); return; }
    const total = files.reduce((s, f) => s + f.size, 0);
    if (total > model.get("max_bytes")) {
      note.textContent = "That is " + mb(total) + "; the limit is " + mb(model.get("max_bytes")) + " at a time. Send fewer files, or a zip in parts.";
      return;
    }
    busy = true; cancelled = false;
    bar.max = Math.max(total, 1); bar.value = 0; bar.style.display = ""; cancel.style.display = "";
    let reply = await ask({ kind: "begin", files: files.map((f) => ({ name: f.name, size: f.size })) });
    if (reply.kind === "error") return finish();
    let sent = 0;
    for (let i = 0; i < files.length; i++) {
      for (let offset = 0; offset < files[i].size; offset += CHUNK) {
        if (cancelled) { await ask({ kind: "cancel" }); return finish("Cancelled: nothing was kept."); }
        const buffer = await files[i].slice(offset, offset + CHUNK).arrayBuffer();
        reply = await ask({ kind: "chunk", index: i, offset: offset }, [buffer]);
        if (reply.kind === "error") return finish();
        sent += buffer.byteLength;
        bar.value = sent;
        note.textContent = mb(sent) + " of " + mb(total);
      }
    }
    reply = await ask({ kind: "end" });
    finish(reply.kind === "error" ? null : "Received " + files.length + " file" + (files.length > 1 ? "s" : "") + ".");
  }
  cancel.onclick = () => { cancelled = true; };
  choose.onclick = () => input.click();
  input.onchange = () => send(input.files);
  zone.ondragover = (e) => { e.preventDefault(); zone.style.background = "#eef3f8"; };
  zone.ondragleave = () => { zone.style.background = ""; };
  zone.ondrop = (e) => { e.preventDefault(); zone.style.background = ""; send(e.dataTransfer.files); };
}
export default { render };

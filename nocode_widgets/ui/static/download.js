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

// Says so on the page when the server behind it has gone away (stopped, restarted, or the network cut):
// a ping every few seconds over the widget's comm; no answer within `quiet_s` shows a banner.
function render({ model, el }) {
  el.classList.add("nocode-server-watch");
  const banner = document.createElement("div");
  banner.setAttribute("role", "alert");
  banner.className = "nocode-server-gone";
  banner.textContent = "The server went away: this page no longer works. Reload it when the server is back.";
  banner.style.cssText = "display:none;position:fixed;top:0;left:0;right:0;z-index:1000;padding:12px 16px;" +
    "background:#a4161a;color:#fff;font:600 16px/1.4 system-ui,sans-serif;text-align:center";
  document.body.appendChild(banner);
  let last = Date.now();
  model.on("msg:custom", (msg) => { if (msg.kind === "pong") { last = Date.now(); } });
  const timer = setInterval(() => {
    try { model.send({ kind: "ping" }); } catch (e) { /* the connection is gone: the check below says so */ }
    if (Date.now() - last > model.get("quiet_s") * 1000) { banner.style.display = "block"; }
  }, model.get("every_s") * 1000);
  return () => { clearInterval(timer); banner.remove(); };
}
export default { render };

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

// A page of inbox pictures to label: a card per picture (thumbnail, the model's suggestion, a button per
// class). The suggestion is preselected; a click or the keys 1-9 choose another class, 0 or the chosen
// button again leaves the picture unfiled. Arrow keys move between cards. `choices` (picture id -> class)
// is only a request: the kernel checks every id and class again when the page is filed.
// A share as people read it: whole percents, but never "100%" for an answer that is not certain.
function pct(p) {
  return p >= 0.995 && p < 1 ? `${(Math.floor(p * 1000) / 10).toFixed(1)}%` : `${Math.round(p * 100)}%`;
}

function render({ model, el }) {
  el.classList.add("nocode-label-grid");
  const grid = document.createElement("div");
  grid.setAttribute("role", "list");
  grid.className = "nocode-label-cards";
  el.appendChild(grid);

  function choose(id, label) {
    const choices = { ...model.get("choices") };
    if (label === null || choices[id] === label) { delete choices[id]; } else { choices[id] = label; }
    model.set("choices", choices);
    model.save_changes();
  }

  function draw() {
    const focusedId = document.activeElement && document.activeElement.dataset
      ? document.activeElement.closest("[data-picture]")?.dataset.picture : null;
    grid.replaceChildren();
    const classes = model.get("classes");
    const choices = model.get("choices");
    const cards = model.get("cards");
    cards.forEach((card, k) => {
      const item = document.createElement("div");
      item.setAttribute("role", "listitem");
      item.dataset.picture = card.id;
      item.tabIndex = 0;
      const chosen = choices[card.id];
      const said = card.suggested
        ? `suggested ${card.suggested}, ${pct(card.p)}${card.sure ? "" : ", not sure"}` : "no suggestion";
      item.setAttribute("aria-label", `Picture ${k + 1} of ${cards.length}, ${card.name}: ${said}. ` +
        (chosen ? `Filed as ${chosen}.` : "Not filed.") + " Keys 1 to 9 choose a class, 0 leaves it unfiled.");
      item.className = "nocode-label-card" + (chosen ? " nocode-chosen" : "");
      const img = document.createElement("img");
      img.src = card.src;
      img.alt = card.name;
      const text = document.createElement("div");
      text.className = "nocode-label-said";
      text.textContent = card.suggested
        ? `${card.suggested} ${pct(card.p)}${card.sure ? "" : " (not sure)"}` : "no suggestion";
      const buttons = document.createElement("div");
      buttons.className = "nocode-label-buttons";
      classes.forEach((label, j) => {
        const b = document.createElement("button");
        b.type = "button";
        b.textContent = j < 9 ? `${j + 1} ${label}` : label;
        b.setAttribute("aria-pressed", chosen === label ? "true" : "false");
        b.setAttribute("aria-label", `${b.textContent}: file picture ${k + 1} as ${label}`);
        b.addEventListener("click", () => choose(card.id, label));
        buttons.appendChild(b);
      });
      item.append(img, text, buttons);
      item.addEventListener("keydown", (event) => {
        const cardsNow = Array.from(grid.querySelectorAll("[data-picture]"));
        const here = cardsNow.indexOf(item);
        if (event.ctrlKey || event.altKey || event.metaKey) { return; }  // the browser's own shortcuts
        if (/^[0-9]$/.test(event.key)) {
          const n = Number(event.key);
          if (n === 0) { choose(card.id, null); }
          else if (n <= classes.length && choices[card.id] !== classes[n - 1]) { choose(card.id, classes[n - 1]); }
          event.preventDefault();
        } else if (event.key === "ArrowRight" || event.key === "ArrowDown") {
          cardsNow[Math.min(here + 1, cardsNow.length - 1)].focus();
          event.preventDefault();
        } else if (event.key === "ArrowLeft" || event.key === "ArrowUp") {
          cardsNow[Math.max(here - 1, 0)].focus();
          event.preventDefault();
        }
      });
      grid.appendChild(item);
    });
    if (focusedId) { grid.querySelector(`[data-picture="${CSS.escape(focusedId)}"]`)?.focus(); }
  }

  model.on("change:cards", draw);
  model.on("change:choices", draw);
  model.on("change:classes", draw);
  draw();
}
export default { render };

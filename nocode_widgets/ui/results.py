"""Results: my runs in a sortable table; one run's learning curves, confusion matrix, per-class
scores, the pictures it got wrong and its settings; two runs side by side; delete a run. Every
figure says which split it was measured on."""

from __future__ import annotations

import json
import time

import ipywidgets as w

from ..insight import plots
from ..accounts.auth import User
from ..datasets import thumbnail_bytes
from ..errors import NotFound
from ..runs import jobs
from ..runs.records import cell_pictures, delete_run, read_evaluation, read_history, run_folder
from ..workspace import Workspace
from .parts import (FIGURE_WIDTH, Background, Collapsible, Message, SessionPanel, ask, card, esc, html_table,
                    options_of, percent, picture, report_errors, serialized, set_children, status_bar)
from .download import Download
from .study import EnsembleMaker, StudiesView

MAPPED = 12  # mistakes shown with heat maps (two maps each)
CELL_PICTURES = 24  # pictures shown for one cell of the confusion matrix
GRID_CLASSES = 12  # up to this many classes the matrix is a grid of buttons; beyond, a list of its cells

SORTS = {"newest": lambda r: -r.created, "accuracy": lambda r: -(r.metrics.get("val_accuracy") or -1),
         "weighted F1": lambda r: -(r.metrics.get("val_weighted_f1") or -1), "dataset": lambda r: r.dataset_name.lower()}


def model_name(r) -> str:
    """What the run's model is: its architecture, or an ensemble's name."""
    return r.name if r.kind == "ensemble" else (r.resolved or {}).get("arch", "auto")


def run_label(r) -> str:
    return f"{r.dataset_name} · {model_name(r)} · {r.status} · {percent(r.metrics.get('val_accuracy'))} · {r.id[-6:]}"


class ResultsPanel(SessionPanel):
    def __init__(self, ws: Workspace, user: User, everyone: bool = False):
        self.everyone = everyone
        self.message = Message()
        self.sort = w.Dropdown(options=list(SORTS), value="newest", description="Sort by")
        self.refresh_button = w.Button(description="Refresh", icon="refresh")
        self.table = w.HTML()
        self.picker = w.Dropdown(description="Run", layout=w.Layout(width="560px"))
        self.compare = w.Dropdown(description="Compare with", layout=w.Layout(width="560px"))
        self.detail = w.VBox()
        self.side_by_side = w.HTML()
        self.delete_button = w.Button(description="Delete run", button_style="danger", icon="trash")
        self.download_button = w.Button(description="Download model", icon="download",
                                        tooltip="model.onnx, predict.py and a model card, as one zip")
        self.notebook_button = w.Button(description="Download as notebook", icon="code",
                                        tooltip="this run in plain PyTorch, step by step (eject to code)")
        self.download = Download()
        self.work = Background()
        self.confirm = w.HBox()
        self.studies = StudiesView(self)
        self.ensembles = EnsembleMaker(self, on_made=lambda run: self.refresh(select=run.id))
        self.sort.observe(lambda _: self.refresh(), names="value")
        self.refresh_button.on_click(lambda _: self.refresh())
        self.picker.observe(lambda _: self.show_run(), names="value")
        self.compare.observe(lambda _: self.show_comparison(), names="value")
        self.delete_button.on_click(self._ask_delete)
        self.download_button.on_click(lambda _: self._download(_bundle_file))
        self.notebook_button.on_click(lambda _: self._download(_notebook_file))
        self.anchor = f"nc-{self.download.model_id[:8]}"  # section ids, unique on the page (Admin has a Results too)
        self.downloads = Collapsible("Downloads", [
            anchor(self.anchor, "downloads"),
            w.HBox([self.download_button, self.notebook_button, self.delete_button],
                   layout=w.Layout(flex_flow="row wrap")), self.download], opened=True)
        super().__init__(ws, user, [
            card("Your runs", [w.HBox([self.picker, self.sort, self.refresh_button],
                                      layout=w.Layout(align_items="center", flex_flow="row wrap")),
                               status_bar(self.confirm, self.message)]),
            self.detail, self.downloads,
            Collapsible("Compare with another run", [self.compare, self.side_by_side]),
            Collapsible("All runs, comparisons and ensembles", [
                self.table, self.studies, Collapsible("Combine runs into an ensemble", [self.ensembles])])],
            "nocode-results")
        self.refresh()

    @serialized
    def refresh(self, select: str | None = None) -> None:
        def work():
            runs = sorted(jobs.runs(self.ws, self.user, everyone=self.everyone), key=SORTS[self.sort.value])
            self.table.value = runs_table(runs) if runs else "<p>No runs yet: train a model first.</p>"
            pairs = [(run_label(r), r.id) for r in runs]
            self.picker.options, self.picker.value = options_of(pairs, select or self.picker.value)
            self.compare.options, self.compare.value = options_of([("—", "")] + pairs, self.compare.value or "")
            self.ensembles.refresh(runs, run_label)
            self.studies.refresh()
            self.show_run()
        report_errors(self.message, work)

    @serialized
    def show_run(self) -> None:
        if not self.picker.value:
            set_children(self.detail, [])
            return
        report_errors(self.message, lambda: set_children(self.detail, self._detail(self.picker.value)))

    def _detail(self, run_id: str) -> list[w.Widget]:
        """The run's headline card, links to its sections, then the sections (each opens and closes)."""
        run = jobs.get(self.ws, self.user, run_id)
        folder = run_folder(self.ws, run)
        history, evaluation = read_history(folder), read_evaluation(folder) or {}
        sections: list[tuple[str, str, list, bool]] = []  # (key, title, children, opened)
        if history:
            sections.append(("curves", "Learning curves", [
                picture(plots.learning_curves(history, run.best_epoch), "png",
                        "Learning curves: loss and accuracy per epoch on the training and validation pictures "
                        "(the numbers are in the table below)", max_width=FIGURE_WIDTH), history_table(history)], False))
        for split, ev in evaluation.items():
            classes = [c["label"] for c in ev["per_class"]]
            sections.append((f"per-class-{split}", f"Per class and confusion, on the {split} pictures ({ev['count']})", [
                w.HBox([w.HTML("<p>Measured on pictures the model did not learn from.</p>" + per_class_table(ev),
                               layout=w.Layout(margin="0 24px 0 0")),
                        picture(plots.confusion_figure(ev["confusion"], classes, split), "png",
                                f"Confusion matrix on the {split} pictures (the counts are the buttons below)",
                                max_width="380px")], layout=w.Layout(align_items="flex-start", flex_flow="row wrap")),
                self._cells(run.id, split, ev, classes, maps=run.kind != "ensemble")], split == "validation"))
            if ev.get("calibration"):
                sections.append(("confidence", "Can you trust its confidence?", [calibration_view(ev["calibration"])],
                                 False))
            sections.append((f"mistakes-{split}", f"Mistakes on the {split} pictures", [self._mistakes(run, ev)], False))
        sections.append(("settings", "Settings used", [w.HTML(
            f"<pre>{esc(json.dumps(run.resolved or run.config, indent=1))}</pre>")], False))
        links = "".join(f"<a href='#{self.anchor}-{key}'>{esc(title.split(',')[0])}</a>" for key, title, _, _ in sections)
        links += f"<a href='#{self.anchor}-downloads'>Downloads</a>"
        head = card(f"{run.dataset_name} — {model_name(run)}", [w.HTML(
            headline(run, evaluation) + before_after_line(self.ws, self.user, run)
            + f"<nav class='nocode-jump' aria-label='Sections of this run'>Jump to: {links}</nav>")], "nocode-headline")
        return [head, *(Collapsible(title, [anchor(self.anchor, key), *children], opened=opened)
                        for key, title, children, opened in sections)]

    def _pictures_folder(self, run):
        """The run's dataset folder, or None when the dataset was deleted."""
        from ..datasets import dataset_folder, get_dataset

        try:
            return dataset_folder(self.ws, get_dataset(self.ws, self.user, run.dataset_id))
        except NotFound:
            return None

    def _mistakes(self, run, ev: dict) -> w.Widget:
        mistakes = ev.get("mistakes", [])
        if not mistakes:
            return w.HTML("<p>No mistakes on these pictures.</p>")
        folder = self._pictures_folder(run)
        if folder is None:
            return w.HTML(f"<p>{len(mistakes)} pictures were misclassified (the dataset was deleted).</p>")
        cards = []
        for m in mistakes[:24]:
            path = folder / m["file"]
            image = [picture(thumbnail_bytes(path, 96), "jpeg", f"a {m['true']} picture it called {m['predicted']}")] \
                if path.exists() else []
            cards.append(w.VBox([*image, w.HTML(f"<small>true: <b>{esc(m['true'])}</b><br>predicted: "
                                                f"{esc(m['predicted'])} ({m['confidence']:.0%})</small>")]))
        more = f" (showing 24 of {len(mistakes)})" if len(mistakes) > 24 else ""
        gallery = w.GridBox(cards, layout=w.Layout(grid_template_columns="repeat(6, 120px)"))
        looked = w.Button(description="Show where it looked", icon="eye",
                          tooltip="heat maps of the evidence for what it said and for the true class")
        looked.on_click(lambda _: self._mistake_maps(run.id, mistakes[:MAPPED], gallery, looked))
        looked.layout.display = "none" if run.kind == "ensemble" else ""  # maps are per model
        return w.VBox([w.HTML(f"<b>Pictures it got wrong{more}</b>"), gallery, looked])

    def _mistake_maps(self, run_id: str, mistakes: list[dict], gallery: w.GridBox, button: w.Button) -> None:
        """Each mistake twice: where it looked for the class it said, and for the true class."""
        def work():
            from ..insight.explain import explain

            run = jobs.get(self.ws, self.user, run_id)  # still theirs
            folder = self._pictures_folder(run)
            shown = [m for m in mistakes if folder is not None and (folder / m["file"]).exists()]
            pictures = [(m["file"], (folder / m["file"]).read_bytes()) for m in shown for _ in (0, 1)]
            maps = explain(self.ws, self.user, run_id, pictures, [c for m in shown for c in (m["predicted"], m["true"])])
            cards = []
            for k, m in enumerate(shown):
                said, true = maps[2 * k], maps[2 * k + 1]
                cards.append(w.VBox([w.HBox([map_image(said), map_image(true)]), w.HTML(
                    f"<small>left: evidence for <b>{esc(m['predicted'])}</b> (said, {said.target_probability:.0%}); "
                    f"right: for <b>{esc(m['true'])}</b> (true, {true.target_probability:.0%})</small>")]))
            gallery.layout.grid_template_columns = "repeat(3, 260px)"
            set_children(gallery, cards)
            self.message.show("Red: what pushed it towards that class; blue: what it ignored.", "info")
        self.work.run([button], self.message, work)

    def _cells(self, run_id: str, split: str, ev: dict, classes: list[str], maps: bool = True) -> w.Widget:
        """The confusion matrix as buttons: a cell shows its pictures, with their probabilities (and maps)."""
        shown, looked = w.VBox(), w.Checkbox(value=False, indent=False, description="with where it looked")
        looked.layout.display = "" if maps else "none"
        pick = lambda t, p: self._show_cell(run_id, split, classes, t, p, shown, looked.value)  # noqa: E731
        cells = [(t, p) for t in range(len(classes)) for p in range(len(classes))]
        if len(classes) <= GRID_CLASSES:
            grid = [w.HTML("<small>true \\ said</small>"), *(w.HTML(f"<small>{esc(c)}</small>") for c in classes)]
            for t, p in cells:
                if p == 0:
                    grid.append(w.HTML(f"<small>{esc(classes[t])}</small>"))
                count = ev["confusion"][t][p]
                button = w.Button(description=str(count), disabled=not count, layout=w.Layout(width="auto"),
                                  button_style=("success" if t == p else "warning") if count else "",
                                  tooltip=f"true {classes[t]}, said {classes[p]}")
                button.on_click(lambda _, t=t, p=p: pick(t, p))
                grid.append(button)
            chooser = w.GridBox(grid, layout=w.Layout(grid_template_columns=f"auto repeat({len(classes)}, minmax(48px, auto))"))
        else:
            chooser = w.Dropdown(options=[(f"true {classes[t]}, said {classes[p]} ({ev['confusion'][t][p]})", (t, p))
                                          for t, p in cells if ev["confusion"][t][p]], value=None, description="Cell")
            chooser.observe(lambda change: change["new"] and pick(*change["new"]), names="value")
        return w.VBox([w.HTML(f"<b>Look inside the matrix</b> <small>(choose a cell to see its {split} pictures)</small>"),
                       chooser, looked, shown])

    def _show_cell(self, run_id: str, split: str, classes: list[str], t: int, p: int, box: w.VBox,
                   with_maps: bool) -> None:
        def work():
            run = jobs.get(self.ws, self.user, run_id)  # still theirs
            rows = cell_pictures(self.ws, run, split, classes[t], classes[p])
            folder = self._pictures_folder(run)
            if rows is None or folder is None:
                set_children(box, [w.HTML("<p>This run's pictures cannot be shown (it was trained before this view "
                                          "existed, or its dataset was deleted).</p>")])
                return
            rows = [r for r in rows if (folder / r["file"]).exists()][:CELL_PICTURES]
            maps = []
            if with_maps and rows:
                from ..insight.explain import explain

                maps = explain(self.ws, self.user, run_id, [(r["file"], (folder / r["file"]).read_bytes()) for r in rows],
                               [classes[p]] * len(rows))
            cards = []
            for k, r in enumerate(rows):
                probs = r["probabilities"]
                image = map_image(maps[k]) if maps else picture(thumbnail_bytes(folder / r["file"], 96), "jpeg",
                                                                f"a {classes[t]} picture it called {classes[p]}")
                cards.append(w.VBox([image, w.HTML(f"<small>{esc(classes[p])}: {probs[classes[p]]:.0%}"
                                                   + (f"<br>{esc(classes[t])}: {probs[classes[t]]:.0%}" if t != p else "")
                                                   + "</small>")]))
            title = f"<b>True {esc(classes[t])}, said {esc(classes[p])}</b>: {len(rows)} picture(s)"
            set_children(box, [w.HTML(title), w.GridBox(cards, layout=w.Layout(
                grid_template_columns=f"repeat({3 if maps else 6}, {240 if maps else 120}px)"))])
        self.work.run([], self.message, work)

    @serialized
    def show_comparison(self) -> None:
        def work():
            if not (self.compare.value and self.picker.value):
                self.side_by_side.value = ""
                return
            a, b = (jobs.get(self.ws, self.user, i) for i in (self.picker.value, self.compare.value))
            rows = [["dataset", esc(a.dataset_name), esc(b.dataset_name)],
                    ["model", esc((a.resolved or {}).get("arch")), esc((b.resolved or {}).get("arch"))],
                    ["picture size", (a.resolved or {}).get("image_size"), (b.resolved or {}).get("image_size")],
                    ["validation accuracy", percent(a.metrics.get("val_accuracy")), percent(b.metrics.get("val_accuracy"))],
                    ["weighted F1", _f1(a), _f1(b)], ["epochs (best)", f"{a.epochs_run} ({a.best_epoch})",
                                                      f"{b.epochs_run} ({b.best_epoch})"],
                    ["time", f"{a.seconds:.0f} s", f"{b.seconds:.0f} s"]]
            self.side_by_side.value = html_table(["", "this run", "the other"], rows)
        report_errors(self.message, work)

    def _download(self, make) -> None:
        """`make(ws, user, run_id) -> (file name, bytes, what to tell)`, saved by the browser."""
        run_id = self.picker.value

        def work():
            if not run_id:
                self.message.show("Choose a run first.", "warn")
                return
            name, data, note = make(self.ws, self.user, run_id)  # ownership re-checked there
            self.download.send_file(name, data)
            self.message.show(f"Saving {name} ({len(data) / 2**20:.1f} MB). {note}", "ok")
        self.work.run([self.download_button, self.notebook_button], self.message, work)

    def _ask_delete(self, _=None) -> None:
        run_id = self.picker.value  # bound now, not at Yes time
        if run_id:
            ask(self.confirm, "Delete this run and its model?", lambda: (
                delete_run(self.ws, self.user, run_id), self.refresh(), self.message.show("Run deleted.", "ok")),
                self.message)


def anchor(prefix: str, key: str) -> w.HTML:
    """Where a "Jump to" link lands."""
    return w.HTML(f"<span id='{prefix}-{key}'></span>", layout=w.Layout(height="0", margin="0"))


def history_table(history: list[dict]) -> w.Widget:
    """The learning curves' numbers, for reading and for screen readers."""
    rows = [[h.get("epoch"), *(f"{h[k]:.3f}" if isinstance(h.get(k), (int, float)) else "–"
                               for k in ("train_loss", "val_loss", "val_acc"))] for h in history]
    return Collapsible("The numbers", [w.HTML(html_table(["epoch", "training loss", "validation loss",
                                                          "validation accuracy"], rows))])


def _bundle_file(ws, user, run_id):
    from ..export.bundle import make_bundle

    bundle = make_bundle(ws, user, run_id)
    return bundle.name, bundle.zip_bytes(), "Unzip it and run: python predict.py picture.jpg"


def _notebook_file(ws, user, run_id):
    from ..export.eject import notebook_file

    name, data = notebook_file(ws, user, run_id)
    return name, data, "Open it in Jupyter or Colab: it trains this model again in plain PyTorch."


def map_image(e) -> w.Widget:
    """A heat-map overlay (explain.Explanation), or why there is none."""
    if e.error:
        return w.HTML(f"<small>{esc(e.error)}</small>")
    return picture(e.png, "png", f"where it looked for {e.target}", width="120px")


def calibration_view(cal: dict) -> w.Widget:
    """The reliability diagram and, in words, how far to trust the probabilities and the "not sure" line."""
    if cal.get("sure_accuracy") is not None:
        sure = (f"Answers at or above <b>{cal['threshold']:.0%}</b> confidence were right "
                f"<b>{cal['sure_accuracy']:.0%}</b> of the time ({cal['coverage']:.0%} of these pictures); below "
                "that, Test and <code>nocode predict</code> say <i>not sure</i> (you can move the line in Test).")
    else:
        sure = ("No confidence level was right 95% of the time on these pictures, so every answer is "
                "<i>not sure</i> until the model improves (you can move the line in Test).")
    scaled = ("The probabilities were already honest; they are shown as trained."
              if cal["temperature"] == 1.0 else
              f"Probabilities shown everywhere are calibrated (temperature {cal['temperature']:.2f}): the gap between "
              f"the confidence it gives and how often it is right (ECE) goes from {cal['ece_before']:.3f} to "
              f"{cal['ece_after']:.3f}, measured on halves it was not fitted on.")
    return w.HBox([w.HTML(f"<h3>Can you trust its confidence?</h3><p>{scaled}</p><p>{sure}</p>",
                          layout=w.Layout(margin="0 24px 0 0", max_width="460px")),
                   picture(plots.reliability_figure(cal), "png", "Reliability diagram: how often answers at each "
                           "confidence were right (the figures are in the text beside it)", max_width="340px")],
                  layout=w.Layout(align_items="flex-start"))


def _f1(run) -> str:
    v = run.metrics.get("val_weighted_f1")
    return "–" if v is None else f"{v:.3f}"


def runs_table(runs) -> str:
    rows = [[esc(r.dataset_name), esc(model_name(r)), esc(r.status),
             percent(r.metrics.get("val_accuracy")), _f1(r), f"{r.seconds:.0f} s",
             time.strftime("%Y-%m-%d %H:%M", time.localtime(r.created))] for r in runs]
    return html_table(["dataset", "model", "status", "val. accuracy", "weighted F1", "time", "date"], rows)


def headline(run, evaluation: dict | None = None) -> str:
    """The run at a glance: its figures large, then what they mean."""
    from .train import finished_line

    m = run.metrics
    if m.get("val_accuracy") is None:
        return f"<p>{finished_line(run)}</p>"
    figures = [(f"{m['val_accuracy']:.1%}", f"accuracy ({m.get('split', 'validation')})"),
               (f"{m['val_weighted_f1']:.3f}", "weighted F1")]
    sure = (((evaluation or {}).get("validation") or {}).get("calibration") or {}).get("threshold")
    if sure is not None:
        figures.append((f"{sure:.0%}", "says 'not sure' below"))
    export = run.export or {}
    if export.get("ok") and "agree" in export:
        figures.append((f"{export['agree']}/{export['total']}", "exported model agrees"))
    shown = "".join(f"<div class='nocode-figure'><b>{esc(v)}</b><span>{esc(t)}</span></div>" for v, t in figures)
    note = f"<p><small>{esc(run.explanation)}</small></p>" if run.explanation else ""
    ending = "".join(f"<p><small>{esc(line)}</small></p>" for line in (run.ending, run.notice) if line)
    return (f"<div class='nocode-figures'>{shown}</div><p>Status: {esc(run.status)}. Measured on pictures the model "
            f"did not learn from.</p>{ending}{note}{export_line(export)}")


def before_after_line(ws, user, run) -> str:
    """For a run trained again after new pictures were labelled: its accuracy and the earlier run's on the same
    pictures neither trained on ("" otherwise)."""
    from ..runs.retrain import before_after

    compared = before_after(ws, user, run) if run.follows and run.usable else None
    return f"<p class='nocode-before-after'><b>{esc(compared.text)}</b></p>" if compared else ""


def export_line(export: dict) -> str:
    """The parity check of the exported model, in words ("" for a run without one)."""
    if not export:
        return ""
    if export.get("ensemble"):
        return (f"<p class='nocode-export'><small>An ensemble of {export['ensemble']} exported models, each checked "
                "against its trained model when it was made.</small></p>")
    if export.get("ok"):
        return (f"<p class='nocode-export'><small>Exported model (ONNX) agrees on {export['agree']}/{export['total']} "
                f"validation pictures, largest difference {export['max_diff']:.5f}.</small></p>")
    return (f"<p class='nocode-export nocode-warning'><small>{esc(export.get('error') or 'Export failed.')} "
            "The app tests this run with the trained (PyTorch) model instead.</small></p>")


def per_class_table(ev: dict) -> str:
    rows = [[esc(c["label"]), f"{c['precision']:.2f}", f"{c['recall']:.2f}", f"{c['f1']:.2f}", c["support"]]
            for c in ev["per_class"]]
    head = (f"<p>Accuracy <b>{ev['accuracy']:.1%}</b> · weighted F1 <b>{ev['weighted_f1']:.3f}</b> · "
            f"macro F1 {ev['macro_f1']:.3f}</p>")
    return head + html_table(["class", "precision", "recall", "F1", "pictures"], rows)

"""Compare models and combine them, for people who never write code:
- `CompareSection` (Train panel): a preset or hand-picked models, one epoch cap, Start comparison;
- `StudiesView` (Results): a comparison (or bagging) as one table, one plot and a plain recommendation;
- `EnsembleMaker` (Results): tick finished runs of one dataset, name it, Combine.
Each acts through its panel's session (`panel.user` re-checks who is asking) and the owner checks of
`studies` and `ensemble`."""

from __future__ import annotations

import ipywidgets as w

from ..insight import plots
from ..runs import studies as S
from ..runs.ensemble import make_ensemble, parse_weights
from ..models.zoo import ARCHS
from .parts import (FIGURE_WIDTH, Background, Collapsible, Message, esc, html_table, options_of, percent, picture,
                    report_errors)

CHOOSE = "choose"


class CompareSection(Collapsible):
    """Train panel: "Compare models": 2 to 8 architectures on the chosen dataset, the same split and budget."""

    def __init__(self, panel, dataset: w.Dropdown, device_type: str):
        self.panel, self.dataset, self.device_type = panel, dataset, device_type
        self.work, self.message = Background(), Message()
        self.preset = w.Dropdown(description="Models", layout=w.Layout(width="420px"),
                                 options=[(title, key) for key, (title, _) in S.PRESETS.items()] + [("Choose models", CHOOSE)])
        self.archs = w.SelectMultiple(options=[(a.title, a.name) for a in ARCHS.values()], rows=8,
                                      description="Which", layout=w.Layout(width="360px"))
        self.epochs = w.BoundedIntText(value=S.DEFAULT_EPOCHS, min=1, max=200, description="Max epochs")
        self.start = w.Button(description="Start comparison", icon="balance-scale", button_style="info",
                              layout=w.Layout(width="max-content"))
        self.preset.observe(lambda _: self._show_preset(), names="value")
        self.start.on_click(self._start)
        self._show_preset()
        body = w.VBox([w.HTML("<small>Trains each model on the same pictures with the same number of epochs, then "
                              "Results shows them side by side with a recommendation. The models queue like "
                              "ordinary runs: they count towards your runs waiting or training.</small>"),
                       self.preset, self.archs, self.epochs, self.start, self.message])
        super().__init__("Compare models", [body], css_class="nocode-compare")

    def _show_preset(self) -> None:
        chosen = self.preset.value == CHOOSE
        self.archs.disabled = not chosen
        if not chosen:
            self.archs.value = tuple(S.preset_archs(self.preset.value, self.device_type))

    def _start(self, _=None) -> None:
        def work():
            if not self.dataset.value:
                self.message.show("Choose a dataset first.", "warn")
                return
            ws, user, dataset, epochs = self.panel.ws, self.panel.user, self.dataset.value, self.epochs.value
            if self.preset.value == CHOOSE:
                study = S.start_study(ws, user, dataset, list(self.archs.value), epochs)
            else:  # the preset's own models, whatever the list was set to
                study = S.start_preset(ws, user, dataset, self.preset.value, self.device_type, epochs)
            waiting = f", {len(study.pending)} more when you have room" if study.pending else ""
            self.message.show(f"Comparison started: {len(study.runs)} models queued{waiting}. Results shows the "
                              "table as they finish.", "ok")
        self.work.run(self.start, self.message, work)


class StudiesView(w.VBox):
    """Results: one comparison or bagging at a time: table, curves, recommendation; cancel what still waits."""

    def __init__(self, panel):
        self.panel, self.work, self.message = panel, Background(), Message()
        self.picker = w.Dropdown(description="Comparison", layout=w.Layout(width="560px"))
        self.table, self.advice = w.HTML(), w.HTML()
        self.plot = picture(b"", "png", "Validation accuracy per epoch of each model (the figures are in the table)",
                            display="none", max_width=FIGURE_WIDTH)
        self.cancel = w.Button(description="Cancel the rest", icon="stop", button_style="warning",
                               layout=w.Layout(width="max-content"), tooltip="cancel its models still waiting or training (finished ones are kept)")
        self.picker.observe(lambda _: self.show(), names="value")
        self.cancel.on_click(self._cancel)
        super().__init__([w.HTML("<h3>Comparisons and baggings</h3>"), self.picker, self.advice, self.table, self.plot,
                          self.cancel, self.message])
        self.add_class("nocode-studies")

    def refresh(self) -> None:
        found = S.list_studies(self.panel.ws, self.panel.user)
        self.layout.display = "" if found else "none"
        pairs = [(f"{s.dataset_name} · {s.title} · {s.id[-6:]}", s.id) for s in found]
        self.picker.options, self.picker.value = options_of(pairs, self.picker.value)
        self.show()

    def show(self) -> None:
        def work():
            if not self.picker.value:
                self.table.value, self.advice.value, self.plot.layout.display = "", "", "none"
                return
            t = S.study_table(self.panel.ws, self.panel.user, self.picker.value)
            self.table.value = study_html(t)
            self.advice.value = advice_html(t)
            self.plot.show(plots.study_curves(t.curves))
            self.plot.layout.display = "" if any(t.curves.values()) else "none"
            self.cancel.layout.display = "" if S.is_active(self.panel.ws, t.study) else "none"
        report_errors(self.message, work)

    def _cancel(self, _=None) -> None:
        study_id = self.picker.value

        def work():
            if study_id:
                S.cancel_study(self.panel.ws, self.panel.user, study_id)
                self.message.show("Cancelled: the models still waiting will not train; finished ones are kept.", "ok")
                self.show()
        self.work.run(self.cancel, self.message, work, threaded=False)


def study_html(t: S.StudyTable) -> str:
    def number(v, fmt):
        return "–" if v is None else format(v, fmt)

    rows = [[esc(r.title), esc(r.status), percent(r.accuracy), number(r.weighted_f1, ".3f"), number(r.macro_f1, ".3f"),
             number(r.training_s, ".1f") + " s", number(r.pictures_per_s, ",.0f"), number(r.peak_memory_mb, ",.0f") + " MB",
             number(r.parameters, ","), f"{r.best_epoch} of {r.epochs_run}"] for r in t.rows]
    on = ("each model's held-out fold" if t.study.kind == "bagging" else
          "the same validation pictures for every model" if t.same_pictures else
          "validation pictures of different dataset versions (the dataset changed during the comparison)")
    waiting = f"<p><small>{t.waiting} more waiting for room in the queue.</small></p>" if t.waiting else ""
    return (f"<p><small>Measured on {on}. Training time is the fitting alone; peak memory is the training "
            "process's (the GPU's on a GPU).</small></p>"
            + html_table(["model", "status", "accuracy", "weighted F1", "macro F1", "training time", "pictures/s",
                          "peak memory", "parameters", "best epoch"], rows) + waiting)


def advice_html(t: S.StudyTable) -> str:
    parts = []
    if t.recommendation:
        parts.append(f"<p class='nocode-advice'><b>Recommended: {esc(t.recommendation)}</b><br>"
                     f"<small>{esc(t.reason)}</small></p>")
    elif t.reason:
        parts.append(f"<p><small>{esc(t.reason)}</small></p>")
    if t.study.ensemble:
        parts.append("<p>Its models were combined into one ensemble: choose it in the Run list above.</p>")
    if t.study.note:
        parts.append(f"<p class='nocode-warning'>{esc(t.study.note)}</p>")
    return "".join(parts)


class EnsembleMaker(w.VBox):
    """Results: combine two or more finished runs of one dataset into an ensemble (soft vote)."""

    def __init__(self, panel, on_made):
        self.panel, self.on_made = panel, on_made
        self.work, self.message = Background(), Message()
        self.runs = w.SelectMultiple(description="Runs", rows=6, layout=w.Layout(width="560px"))
        self.name = w.Text(continuous_update=False, description="Name", placeholder="optional", layout=w.Layout(width="420px"))
        self.weights = w.Text(continuous_update=False, description="Weights", placeholder="optional, e.g. 2,1,1 (equal by default)",
                              layout=w.Layout(width="420px"))
        self.make = w.Button(description="Combine into an ensemble", icon="object-group", button_style="info",
                             layout=w.Layout(width="max-content"))
        self.make.on_click(self._make)
        super().__init__([w.HTML("<small>Averages the chosen models' answers. Choose finished runs of the same "
                                 "dataset; it is measured only on pictures none of them trained on.</small>"),
                          self.runs, self.name, self.weights, self.make,
                          self.message])
        self.add_class("nocode-ensemble")

    def refresh(self, runs, label) -> None:
        pairs = [(label(r), r.id) for r in runs if r.usable and r.kind == "run" and r.owner == self.panel.user.id]
        keep = tuple(v for v in self.runs.value if v in {i for _, i in pairs})
        self.runs.options, self.runs.value = pairs, keep

    def _make(self, _=None) -> None:
        chosen, name, weights = list(self.runs.value), self.name.value, self.weights.value

        def work():
            run = make_ensemble(self.panel.ws, self.panel.user, chosen, parse_weights(weights), name)
            self.message.show(f"Made {run.name}: {run.explanation}", "ok")
            self.on_made(run)
        self.work.run(self.make, self.message, work, threaded=False)


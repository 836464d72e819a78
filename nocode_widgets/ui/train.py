"""Train: pick a dataset; Auto is preselected and says what it chose; architecture, epochs, picture
size and an Advanced section; a time estimate; Start. While a run trains: progress bar, epoch x of y,
elapsed and remaining time, live curves, Cancel. The run lives in its own worker process: closing
the page does not stop it, and reopening the app shows it live again."""

from __future__ import annotations

import threading
import time

import ipywidgets as w

from .. import datasets as D
from ..insight import plots
from ..accounts.auth import User
from ..errors import NocodeError
from ..runs import jobs
from ..runs.studies import start_bagging
from ..runs.train_config import (AUGMENTS, IMBALANCE_TOOLS, MAX_FOLDS, MIN_FOLDS, OPTIMIZERS, RANGES, SCHEDULES,
                                 imbalance_fields)
from ..runs.plan import estimate, plan
from ..workspace import Workspace
from ..runs.facts import device_facts
from ..warm_pool import warm_ahead
from ..models.zoo import ARCHS, recommended
from .parts import (FIGURE_WIDTH, Background, Collapsible, Message, SessionPanel, card, esc, options_of, picture,
                    report_errors, serialized)
from .guard import start_thread
from .study import CompareSection

AUTO = "auto"
STOPPING = "Stopping after the current batch…"


def _seconds(s: float | None) -> str:
    if s is None:
        return "–"
    s = int(s)
    return f"{s // 60} min {s % 60:02d} s" if s >= 60 else f"{s} s"


class TrainPanel(SessionPanel):
    def __init__(self, ws: Workspace, user: User, poll_interval: float = 1.0, on_finished=None):
        self.poll_interval = poll_interval
        self.on_finished = on_finished or (lambda run: None)
        self.work, self.message = Background(), Message()
        self.run_id: str | None = None
        self._stopping: str | None = None  # the run the user asked to cancel: its status says so until it ends
        self._showing = False  # filling the fields with Auto's choices (no re-planning meanwhile)
        self._watcher: threading.Thread | None = None
        self.dataset = w.Dropdown(description="Dataset", layout=w.Layout(width="420px"))
        self.auto = w.Checkbox(value=True, description="Let Auto choose (recommended)", indent=False)
        self.explanation = w.HTML()
        self.arch = w.Dropdown(description="Model", options=model_choices(_device_type(ws)), layout=w.Layout(width="420px"))
        self.arch_note = w.HTML()
        self.epochs = w.BoundedIntText(value=30, min=1, max=RANGES["epochs"][1], description="Max epochs")
        self.image_size = w.Dropdown(description="Picture size", options=[("Auto", 0), ("32 px", 32), ("64 px", 64),
                                     ("96 px", 96), ("128 px", 128), ("224 px", 224), ("299 px", 299)])
        self.advanced = self._advanced_section()
        self.estimate_button = w.Button(description="Estimate time", icon="clock-o")
        self.estimate_label = w.HTML()
        self.start_button = w.Button(description="Start training", button_style="success", icon="play")
        self.cancel_button = w.Button(description="Cancel", button_style="warning", icon="stop",
                                      layout=w.Layout(display="none"))
        self.progress = w.FloatProgress(min=0, max=1, value=0, layout=w.Layout(width="420px", visibility="hidden"))
        self.status = w.HTML()
        self.curves = picture(b"", "png", "Learning curves: the loss and the accuracy of each epoch, on the training "
                              "and the validation pictures (the figures are in the line above)",
                              display="none", max_width=FIGURE_WIDTH)
        self.bag = w.Checkbox(value=False, indent=False, layout=w.Layout(width="auto"),
                              description="Train several models on different folds and combine them (bagging)")
        self.folds = w.BoundedIntText(value=3, min=MIN_FOLDS, max=MAX_FOLDS, description="Models",
                                      layout=w.Layout(width="160px"))
        self.compare = CompareSection(self, self.dataset, _device_type(ws))
        self._wire()
        self.choices = Collapsible("Your own settings (untick Auto to change them), bagging", [
            w.HBox([self.arch, self.arch_note]), w.HBox([self.epochs, self.image_size]), self.advanced,
            w.HBox([self.bag, self.folds])])
        super().__init__(ws, user, [
            card("Train a model", [self.dataset, self.auto, self.explanation,
                                   w.HBox([self.start_button, self.cancel_button, self.estimate_button,
                                           self.estimate_label], layout=w.Layout(align_items="center",
                                                                                 flex_flow="row wrap")),
                                   self.progress, self.status, self.message]),
            self.choices, self.curves, self.compare], "nocode-train")
        self.refresh()

    def _advanced_section(self) -> Collapsible:
        self.lr = w.FloatText(value=0.0, description="Learning rate", step=0.0001)
        self.batch_size = w.BoundedIntText(value=0, min=0, max=RANGES["batch_size"][1], description="Batch size")
        self.optimizer = w.Dropdown(options=OPTIMIZERS, value="adamw", description="Optimizer")
        self.schedule = w.Dropdown(options=[("Auto", AUTO), *[(s, s) for s in SCHEDULES]], description="Schedule")
        self.augment = w.Dropdown(options=[("Auto", AUTO), *[(a, a) for a in AUGMENTS]], description="Augmentation")
        self.mode = w.Dropdown(options=[("Auto", AUTO), ("Fine-tune all layers", "fine-tune"),
                                        ("Fast: train the last layer only", "fast")], description="Transfer")
        self.patience = w.BoundedIntText(value=0, min=0, max=RANGES["patience"][1], description="Patience")
        self.tools = {key: w.Checkbox(description=label, indent=False)
                      for key, (label, _) in IMBALANCE_TOOLS.items() if key != "none"}
        body = w.VBox([w.HTML("<small>0 or Auto leaves a value to Auto.</small>"), self.lr, self.batch_size,
                       self.optimizer, self.schedule, self.augment, self.mode, self.patience,
                       w.HTML("Imbalanced classes:"), *self.tools.values()])
        return Collapsible("Advanced", [body])

    def _wire(self) -> None:
        for widget in (self.dataset, self.auto, self.arch, self.image_size):
            widget.observe(lambda _: self._explain(), names="value")
        self.auto.observe(lambda _: self._lock_choices(), names="value")
        self.arch.observe(lambda _: self._describe_arch(), names="value")
        self._describe_arch()
        self.estimate_button.on_click(self._estimate)
        self.start_button.on_click(self._start)
        self.cancel_button.on_click(self._cancel)
        self._lock_choices()

    def _describe_arch(self) -> None:
        arch = ARCHS.get(self.arch.value)
        self.arch_note.value = f"<small>{esc(arch.description)}</small>" if arch else ""

    def _lock_choices(self) -> None:
        for widget in (self.arch, self.epochs, self.image_size):
            widget.disabled = self.auto.value
        self.advanced.layout.display = "none" if self.auto.value else ""
        if not self.auto.value:
            self.choices.show(True)

    # What the user asked for -------------------------------------------------------------------------------

    def config(self) -> dict:
        if self.auto.value:
            return {}
        cfg = {"arch": None if self.arch.value == AUTO else self.arch.value, "epochs": self.epochs.value,
               "image_size": self.image_size.value or None, "lr": self.lr.value or None,
               "batch_size": self.batch_size.value or None, "optimizer": self.optimizer.value,
               "schedule": None if self.schedule.value == AUTO else self.schedule.value,
               "augment": None if self.augment.value == AUTO else self.augment.value,
               "mode": None if self.mode.value == AUTO else self.mode.value,
               "patience": self.patience.value or None}
        cfg.update(imbalance_fields(k for k, box in self.tools.items() if box.value))
        return {k: v for k, v in cfg.items() if v is not None}

    # Display ---------------------------------------------------------------------------------------------

    @serialized
    def refresh(self) -> None:
        def work():
            warm_ahead(self.ws.settings)  # someone about to train: their first run need not start cold
            mine = [d for d in D.list_datasets(self.ws, self.user) if not d.hidden]
            pairs = [(f"{d.name} ({d.image_count} pictures)", d.id) for d in mine]
            pairs += [(f"{d.name} ({d.image_count} pictures, shared with your class)", d.id)
                      for d in D.shared_datasets(self.ws, self.user) if d.owner != self.user.id]
            self.dataset.options, self.dataset.value = options_of(pairs, self.dataset.value)
            self._explain()
            active = [r for r in jobs.runs(self.ws, self.user) if r.is_active]
            if active and self.run_id is None:
                self.watch(active[0].id)  # the page was reopened while a run trains
        report_errors(self.message, work)

    def _explain(self) -> None:
        if not self.dataset.value:
            self.explanation.value = "<p>Create a dataset with at least two classes of pictures first.</p>"
            return

        def work():
            try:
                p = plan(self.ws, self.user, self.dataset.value, self.config())
            except NocodeError as exc:  # said where Auto speaks, and gone once the dataset is ready
                self.explanation.value = f"<p class='nocode-bad'>{esc(str(exc))}</p>"
                return
            self.explanation.value = f"<p><b>Auto:</b> {esc(p.explanation)}</p>"
            if self.auto.value:
                self._show_choices(p.config)
        if self._showing:
            return
        try:
            report_errors(self.message, work)
        finally:
            self.estimate_label.value = ""

    def _show_choices(self, cfg) -> None:
        """Auto's choices in the (disabled) fields, so unticking Auto starts from them."""
        self._showing = True
        try:
            self.arch.value, self.epochs.value = cfg.arch, cfg.epochs
            sizes = [v for _, v in self.image_size.options]
            self.image_size.value = cfg.image_size if cfg.image_size in sizes else 0
        finally:
            self._showing = False

    def _estimate(self, _=None) -> None:
        def work():
            self.estimate_label.value = "Measuring a few training steps…"
            self.estimate_label.value = estimate(self.ws, self.user, self.dataset.value, self.config()).text()
        self.work.run(self.estimate_button, self.message, work)

    # Training --------------------------------------------------------------------------------------------------

    def _start(self, _=None) -> None:
        def work():
            if not self.dataset.value:
                self.message.show("Choose a dataset first.", "warn")
                return
            if self.bag.value:
                study = start_bagging(self.ws, self.user, self.dataset.value, self.config(), self.folds.value)
                self.message.show(f"Bagging started: {len(study.configs)} models, each trained without one fold. When "
                                  "the last one finishes they are combined into one model, measured on every picture "
                                  "by the model that did not train on it (Results).", "ok")
                self.watch(study.runs[0])
                return
            run = jobs.submit(self.ws, self.user, self.dataset.value, self.config())
            self.message.show("Training started. You can close this page: the run goes on, and you can come "
                              "back to it here or under Results.", "ok")
            self.watch(run.id)
        self.work.run(self.start_button, self.message, work, threaded=False)

    @serialized  # with the watcher's updates: a queued run is cancelled at once and its watcher may be quicker
    def _cancel(self, _=None) -> None:
        def work():
            if self.run_id:
                self._stopping = self.run_id
                if jobs.cancel(self.ws, self.user, self.run_id).is_active:
                    self.status.value = STOPPING
        report_errors(self.message, work)

    def watch(self, run_id: str) -> None:
        """Follow a run live, from a thread that reads its folder once a second."""
        self.run_id = run_id
        self.start_button.disabled = True
        self.cancel_button.layout.display = ""
        self.progress.layout.visibility = "visible"
        self._watcher = start_thread(self._follow, run_id)

    def _follow(self, run_id: str) -> None:
        def work():
            for p in jobs.follow(self.ws, self.user, run_id, interval=self.poll_interval):
                if self.session.ended:  # signed out: the run goes on, this page stops watching
                    return
                self.show_progress(p)
        try:
            report_errors(self.message, work)
        finally:
            self.start_button.disabled = False
            self.cancel_button.layout.display = "none"
            self.run_id = None
            run = self._final(run_id)
            if run is not None:
                self.on_finished(run)
                self._watch_next_of(run)

    def _watch_next_of(self, run) -> None:
        """A comparison or bagging: follow its next model that waits or trains, so the page keeps showing it."""
        if not run.study or self.session.ended:
            return
        following = [r for r in jobs.runs(self.ws, self.user) if r.study == run.study and r.is_active]
        if following and self.run_id is None:
            self.watch(min(following, key=lambda r: r.created).id)

    def _final(self, run_id: str):
        try:
            return jobs.get(self.ws, self.user, run_id)
        except Exception:  # noqa: BLE001 - the run may have been deleted meanwhile
            return None

    @serialized
    def show_progress(self, p: jobs.RunProgress) -> None:
        run = p.run
        self.progress.value = p.fraction
        if run.status in ("queued",):
            self.status.value = "Waiting for another training run to finish…"
        elif run.status == "running" and p.phase != "training":
            self.status.value = f"{esc(p.phase.capitalize())}…"
        elif run.status == "running" and run.id == self._stopping:
            self.status.value = STOPPING
        elif run.status == "running":
            remaining = f", at most {_seconds(p.remaining_max)} left (usually less: it stops when it stops improving)" \
                if p.remaining_max is not None else ""
            self.status.value = (f"Epoch <b>{p.epoch}</b> of {p.epochs} · elapsed {_seconds(p.elapsed)}{remaining}")
        else:
            self.status.value = finished_line(run)
        if p.history:
            self.curves.show(plots.learning_curves(p.history, run.best_epoch))
            self.curves.layout.display = ""

    def wait(self, timeout: float = 300) -> None:
        """Block until the followed run ends (tests; the UI itself never blocks)."""
        deadline = time.time() + timeout
        while self._watcher is not None and self._watcher.is_alive() and time.time() < deadline:
            self._watcher.join(0.2)


def model_choices(device_type: str) -> list[tuple[str, str]]:
    """Auto, then the models recommended for this device, then the rest under "More models"."""
    first = recommended(device_type)
    return ([("Auto", AUTO)] + [(ARCHS[n].title, n) for n in first]
            + [(f"More models: {a.title}", a.name) for a in ARCHS.values() if a.name not in first])


def _device_type(ws) -> str:
    try:
        return device_facts(ws)["auto"]
    except Exception:  # noqa: BLE001 - the probe failed: list as for a CPU, planning will say why
        return "cpu"


def finished_line(run) -> str:
    if run.status == "failed":
        return f"<span class='nocode-bad'>Training failed: {esc(run.error)}</span>"
    if run.status == "interrupted":
        return f"<span class='nocode-warning'>{esc(run.error)}</span>"
    m = run.metrics
    score = (f"{m.get('split', 'validation')} accuracy <b>{m['val_accuracy']:.1%}</b>, weighted F1 "
             f"<b>{m['val_weighted_f1']:.3f}</b> "
             f"(measured on pictures the model did not learn from)") if m.get("val_accuracy") is not None else ""
    word = "Finished" if run.status == "done" else "Cancelled"
    notice = "".join(f"<br><small>{esc(line)}</small>" for line in (run.ending, run.notice) if line)
    return f"<b>{word}</b>: {score}. See Results for the details.{notice}"

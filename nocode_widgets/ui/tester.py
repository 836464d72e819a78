"""Test: pick a trained run, upload one or many new pictures, see the top classes with probability
bars per picture (the origin project's "see the result")."""

from __future__ import annotations

import logging

import ipywidgets as w

from ..accounts.auth import User
from ..errors import NocodeError
from .. import datasets as D
from ..datasets import thumbnail_of_upload
from ..datasets.uploads import UploadedFile
from ..predict.onnx import Prediction, predictor_for
from ..runs import jobs
from ..workspace import Workspace
from .parts import (GENERIC_ERROR, Background, Collapsible, Message, SessionPanel, card, esc, options_of, percent,
                    picture, report_errors, serialized, set_children, share)
from .camera import Camera
from .uploader import Received, UploadRefused, Uploader
from .results import run_label

log = logging.getLogger(__name__)
SHOWN = 12  # answers shown at first; the rest behind "Show all"


class TestPanel(SessionPanel):
    __test__ = False  # not a pytest test class

    def __init__(self, ws: Workspace, user: User):
        self.work, self.message = Background(), Message()
        self.run = w.Dropdown(description="Model", layout=w.Layout(width="560px"))
        self.upload = Uploader(self.passing_folder, ws.settings.max_upload_bytes, self._predict,
                               self._can_start, lambda text: self.message.show(text, "warn"), accept="image/*",
                               multiple=True, label="Choose pictures to test")
        self.results = w.GridBox(layout=w.Layout(grid_template_columns="repeat(auto-fill, minmax(230px, 1fr))",
                                                 grid_gap="12px"))
        self.results.add_class("nocode-answers")
        self.show_all = w.Button(description="Show all", icon="th", layout=w.Layout(display="none", width="auto"))
        self.show_all.on_click(lambda _: self._show_every_card())
        self._all_cards: list[w.Widget] = []
        self.mirror = w.Checkbox(value=False, indent=False, layout=w.Layout(width="auto"),
                                 description="Also look at each picture's mirror image (slower; can be surer)")
        self.sure = w.BoundedFloatText(value=0.0, min=0.0, max=100.0, step=1.0, description="Say 'not sure' below (%)",
                                       style={"description_width": "initial"}, layout=w.Layout(width="260px"))
        self.sure_note = w.HTML()
        self.looked = w.Checkbox(value=False, indent=False, layout=w.Layout(width="auto"),
                                 description="Show where it looked (a heat map per picture; a few seconds more)")
        self.run.observe(lambda _: self._default_threshold(), names="value")
        self._run_id: str | None = None
        self._tta = False
        self.camera = Camera(self.passing_folder, ws.settings.max_upload_bytes, Received.discard,
                             mode="live", rate=4.0, on_live=self._live)
        self.live = w.HTML(layout=w.Layout(min_width="320px"))
        self._live_model: tuple[str | None, object] = (None, None)
        self._live_frames = 0
        self._last_frame: tuple[str, bytes, str] | None = None  # (run id, picture, its answer)
        self._live_classes_for = ""
        self.live_class = w.Dropdown(description="Add the last picture as", style={"description_width": "initial"},
                                     layout=w.Layout(width="auto"))
        self.live_add = w.Button(description="Add to the dataset", icon="plus")
        self.live_add.on_click(lambda _: self._add_live())
        self.live_row = w.HBox([self.live_class, self.live_add], layout=w.Layout(display="none"))
        self.live.add_class("nocode-live-answer")
        options = Collapsible("Options: mirror image, the 'not sure' line, where it looked",
                              [self.mirror, w.HBox([self.sure, self.sure_note]), self.looked])
        super().__init__(ws, user, [
            card("Test a model on new pictures", [self.run, self.upload, self.message]), options,
            self.results, self.show_all,
            card("Or test it live with the camera", [w.HBox([self.camera, w.VBox([self.live, self.live_row])])])],
            "nocode-test")
        self.refresh()

    @serialized
    def refresh(self) -> None:
        def work():
            usable = [r for r in jobs.runs(self.ws, self.user) if r.usable]
            self.run.options, self.run.value = options_of([(run_label(r), r.id) for r in usable], self.run.value)
            if not usable:
                set_children(self.results, [w.HTML("<p class='nocode-hint'>Train a model first; it will appear here.</p>")])
            elif any(isinstance(c, w.HTML) and "nocode-hint" in c.value for c in self.results.children):
                set_children(self.results, [])  # a refresh keeps the predictions on screen
        report_errors(self.message, work)

    def _default_threshold(self) -> None:
        """The chosen run's own threshold (picked on its validation pictures), which the slider then adjusts."""
        def work():
            threshold, note = 0.0, ""
            if self.run.value:
                from ..runs.records import read_evaluation, run_folder

                run = jobs.get(self.ws, self.user, self.run.value)  # ownership checked there
                cal = ((read_evaluation(run_folder(self.ws, run)) or {}).get("validation") or {}).get("calibration")
                if cal:
                    threshold = cal["threshold"]
                    note = (f"<small>This model's own: on its validation pictures, answers at or above it were right "
                            f"{percent(cal['sure_accuracy'])} of the time.</small>" if cal.get("sure_accuracy") else
                            "<small>On its validation pictures no level was right 95% of the time: every answer is "
                            "'not sure'.</small>")
            self.sure.value, self.sure_note.value = round(threshold * 100, 1), note
        report_errors(self.message, work)

    def _can_start(self) -> str | None:
        """Refused before any byte travels: no model chosen, the session ended, or a test still running."""
        if not self.run.value:
            return "Choose a trained model first."
        self._run_id, self._tta, self._threshold = self.run.value, self.mirror.value, self.sure.value / 100  # bound now
        self._maps = self.looked.value
        return self.refusal(self.work)

    def _predict(self, received) -> None:
        run_id, tta, threshold, with_maps = self._run_id, self._tta, self._threshold, self._maps

        def work():
            try:
                files = [(name, path.read_bytes()) for name, path in received.files]
            finally:
                received.discard()
            predictor = predictor_for(self.ws, self.user, run_id)  # ownership re-checked there
            results = predictor.predict(files, tta=tta, threshold=threshold)
            self._show_cards(run_id, files, results)
            self.message.clear()
            if with_maps:
                self._add_maps(run_id, files, results)
        if not self.work.run([], self.message, work):
            received.discard()


    def _add_maps(self, run_id: str, files: list[tuple[str, bytes]], results: list) -> None:
        """Put where the model looked beside each answered picture (computed in a worker process)."""
        from ..insight.explain import MAX_PICTURES, explain

        answered = [k for k, r in enumerate(results) if isinstance(r, Prediction)][:MAX_PICTURES]
        self.message.show("Drawing where it looked...", "info")
        maps = dict(zip(answered, explain(self.ws, self.user, run_id, [files[k] for k in answered],
                                          [results[k].label for k in answered])))
        self._show_cards(run_id, files, results, maps)
        self.message.show("Red: the parts that made it say so; blue: what it ignored.", "info")

    def _show_cards(self, run_id: str, files: list[tuple[str, bytes]], results: list, maps: dict | None = None) -> None:
        """A card per picture, each answered one with "Add to the dataset as <its answer>" (changeable)."""
        classes = self._classes_of(run_id)
        cards = []
        for k, ((name, raw), r) in enumerate(zip(files, results)):
            card = result_card(name, raw, r, self.ws.settings.max_image_pixels, (maps or {}).get(k))
            if classes and isinstance(r, Prediction):
                card.children = (*card.children, self._add_row(run_id, name, raw, r.label, classes))
            cards.append(card)
        self._all_cards = cards
        set_children(self.results, cards[:SHOWN])
        self.show_all.description = f"Show all {len(cards)}"
        self.show_all.layout.display = "" if len(cards) > SHOWN else "none"

    def _show_every_card(self) -> None:
        if self._all_cards:
            set_children(self.results, self._all_cards)
        self.show_all.layout.display = "none"

    def _classes_of(self, run_id: str) -> list[str]:
        """The classes of the run's dataset as it is now ([] when it is gone)."""
        try:
            return list(D.get_own_dataset(self.ws, self.user, jobs.get(self.ws, self.user, run_id).dataset_id).classes)
        except NocodeError:
            return []

    def _add_row(self, run_id: str, name: str, raw: bytes, answer: str, classes: list[str]) -> w.Widget:
        pick = w.Dropdown(options=classes, value=answer if answer in classes else classes[0],
                          description="Add to the dataset as", style={"description_width": "initial"},
                          layout=w.Layout(width="auto", max_width="100%"))
        button = w.Button(description="Add", icon="plus", tooltip="the picture joins the class: a new dataset version")
        button.on_click(lambda _: report_errors(self.message, lambda: self._add(run_id, name, raw, pick.value, button)))
        return w.HBox([pick, button], layout=w.Layout(flex_flow="row wrap"))

    def _add(self, run_id: str, name: str, raw: bytes, label, button: w.Button | None = None) -> None:
        """Into the tested run's dataset, through the same ingest as any upload (checks, space, a new version);
        the class is checked there (the page may send any value)."""
        run = jobs.get(self.ws, self.user, run_id)  # the session and the owner, checked again
        report = D.add_uploads(self.ws, self.user, run.dataset_id, str(label), [UploadedFile(name, raw)])
        if report.accepted:
            ds = D.get_dataset(self.ws, self.user, run.dataset_id)
            self.message.show(f"Added {name} to {ds.name} as {label}: it is now version {ds.version}.", "ok")
            if button is not None:
                button.disabled, button.description = True, "Added"
        else:
            self.message.show(report.summary() + "".join(f" {s.reason}." for s in report.skipped + report.conflicts),
                              "warn")

    def _add_live(self) -> None:
        frame = self._last_frame
        if frame is None:
            self.message.show("Start the camera first.", "warn")
            return
        run_id, picture, answer = frame
        report_errors(self.message, lambda: self._add(run_id, f"camera-{self._live_frames}.jpg", picture,
                                                      self.live_class.value or answer))

    def _live(self, picture: bytes) -> None:
        """One camera frame: the chosen model's answer beside the preview (the browser waits for it)."""
        run_id = self.run.value
        if not run_id:
            raise UploadRefused("Choose a trained model first.")
        try:
            if self._live_model[0] != run_id:
                self._live_model = (run_id, predictor_for(self.ws, self.user, run_id))  # ownership checked there
            else:
                jobs.get(self.ws, self.user, run_id)  # and again for every frame
            result = self._live_model[1].predict([("camera.jpg", picture)], threshold=self.sure.value / 100)[0]
        except NocodeError as exc:  # the run was deleted, the page signed out...: said beside the camera
            self._live_model = (None, None)
            raise UploadRefused(str(exc)) from None
        except Exception:  # never a traceback on the page
            log.exception("live test failed")
            self._live_model = (None, None)
            raise UploadRefused(GENERIC_ERROR) from None
        self._live_frames += 1
        if isinstance(result, Prediction):
            self._live_row(run_id, picture, result.label)
        self.live.value = (f"<div class='nocode-live' data-frames='{self._live_frames}'><p>{said(result).capitalize() if result.sure else said(result)}</p>{bars(result)}</div>"
                           if isinstance(result, Prediction) else f"<p>Could not test that picture: {esc(result)}</p>")


    def _live_row(self, run_id: str, picture: bytes, answer: str) -> None:
        """Keep the newest answered frame for "Add the last picture as" (its answer, or a class chosen)."""
        self._last_frame = (run_id, picture, answer)
        if self.live_row.layout.display == "none" or self._live_classes_for != run_id:
            classes = self._classes_of(run_id)
            self.live_class.options = [("its answer", "")] + [(c, c) for c in classes]
            self.live_class.value = ""
            self._live_classes_for = run_id
            self.live_row.layout.display = "" if classes else "none"


def said(result: Prediction) -> str:
    """"it is <b>cat</b>", or "not sure: it looks most like <b>cat</b>" below the threshold."""
    if result.sure:
        return f"it is <b>{esc(result.label)}</b>"
    why = "it looks unlike the pictures it learned from; " if result.unusual else ""
    return f"<span class='nocode-not-sure'>not sure</span>: {why}it looks most like <b>{esc(result.label)}</b>"


def bars(result: Prediction) -> str:
    """The top classes as probability bars, each with its number (the text a screen reader reads)."""
    return "<div class='nocode-bars'>" + "".join(
        f"<div class='nocode-bar-row'><span>{esc(label)}</span><span class='nocode-bar-track'><span class='nocode-bar' "
        f"style='width:{max(1, round(p * 100))}%'></span></span><span>{share(p)}</span></div>"
        for label, p in result.top(3)) + "</div>"


def result_card(name: str, raw: bytes, result, max_pixels: int, looked=None) -> w.Widget:
    """The picture, what the model said with the top probabilities, and where it looked (an explain.Explanation)."""
    thumb = thumbnail_of_upload(raw, 112, max_pixels)
    images = [picture(thumb, "jpeg", name)] if thumb else []
    if looked is not None:
        images.append(picture(looked.png, "png", f"where the model looked in {name}", width="112px")
                      if not looked.error else w.HTML(f"<small>{esc(looked.error)}</small>"))
    if not isinstance(result, Prediction):
        text = f"<p><b>{esc(name)}</b>: could not be tested — {esc(result)}</p>"
    else:
        top_p = result.probabilities[result.label]
        text = (f"<p class='nocode-prediction'><b>{esc(name)}</b>: {said(result)} with {share(top_p)} probability</p>"
                f"{bars(result)}")
    row = w.HBox(images)
    row.add_class("nocode-row")
    box = w.VBox([row, w.HTML(text)])
    box.add_class("nocode-answer")
    return box

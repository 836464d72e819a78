"""Test: pick a trained run, upload one or many new pictures, see the top classes with probability
bars per picture (the origin project's "see the result")."""

from __future__ import annotations

import ipywidgets as w

from ..auth import User
from ..datasets import thumbnail_of_upload
from ..predict import Prediction, predictor_for
from ..training import jobs
from ..workspace import Workspace
from .common import Background, Message, SessionPanel, esc, options_of, report_errors, serialized, set_children
from .uploader import Uploader
from .results import run_label


class TestPanel(SessionPanel):
    __test__ = False  # not a pytest test class

    def __init__(self, ws: Workspace, user: User):
        self.work, self.message = Background(), Message()
        self.run = w.Dropdown(description="Model", layout=w.Layout(width="560px"))
        self.upload = Uploader(ws.settings.data_dir / "tmp" / "uploads", ws.settings.max_upload_bytes, self._predict,
                               self._can_start, lambda text: self.message.show(text, "warn"), accept="image/*",
                               multiple=True, label="Choose pictures to test")
        self.results = w.VBox()
        self._run_id: str | None = None
        super().__init__(ws, user, [w.HTML("<h3>Test a model on new pictures</h3>"), self.run,
                                    self.upload, self.results, self.message], "nocode-test")
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

    def _can_start(self) -> str | None:
        """Refused before any byte travels: no model chosen, the session ended, or a test still running."""
        if not self.run.value:
            return "Choose a trained model first."
        self._run_id = self.run.value  # bound when the upload starts
        return self.refusal(self.work)

    def _predict(self, received) -> None:
        run_id = self._run_id

        def work():
            try:
                files = [(name, path.read_bytes()) for name, path in received.files]
            finally:
                received.discard()
            predictor = predictor_for(self.ws, self.user, run_id)  # ownership re-checked there
            results = predictor.predict(files)
            set_children(self.results, [result_card(name, raw, r, self.ws.settings.max_image_pixels)
                                        for (name, raw), r in zip(files, results)])
            self.message.clear()
        if not self.work.run([], self.message, work):
            received.discard()


def result_card(name: str, raw: bytes, result, max_pixels: int) -> w.Widget:
    thumb = thumbnail_of_upload(raw, 112, max_pixels)
    image = [w.Image(value=thumb, format="jpeg")] if thumb else []
    if not isinstance(result, Prediction):
        return w.HBox([*image, w.HTML(f"<p><b>{esc(name)}</b>: could not be tested — {esc(result)}</p>")])
    bars = "".join(
        f"<div style='display:flex;align-items:center;gap:6px'><div style='width:120px'>{esc(label)}</div>"
        f"<div style='background:#1976d2;height:12px;width:{max(1, int(p * 200))}px'></div>"
        f"<div>{p:.0%}</div></div>" for label, p in result.top(3))
    top_p = result.probabilities[result.label]
    text = (f"<p class='nocode-prediction'><b>{esc(name)}</b>: it is <b>{esc(result.label)}</b> "
            f"with {top_p:.0%} probability</p>{bars}")
    return w.HBox([*image, w.HTML(text)], layout=w.Layout(margin="6px 0"))

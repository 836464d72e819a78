"""The inbox, inside the Datasets panel: unsorted pictures uploaded (pictures or a zip, in any folders), a
finished run's suggestions for them a page at a time (most useful first, or surest first), one-click or
one-key correction, "accept all sure ones" after a confirmation with the count per class, and, once enough
new pictures are labelled, "Train again with the new pictures". Scoring runs in a helper process
(`insight/suggest.py`); every action re-checks the session and the owner, and files only ids of the page
shown and classes of the dataset, whatever the page's `choices` say."""

from __future__ import annotations

import base64

import anywidget
import ipywidgets as w
import traitlets

from .. import datasets as D
from ..datasets.uploads import UploadedFile
from ..insight import suggest as S
from ..runs import retrain as R
from .parts import ask, esc, front_end, options_of, percent, report_errors, run_accuracy
from .uploader import Uploader

PAGE = 24  # pictures per screen


class LabelGrid(anywidget.AnyWidget):
    """A page of cards (thumbnail, suggestion, a button per class; keys 1-9). `choices` is a request."""

    _esm = front_end("label_grid.js")
    cards = traitlets.List([]).tag(sync=True)  # [{"id", "name", "src", "suggested", "p", "sure"}]
    classes = traitlets.List([]).tag(sync=True)
    choices = traitlets.Dict({}).tag(sync=True)  # picture id -> class


class InboxCard(w.VBox):
    """`panel`: the DatasetsPanel (its session, chosen dataset, background work, message and confirm box)."""

    def __init__(self, panel, max_upload_bytes: int):
        self.panel = panel
        self.upload = Uploader(panel.upload_folder, max_upload_bytes, self._received, self._can_start,
                               lambda text: panel.message.show(text, "warn"), accept="image/*,.zip", multiple=True,
                               label="Add unsorted pictures or a zip")
        self.run = w.Dropdown(description="Suggest with", style={"description_width": "initial"},
                              layout=w.Layout(width="460px"))
        self.order = w.ToggleButtons(options=[("Most useful first", "useful"), ("Surest first", "sure"),
                                              ("Newest first", "newest")],
                                     value="useful", tooltips=["the pictures the model is least sure about",
                                                               "the answers it is surest about, to accept many",
                                                               "as they arrived"])
        self.show_button = w.Button(description="Show suggestions", icon="lightbulb-o", button_style="primary")
        self.progress = w.IntProgress(min=0, max=1, value=0, layout=w.Layout(visibility="hidden"))
        self.summary = w.HTML()
        self.grid = LabelGrid()
        self.file_button = w.Button(description="File the chosen", icon="check", button_style="success")
        self.sure_button = w.Button(description="Accept all sure ones…", icon="check-square-o")
        self.more_button = w.Button(description="Next page", icon="arrow-right")
        self.discard_button = w.Button(description="Discard the unchosen…", icon="trash", button_style="danger")
        self.actions = w.HBox([self.file_button, self.sure_button, self.more_button, self.discard_button],
                              layout=w.Layout(display="none"))
        self.again_note = w.HTML()
        self.again_button = w.Button(description="Train again with the new pictures", icon="refresh",
                                     button_style="primary", layout=w.Layout(display="none", width="auto"))
        self.dataset_id: str | None = None  # the dataset the shown page is about
        self._upload_target: str | None = None  # the dataset an inbox upload is for, bound when it started
        self._page_ids: list[str] = []  # the pictures of the page shown (what the page sends back is not trusted)
        self._found: S.Suggestions | None = None
        self._start = 0
        self.show_button.on_click(lambda _: self.show())
        self.file_button.on_click(lambda _: self.file_chosen())
        self.sure_button.on_click(lambda _: self.ask_accept_sure())
        self.more_button.on_click(lambda _: self.next_page())
        self.discard_button.on_click(lambda _: self.ask_discard())
        self.again_button.on_click(lambda _: self.train_again())
        self.grid.observe(lambda _: self._count_chosen(), "choices")
        super().__init__([w.HTML("<small>Pictures not sorted into classes yet: upload them here, a trained model "
                                 "suggests a class for each, you confirm.</small>"), self.upload,
                          w.HBox([self.run, self.order]), w.HBox([self.show_button, self.progress]), self.summary,
                          self.grid, self.actions, w.HBox([self.again_button, self.again_note])])
        self.add_class("nocode-inbox")

    # What is shown ----------------------------------------------------------------------------------------

    def update(self, ds: D.Dataset) -> None:
        """The chosen dataset changed or changed: its count, its runs; a page about another dataset goes."""
        if self.dataset_id not in (None, ds.id):
            self.clear()
        runs = S.usable_runs(self.panel.ws, self.panel.user, ds.id)
        pairs = [(f"{r.id} ({run_accuracy(r)}, trained on version {r.dataset_version})", r.id) for r in runs]
        self.run.options, self.run.value = options_of(pairs or [("no finished model yet: newest first", "")],
                                                      self.run.value)
        if self.dataset_id is None:
            self.summary.value = (f"<p>{ds.inbox} picture{'s' if ds.inbox != 1 else ''} waiting.</p>" if ds.inbox
                                  else "<p><small>Empty.</small></p>")
        self._offer_again(ds, runs)

    def clear(self) -> None:
        self.dataset_id, self._found, self._start, self._page_ids = None, None, 0, []
        self.grid.cards, self.grid.choices = [], {}
        self.summary.value = ""
        self.actions.layout.display = "none"

    def show(self, keep_page: bool = False) -> None:
        dataset_id, run_id, order = self.panel.dataset_id, self.run.value or None, self.order.value
        if not dataset_id:
            self.panel.message.show("Choose a dataset first.", "warn")
            return

        def work():
            self.progress.layout.visibility = "visible"
            try:
                found = S.suggest(self.panel.ws, self.panel.user, dataset_id, run_id, order, progress=self._progress)
            finally:
                self.progress.layout.visibility = "hidden"
            self._show(found, keep_page)
            self.panel.message.clear()
        self.panel.work.run([self.show_button, self.file_button, self.sure_button], self.panel.message, work)

    def _progress(self, done: int, total: int) -> None:
        self.progress.max, self.progress.value = max(total, 1), done
        self.panel.message.show(f"The model is looking at the inbox: {done} of {total} pictures...", "info")

    def _show(self, found: S.Suggestions, keep_page: bool = False) -> None:
        ds = D.get_own_dataset(self.panel.ws, self.panel.user, found.dataset_id)
        self.dataset_id, self._found = found.dataset_id, found
        if not keep_page or self._start >= len(found.pictures):
            self._start = 0
        page = found.pictures[self._start:self._start + PAGE]
        self._page_ids = [p.id for p in page]
        folder = D.dataset_folder(self.panel.ws, ds)
        self.grid.classes = list(ds.classes)
        self.grid.cards = [{"id": p.id, "name": p.original, "src": _data_url(folder / p.file), "suggested": p.suggested,
                            "p": p.probability, "sure": p.sure} for p in page]
        self.grid.choices = {p.id: p.suggested for p in page if p.suggested in ds.classes}
        sure = len(found.sure_ones)
        how = ("" if not found.run_id else f" {sure} the model is sure about (at {percent(found.threshold)} or more). "
               + {"useful": "Least sure first: labelling these teaches it most.", "sure": "Surest first.",
                  "newest": "Newest first."}[found.order])
        self.summary.value = (f"<p><b>{len(found.pictures)}</b> waiting.{esc(how)} Showing "
                              f"{self._start + 1 if page else 0}–{self._start + len(page)}. Click a class or press "
                              "1–9 on a picture to change it; 0 leaves it in the inbox.</p>" if found.pictures
                              else "<p>The inbox is empty.</p>")
        self.actions.layout.display = "" if page else "none"
        self.sure_button.disabled = not sure

    def _count_chosen(self) -> None:
        """The file button says how many the kernel has (a click could otherwise overtake the last key)."""
        n = len(self._page_choices())
        self.file_button.description = f"File the chosen ({n})"
        self.file_button.disabled = not n

    def next_page(self) -> None:
        if self._found is not None:
            self._start += PAGE
            report_errors(self.panel.message, lambda: self._show(self._found, keep_page=True))

    # Acting -----------------------------------------------------------------------------------------------

    def _page_choices(self) -> dict[str, str]:
        """What the page asks, limited to the pictures shown (the classes are checked by file_pictures)."""
        shown = set(self._page_ids)
        return {i: str(c) for i, c in dict(self.grid.choices).items() if isinstance(i, str) and i in shown and c}

    def file_chosen(self) -> None:
        dataset_id, choices = self.dataset_id, self._page_choices()
        if dataset_id is None:
            return

        def work():
            after = D.file_pictures(self.panel.ws, self.panel.user, dataset_id, choices)
            self._after_filing(after, _counts(choices.values()))
        self.panel.work.run([self.file_button, self.sure_button], self.panel.message, work)

    def ask_accept_sure(self) -> None:
        found, dataset_id = self._found, self.dataset_id
        if found is None or dataset_id is None or not found.sure_ones:
            return
        counts = ", ".join(f"{n} into {c}" for c, n in found.sure_counts().items())
        confirmed = [p.id for p in found.sure_ones]
        ask(self.panel.confirm, f"File {len(found.sure_ones)} pictures the model is sure about: {counts}?",
            lambda: self._accept_sure(dataset_id, found.run_id, confirmed), self.panel.message, yes="Yes, file them")

    def _accept_sure(self, dataset_id: str, run_id: str, confirmed: list[str]) -> None:
        def work():
            after, counts = S.accept_sure(self.panel.ws, self.panel.user, dataset_id, run_id, only=confirmed)
            self._after_filing(after, counts)
        self.panel.work.run([self.file_button, self.sure_button], self.panel.message, work)

    def ask_discard(self) -> None:
        dataset_id = self.dataset_id
        chosen = self._page_choices()
        unchosen = [i for i in self._page_ids if i not in chosen]
        if dataset_id is None or not unchosen:
            self.panel.message.show("Every picture on this page has a class; nothing to discard.", "info")
            return
        ask(self.panel.confirm, f"Remove the {len(unchosen)} pictures with no class on this page from the inbox for "
            "good?", lambda: self._discard(dataset_id, unchosen), self.panel.message)

    def _discard(self, dataset_id: str, ids: list[str]) -> None:
        def work():
            after = D.discard_pictures(self.panel.ws, self.panel.user, dataset_id, ids)
            self.panel.message.show(f"Discarded {len(ids)}; {after.inbox} still waiting.", "ok")
            self._refresh_after(after)
        self.panel.work.run([self.file_button, self.sure_button, self.discard_button], self.panel.message, work)

    def _after_filing(self, after: D.Dataset, counts: dict) -> None:
        filed = ", ".join(f"{n} into {c}" for c, n in sorted(counts.items()))
        self.panel.message.show(f"Filed {filed}: {after.name} is now version {after.version}; {after.inbox} still "
                                "waiting.", "ok")
        self._refresh_after(after)

    def _refresh_after(self, after: D.Dataset) -> None:
        self.panel.refresh()
        self.panel.on_change()
        found = S.suggest(self.panel.ws, self.panel.user, after.id, self._found.run_id or None if self._found else None,
                          self.order.value)  # cached: nothing is scored again
        self._show(found, keep_page=True)

    def _offer_again(self, ds: D.Dataset, runs) -> None:
        run = next((r for r in runs if r.id == self.run.value), None)
        new = R.worth_training_again(self.panel.ws, run, ds) if run is not None else 0
        ready = bool(new)
        self.again_button.layout.display = "" if ready else "none"
        self.again_note.value = (f"<small>{new} pictures labelled since {esc(run.id)}: train again with the same "
                                 "settings; Results then shows the accuracy before and after on the same pictures."
                                 "</small>" if ready else "")

    def train_again(self) -> None:
        run_id = self.run.value

        def work():
            if not run_id:
                return
            queued = R.retrain(self.panel.ws, self.panel.user, run_id)
            self.again_button.layout.display = "none"
            self.panel.message.show(f"Training again as {queued.id}: follow it in Train; Results then compares it "
                                    f"with {run_id}.", "ok")
            self.panel.on_change()
        self.panel.work.run([self.again_button], self.panel.message, work)

    # Uploads into the inbox -------------------------------------------------------------------------------

    def _can_start(self) -> str | None:
        if not self.panel.dataset_id:
            return "Create a dataset first."
        self._upload_target = self.panel.dataset_id  # bound when the upload starts
        return self.panel.refusal(self.panel.work)

    def _received(self, received) -> None:
        dataset_id = self._upload_target
        files = [UploadedFile(name, path=path) for name, path in received.files]
        self.panel.ingest(lambda: D.add_to_inbox(self.panel.ws, self.panel.user, dataset_id, files,
                                                  progress=self.panel.show_progress), received)


def _data_url(path) -> str:
    return "data:image/jpeg;base64," + base64.b64encode(D.thumbnail_bytes(path, 112)).decode()


def _counts(labels) -> dict[str, int]:
    counts: dict[str, int] = {}
    for label in labels:
        counts[label] = counts.get(label, 0) + 1
    return counts

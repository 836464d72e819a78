"""Check my labels, inside the Datasets panel: the pictures probably filed under the wrong class, each with
Keep / Move to <suggested class> / Delete. The check runs in a worker process (`review.check_labels`);
every action re-checks the session and the owner, and acts on the dataset the check was made for."""

from __future__ import annotations

import ipywidgets as w

from ..insight import label_check as R
from ..datasets import dataset_folder, get_own_dataset, thumbnail_bytes
from .parts import ask, esc, picture, report_errors, set_children

SHOWN = 30  # flagged pictures shown at once (the rest after acting on these)


class LabelCheck(w.VBox):
    """`panel`: the DatasetsPanel (its session, dataset choice, background work, message and confirm box)."""

    def __init__(self, panel):
        self.panel = panel
        self.folds = w.Dropdown(options=[(f"{k} folds", k) for k in R.FOLDS], value=R.DEFAULT_FOLDS,
                                description="Check with", style={"description_width": "initial"},
                                layout=w.Layout(width="200px"))
        self.button = w.Button(description="Check my labels", icon="search",
                               tooltip="each picture is judged by a model that never saw it; takes a few minutes")
        self.progress = w.IntProgress(min=0, max=1, value=0, layout=w.Layout(visibility="hidden"))
        self.summary = w.HTML()
        self.cards = w.GridBox(layout=w.Layout(grid_template_columns="repeat(3, 260px)"))
        self.dataset_id: str | None = None  # the dataset the cards are about
        self.button.on_click(lambda _: self.check())
        super().__init__([w.HTML("<b>Check my labels</b> <small>(which pictures are probably in the wrong class)</small>"),
                          w.HBox([self.button, self.folds, self.progress]), self.summary, self.cards])

    def clear(self) -> None:
        self.summary.value, self.dataset_id = "", None
        set_children(self.cards, [])

    def check(self) -> None:
        dataset_id, folds = self.panel.dataset_id, self.folds.value
        if not dataset_id:
            self.panel.message.show("Choose a dataset first.", "warn")
            return

        def work():
            self.progress.layout.visibility = "visible"
            result = R.check_labels(self.panel.ws, self.panel.user, dataset_id, folds, progress=self._progress)
            self._show(result)
        self.panel.work.run([self.button], self.panel.message, work)

    def _progress(self, done: int, total: int, what: str) -> None:
        self.progress.max, self.progress.value = max(total, 1), done
        self.panel.message.show(f"Checking the labels: {what}, fold {min(done + 1, total)} of {total}...", "info")

    def _show(self, review: R.Review) -> None:
        self.progress.layout.visibility = "hidden"
        ds = get_own_dataset(self.panel.ws, self.panel.user, review.dataset_id)
        folder = dataset_folder(self.panel.ws, ds)
        self.dataset_id = review.dataset_id
        flagged = review.flagged
        self.summary.value = (f"<p><b>{len(flagged)}</b> of {len(review.ranked)} pictures are probably in the wrong "
                              f"class ({review.folds}-fold check in {review.seconds:.0f} s: {esc(review.how)}). "
                              "Lowest score first: the chance the model gives the class they are filed under.</p>"
                              if flagged else "<p>No picture looks mislabelled.</p>")
        self.panel.message.clear()
        set_children(self.cards, [self._card(folder, f) for f in flagged[:SHOWN]])

    def _card(self, folder, flag: R.Flag) -> w.Widget:
        path = folder / flag.file
        image = [picture(thumbnail_bytes(path, 96), "jpeg", f"filed under {flag.given}, probably {flag.suggested}")] \
            if path.exists() else []
        keep = w.Button(description="Keep", layout=w.Layout(width="70px"), tooltip="it is right as it is")
        move = w.Button(description=f"Move to {flag.suggested}", layout=w.Layout(width="auto"))
        delete = w.Button(description="Delete", button_style="danger", layout=w.Layout(width="70px"))
        keep.on_click(lambda _: self._act("keep", flag))
        move.on_click(lambda _: self._act("move", flag))
        delete.on_click(lambda _: ask(self.panel.confirm, "Delete this picture from the dataset for good?",
                                      lambda: self._act("delete", flag), self.panel.message))
        text = (f"<small>filed under <b>{esc(flag.given)}</b> ({flag.score:.0%})<br>probably "
                f"<b>{esc(flag.suggested)}</b> ({flag.suggested_probability:.0%})</small>")
        card = w.VBox([*image, w.HTML(text), w.HBox([keep, move, delete])], layout=w.Layout(margin="4px"))
        card.flag_hash = flag.hash
        return card

    def _act(self, action: str, flag: R.Flag) -> None:
        """Keep, move or delete one flagged picture of the dataset this check was made for."""
        dataset_id = self.dataset_id
        if dataset_id is None:
            return

        def work():
            ws, user = self.panel.ws, self.panel.user  # the session, checked again; the owner in each call
            if action == "keep":
                R.keep(ws, user, dataset_id, [flag.hash])
                done = f"Kept it in {flag.given}: it will not be flagged again."
            elif action == "move":
                R.move(ws, user, dataset_id, {flag.hash: flag.suggested})
                done = f"Moved to {flag.suggested} (a new version of the dataset; runs keep the version they used)."
            else:
                R.delete(ws, user, dataset_id, [flag.hash])
                done = "Deleted (a new version of the dataset)."
            set_children(self.cards, [c for c in self.cards.children if getattr(c, "flag_hash", None) != flag.hash])
            self.panel.refresh()
            self.panel.on_change()
            self.panel.message.show(done, "ok")
        report_errors(self.panel.message, work)

"""Datasets: list, create, classes, uploads (pictures into a class, or a zip of class folders),
the per-file report, counts, thumbnails and warnings, rename and delete with a confirmation."""

from __future__ import annotations

import ipywidgets as w

from .. import datasets as D
from ..accounts.auth import User
from ..datasets.uploads import UploadedFile
from ..workspace import Workspace
from ..accounts.quota import my_usage
from .parts import (BUSY, Background, Collapsible, Message, SessionPanel, ask, card, esc, html_table, mib, on_enter,
                    options_of, picture, report_errors, serialized, set_children, status_bar)
from .camera import Camera
from .labeling import InboxCard
from .review import LabelCheck
from .uploader import Uploader


THUMB_ROWS = 4  # classes whose pictures show at once; the others behind a section title
STEPS = ("<div class='nocode-steps'>"
         "<div><b>1</b> Add pictures, sorted into classes</div><div><b>2</b> Train a model</div>"
         "<div><b>3</b> Test it on new pictures</div></div>")


class DatasetsPanel(SessionPanel):
    def __init__(self, ws: Workspace, user: User, on_change=None):
        self.on_change = on_change or (lambda: None)
        self.work = Background()
        self.message = Message()
        self.picker = w.Dropdown(description="Dataset", layout=w.Layout(width="420px"))
        self.new_name = w.Text(continuous_update=False, placeholder="name of a new dataset", description="Name", layout=w.Layout(width="300px"))
        self.new_classes = w.Text(continuous_update=False, placeholder="classes, comma separated: cats, dogs", description="Classes",
                                  layout=w.Layout(width="360px"))
        self.create_button = w.Button(description="Create dataset", icon="plus")
        self.summary = w.HTML()
        self.space = w.HTML()
        self.thumbs = w.VBox()
        # classes
        self.class_picker = w.Dropdown(description="Class")
        self.class_name = w.Text(continuous_update=False, placeholder="class name", description="Class name")
        self.add_class_button = w.Button(description="Add class", icon="plus")
        self.rename_class_button = w.Button(description="Rename class")
        self.delete_class_button = w.Button(description="Delete class", button_style="warning")
        # uploads
        refused = lambda text: self.message.show(text, "warn")  # noqa: E731
        # each receiver keeps the dataset and class it started with: another one starting meanwhile changes nothing
        self._targets: dict[str, tuple[str | None, str | None]] = {}
        self.upload = Uploader(self.upload_folder, ws.settings.max_upload_bytes, self._pictures_received("upload"),
                               self._start_pictures("upload"), refused, accept="image/*", multiple=True,
                               label="Add pictures to the class")
        self.zip_upload = Uploader(self.upload_folder, ws.settings.max_upload_bytes, self._zip_received,
                                   self._start_zip, refused, accept=".zip", multiple=False,
                                   label="Import a zip of class folders")
        self.camera = Camera(self.upload_folder, ws.settings.max_upload_bytes, self._pictures_received("camera"),
                             self._start_pictures("camera"), refused, mode="record")
        self.limit_note = w.HTML(f"<small>Up to {mib(ws.settings.max_upload_bytes)} per upload. For more, upload a "
                                 "zip of class folders (cats/…, dogs/…) in parts.</small>")
        roots = ", ".join(str(r) for r in ws.settings.import_roots)
        self.folder_path = w.Text(continuous_update=False, placeholder=f"a folder of class folders under {roots}", description="Folder",
                                  layout=w.Layout(width="480px"))
        self.folder_button = w.Button(description="Import folder", icon="folder-open")
        self.folder_row = w.HBox([self.folder_path, self.folder_button],
                                 layout=w.Layout(display="" if ws.settings.import_roots else "none"))
        self.progress = w.IntProgress(min=0, max=1, value=0, description="", layout=w.Layout(visibility="hidden"))
        self.report = w.HTML()
        # rename / delete
        self.rename_text = w.Text(continuous_update=False, placeholder="new dataset name", description="New name")
        self.rename_button = w.Button(description="Rename dataset")
        self.delete_button = w.Button(description="Delete dataset", button_style="danger", icon="trash")
        self.confirm = w.HBox()
        self.labels = LabelCheck(self)
        self.inbox = InboxCard(self, ws.settings.max_upload_bytes)
        sources = [("Pictures into a class", "files"), ("A zip of class folders", "zip"), ("Camera", "camera")]
        self.source = w.ToggleButtons(options=sources + ([("A server folder", "folder")] if ws.settings.import_roots else []),
                                      value="files", description="From", style={"button_width": "auto"})
        self.source.observe(lambda _: self._show_source(), names="value")
        self.new_card = Collapsible("New dataset", [w.HBox([self.new_name, self.new_classes, self.create_button],
                                                           layout=w.Layout(flex_flow="row wrap"))])
        self.inbox_card = Collapsible("Inbox: pictures not sorted yet", [self.inbox])
        self._wire()
        super().__init__(ws, user, [
            card("Your datasets", [w.HBox([self.picker, self.space], layout=w.Layout(align_items="center",
                                                                                     flex_flow="row wrap")),
                                   self.new_card]),
            card("", [self.summary, self.thumbs], "nocode-summary"),
            card("Add pictures", [self.source, self.class_picker, self.upload, self.camera, self.zip_upload,
                                  self.folder_row, self.limit_note, self.progress, self.report]),
            self.inbox_card,
            Collapsible("Classes: add, rename, delete", [w.HBox([self.class_name, self.add_class_button,
                                                                 self.rename_class_button, self.delete_class_button],
                                                                layout=w.Layout(flex_flow="row wrap"))]),
            Collapsible("Check my labels", [self.labels]),
            Collapsible("Rename or delete this dataset", [w.HBox([self.rename_text, self.rename_button,
                                                                  self.delete_button],
                                                                 layout=w.Layout(flex_flow="row wrap"))]),
            status_bar(self.confirm, self.message)], "nocode-datasets")
        self._show_source()
        self.refresh()

    def _show_source(self) -> None:
        """Only the chosen way of adding pictures is shown (the class picker with files and the camera)."""
        chosen = self.source.value
        for widget, source in ((self.upload, "files"), (self.camera, "camera"), (self.zip_upload, "zip"),
                               (self.folder_row, "folder")):
            widget.layout.display = "" if chosen == source else "none"
        self.class_picker.layout.display = "" if chosen in ("files", "camera") else "none"

    def _wire(self) -> None:
        self.picker.observe(lambda _: self.show_dataset(), names="value")
        self.create_button.on_click(self._create)
        on_enter(self.new_classes, self._create)
        on_enter(self.rename_text, self._rename)
        self.folder_button.on_click(self._import_folder)
        self.add_class_button.on_click(self._add_class)
        self.rename_class_button.on_click(self._rename_class)
        self.delete_class_button.on_click(self._ask_delete_class)
        self.rename_button.on_click(self._rename)
        self.delete_button.on_click(self._ask_delete)

    # Display ------------------------------------------------------------------------------------------

    @property
    def dataset_id(self) -> str | None:
        return self.picker.value

    @serialized
    def refresh(self, select: str | None = None) -> None:
        def work():
            mine = [d for d in D.list_datasets(self.ws, self.user) if not d.hidden]  # hidden test sets: Class tab
            mine.sort(key=lambda d: d.frozen)  # the ones to work on first, the classes' fixed copies after
            pairs = [(f"{d.name} ({d.image_count} pictures, {len(d.classes)} classes"
                      + (", shared with a class: read-only)" if d.frozen else ")"), d.id) for d in mine]
            self.picker.options, value = options_of(pairs, select or self.picker.value)
            self.picker.value = value
            self.space.value = f"<small>Your space: {esc(my_usage(self.ws, self.user).text())}</small>"
            self.show_dataset()
        report_errors(self.message, work)

    @serialized
    def show_dataset(self) -> None:
        if not self.dataset_id:
            self.summary.value = STEPS + "<p>No dataset yet: give it a name and its classes, then create it.</p>"
            self.new_card.show(True)
            set_children(self.thumbs, [])
            self.class_picker.options = []
            self.inbox.clear()
            return
        report_errors(self.message, self._show)

    def _show(self) -> None:
        ds = D.get_dataset(self.ws, self.user, self.dataset_id)
        if self.labels.dataset_id not in (None, ds.id):  # another dataset: its label check no longer applies
            self.labels.clear()
        stats = D.dataset_stats(self.ws, self.user, ds.id, per_class=6)
        self.class_picker.options, self.class_picker.value = options_of([(c, c) for c in ds.classes],
                                                                         self.class_picker.value)
        counts = " · ".join(f"{esc(c)} <b>{ds.counts.get(c, 0)}</b>" for c in ds.classes)
        warn = "".join(f"<p class='nocode-warning'>⚠ {esc(m)}</p>" for m in stats.warnings)
        size = (f" <small>Picture sizes: {stats.width[0]}–{stats.width[2]} px wide (median {stats.width[1]}), "
                f"{stats.height[0]}–{stats.height[2]} px high.</small>" if ds.image_count else "")
        self.summary.value = (f"<h3>{esc(ds.name)}</h3><p class='nocode-counts'>{ds.image_count} pictures: {counts}."
                              f"{size}</p>{warn}")
        self.inbox_card.title = f"Inbox: pictures not sorted yet ({ds.inbox})"
        self.inbox_card.show(self.inbox_card.opened or ds.inbox > 0)
        self.new_card.show(False)
        rows = [self._thumb_row(c, ds.counts.get(c, 0), paths) for c, paths in stats.samples.items() if paths]
        more = [Collapsible(f"The other {len(rows) - THUMB_ROWS} classes", rows[THUMB_ROWS:])] if len(rows) > THUMB_ROWS else []
        set_children(self.thumbs, rows[:THUMB_ROWS] + more)
        self.inbox.update(ds)

    @staticmethod
    def _thumb_row(label: str, count: int, paths) -> w.HBox:
        images = [picture(D.thumbnail_bytes(p, 56), "jpeg", f"a picture of {label}", width="56px") for p in paths]
        row = w.HBox([w.HTML(f"<div class='nocode-thumb-label'>{esc(label)} <small>({count})</small></div>"), *images])
        row.add_class("nocode-row")
        return row

    # Actions --------------------------------------------------------------------------------------------

    def _create(self, _=None) -> None:
        def work():
            classes = [c.strip() for c in self.new_classes.value.split(",") if c.strip()]
            ds = D.create_dataset(self.ws, self.user, self.new_name.value, classes)
            self.new_name.value = self.new_classes.value = ""
            self.refresh(select=ds.id)
            self.message.show(f"Created {ds.name}. Now add pictures to each class.", "ok")
            self.on_change()
        self.work.run(self.create_button, self.message, work, threaded=False)

    def show_progress(self, done: int, total: int) -> None:
        self.progress.max, self.progress.value = max(total, 1), done
        self.progress.description = f"{done}/{total}"

    def ingest(self, ingest, received=None) -> None:
        """Common path of every import: progress bar, report, refresh; the uploaded temp files are
        removed after. One import at a time: a second one while one runs is refused (uploads are refused
        before any byte travels: the uploaders ask `refusal` first)."""
        if self.work.busy:
            self.message.show(BUSY, "warn")
            if received is not None:
                received.discard()
            return
        self.message.clear()
        self.report.value = ""
        self.progress.layout.visibility = "visible"

        def work():
            try:
                report = ingest()
            finally:
                if received is not None:
                    received.discard()
                self.progress.layout.visibility = "hidden"
            self.report.value = render_report(report)
            self.message.show(report.summary(), "ok" if report.accepted else "warn")
            self.refresh(select=report.dataset_id)
            self.on_change()
        if not self.work.run([self.folder_button], self.message, work) and received is not None:
            received.discard()  # another import started in between

    def _start_pictures(self, source: str):
        """`source`'s can_start: bind the dataset and class when its upload starts, not when it ends."""
        def can_start() -> str | None:
            if not (self.dataset_id and self.class_picker.value):
                return "Create a dataset and choose a class first."
            self._targets[source] = (self.dataset_id, self.class_picker.value)
            return self.refusal(self.work)
        return can_start

    def _start_zip(self) -> str | None:
        self._targets["zip"] = (self.dataset_id, None)
        return self.refusal(self.work)

    def _pictures_received(self, source: str):
        """`source`'s on_done: into the dataset and class bound when that upload started."""
        def received_by(received) -> None:
            dataset_id, label = self._targets.get(source, (None, None))
            files = [UploadedFile(name, path=path) for name, path in received.files]
            self.ingest(lambda: D.add_uploads(self.ws, self.user, dataset_id, label, files, progress=self.show_progress),
                         received)
        return received_by

    def _zip_received(self, received) -> None:
        dataset_id, _ = self._targets.get("zip", (None, None))
        (name, path), = received.files
        self.ingest(lambda: D.import_archive(self.ws, self.user, path, name=name.rsplit(".", 1)[0],
                                              dataset_id=dataset_id, progress=self.show_progress), received)

    def _import_folder(self, _=None) -> None:
        """A server (or mounted Google Drive) folder; the core allows only the settings' import roots."""
        path = self.folder_path.value.strip()
        name = path.rstrip("/").rsplit("/", 1)[-1] or "Imported"
        self.ingest(lambda: D.import_folder(self.ws, self.user, path, name=name, dataset_id=self.dataset_id,
                                             progress=self.show_progress))

    def _add_class(self, _=None) -> None:
        def work():
            D.add_class(self.ws, self.user, self.dataset_id, self.class_name.value)
            self.class_name.value = ""
            self.refresh()
        report_errors(self.message, work)

    def _rename_class(self, _=None) -> None:
        def work():
            D.rename_class(self.ws, self.user, self.dataset_id, self.class_picker.value, self.class_name.value)
            self.class_name.value = ""
            self.refresh()
        report_errors(self.message, work)

    def _ask_delete_class(self, _=None) -> None:
        dataset_id, label = self.dataset_id, self.class_picker.value  # bound now, not at Yes time
        if dataset_id and label:
            ask(self.confirm, f"Delete the class {label!r} and its pictures?",
                lambda: self._delete_class(dataset_id, label), self.message)

    def _delete_class(self, dataset_id: str, label: str) -> None:
        D.delete_class(self.ws, self.user, dataset_id, label)
        self.refresh()

    def _rename(self, _=None) -> None:
        def work():
            D.rename_dataset(self.ws, self.user, self.dataset_id, self.rename_text.value)
            self.rename_text.value = ""
            self.refresh()
            self.on_change()
        report_errors(self.message, work)

    def _ask_delete(self, _=None) -> None:
        dataset_id, label = self.dataset_id, self.picker.label  # bound now, not at Yes time
        if dataset_id:
            ask(self.confirm, f"Delete the dataset {label} and all its pictures?",
                lambda: self._delete(dataset_id), self.message)

    def _delete(self, dataset_id: str) -> None:
        D.delete_dataset(self.ws, self.user, dataset_id)
        self.refresh()
        self.message.show("Dataset deleted.", "ok")
        self.on_change()


def render_report(report: D.IngestReport) -> str:
    lines = [f"<p><b>{esc(report.summary())}</b></p>"]
    problems = [(s.name, s.reason) for s in report.skipped + report.conflicts]
    if problems:
        shown = problems[:50]
        lines.append(html_table(["file", "why it was not added"], [[esc(n), esc(r)] for n, r in shown]))
        if len(problems) > 50:
            lines.append(f"<p>… and {len(problems) - 50} more.</p>")
    if report.duplicates:
        lines.append(f"<p><small>{len(report.duplicates)} were already in the class and kept once.</small></p>")
    return "".join(lines)

"""Class: join a class, see its shared datasets and assignments, submit a run, read the board. A teacher also
makes classes, adds students from a roster (their one-time passwords downloaded once), shares datasets, sets
assignments with a hidden test set, sees each student and downloads the grades. Every action goes through the
core (`classroom/`), which checks who is asking; what the page sends (ids, numbers) is only a request."""

from __future__ import annotations

import time

import ipywidgets as w

from .. import classroom as C
from ..accounts.auth import User
from ..classroom import assignments as A
from ..classroom import classes as K
from ..classroom.board import when
from ..datasets import copy_dataset, get_dataset, shared_datasets
from ..errors import NocodeError
from ..runs import jobs
from ..workspace import Workspace
from .download import Download
from .parts import (Background, Collapsible, Message, SessionPanel, ask, card, esc, html_table, on_enter, options_of,
                    report_errors, run_accuracy, serialized, status_bar)
from .uploader import Uploader

WEEK_S = 7 * 24 * 3600
ROSTER_MAX_BYTES = 1 << 20


def board_html(board: C.Board) -> str:
    """The board as a table (the viewer's own row marked), with what it measures."""
    if not board.rows:
        return f"<p><b>{esc(board.title)}</b></p><p>No scored submission yet.</p>"
    rows = [[r.rank, f"<b>{esc(r.name)} (you)</b>" if r.you else esc(r.name), f"{r.score:.3f}",
             "" if r.submissions is None else r.submissions, when(r.last) if r.last else ""] for r in board.rows]
    return (f"<p><b>{esc(board.title)}</b>: {len(board.rows)} of {board.students} students have a score.</p>"
            + html_table(["rank", "student", board.assignment.metric_name, "submissions", "last"], rows))


def per_class_html(scores: dict) -> str:
    if not scores:
        return ""
    return "<p><small>Your F1 per class: " + ", ".join(f"{esc(c)} {v:.2f}" for c, v in scores.items()) + "</small></p>"


class ClassPanel(SessionPanel):
    def __init__(self, ws: Workspace, user: User):
        self.message, self.confirm, self.work = Message(), w.HBox(), Background()
        self.room = w.Dropdown(description="Class", layout=w.Layout(width="420px"))
        self.code = w.Text(continuous_update=False, description="Join code", placeholder="10 letters and digits")
        self.join_button = w.Button(description="Join", icon="sign-in")
        self.about = w.HTML()
        self.copy_from = w.Dropdown(description="Shared dataset", style={"description_width": "initial"},
                                    layout=w.Layout(width="420px"))
        self.copy_button = w.Button(description="Copy to my datasets", icon="copy")
        self.assignment = w.Dropdown(description="Assignment", style={"description_width": "initial"},
                                     layout=w.Layout(width="420px"))
        self.assignment_about = w.HTML()
        self.run = w.Dropdown(description="My run", layout=w.Layout(width="420px"))
        self.submit_button = w.Button(description="Submit", icon="upload", button_style="primary")
        self.progress = w.IntProgress(min=0, max=1, value=0, layout=w.Layout(visibility="hidden"))
        self.which_board = w.ToggleButtons(options=[("Public board", "public"), ("Final board", "final")],
                                           value="public")
        self.board = w.HTML()
        self.mine = w.HTML()
        self.teacher = TeacherTools(self, ws)
        self.join_button.on_click(lambda _: self.join())
        on_enter(self.code, self.join)
        self.copy_button.on_click(lambda _: self.copy())
        self.submit_button.on_click(lambda _: self.submit())
        self.room.observe(lambda _: self.show_class(), "value")
        self.assignment.observe(lambda _: self.show_assignment(), "value")
        self.which_board.observe(lambda _: self.show_assignment(), "value")
        self.copy_row = w.HBox([self.copy_from, self.copy_button])  # a student's; shown when something is shared
        self.submit_row = w.HBox([self.run, self.submit_button, self.progress])  # a student's
        self.join_section = Collapsible("Join a class", [w.HBox([self.code, self.join_button])], opened=True)
        super().__init__(ws, user, [
            card("Your classes", [self.room, self.about, self.copy_row]),
            card("Assignment", [self.assignment, self.assignment_about, self.submit_row, self.which_board, self.board,
                                self.mine]),
            status_bar(self.confirm, self.message), self.join_section, self.teacher], "nocode-class")
        self.refresh()

    # Showing ----------------------------------------------------------------------------------------------

    @serialized
    def refresh(self) -> None:
        def work():
            rooms = C.list_classes(self.ws, self.user)
            self.room.options, self.room.value = options_of([(r.name, r.id) for r in rooms], self.room.value)
            self.join_section.show(not rooms)
            self.show_class()
        report_errors(self.message, work)

    def show_class(self) -> None:
        def work():
            user, room_id = self.user, self.room.value
            self.teacher.layout.display = "" if user.is_teacher else "none"
            if not room_id:
                self.about.value = ("<p>You are in no class yet. Join one with the code your teacher gives you.</p>"
                                    if not user.is_teacher else "<p>No class yet: make one under Teacher.</p>")
                self.assignment.options, self.copy_from.options = [], []
                self.copy_row.layout.display = "none"
                self.show_assignment()
                self.teacher.show(None)
                return
            room = C.get_class(self.ws, user, room_id)
            teaching = K.is_teacher_of(user, room)
            shared = [d for d in shared_datasets(self.ws, user) if d.id in room.datasets] if not teaching else []
            names = ", ".join(f"{esc(d.name)} ({d.image_count} pictures)" for d in shared)
            self.about.value = (f"<p>{len(K.students_of(self.ws, room))} students."
                                + (f" Join code: <b><code>{esc(room.code)}</code></b>" if teaching else "")
                                + (f"</p><p>Shared with you (read-only; train on it in Train): {names}" if names else "")
                                + "</p>")
            self.copy_from.options, self.copy_from.value = options_of([(d.name, d.id) for d in shared],
                                                                      self.copy_from.value)
            self.copy_row.layout.display = "" if shared else "none"
            self.submit_row.layout.display = "none" if teaching else ""
            works = C.list_assignments(self.ws, user, room.id)
            self.assignment.options, self.assignment.value = options_of([(a.title, a.id) for a in works],
                                                                        self.assignment.value)
            runs = [r for r in jobs.runs(self.ws, user) if r.usable]
            self.run.options, self.run.value = options_of(
                [(f"{r.id} on {r.dataset_name} ({run_accuracy(r)})", r.id) for r in runs], self.run.value)
            self.show_assignment()
            self.teacher.show(room if teaching else None)
        report_errors(self.message, work)

    def show_assignment(self) -> None:
        def work():
            user, aid = self.user, self.assignment.value
            if not aid:
                self.assignment_about.value, self.board.value, self.mine.value = "<p>No assignment yet.</p>", "", ""
                return
            work_, room = C.get_assignment(self.ws, user, aid)
            teaching = K.is_teacher_of(user, room)
            open_ = work_.is_open()
            left = ("" if teaching else
                    f" You can submit {A.submissions_left(self.ws, user, aid)} more in the next 24 hours.")
            self.assignment_about.value = (
                f"<p>Train on <b>{esc(_dataset_name(self.ws, user, work_))}</b>; scored by "
                f"<b>{esc(work_.metric_name)}</b> on {work_.hidden_count} hidden pictures nobody sees. "
                + (f"Deadline <b>{when(work_.deadline)}</b>.{left}" if open_ else
                   f"Closed at {when(work_.deadline)}: the final board is open.")
                + (f" Up to {work_.per_day} submissions a day" + (f", {work_.runs_per_student} runs per student"
                                                                  if work_.runs_per_student else "") + "." if open_ else "")
                + "</p>")
            self.submit_button.disabled = not open_ or teaching
            final = self.which_board.value == "final" and not open_
            shown = C.board(self.ws, user, aid, final=final)
            self.board.value = board_html(shown) + ("" if open_ or final else
                                                    "<p><small>The final board is open: choose it above.</small></p>")
            self.mine.value = per_class_html(shown.mine)
        report_errors(self.message, work)

    # Acting -----------------------------------------------------------------------------------------------

    def join(self, _=None) -> None:
        code, self.code.value = self.code.value, ""

        def work():
            room = C.join(self.ws, self.user, code)
            self.refresh()
            self.room.value = room.id
            self.message.show(f"You joined {room.name}.", "ok")
        report_errors(self.message, work)

    def copy(self) -> None:
        source = self.copy_from.value
        if not source:
            return

        def work():
            mine = copy_dataset(self.ws, self.user, source, f"My copy of {self.copy_from.label}"[:64])
            self.message.show(f"Copied into your dataset {mine.name!r}: edit it in Datasets.", "ok")
        self.work.run([self.copy_button], self.message, work)

    def submit(self) -> None:
        aid, run_id = self.assignment.value, self.run.value
        if not aid or not run_id:
            self.message.show("Choose an assignment and one of your finished runs first.", "warn")
            return

        def work():
            self.progress.layout.visibility = "visible"
            try:
                sub = C.submit(self.ws, self.user, aid, run_id, progress=self._progress, waiting=lambda: self.message.show(
                    "Your submission is in; every scorer is busy, so it waits for the next free one...", "info"))
            finally:
                self.progress.layout.visibility = "hidden"
            self.show_assignment()
            self.message.show(f"Scored: {sub.public:.3f} on the public half of the hidden test set.", "ok")
        self.work.run([self.submit_button], self.message, work)

    def _progress(self, done: int, total: int) -> None:
        self.progress.max, self.progress.value = max(total, 1), done
        self.message.show(f"Scoring on the hidden test set: {done} of {total} pictures...", "info")


class TeacherTools(w.VBox):
    """What a class's teacher (or an administrator) does: the same panel, its own sections."""

    def __init__(self, panel: ClassPanel, ws: Workspace):
        self.panel, self.ws = panel, ws
        self.room: K.Classroom | None = None
        self.new_name = w.Text(continuous_update=False, description="Class name")
        self.anonymous = w.Checkbox(description="Students see ranks, not each other's names", indent=False)
        self.create_button = w.Button(description="Create class", icon="plus", button_style="primary")
        self.students = w.HTML()
        self.roster = Uploader(panel.upload_folder, ROSTER_MAX_BYTES, self._roster_received, self._start_roster,
                               lambda text: panel.message.show(text, "warn"), accept=".csv,.txt", multiple=False,
                               label="Add students from a CSV of names")
        self.passwords = Download()
        self.passwords_button = w.Button(description="Download their one-time passwords", icon="download",
                                         button_style="warning", layout=w.Layout(display="none", width="auto"))
        self._roster_csv: str | None = None  # kept until downloaded once
        self.student = w.Dropdown(description="Student")
        self.reset_button = w.Button(description="New one-time password", icon="key")
        self.remove_button = w.Button(description="Remove from class", icon="user-times", button_style="danger")
        self.code_button = w.Button(description="New join code", icon="refresh")
        self.share_from = w.Dropdown(description="My dataset", layout=w.Layout(width="420px"))
        self.share_button = w.Button(description="Share with the class", icon="share-alt")
        self.title = w.Text(continuous_update=False, description="Title")
        self.dataset = w.Dropdown(description="Dataset", layout=w.Layout(width="420px"))
        self.deadline = w.Text(continuous_update=False, description="Deadline",
                               value=time.strftime("%Y-%m-%dT%H:%M", time.localtime(time.time() + WEEK_S)),
                               placeholder="2026-12-20T17:00")
        self.metric = w.Dropdown(description="Metric", options=[(v, k) for k, v in A.METRICS.items()],
                                 value="weighted_f1")
        self.per_day = w.BoundedIntText(description="Per day", value=5, min=A.PER_DAY[0], max=A.PER_DAY[1],
                                        tooltip="submissions per student per day")
        self.runs_each = w.BoundedIntText(description="Runs each", value=0, min=0, max=1000,
                                          tooltip="runs each student may train on the dataset (0: no limit)")
        self.hidden = Uploader(panel.upload_folder, ws.settings.max_upload_bytes, self._hidden_received,
                               self._start_assignment, lambda text: panel.message.show(text, "warn"), accept=".zip",
                               multiple=False, label="Upload the hidden test set (zip of class folders) to create it")
        self.close_button = w.Button(description="Close now", icon="stop")
        self.grades = Download()
        self.grades_button = w.Button(description="Download grades (CSV)", icon="download")
        self.remove_assignment_button = w.Button(description="Delete assignment", icon="trash", button_style="danger")
        self._roster_for: K.Classroom | None = None  # the class a roster upload is for, bound when it started
        self._asked: dict = {}  # the assignment's settings, bound when its upload started
        self.create_button.on_click(lambda _: self.create())
        self.passwords_button.on_click(lambda _: self.download_passwords())
        self.reset_button.on_click(lambda _: self.reset())
        self.remove_button.on_click(lambda _: self.ask_remove_student())
        self.code_button.on_click(lambda _: self.act(lambda u, r: K.new_join_code(self.panel.ws, u, r.id),
                                                     "A new join code: the old one no longer works."))
        self.share_button.on_click(lambda _: self.share())
        self.close_button.on_click(lambda _: self.ask_close())
        self.grades_button.on_click(lambda _: self.download_grades())
        self.remove_assignment_button.on_click(lambda _: self.ask_remove_assignment())
        wrap = w.Layout(flex_flow="row wrap")
        self.for_class = w.VBox([
            Collapsible("Students", [self.students, self.roster, w.HBox([self.passwords_button, self.passwords]),
                                     w.HBox([self.student, self.reset_button, self.remove_button], layout=wrap),
                                     self.code_button]),
            Collapsible("Share a dataset", [w.HBox([self.share_from, self.share_button], layout=wrap)]),
            Collapsible("New assignment", [self.title, self.dataset, self.deadline, self.metric,
                                           w.HBox([self.per_day, self.runs_each], layout=wrap), self.hidden]),
            Collapsible("This assignment", [w.HBox([self.close_button, self.grades_button, self.grades,
                                                    self.remove_assignment_button], layout=wrap)])])
        super().__init__([card("Teacher", [Collapsible("New class", [self.new_name, self.anonymous,
                                                                       self.create_button]), self.for_class])])

    def show(self, room: K.Classroom | None) -> None:
        """The chosen class's teaching sections (none when the viewer does not teach it)."""
        self.room = room
        self.for_class.layout.display = "" if room else "none"
        if room is None:
            return
        user = self.panel.user
        rows = C.teacher_view(self.ws, user, room.id)
        self.students.value = html_table(
            ["student", "username", "runs", "submissions", "scores (public / final)", "last active"],
            [[esc(r.name), esc(r.username) + (" (has a one-time password)" if r.must_change else ""), r.runs, r.submissions,
              esc("; ".join(f"{t}: {v}" for t, v in r.best.items())), when(r.last_active) if r.last_active else "never"]
             for r in rows]) if rows else "<p>No students yet. Share the join code, or add them from a roster.</p>"
        self.student.options, self.student.value = options_of([(f"{r.name} ({r.username})", r.id) for r in rows],
                                                              self.student.value)
        shareable, assignable = K.teacher_datasets(self.ws, user, room.id)
        self.share_from.options, self.share_from.value = options_of([(d.name, d.id) for d in shareable],
                                                                    self.share_from.value)
        self.dataset.options, self.dataset.value = options_of(
            [(d.name + (" (shared)" if d.frozen else ""), d.id) for d in assignable], self.dataset.value)

    def act(self, action, done: str) -> None:
        room = self.room
        if room is None:
            return

        def work():
            action(self.panel.user, room)
            self.panel.refresh()
            self.panel.message.show(done, "ok")
        report_errors(self.panel.message, work)

    def create(self) -> None:
        name, anonymous = self.new_name.value, self.anonymous.value

        def work():
            room = C.create_class(self.ws, self.panel.user, name, anonymous=anonymous)
            self.new_name.value = ""
            self.panel.refresh()
            self.panel.room.value = room.id
            self.panel.message.show(f"Created {room.name}. Its join code is {room.code}.", "ok")
        report_errors(self.panel.message, work)

    # A roster and passwords -------------------------------------------------------------------------------

    def _start_roster(self) -> str | None:
        self._roster_for = self.room
        return self.panel.refusal(self.panel.work)

    def _roster_received(self, received) -> None:
        room = self._roster_for

        def work():
            try:
                (_, path), = received.files
                text = path.read_text(encoding="utf-8", errors="replace")
            finally:
                received.discard()
            if room is None:
                return
            made, skipped = K.add_students(self.ws, self.panel.user, room.id, K.read_roster(text))
            self._roster_csv = K.roster_csv(made, room) if made else None
            self.passwords_button.layout.display = "" if made else "none"
            self.panel.refresh()
            note = f" Not added: {'; '.join(skipped[:5])}{' …' if len(skipped) > 5 else ''}." if skipped else ""
            self.panel.message.show(f"Added {len(made)} students to {room.name}. Download their one-time passwords "
                                    f"now: they are shown only once.{note}", "ok" if made else "warn")
        self.panel.work.run([], self.panel.message, work)

    def download_passwords(self) -> None:
        if self._roster_csv is None:
            self.panel.message.show("The passwords were downloaded already; give a student a new one under "
                                    "Students if theirs is lost.", "info")
            return
        data, self._roster_csv = self._roster_csv.encode(), None
        self.passwords.send_file("one-time-passwords.csv", data, "text/csv")
        self.passwords_button.layout.display = "none"
        self.panel.message.show("Downloaded. Hand each student their line; they choose their own password at "
                                "their first sign-in.", "ok")

    def reset(self) -> None:
        room, student = self.room, self.student.value
        if room is None or not student:
            return

        def work():
            fresh = K.reset_student_password(self.ws, self.panel.user, room.id, student)
            self.panel.message.show(f"New one-time password for {fresh.username}: {fresh.password} (shown once; "
                                    "they choose their own when they sign in).", "ok")
        report_errors(self.panel.message, work)

    def ask_remove_student(self) -> None:
        room, student, label = self.room, self.student.value, self.student.label
        if room and student:
            ask(self.panel.confirm, f"Remove {label} from {room.name}? Their account and work stay.",
                lambda: self.act(lambda u, r: K.remove_student(self.ws, u, r.id, student), f"Removed {label}."),
                self.panel.message, yes="Yes, remove")

    # Datasets and assignments -----------------------------------------------------------------------------

    def share(self) -> None:
        dataset_id = self.share_from.value
        if dataset_id:
            self.act(lambda u, r: K.share_dataset(self.ws, u, r.id, dataset_id),
                     "Shared: the class sees it as it is now, read-only, and can train on it.")

    def _start_assignment(self) -> str | None:
        self._asked = {"room": self.room, "dataset": self.dataset.value, "title": self.title.value,
                       "deadline": self.deadline.value, "metric": self.metric.value, "per_day": self.per_day.value,
                       "runs": self.runs_each.value}
        if not self.room or not self.dataset.value:
            return "Choose a class and a dataset first."
        return self.panel.refusal(self.panel.work)

    def _hidden_received(self, received) -> None:
        asked = dict(self._asked)

        def work():
            try:
                (_, path), = received.files
                made = C.create_assignment(self.ws, self.panel.user, asked["room"].id, asked["dataset"], path,
                                           A.parse_deadline(asked["deadline"]), asked["title"], asked["metric"],
                                           asked["per_day"], asked["runs"])
            finally:
                received.discard()
            self.title.value = ""
            self.panel.refresh()
            self.panel.assignment.value = made.id
            warn = (f" Note: {made.overlap} hidden pictures are also in the shared dataset, so scores will be too "
                    "kind." if made.overlap else "")
            self.panel.message.show(f"Set {made.title!r} with {made.hidden_count} hidden pictures.{warn}",
                                    "warn" if made.overlap else "ok")
        self.panel.work.run([], self.panel.message, work)

    def _assignment(self) -> str | None:
        return self.panel.assignment.value or None

    def ask_close(self) -> None:
        aid = self._assignment()
        if aid:
            ask(self.panel.confirm, "Close this assignment now? No more submissions; the final board opens.",
                lambda: self.act(lambda u, r: A.close_now(self.ws, u, aid), "Closed: the final board is open."),
                self.panel.message, yes="Yes, close it")

    def download_grades(self) -> None:
        aid = self._assignment()
        if aid:
            report_errors(self.panel.message, lambda: self.grades.send_file(
                "grades.csv", C.grades_csv(self.ws, self.panel.user, aid).encode(), "text/csv"))

    def ask_remove_assignment(self) -> None:
        aid = self._assignment()
        if aid:
            ask(self.panel.confirm, "Delete this assignment with its submissions and its hidden test set?",
                lambda: self.act(lambda u, r: A.remove_assignment(self.ws, u, aid), "Deleted."), self.panel.message)


def _dataset_name(ws: Workspace, user: User, work: A.Assignment) -> str:
    try:
        return get_dataset(ws, user, work.dataset_id).name
    except NocodeError:
        return "(the shared dataset)"

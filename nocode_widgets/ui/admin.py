"""Admin (administrators only): users (make admin, disable, delete), all runs, disk used per user.
Every action re-checks that the signed-in user is an administrator."""

from __future__ import annotations

import ipywidgets as w

from .. import auth
from ..admin import usage
from ..auth import User
from ..workspace import Workspace
from .common import Message, esc, html_table, mib, options_of, report_errors, serialized
from .results import ResultsPanel


class AdminPanel(w.VBox):
    def __init__(self, ws: Workspace, user: User):
        self.ws, self.user = ws, user
        self.message = Message()
        self.users = w.HTML()
        self.picker = w.Dropdown(description="User")
        self.make_admin = w.Button(description="Make admin")
        self.make_user = w.Button(description="Make regular user")
        self.disable = w.Button(description="Disable", button_style="warning")
        self.enable = w.Button(description="Enable")
        self.delete = w.Button(description="Delete user", button_style="danger")
        self.confirm = w.HBox()
        self.make_admin.on_click(lambda _: self._act(lambda u: auth.set_role(ws, self.user, u, "admin")))
        self.make_user.on_click(lambda _: self._act(lambda u: auth.set_role(ws, self.user, u, "user")))
        self.disable.on_click(lambda _: self._act(lambda u: auth.set_disabled(ws, self.user, u, True)))
        self.enable.on_click(lambda _: self._act(lambda u: auth.set_disabled(ws, self.user, u, False)))
        self.delete.on_click(self._ask_delete)
        self.all_runs = ResultsPanel(ws, user, everyone=True)
        super().__init__([w.HTML("<h3>Users</h3>"), self.users, self.picker,
                          w.HBox([self.make_admin, self.make_user, self.disable, self.enable, self.delete]),
                          self.confirm, self.message, w.HTML("<h3>All runs</h3>"), self.all_runs])
        self.add_class("nocode-admin")
        self.refresh()

    @serialized
    def refresh(self) -> None:
        def work():
            rows = usage(self.ws, self.user)
            self.users.value = html_table(["user", "role", "status", "datasets", "runs", "disk"], [
                [esc(r.user.username), r.user.role, "disabled" if r.user.disabled else "active", r.datasets, r.runs,
                 mib(r.bytes)] for r in rows])
            self.picker.options, self.picker.value = options_of([(r.user.username, r.user.id) for r in rows],
                                                                self.picker.value)
            self.all_runs.refresh()
        report_errors(self.message, work)

    def _act(self, action) -> None:
        def work():
            action(self.picker.value)
            self.refresh()
            self.message.show("Done.", "ok")
        report_errors(self.message, work)

    def _ask_delete(self, _=None) -> None:
        target = self.picker.value
        yes, no = w.Button(description="Yes, delete", button_style="danger"), w.Button(description="No")

        def really(_):
            self.confirm.children = []
            self._act(lambda u: auth.delete_account(self.ws, self.user, target))
        yes.on_click(really)
        no.on_click(lambda _: setattr(self.confirm, "children", []))
        self.confirm.children = [w.HTML("<b>Delete this user with all their datasets and models?</b>"), yes, no]

"""Admin (administrators only): users (create, make admin or teacher, disable, unlock, reset a password,
delete), all runs, disk used per user against the quota. Every action re-checks that the signed-in
user is an administrator, and acts on the user chosen when it was asked."""

from __future__ import annotations

import ipywidgets as w

from ..accounts import auth
from ..accounts.usage import usage
from ..accounts.auth import User
from ..accounts.quota import human_bytes
from ..workspace import Workspace
from ..accounts.signins import end_all
from .parts import (Collapsible, Message, SessionPanel, ask, card, esc, html_table, on_enter, options_of, report_errors,
                    serialized, status_bar)
from .results import ResultsPanel


class AdminPanel(SessionPanel):
    def __init__(self, ws: Workspace, user: User):
        self.message = Message()
        self.users = w.HTML()
        self.page = 0  # the page of users shown (the server clamps it)
        self.previous_page = w.Button(description="Previous users", icon="chevron-left")
        self.next_page = w.Button(description="Next users", icon="chevron-right")
        self.page_note = w.HTML()
        self.picker = w.Dropdown(description="User")
        self.make_admin = w.Button(description="Make admin")
        self.make_teacher = w.Button(description="Make teacher", tooltip="teachers make classes and assignments")
        self.make_user = w.Button(description="Make regular user")
        self.disable = w.Button(description="Disable", button_style="warning")
        self.enable = w.Button(description="Enable")
        self.unlock = w.Button(description="Unlock")
        self.devices = w.Button(description="Sign out all devices", tooltip="end every sign-in of this person, and their open pages")
        self.delete = w.Button(description="Delete user", button_style="danger")
        self.new_password = w.Password(continuous_update=False, placeholder="new password for this user", description="New password",
                                       style={"description_width": "initial"})
        self.reset = w.Button(description="Set password")
        self.new_name = w.Text(continuous_update=False, placeholder="username of a new account", description="Username")
        self.first_password = w.Password(continuous_update=False, placeholder="their first password", description="Password")
        self.create = w.Button(description="Create account", icon="user-plus")
        self.confirm = w.HBox()
        self.make_admin.on_click(lambda _: self._act(lambda u: auth.set_role(ws, self.user, u, "admin")))
        self.make_teacher.on_click(lambda _: self._act(lambda u: auth.set_role(ws, self.user, u, "teacher")))
        self.make_user.on_click(lambda _: self._act(lambda u: auth.set_role(ws, self.user, u, "user")))
        self.disable.on_click(lambda _: self._act(lambda u: auth.set_disabled(ws, self.user, u, True)))
        self.enable.on_click(lambda _: self._act(lambda u: auth.set_disabled(ws, self.user, u, False)))
        self.unlock.on_click(lambda _: self._act(lambda u: auth.unlock(ws, self.user, u)))
        self.devices.on_click(lambda _: self._act(lambda u: end_all(ws, self.user, u),
                                                  done="Every sign-in of this user has ended; their open pages end within seconds."))
        on_enter(self.new_password, self._reset_password)
        on_enter(self.first_password, self._create)
        self.reset.on_click(self._reset_password)
        self.create.on_click(self._create)
        self.delete.on_click(self._ask_delete)
        self.previous_page.on_click(lambda _: self._turn(-1))
        self.next_page.on_click(lambda _: self._turn(+1))
        self.all_runs = ResultsPanel(ws, user, everyone=True)
        wrap = w.Layout(flex_flow="row wrap")
        super().__init__(ws, user, [
            card("Users", [self.users, w.HBox([self.previous_page, self.next_page, self.page_note]), self.picker,
                           w.HBox([self.make_admin, self.make_teacher, self.make_user, self.enable, self.unlock, self.devices, self.disable,
                                   self.delete], layout=wrap),
                           w.HBox([self.new_password, self.reset], layout=wrap), status_bar(self.confirm, self.message)]),
            Collapsible("New account", [w.HBox([self.new_name, self.first_password, self.create], layout=wrap)]),
            Collapsible("Everyone's runs", [self.all_runs])], "nocode-admin")
        self.refresh()

    @serialized
    def refresh(self) -> None:
        def work():
            shown = usage(self.ws, self.user, self.page)
            self.page = shown.page
            self.users.value = html_table(["user", "role", "status", "datasets", "runs", "disk"], [
                [esc(r.user.username), r.user.role,
                 "disabled" if r.user.disabled else ("locked" if r.locked else "active"), r.datasets, r.runs,
                 f"{human_bytes(r.bytes)} of {human_bytes(r.limit)}"] for r in shown.rows])
            self.page_note.value = (f"<small>Users {shown.first}-{shown.first + len(shown.rows) - 1} of "
                                    f"{len(shown.users)}</small>" if shown.pages > 1 else "")
            self.previous_page.disabled, self.next_page.disabled = shown.page == 0, shown.page >= shown.pages - 1
            self.picker.options, self.picker.value = options_of([(u.username, u.id) for u in shown.users],
                                                                self.picker.value)
            self.all_runs.refresh()
        report_errors(self.message, work)

    def _turn(self, by: int) -> None:
        self.page = max(0, self.page + by)
        self.refresh()

    def _act(self, action, target: str | None = None, done: str = "Done.") -> None:
        target = target or self.picker.value

        def work():
            action(target)
            self.refresh()
            self.message.show(done, "ok")
        report_errors(self.message, work)

    def _reset_password(self, _=None) -> None:
        password, self.new_password.value = self.new_password.value, ""
        self._act(lambda u: auth.reset_password(self.ws, self.user, u, password),
                  done="Password set. Their open pages are signed out; tell them the new password.")

    def _create(self, _=None) -> None:
        name, password = self.new_name.value, self.first_password.value
        self.first_password.value = ""

        def work():
            made = auth.create_account(self.ws, self.user, name, password)
            self.new_name.value = ""
            self.refresh()
            self.message.show(f"Created {made.username}.", "ok")
        report_errors(self.message, work)

    def _ask_delete(self, _=None) -> None:
        target, label = self.picker.value, self.picker.label  # bound now, not at Yes time
        if target:
            ask(self.confirm, f"Delete the user {label} with all their datasets and models?",
                lambda: self._act(lambda u: auth.delete_account(self.ws, self.user, u), target), self.message)

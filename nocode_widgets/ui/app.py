"""The app shell: the login panel until someone signs in, then tabs (Datasets, Train, Results,
Test, and Admin for administrators); Log out returns to the login panel. Nothing else is reachable
before login, and each panel re-checks the user on every action."""

from __future__ import annotations

import ipywidgets as w

from .. import auth
from ..workspace import Workspace
from .common import Message, close_tree, report_errors, set_tab_titles
from .login import LoginPanel


class App(w.VBox):
    def __init__(self, ws: Workspace | None = None, poll_interval: float = 1.0):
        self.ws = ws or Workspace.open()
        self.poll_interval = poll_interval
        self.user: auth.User | None = None
        self.panels: dict[str, w.Widget] = {}
        self.who = w.HTML()
        self.logout_button = w.Button(description="Log out", icon="sign-out")
        self.logout_button.on_click(self.log_out)
        self.message = Message()
        self.login = LoginPanel(self.ws, on_login=self._signed_in)
        self.tabs = w.Tab()
        self.tabs.observe(self._tab_changed, names="selected_index")
        self.body = w.VBox([self.login])
        super().__init__([w.HTML("<h2>No-code image classifier</h2>"), self.body, self.message])
        self.add_class("nocode-app")

    def _signed_in(self, user: auth.User) -> None:
        from .admin import AdminPanel  # the panels (and torch) load once someone has signed in
        from .datasets import DatasetsPanel
        from .predict import TestPanel
        from .results import ResultsPanel
        from .train import TrainPanel

        self.user = user
        self.who.value = f"Signed in as <b>{user.username}</b>" + (" (admin)" if user.is_admin else "")
        results = ResultsPanel(self.ws, user)
        test = TestPanel(self.ws, user)

        def finished(run):
            results.refresh(select=run.id)
            test.refresh()

        self.panels = {"Datasets": DatasetsPanel(self.ws, user, on_change=lambda: self.panels["Train"].refresh()),
                       "Train": TrainPanel(self.ws, user, self.poll_interval, on_finished=finished),
                       "Results": results, "Test": test}
        if user.is_admin:
            self.panels["Admin"] = AdminPanel(self.ws, user)
        self.tabs.children = list(self.panels.values())
        set_tab_titles(self.tabs, list(self.panels))
        self.tabs.selected_index = 0
        self.body.children = [w.HBox([self.who, self.logout_button]), self.tabs]

    def _tab_changed(self, change) -> None:
        """Show fresh data when a tab is opened (another tab or device may have changed it)."""
        if self.user is None or change["new"] is None:
            return
        panel = list(self.panels.values())[change["new"]]
        report_errors(self.message, lambda: (auth.current_user(self.ws, self.user), panel.refresh()))

    def log_out(self, _=None) -> None:
        """Forget the user and close every panel widget: an old panel's buttons cannot act any more."""
        self.user = None
        for panel in self.panels.values():
            close_tree(panel)
        self.panels = {}
        self.tabs.children = []
        self.login = LoginPanel(self.ws, on_login=self._signed_in)
        self.body.children = [self.login]

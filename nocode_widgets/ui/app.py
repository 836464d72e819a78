"""The app shell: the login panel until someone signs in, then their workspace; log out returns to
the login panel. Nothing else is reachable before login."""

from __future__ import annotations

import ipywidgets as w

from .. import auth
from ..workspace import Workspace
from .common import Message, busy
from .login import LoginPanel


class App(w.VBox):
    def __init__(self, ws: Workspace | None = None):
        self.ws = ws or Workspace.open()
        self.user: auth.User | None = None
        self.header = w.HTML("<h2>No-code image classifier</h2>")
        self.who = w.HTML()
        self.logout_button = w.Button(description="Log out", icon="sign-out")
        self.logout_button.on_click(self.log_out)
        self.message = Message()
        self.login = LoginPanel(self.ws, on_login=self._signed_in)
        self.body = w.VBox([self.login])
        super().__init__([self.header, self.body, self.message])
        self.add_class("nocode-app")

    def _signed_in(self, user: auth.User) -> None:
        self.user = user
        self.who.value = f"Signed in as <b>{user.username}</b>" + (" (admin)" if user.is_admin else "")
        bar = w.HBox([self.who, self.logout_button])
        self.body.children = [bar, *self.main_panels(user)]

    def main_panels(self, user: auth.User) -> list[w.Widget]:
        """What a signed-in user sees."""
        return [w.HTML("<p>Your datasets and models will appear here.</p>")]

    def log_out(self, _=None) -> None:
        with busy(self.logout_button, self.message):
            self.user = None
            self.login = LoginPanel(self.ws, on_login=self._signed_in)
            self.body.children = [self.login]

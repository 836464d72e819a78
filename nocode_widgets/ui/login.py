"""Sign up / log in inside the kernel, where no web server of ours stands in front (JupyterLab, Colab).
Calls `on_login(user)` once the password checks out. Nothing is remembered in the browser: a new kernel
asks again."""

from __future__ import annotations

from typing import Callable

import ipywidgets as w

from ..accounts import auth
from ..errors import AuthError
from ..workspace import Workspace
from .parts import Background, Message, on_enter


class LoginPanel(w.VBox):
    def __init__(self, ws: Workspace, on_login: Callable[[auth.User], None] | None = None):
        self.ws = ws
        self.on_login = on_login or (lambda user: None)
        self.username = w.Text(continuous_update=False, description="Username", placeholder="3 to 32 letters or digits")
        self.password = w.Password(continuous_update=False, description="Password", placeholder="at least 8 characters")
        self.login_button = w.Button(description="Log in", button_style="primary", icon="sign-in")
        self.signup_button = w.Button(description="Create account", icon="user-plus",
                                      layout=w.Layout(display="" if ws.settings.signup == "open" else "none"))
        self.new_password = w.Password(continuous_update=False, description="New password",
                                       placeholder="your own: 8 characters or more", style={"description_width": "initial"})
        self.repeat = w.Password(continuous_update=False, description="Repeat it", style={"description_width": "initial"})
        self.save_button = w.Button(description="Save and continue", button_style="primary", icon="check")
        self.choose = w.VBox([w.HTML("<p>You signed in with a password you were given. Choose one of your own now; "
                                     "the one you were given stops working.</p>"), self.new_password, self.repeat,
                              self.save_button], layout=w.Layout(display="none"))
        self._one_time: tuple[str, str] | None = None  # (user id, stamp) of an account that proved its one-time password
        self.message = Message()
        self.work = Background()
        on_enter(self.username, self._log_in)
        on_enter(self.password, self._log_in)
        self.login_button.on_click(self._log_in)
        self.signup_button.on_click(self._sign_up)
        self.save_button.on_click(self._choose)
        super().__init__([
            w.HTML("<h3>Welcome</h3><p>Log in, or create an account to start training image classifiers.</p>"),
            self.username, self.password,
            w.HBox([self.login_button, self.signup_button]), self.choose,
            self.message, w.HTML(_policy_note(ws)),
        ])
        self.add_class("nocode-login")

    def _log_in(self, _=None) -> None:
        self.message.clear()
        self.work.run([self.login_button, self.signup_button], self.message,
                      lambda: self._done(auth.log_in(self.ws, self.username.value, self.password.value)),
                      threaded=False)

    def _sign_up(self, _=None) -> None:
        self.message.clear()
        self.work.run([self.login_button, self.signup_button], self.message,
                      lambda: self._done(auth.sign_up_on_page(self.ws, self.username.value, self.password.value)),
                      threaded=False)

    def _choose(self, _=None) -> None:
        def save():
            if self._one_time is None:
                return
            if self.new_password.value != self.repeat.value:
                raise AuthError("The two passwords differ. Please type them again.")
            user = auth.replace_one_time_password(self.ws, *self._one_time, self.new_password.value)
            self._one_time, self.new_password.value, self.repeat.value = None, "", ""
            self.choose.layout.display = "none"
            self._done(user)
        self.message.clear()
        self.work.run([self.save_button], self.message, save, threaded=False)

    def _done(self, user: auth.User) -> None:
        self.password.value = ""
        if user.must_change:  # a one-time password opens only the form for one's own
            self._one_time = (user.id, user.stamp)
            self.choose.layout.display = ""
            self.message.show("Please choose your own password to continue.", "info")
            return
        self.message.show(f"Signed in as {user.username}.", "ok")
        self.on_login(user)


def _policy_note(ws: Workspace) -> str:
    """What a visitor should know before trying to create an account on this server."""
    if ws.settings.signup == "closed":
        return "<small>New accounts are made by an administrator on this server.</small>"
    if not ws.settings.served_on_loopback and not auth.has_accounts(ws):
        return ("<small>This server has no administrator yet: the person who runs it creates the first one with "
                "<code>nocode user add NAME --admin</code>.</small>")
    return ""

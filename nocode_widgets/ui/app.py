"""The app shell: the login panel until someone signs in, then tabs (Datasets, Train, Results,
Test, and Admin for administrators) built inside that sign-in's `Session`. When the session ends
(Log out, idle, the account disabled, deleted or given a new password elsewhere) every widget it
made is closed and the login panel returns with the reason.

"Keep me signed in on this device": the browser's `DeviceKey` sends its token when the page opens;
a valid one signs in without the login form (which stays hidden until the browser has answered, or
for `reveal_after` seconds). Log out revokes that device and the browser forgets the token."""

from __future__ import annotations

import threading

import ipywidgets as w

from ..accounts import auth, remember
from ..errors import AuthError
from ..accounts.session import LOGGED_OUT, Session
from ..workspace import Workspace
from .parts import Message, close_tree, report_errors, set_children, set_tab_titles
from .device import DeviceKey
from .guard import active, start_thread
from .login import LoginPanel


class App(w.VBox):
    def __init__(self, ws: Workspace | None = None, poll_interval: float = 1.0, check_interval: float = 30.0,
                 reveal_after: float = 3.0):
        self.ws = ws or Workspace.open()
        self.poll_interval, self.check_interval = poll_interval, check_interval
        self.session: Session | None = None
        self.device_token: str | None = None
        self.panels: dict[str, w.Widget] = {}
        self.tabs: w.Tab | None = None
        self.message = Message()
        self.login = LoginPanel(self.ws, on_login=self._signed_in)
        self.login.layout.visibility = "hidden"  # until the browser says whether it remembers someone
        self._reveal_timer = threading.Timer(reveal_after, self._reveal_login)
        self._reveal_timer.daemon = True
        self._reveal_timer.start()
        self.device = DeviceKey(on_token=self._device_token)
        self.body = w.VBox([self.login])
        super().__init__([w.HTML("<h2>No-code image classifier</h2>"), self.body, self.message, self.device])
        self.add_class("nocode-app")

    @property
    def user(self) -> auth.User | None:
        return None if self.session is None else self.session.signed_in_as

    def _device_token(self, token: str | None) -> None:
        """The browser's answer: sign in with a remembered device, else show the login form."""
        if self.session is not None and not self.session.ended:
            return
        try:
            user = remember.sign_in_with_token(self.ws, token) if token else None
        except AuthError:
            user = None
            self.device.forget()
        if user is None:
            self._reveal_login()
        else:
            self.device_token = token
            self._signed_in(user)

    def _reveal_login(self) -> None:
        if self.login is not None:
            self.login.layout.visibility = "visible"

    def _signed_in(self, user: auth.User, keep: bool = False) -> None:
        if keep:
            self.device_token = remember.remember_device(self.ws, user)
            self.device.store(self.device_token)
        session = Session(self.ws, user)
        session.on_end(self._ended)
        self.session = session
        old_login, self.login = self.login, None
        with active(session), session.opening():
            self._build(session)
        close_tree(old_login)
        self.message.clear()
        start_thread(self._watch, session)

    def _build(self, session: Session) -> None:
        from .admin import AdminPanel  # the panels load once someone has signed in
        from .datasets import DatasetsPanel
        from .tester import TestPanel
        from .results import ResultsPanel
        from .train import TrainPanel

        user = session.user
        results, test = ResultsPanel(self.ws, session), TestPanel(self.ws, session)

        def finished(run):
            results.refresh(select=run.id)
            test.refresh()

        self.panels = {"Datasets": DatasetsPanel(self.ws, session, on_change=lambda: self.panels["Train"].refresh()),
                       "Train": TrainPanel(self.ws, session, self.poll_interval, on_finished=finished),
                       "Results": results, "Test": test}
        if user.is_admin:
            self.panels["Admin"] = AdminPanel(self.ws, session)
        self.tabs = w.Tab(children=list(self.panels.values()))
        set_tab_titles(self.tabs, list(self.panels))
        self.tabs.selected_index = 0
        self.tabs.observe(self._tab_changed, names="selected_index")
        who = w.HTML(f"Signed in as <b>{user.username}</b>" + (" (admin)" if user.is_admin else ""))
        logout = w.Button(description="Log out", icon="sign-out")
        logout.on_click(self.log_out)
        self.logout_button = logout
        set_children(self.body, [w.HBox([who, logout]), self.tabs])

    def _tab_changed(self, change) -> None:
        """Show fresh data when a tab is opened (another tab or device may have changed it)."""
        if change["new"] is None or not self.panels:
            return
        panel = list(self.panels.values())[change["new"]]
        report_errors(self.message, lambda: (self.session.check(), panel.refresh()))

    def _watch(self, session: Session) -> None:
        """End the session on its own when idle too long or the account changed, even with no click."""
        stop = threading.Event()
        session.on_end(lambda _: stop.set())
        while not stop.wait(self.check_interval):
            try:
                session.check()
            except AuthError:
                return
            except Exception:  # noqa: BLE001 - a busy store: look again next time
                continue

    def log_out(self, _=None) -> None:
        if self.session is not None:
            self.session.end()

    def _ended(self, reason: str) -> None:
        """The session's widgets are closed already; show the login panel with the reason. Logging out
        also revokes this device ("keep me signed in" ends with it)."""
        if reason == LOGGED_OUT and self.device_token:
            remember.forget_device(self.ws, self.device_token)
            self.device.forget()
            self.device_token = None
        self.panels, self.tabs = {}, None
        self.login = LoginPanel(self.ws, on_login=self._signed_in)
        set_children(self.body, [self.login])
        self.message.show(reason, "info" if reason.startswith("You have logged out") else "warn")

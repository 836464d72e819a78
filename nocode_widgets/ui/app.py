"""The app shell: tabs (Datasets, Train, Results, Test, Class, and Admin for administrators) built inside a
sign-in's `Session`. When the session ends (Log out, idle, the account disabled, deleted or given a new
password elsewhere) every widget it made is closed and the page says why.

Served by `nocode serve`, the person signed in at the web server's door (`door.py`) before this kernel
started, and the notebook's cell carries a one-time ticket: the kernel redeems it against the store and
so learns whom it serves, never from the browser. The page then ends with its sign-in too (Log out in
another tab, "Sign out all devices"), checked every `door_check_interval` seconds. Opened elsewhere
(JupyterLab, Colab) there is no door: the login panel signs in inside the kernel."""

from __future__ import annotations

import os
import re
import threading

import ipywidgets as w

from ..accounts import auth, signins
from ..errors import AuthError, NocodeError
from ..accounts.session import Session
from ..workspace import Workspace
from .parts import Message, Stylesheet, close_tree, esc, report_errors, set_children, set_tab_titles
from .guard import active, start_thread
from .login import LoginPanel
from .server_watch import ServerWatch

NO_TICKET = "This page could not confirm your sign-in (it may have been open too long before loading). Please reload."


class App(w.VBox):
    def __init__(self, ws: Workspace | None = None, poll_interval: float = 1.0, check_interval: float = 30.0,
                 ticket: str = "", door_check_interval: float = 2.0):
        self.ws = ws or Workspace.open()
        self.poll_interval, self.check_interval = poll_interval, check_interval
        self.session: Session | None = None
        self.at_door = bool(ticket)
        self.panels: Panels | dict = {}
        self.tabs: w.Tab | None = None
        self.message = Message()
        self.login = None if self.at_door else LoginPanel(self.ws, on_login=self._signed_in)
        self.body = w.VBox([self.login] if self.login else [])
        self.server_watch = ServerWatch()  # made before any session: it belongs to none
        self.header = w.HBox([w.HTML("<h1>No-code image classifier</h1>")])  # who is signed in joins it
        self.header.add_class("nocode-header")
        self.header.children[0].add_class("nocode-brand")
        super().__init__([self.header, self.body, self.message, self.server_watch, Stylesheet()])
        self.add_class("nocode-app")
        self.add_class("nocode-ui")
        if self.at_door:
            self.check_interval = min(check_interval, door_check_interval)
            self._redeem(ticket)

    def _redeem(self, ticket: str) -> None:
        try:
            user, signin_id = signins.redeem_ticket(self.ws, ticket, _kernel_id(), os.getpid())
        except NocodeError as exc:
            self._show_ended(NO_TICKET if isinstance(exc, AuthError) else str(exc))
            return
        self._signed_in(user, signin_id=signin_id)

    @property
    def user(self) -> auth.User | None:
        return None if self.session is None else self.session.signed_in_as

    def _signed_in(self, user: auth.User, signin_id: str = "") -> None:
        session = Session(self.ws, user, signin_id=signin_id)
        session.on_end(self._ended)
        self.session = session
        old_login, self.login = self.login, None
        with active(session), session.opening():
            self._build(session)
        if old_login is not None:
            close_tree(old_login)
        self.message.clear()
        start_thread(self._watch, session)

    def _build(self, session: Session) -> None:
        """The shell and the first tab now; every other panel the first time its tab is opened (or it is
        asked for), so signing in shows a usable page sooner and the browser draws fewer widgets."""
        user = session.user

        def finished(run):
            for name in ("Results", "Test"):
                if self.panels.built(name):
                    self.panels[name].refresh(**({"select": run.id} if name == "Results" else {}))

        factories = {"Datasets": lambda: _panel("datasets", "DatasetsPanel")(
                         self.ws, session, on_change=lambda: self.panels.built("Train") and self.panels["Train"].refresh()),
                     "Train": lambda: _panel("train", "TrainPanel")(self.ws, session, self.poll_interval,
                                                                     on_finished=finished),
                     "Results": lambda: _panel("results", "ResultsPanel")(self.ws, session),
                     "Test": lambda: _panel("tester", "TestPanel")(self.ws, session),
                     "Class": lambda: _panel("classroom", "ClassPanel")(self.ws, session)}
        if user.is_admin:
            factories["Admin"] = lambda: _panel("admin", "AdminPanel")(self.ws, session)
        self.tabs = w.Tab(children=[w.VBox() for _ in factories])
        set_tab_titles(self.tabs, list(factories))
        self.panels = Panels(factories, self.tabs, session)
        self.panels["Datasets"]
        self.tabs.selected_index = 0
        self.tabs.observe(self._tab_changed, names="selected_index")
        who = w.HTML(f"Signed in as <b>{esc(user.username)}</b>" + (f" ({user.role})" if user.role != "user" else ""))
        logout = w.Button(description="Log out", icon="sign-out")
        logout.on_click(self.log_out)
        self.logout_button = logout
        set_children(self.header, [self.header.children[0], who, logout])
        set_children(self.body, [self.tabs])

    def _tab_changed(self, change) -> None:
        """Build a panel the first time its tab is opened; otherwise show fresh data (another tab or device
        may have changed it)."""
        if change["new"] is None or not self.panels:
            return
        name = list(self.panels)[change["new"]]

        def open_tab():
            self.session.check()
            if self.panels.built(name):
                self.panels[name].refresh()
            else:
                self.panels[name]  # built now, with fresh data

        report_errors(self.message, open_tab)

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
        """Log out: at the door, the sign-in ends, and with it every page of it (other tabs within seconds)."""
        if self.session is not None:
            if self.session.signin_id:
                report_errors(self.message, lambda: signins.end(self.ws, self.session.signin_id))
            self.session.end()

    def _ended(self, reason: str) -> None:
        """The session's widgets are closed already; say why, and offer to sign in again."""
        self.panels, self.tabs = {}, None
        set_children(self.header, [self.header.children[0]])
        if self.at_door:
            self._show_ended(reason)
            return
        self.login = LoginPanel(self.ws, on_login=self._signed_in)
        set_children(self.body, [self.login])
        self.message.show(reason, "info" if reason.startswith("You have logged out") else "warn")

    def _show_ended(self, reason: str) -> None:
        base = os.environ.get("VOILA_BASE_URL", "/")
        set_children(self.body, [w.HTML(f'<p><a href="{base}login">Sign in again</a></p>')])
        self.message.show(reason, "info" if reason.startswith("You have logged out") else "warn")


class Panels:
    """The app's panels by tab name, each built (inside its session) the first time it is asked for, and
    put in its tab in place of the empty box that held the place."""

    def __init__(self, factories: dict, tabs: w.Tab, session: Session):
        self._factories, self._tabs, self._session = factories, tabs, session
        self._built: dict[str, w.Widget] = {}

    def __getitem__(self, name: str) -> w.Widget:
        if name not in self._built:
            with active(self._session):
                panel = self._factories[name]()
            self._built[name] = panel
            children = list(self._tabs.children)
            placeholder = children[list(self._factories).index(name)]
            children[list(self._factories).index(name)] = panel
            self._tabs.children = children
            placeholder.close()
        return self._built[name]

    def built(self, name: str) -> bool:
        return name in self._built

    def __iter__(self):
        return iter(self._factories)

    def __len__(self) -> int:
        return len(self._factories)

    def __contains__(self, name) -> bool:
        return name in self._factories

    def values(self) -> list[w.Widget]:
        """Every panel, built now if not yet (tests and tools that walk all of them)."""
        return [self[name] for name in self._factories]


def _panel(module: str, name: str):
    """A panel class, imported when first needed: the panels load once someone has signed in."""
    from importlib import import_module

    return getattr(import_module(f".{module}", __package__), name)


def _kernel_id() -> str:
    """This kernel's id, as the web server knows it (its connection file is `kernel-<id>.json`)."""
    try:
        from ipykernel.connect import get_connection_file

        found = re.search(r"kernel-([0-9a-f-]{36})\.json$", get_connection_file())
    except Exception:  # noqa: BLE001 - not in a kernel (a test): no websocket will ask for it anyway
        found = None
    return found.group(1) if found else ""

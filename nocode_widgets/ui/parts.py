"""Small pieces every panel uses: the session a panel acts for, plain-word messages, one piece of work
at a time off the main thread with its buttons disabled, errors without tracebacks, replacing and
closing widgets, confirmations bound to their target, and the differences between ipywidgets 7.7 and 8."""

from __future__ import annotations

import base64
import functools
import html
import logging
import re
import threading
from pathlib import Path
from typing import Callable

import anywidget
import ipywidgets as w

from ..errors import NocodeError
from ..accounts.session import Session, as_session
from ..datasets.uploads import UploadFolder
from ..workspace import Workspace
from .guard import start_thread

log = logging.getLogger("nocode_widgets.ui")

IPYWIDGETS_8 = int(w.__version__.split(".")[0]) >= 8
GENERIC_ERROR = "Something went wrong. Please try again; if it keeps happening, tell an administrator."
BUSY = "That is still running. Please wait for it to finish."
FIGURE_WIDTH = "640px"  # figures sit beside the text, not across the whole page


STATIC = Path(__file__).resolve().parent / "static"


def front_end(name: str) -> str:
    """The JavaScript module of one of our anywidgets (`ui/static/NAME`)."""
    return (STATIC / name).read_text(encoding="utf-8")


class Stylesheet(anywidget.AnyWidget):
    """Puts `ui/static/nocode.css` on the page (anywidget adds it to the document once); shows nothing."""

    _esm = "export default { render({ el }) { el.style.display = 'none'; } };"
    _css = front_end("nocode.css")


class SessionPanel(w.VBox):
    """A panel that acts for one session. `self.user` is the signed-in user as the store knows them now
    (an AuthError once the session ended), so every action re-checks who is asking. It brings the
    stylesheet along, so it looks the same alone in JupyterLab as inside the app."""

    def __init__(self, ws: Workspace, who, children, css_class: str):
        self.ws = ws
        self.session: Session = as_session(ws, who)
        super().__init__([*children, Stylesheet()])
        self.add_class(css_class)
        self.add_class("nocode-ui")

    @property
    def user(self):
        return self.session.user

    def upload_folder(self, nbytes: int) -> UploadFolder:
        """A temp folder for an upload arriving, in the signed-in person's space, with `nbytes` reserved."""
        return UploadFolder(self.ws, self.user.id, nbytes)

    def passing_folder(self, nbytes: int) -> UploadFolder:
        """The same for files read and removed at once (pictures to test): within the upload limit only."""
        return UploadFolder(self.ws, self.user.id, nbytes, reserve=False)

    def refusal(self, work: "Background") -> str | None:
        """Why new work cannot start now (the session ended, or the panel's work still runs), or None."""
        try:
            self.session.check()
        except NocodeError as exc:
            return str(exc)
        return BUSY if work.busy else None


class Message(w.HTML):
    """An inline line of text in plain words (errors in red, success in green)."""

    def show(self, text: str, kind: str = "info") -> None:
        self.value = f'<span class="nocode-msg nocode-{kind}" role="status">{html.escape(text)}</span>'

    def clear(self) -> None:
        self.value = ""

    @property
    def text(self) -> str:
        return html.unescape(re.sub(r"<[^>]+>", "", self.value))


def serialized(method):
    """One at a time per panel: a refresh from the run watcher's thread and one from a click must not
    interleave (ipywidgets batches a widget's sync messages per widget, not per thread, so two
    threads updating one widget can lose an update and leave the page stale)."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        lock = self.__dict__.setdefault("_ui_lock", threading.RLock())
        with lock:
            return method(self, *args, **kwargs)

    return wrapper


def report_errors(message: Message, work: Callable[[], None]) -> None:
    """Run `work`; a user error shows its own words, anything else a short line (the log keeps it)."""
    try:
        work()
    except NocodeError as exc:
        message.show(str(exc), "error")
    except Exception:  # never a traceback on the page
        log.exception("unexpected error in a panel")
        message.show(GENERIC_ERROR, "error")


BACKGROUND = "nocode-background"  # the name of the threads Background starts


class Background:
    """Long work runs in a thread, so the page never freezes; its buttons are disabled meanwhile. One
    piece of work at a time per panel: a click that arrives meanwhile (a disabled button can still be
    clicked by a crafted message) only gets "still running". `wait()` lets tests block until done."""

    def __init__(self):
        self.thread: threading.Thread | None = None
        self._busy = threading.Lock()

    @property
    def busy(self) -> bool:
        return self._busy.locked()

    def run(self, buttons, message: Message, work: Callable[[], None], threaded: bool = True) -> bool:
        """Start `work`; False (and a message) when the panel's previous work still runs."""
        if not self._busy.acquire(blocking=False):
            message.show(BUSY, "warn")
            return False
        buttons = buttons if isinstance(buttons, (list, tuple)) else [buttons]
        for b in buttons:
            b.disabled = True

        def target():
            try:
                report_errors(message, work)
            finally:
                for b in buttons:
                    b.disabled = False
                self._busy.release()

        if not threaded:
            target()
        else:
            self.thread = start_thread(target, name=BACKGROUND)
        return True

    def wait(self, timeout: float = 120) -> None:
        if self.thread is not None:
            self.thread.join(timeout)


def close_tree(widget: w.Widget) -> None:
    """Close a widget and everything inside it (their layouts and styles too): their comms end, so
    the browser (or a crafted message) can no longer reach their callbacks, and none stays alive."""
    for child in getattr(widget, "children", ()):
        close_tree(child)
    for part in ("layout", "style"):
        if isinstance(getattr(widget, part, None), w.Widget):
            getattr(widget, part).close()
    widget.close()


def set_children(box: w.Box, children) -> None:
    """Show `children` in `box` and close what they replace (live widgets stay flat under refreshes)."""
    old = list(box.children)
    box.children = list(children)
    keep = {id(c) for c in box.children}
    for child in old:
        if id(child) not in keep:
            close_tree(child)


def ask(box: w.Box, question: str, action: Callable[[], None], message: Message, yes: str = "Yes, delete") -> None:
    """A Yes/No line in `box`. The caller binds the target into `action` when asking, so changing a
    picker afterwards changes nothing; only Yes acts, and either answer closes both buttons."""
    yes_button, no_button = w.Button(description=yes, button_style="danger"), w.Button(description="No")

    def answer(do: bool) -> None:
        set_children(box, [])
        if do:
            report_errors(message, action)

    yes_button.on_click(lambda _: answer(True))
    no_button.on_click(lambda _: answer(False))
    set_children(box, [w.HTML(f"<b>{html.escape(question)}</b>"), yes_button, no_button])


def on_enter(text: w.Text, action: Callable[[], None]) -> None:
    """Pressing Enter in `text` does `action` (as a form's submit button would); ipywidgets 7.7 and 8."""
    text.continuous_update = True  # Enter's submit can reach the kernel before a value sent only on leaving the field
    import warnings

    with warnings.catch_warnings():  # 8.x deprecates on_submit but still sends it; 7.7 has nothing else
        warnings.simplefilter("ignore", DeprecationWarning)
        text.on_submit(lambda _: action())


def card(title: str, children, css_class: str = "") -> w.VBox:
    """A card (a section of a panel), titled unless `title` is empty."""
    heading = [w.HTML(f"<h2>{html.escape(title)}</h2>", layout=w.Layout(margin="0"))] if title else []
    box = w.VBox([*heading, *children])
    box.add_class("nocode-card")
    if heading:
        heading[0].add_class("nocode-card-title")
    if css_class:
        box.add_class(css_class)
    return box


class Collapsible(w.VBox):
    """A card whose body opens and closes with its title, a button (Enter or Space from the keyboard)."""

    def __init__(self, title: str, children, opened: bool = False, css_class: str = ""):
        self.title = title
        self.toggle = w.Button(layout=w.Layout(width="auto"))
        self.toggle.add_class("nocode-card-toggle")
        self.body = w.VBox(list(children))
        self.toggle.on_click(lambda _: self.show(not self.opened))
        super().__init__([self.toggle, self.body])
        self.add_class("nocode-card")
        if css_class:
            self.add_class(css_class)
        self.show(opened)

    @property
    def opened(self) -> bool:
        return self.body.layout.display != "none"

    def show(self, opened: bool = True) -> None:
        self.body.layout.display = "" if opened else "none"
        self.toggle.description = f"{'▾' if opened else '▸'} {self.title}"
        self.toggle.tooltip = f"{'Hide' if opened else 'Show'} {self.title.lower()}"


def status_bar(confirm: w.Box, message: Message) -> w.VBox:
    """A panel's confirmation questions and messages, kept in view at the bottom of the window while it
    scrolls, so a question asked about a button far down the page is seen."""
    bar = w.VBox([confirm, message])
    bar.add_class("nocode-status")
    return bar


class Picture(w.HTML):
    """A picture (JPEG or PNG bytes) with a text a screen reader announces: an <img alt> (ipywidgets' Image has
    no alt, and its tooltip breaks Voila's image view). `format` and `data` are what it shows."""

    def __init__(self, data: bytes, fmt: str, alt: str, **layout):
        self.format, self.alt = fmt, alt
        super().__init__(layout=w.Layout(**layout))
        self.add_class("nocode-picture")
        self.show(data)

    def show(self, data: bytes) -> None:
        self.data = data
        src = f"data:image/{self.format};base64,{base64.b64encode(data).decode()}" if data else ""
        self.value = f'<img src="{src}" alt="{html.escape(self.alt)}">' if data else ""


def picture(data: bytes, fmt: str, alt: str, **layout) -> Picture:
    """A picture with its text for screen readers; `layout`: its size (width, max_width, display)."""
    return Picture(data, fmt, alt, **layout)


def set_tab_titles(tab: w.Tab, titles: list[str]) -> None:
    for i, title in enumerate(titles):  # set_title works in 7.7 and 8 (`.titles` is 8 only)
        tab.set_title(i, title)


def options_of(pairs: list[tuple[str, str]], current) -> tuple[list[tuple[str, str]], object]:
    """Dropdown options and a value that is among them (keep the current one when it still is)."""
    values = [v for _, v in pairs]
    return pairs, (current if current in values else (values[0] if values else None))


def html_table(headers: list[str], rows: list[list], css_class: str = "nocode-table") -> str:
    head = "".join(f"<th style='text-align:left;padding:2px 8px'>{html.escape(str(h))}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td style='padding:2px 8px'>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table class='{css_class}'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def esc(text) -> str:
    return html.escape(str(text))


def percent(value) -> str:
    return "–" if value is None else f"{value:.1%}"


def share(p: float) -> str:
    """A probability as people read it: whole percents, but never "100%" for an answer that is not certain."""
    return f"{int(p * 1000) / 10:.1f}%" if 0.995 <= p < 1 else f"{p:.0%}"


def mib(n: int) -> str:
    return f"{n / 2**20:.0f} MB"


def run_accuracy(run) -> str:
    """A run's validation accuracy as people read it ("93% accurate"), or its status."""
    value = run.metrics.get("val_accuracy")
    return f"{value:.0%} accurate" if value is not None else run.status

"""Driving panels headlessly as a browser would (torch-free, so a page-kernel test can use it too)."""

import ipywidgets as w

from nocode_widgets.ui import App
from nocode_widgets.ui.common import IPYWIDGETS_8


def upload(widget: w.FileUpload, files: dict) -> None:
    """What the browser sends when files are chosen."""
    if IPYWIDGETS_8:
        widget.set_state({"value": [{"name": n, "type": "image/jpeg", "size": len(b), "content": memoryview(b),
                                     "last_modified": 0} for n, b in files.items()]})
    else:
        widget.set_state({"data": [memoryview(b) for b in files.values()],
                          "metadata": [{"name": n, "type": "image/jpeg", "size": len(b), "lastModified": 0}
                                       for n, b in files.items()],
                          "_counter": widget._counter + len(files)})


def texts(widget) -> str:
    """All HTML text under a widget."""
    out = [getattr(widget, "value", "")] if isinstance(widget, (w.HTML, w.Label)) else []
    for child in getattr(widget, "children", ()):
        out.append(texts(child))
    return " ".join(o for o in out if isinstance(o, str))


def sign_in(app: App, name="alice", password="password-alice", new=False):
    app.login.username.value, app.login.password.value = name, password
    (app.login.signup_button if new else app.login.login_button).click()


def find_all(widget, kind) -> list:
    """Every widget of `kind` inside `widget` (depth first)."""
    found = [widget] if isinstance(widget, kind) else []
    for child in getattr(widget, "children", ()):
        found += find_all(child, kind)
    return found

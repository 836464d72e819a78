"""Driving panels headlessly as a browser would (torch-free, so a page-kernel test can use it too)."""

import ipywidgets as w

from nocode_widgets.ui import App
from nocode_widgets.ui.parts import IPYWIDGETS_8
from nocode_widgets.ui.uploader import CHUNK, Uploader


def talk(widget, content: dict, buffers=()) -> dict | None:
    """A message from the widget's front end; returns the kernel's answer (our anywidgets answer each one)."""
    answers = []
    original, widget.send = widget.send, lambda msg, buffers=None: answers.append(msg)
    try:
        widget._handle_msg({"content": {"data": {"method": "custom", "content": content}},
                            "buffers": [memoryview(b) for b in buffers]})
    finally:
        widget.send = original
    return answers[-1] if answers else None


def record(camera, pictures: list[bytes]) -> list[dict]:
    """What the camera's front end sends for one hold of "Hold to record"; the kernel's answers."""
    return [talk(camera, {"kind": "begin"}), *(talk(camera, {"kind": "frame"}, [p]) for p in pictures),
            talk(camera, {"kind": "end"})]


def upload(widget, files: dict) -> None:
    """What the browser sends when files are chosen: to our chunked Uploader, its begin / chunk / end
    messages (each answered before the next, as the page does; the panel's work starts at the end);
    to a FileUpload, its value."""
    if isinstance(widget, Uploader):
        send = lambda content, buffers=(): talk(widget, content, buffers)  # noqa: E731
        send({"kind": "begin", "files": [{"name": n, "size": len(b)} for n, b in files.items()]})
        if not widget.receiving:  # refused: the page stops and shows why
            return
        for index, data in enumerate(files.values()):
            for offset in range(0, len(data), CHUNK):
                send({"kind": "chunk", "index": index, "offset": offset}, [data[offset:offset + CHUNK]])
        send({"kind": "end"})
        return
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


def uploads_left(ws) -> list:
    """The temp folders of uploads still in anyone's space."""
    return list(ws.settings.data_dir.glob("users/*/tmp/uploads/*"))

"""A synced trait is a request, never a limit. Every widget of a signed-in page has each limit-like synced
trait (`max*`, `min`, `step`, `mode`, `multiple`, `accept`, `rate`) pushed to an extreme over the comm, as any page can;
then the server must still refuse what it refused before: an oversize upload, a second file for the zip, a
recording from the live camera, a non-picture frame, a recording past its frames, a huge training run.
A widget added later gets the same treatment without anyone writing it."""

import re

import ipywidgets as w
import pytest
import traitlets

from nocode_widgets.accounts import auth
from nocode_widgets import datasets as D
from nocode_widgets.runs import jobs
from nocode_widgets.ui import App, DatasetsPanel
from nocode_widgets.ui.uploader import CHUNK, Receiver
from tests.conftest import make_workspace
from tests.images import COLORS, class_files, make_zip, picture
from tests.training_helpers import colour_dataset, train
from tests.ui.driving import record, sign_in, talk, upload, uploads_left

LIMIT_LIKE = re.compile(r"^(max.*|min|step|mode|multiple|accept|rate)$")
MIB = 2**20


def crafted_set(widget, **state) -> None:
    widget._handle_msg({"content": {"data": {"method": "update", "state": state, "buffer_paths": []}},
                        "buffers": []})


def extreme(widget, name: str):
    """The widest value a hostile page could ask for this trait."""
    trait, now = widget.traits()[name], getattr(widget, name)
    if isinstance(trait, traitlets.Bool):
        return not now if name != "multiple" else True
    if isinstance(trait, traitlets.Unicode):
        return {"mode": "record" if now == "live" else "live", "accept": ""}.get(name, now)
    big = 10**12 if isinstance(trait, traitlets.Int) else 1e12
    return -big if name == "min" else big


def push_every_limit_to_an_extreme(app: App) -> list[tuple]:
    """Over the comm, on every widget the page's session made; returns what was set."""
    pushed = []
    for widget in app.session.owned():
        if not isinstance(widget, w.Widget) or widget.comm is None:
            continue
        for name in sorted(widget.keys):
            if LIMIT_LIKE.match(name) and name in widget.traits():
                value = extreme(widget, name)
                try:
                    crafted_set(widget, **{name: value})
                except traitlets.TraitError:  # the trait itself refused it: fine too
                    continue
                pushed.append((type(widget).__name__, name, value))
    return pushed


def signed_in_page(tmp_path):
    ws = make_workspace(tmp_path / "data", max_upload_bytes=1 * MIB)
    alice = auth.sign_up(ws, "alice", "password-alice")
    ds = colour_dataset(ws, alice, per_class=4)
    train(ws, alice, ds)  # the Test panel's camera and uploader are there for a finished run
    app = App(ws, poll_interval=0.05)
    sign_in(app)
    return ws, alice, app


@pytest.mark.slow
def test_no_synced_trait_widens_what_the_server_allows(tmp_path):
    ws, alice, app = signed_in_page(tmp_path)
    datasets, test, train_panel = app.panels["Datasets"], app.panels["Test"], app.panels["Train"]
    receivers = [x for x in app.session.owned() if isinstance(x, Receiver)]
    limits_before = {id(r): dict(r.limits) for r in receivers}
    datasets.camera.limits["max_frames"] = 2  # the server's own setting, made small to prove it holds

    pushed = push_every_limit_to_an_extreme(app)

    names = {(kind, name) for kind, name, _ in pushed}
    assert {("Uploader", "max_bytes"), ("Uploader", "multiple"), ("Uploader", "accept"), ("Camera", "mode"),
            ("Camera", "max_frames"), ("BoundedIntText", "max")} <= names
    assert {id(x) for x in (datasets.upload, datasets.zip_upload, datasets.camera, test.upload, test.camera)} <= set(map(id, receivers))
    assert datasets.upload.max_bytes == 10**12  # the page's copy did change
    assert all(r.limits == {**limits_before[id(r)], **({"max_frames": 2} if r is datasets.camera else {})}
               for r in receivers)

    # An upload over the server's limit, declared by a page that raised the widget's max_bytes.
    datasets.class_picker.value = "red"
    said = talk(datasets.upload, {"kind": "begin", "files": [{"name": "big.jpg", "size": 8 * MIB}]})
    assert said["kind"] == "error" and "the limit is 1 MB" in said["text"]
    said = talk(datasets.zip_upload, {"kind": "begin", "files": [{"name": "a.zip", "size": 10},
                                                                 {"name": "b.zip", "size": 10}]})
    assert said["kind"] == "error" and "one file" in said["text"]
    said = talk(datasets.zip_upload, {"kind": "begin", "files": [{"name": "a.exe", "size": 10}]})
    assert said["kind"] == "error" and ".zip" in said["text"]

    # The Test panel's live camera stays live, whatever its mode says now; frames must be pictures.
    assert test.camera.mode == "record"
    said = talk(test.camera, {"kind": "begin"})
    assert said["kind"] == "error" and "does not record" in said["text"]
    said = talk(datasets.camera, {"kind": "begin"})
    assert talk(datasets.camera, {"kind": "frame"}, [b"MZ" + b"\0" * 5000])["kind"] == "error"
    answers = record(datasets.camera, [picture(COLORS["red"], seed=s) for s in range(3)])
    assert answers[3]["kind"] == "error" and "as much as one recording" in answers[3]["text"]

    # Live frames come no faster than the panel's rate, whatever the page's `rate` says now.
    assert test.camera.rate == 1e12 and test.camera.limits["rate"] == 4.0
    seen = []
    test.camera.on_live = seen.append
    for s in range(5):
        assert talk(test.camera, {"kind": "live"}, [picture(seed=s)])["kind"] == "ack"
    assert len(seen) <= 2

    # Training settings past the server's ranges, in fields whose max the page raised.
    train_panel.dataset.value = train_panel.dataset.options[0][1]
    crafted_set(train_panel.auto, value=False)  # the page's own settings count
    before = len(jobs.runs(ws, alice))
    for field, value, said in ((train_panel.epochs, 10_000_000, "Max epochs must be a whole number from 1 to 500"),
                               (train_panel.patience, 10_000_000, "Patience must be a whole number from 1 to 500"),
                               (train_panel.batch_size, 4096, "Batch size must be a whole number from 1 to 512")):
        crafted_set(field, value=value)
        assert field.value == value  # the page could set it...
        train_panel.start_button.click()
        train_panel.work.wait()
        assert said in train_panel.message.text  # ...and the server refused it, in plain words
        crafted_set(field, value=10 if field is train_panel.epochs else 0)
    assert len(jobs.runs(ws, alice)) == before
    datasets.work.wait()
    assert not uploads_left(ws)
    app.log_out()


def test_an_upload_whose_panel_fails_leaves_no_temp_folder(ws, alice):
    colour_dataset(ws, alice, per_class=3)
    panel = DatasetsPanel(ws, alice)

    def fails(received):
        raise RuntimeError("a bug in the panel")

    panel.zip_upload.on_done = fails
    upload(panel.zip_upload, {"more.zip": make_zip(class_files(per_class=2))})
    assert "could not be taken in" in panel.message.text and not uploads_left(ws)


def test_logging_out_mid_upload_removes_what_had_arrived(ws, alice):
    colour_dataset(ws, alice, per_class=3)
    app = App(ws, poll_interval=0.05)
    sign_in(app)
    uploader = app.panels["Datasets"].zip_upload
    data = make_zip(class_files(per_class=20, size=(200, 150)))
    assert talk(uploader, {"kind": "begin", "files": [{"name": "big.zip", "size": len(data)}]})["kind"] == "ack"
    assert talk(uploader, {"kind": "chunk", "index": 0, "offset": 0}, [data[:CHUNK]])["kind"] == "ack"
    assert len(uploads_left(ws)) == 1
    app.log_out()
    assert not uploads_left(ws)


def test_an_upload_lands_in_the_class_it_started_with_whatever_starts_meanwhile(ws, alice):
    ds = colour_dataset(ws, alice, per_class=3)
    panel = DatasetsPanel(ws, alice)
    panel.class_picker.value = "red"
    data = picture(COLORS["red"], size=(64, 48), seed=99)
    assert talk(panel.upload, {"kind": "begin", "files": [{"name": "r.jpg", "size": len(data)}]})["kind"] == "ack"
    panel.class_picker.value = "green"  # the person turns to the camera meanwhile
    record(panel.camera, [picture(COLORS["green"], size=(64, 48), seed=s) for s in range(2)])
    panel.work.wait()
    talk(panel.upload, {"kind": "chunk", "index": 0, "offset": 0}, [data])
    talk(panel.upload, {"kind": "end"})
    panel.work.wait()
    counts = D.get_dataset(ws, alice, ds.id).counts
    assert counts["red"] == 4 and counts["green"] == 5

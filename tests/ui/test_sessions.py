"""A signed-in page is a session, and everything it made dies with it (issue: shared service). The
browser's side is played with crafted comm messages, as any page can send them to any live widget,
shown, hidden or disabled."""

import threading
import time

import ipywidgets as w
import pytest

from nocode_widgets.accounts import auth, signins
from nocode_widgets import datasets as D
from nocode_widgets.errors import AuthError
from nocode_widgets.ui import App, DatasetsPanel, ResultsPanel
from nocode_widgets.ui.parts import BACKGROUND, BUSY, IPYWIDGETS_8
from tests.conftest import make_workspace
from tests.images import class_files, make_zip
from tests.training_helpers import colour_dataset, train
from tests.ui.driving import sign_in, upload


def live_widgets() -> dict:
    if IPYWIDGETS_8:
        from ipywidgets.widgets.widget import _instances
        return dict(_instances)
    return dict(w.Widget.widgets)


def crafted_click(widget) -> None:
    widget._handle_msg({"content": {"data": {"method": "custom", "content": {"event": "click"}}}, "buffers": []})


def crafted_set(widget, **state) -> None:
    widget._handle_msg({"content": {"data": {"method": "update", "state": state}}, "buffers": []})


def everything_stored(ws) -> tuple:
    files = sorted(str(p.relative_to(ws.settings.data_dir)) for p in ws.settings.data_dir.rglob("*")
                   if p.is_file() and not p.name.endswith(".lock"))
    records = {f: (ws.settings.data_dir / f).read_bytes() for f in files if f.endswith("records.json")}
    return ws.settings.db_path.read_bytes(), records, files


def wait_signed_out(app: App, timeout: float = 10) -> None:
    """Until the login panel is back (the session ends first, then the page changes)."""
    deadline = time.time() + timeout
    while not (app.user is None and app.login is not None) and time.time() < deadline:
        time.sleep(0.05)


def open_every_confirmation(app: App) -> None:
    panels = app.panels
    crafted_click(panels["Datasets"].delete_button)
    crafted_click(panels["Datasets"].confirm.children[2])  # No: the buttons it showed are closed, not orphaned
    crafted_click(panels["Datasets"].delete_class_button)
    crafted_click(panels["Results"].delete_button)
    crafted_click(panels["Admin"].delete)


@pytest.mark.slow
def test_after_log_out_no_widget_of_the_page_can_change_anything(ws, alice, bob):
    earlier = set(live_widgets())  # other tests' pages in this process: not this page's, left alone
    ds = colour_dataset(ws, alice)
    train(ws, alice, ds)
    app = App(ws)
    sign_in(app)
    for index in range(len(app.panels)):
        crafted_set(app.tabs, selected_index=index)
    made = [x for x in live_widgets().values() if getattr(x, "_nocode_session", None) is app.session]
    open_every_confirmation(app)
    made += [x for x in live_widgets().values() if getattr(x, "_nocode_session", None) is app.session]
    assert any(isinstance(x, w.Button) and x.description == "Yes, delete" for x in made)
    app.log_out()
    assert app.user is None and "logged out" in app.message.text
    before = everything_stored(ws)
    live = {k: x for k, x in live_widgets().items() if k not in earlier}
    assert not [x for x in made if x.comm is not None]  # all closed: nothing a page can reach any more
    for widget in list(live.values()) + made:  # crafted (what a browser can send) and from Python alike
        if isinstance(widget, w.Text) and not isinstance(widget, w.Password):
            widget.value = "x"
    for widget in list(live.values()):
        if isinstance(widget, w.Button):
            crafted_click(widget)
    for widget in made:
        if isinstance(widget, w.Button):
            widget.click()
    assert everything_stored(ws) == before
    assert D.get_dataset(ws, alice, ds.id) and auth.find_user(ws, "bob")


def test_crafted_messages_to_an_ended_sessions_widgets_are_dropped(ws, alice):
    ds = colour_dataset(ws, alice)
    app = App(ws)
    sign_in(app)
    datasets = app.panels["Datasets"]
    crafted_click(datasets.delete_button)
    yes = datasets.confirm.children[1]
    handler = yes._handle_msg  # what the kernel's comm would call
    app.session.end("test")
    handler({"content": {"data": {"method": "custom", "content": {"event": "click"}}}, "buffers": []})
    assert D.get_dataset(ws, alice, ds.id)


@pytest.mark.slow
def test_live_widgets_stay_flat_under_refreshes(ws, alice):
    for thread in threading.enumerate():  # earlier tests' pages (clicked by the test above) finish their work
        if thread.name == BACKGROUND:
            thread.join(timeout=300)
    ds = colour_dataset(ws, alice)
    run = train(ws, alice, ds)
    datasets, results = DatasetsPanel(ws, alice), ResultsPanel(ws, alice)
    datasets.refresh()
    results.refresh(select=run.id)
    after_one = len(live_widgets())
    for _ in range(15):  # a widget left behind per refresh would show as 15 or more
        datasets.refresh()
        results.show_run()
    assert len(live_widgets()) - after_one <= 3


def test_confirmation_acts_on_what_was_asked_about_not_on_the_picker_at_yes_time(ws, alice):
    a = colour_dataset(ws, alice, name="A")
    b = colour_dataset(ws, alice, name="B")
    panel = DatasetsPanel(ws, alice)
    panel.picker.value = a.id
    panel.delete_button.click()
    assert "A" in panel.confirm.children[0].value
    panel.picker.value = b.id  # switched before answering
    panel.confirm.children[1].click()
    assert [d.name for d in D.list_datasets(ws, alice)] == ["B"]


def test_a_second_import_click_while_one_runs_says_still_running(ws, alice):
    panel = DatasetsPanel(ws, alice)
    big = make_zip(class_files(("red", "blue"), per_class=150, size=(96, 72)))
    upload(panel.zip_upload, {"big.zip": big})  # its import now runs
    upload(panel.zip_upload, {"again.zip": big})  # a second one meanwhile: refused before any byte travels
    assert panel.message.text == BUSY
    panel.work.wait()
    assert len(D.list_datasets(ws, alice)) == 1 and D.list_datasets(ws, alice)[0].image_count == 300


def test_a_page_idle_too_long_signs_out_by_itself(tmp_path):
    ws = make_workspace(tmp_path / "data", session_idle_minutes=0.01)  # 0.6 s
    auth.sign_up(ws, "alice", "password-alice")
    app = App(ws, check_interval=0.1)
    sign_in(app)
    create = app.panels["Datasets"].create_button
    wait_signed_out(app)
    assert app.user is None and "without activity" in app.message.text
    assert create.comm is None and isinstance(app.body.children[0], type(app.login))


@pytest.mark.slow
def test_activity_keeps_a_page_signed_in(tmp_path):
    ws = make_workspace(tmp_path / "data", session_idle_minutes=0.05)  # 3 s
    auth.sign_up(ws, "alice", "password-alice")
    app = App(ws, check_interval=0.1)
    sign_in(app)
    name = app.panels["Datasets"].new_name
    for k in range(20):  # typing over 5 s, more than the idle limit in all
        crafted_set(name, value="c" * k)
        time.sleep(0.25)
    assert app.user is not None


def test_an_account_disabled_elsewhere_signs_its_page_out(ws, alice, bob):
    app = App(ws, check_interval=0.1)
    sign_in(app, "bob", "password-bob")
    auth.set_disabled(ws, alice, bob.id, True)
    wait_signed_out(app)
    assert app.user is None and "session has ended" in app.message.text


def test_a_password_changed_in_another_tab_ends_this_one(ws, alice):
    app = App(ws)
    sign_in(app)
    datasets = app.panels["Datasets"]
    auth.change_password(ws, auth.log_in(ws, "alice", "password-alice"), "password-alice", "a-new-password")
    crafted_set(datasets.new_name, value="sneaky")
    crafted_set(datasets.new_classes, value="a, b")
    crafted_click(datasets.create_button)
    assert D.list_datasets(ws, auth.log_in(ws, "alice", "a-new-password")) == []
    assert app.user is None and "session has ended" in app.message.text


def test_the_login_form_is_closed_once_signed_in(ws, alice):
    app = App(ws)
    login = app.login
    sign_in(app)
    assert login.login_button.comm is None and login.username.comm is None


def test_a_door_ticket_signs_the_page_in_and_the_page_ends_with_its_sign_in(ws, alice):
    _, signin = signins.start(ws, alice, keep=False)
    app = App(ws, ticket=signins.mint_ticket(ws, signin, 5), door_check_interval=0.1)
    assert app.user.id == alice.id and app.login is None and app.session.signin_id == signin.id
    signins.end(ws, signin.id)  # Log out in another tab
    deadline = time.time() + 10
    while "signed out" not in app.message.text and time.time() < deadline:
        time.sleep(0.05)
    assert app.session.ended and "signed out" in app.message.text
    assert app.login is None and not app.panels  # no login panel in a page served at the door


def test_a_forged_or_used_ticket_signs_nobody_in(ws, alice):
    _, signin = signins.start(ws, alice, keep=False)
    ticket = signins.mint_ticket(ws, signin, 5)
    first = App(ws, ticket=ticket)
    assert first.user.id == alice.id
    for bad in (ticket, f"{signin.id}.forged-secret-forged-secret", "nonsense"):
        app = App(ws, ticket=bad)
        assert app.user is None and app.login is None and "could not confirm your sign-in" in app.message.text
    first.log_out()
    assert "logged out" in first.message.text and signins.find(ws, "x" * 40) is None
    with pytest.raises(AuthError):
        signins.check(ws, signin.id)  # logging out ended the sign-in itself

"""The panels driven headlessly, as a browser would: .click(), .value, and uploads through
FileUpload.set_state in the shape ipywidgets 8 sends (7.x is covered by the ipywidgets 7 run)."""

import io
import re
import time

import ipywidgets as w
import pytest

from nocode_widgets.accounts import auth
from nocode_widgets import datasets as D
from nocode_widgets.runs import jobs
from nocode_widgets.runs.records import delete_run, read_evaluation, run_folder
from nocode_widgets.ui import App, DatasetsPanel, ResultsPanel, TestPanel, TrainPanel
from nocode_widgets.ui.parts import Picture, close_tree
from tests.images import COLORS, class_files, make_zip, picture
from tests.ui.driving import find_all, record, sign_in, talk, texts, upload, uploads_left  # noqa: F401 - other tests import them from here too
from tests.training_helpers import colour_dataset

QUICK = {"epochs": 3}


def quick_train(panel: TrainPanel):
    panel.auto.value = False
    panel.epochs.value, panel.image_size.value = 3, 32
    panel.start_button.click()
    panel.wait()


# Login ---------------------------------------------------------------------------------------------------

def test_sign_up_shows_the_app_and_admin_tab_for_the_first_user(ws):
    app = App(ws)
    login = app.login
    assert app.body.children == (login,)
    sign_in(app, "alice", "password-alice", new=True)
    assert app.user.username == "alice" and list(app.panels) == ["Datasets", "Train", "Results", "Test", "Class", "Admin"]
    assert login.password.value == "" and login.comm is None  # not kept, and the form is closed


def test_regular_user_has_no_admin_tab(ws, alice, bob):
    app = App(ws)
    sign_in(app, "bob", "password-bob")
    assert "Admin" not in app.panels


def test_wrong_password_is_inline_and_plain(ws, alice):
    app = App(ws)
    sign_in(app, "alice", "wrong-password")
    assert app.user is None and app.login.message.text == "Wrong username or password."


def test_lockout_message_after_repeated_failures(ws, alice):
    app = App(ws)
    for _ in range(5):
        sign_in(app, "alice", "wrong-password")
    sign_in(app, "alice", "password-alice")
    assert app.user is None and "locked" in app.login.message.text and "try again in" in app.login.message.text



def test_log_out_returns_to_login_and_closes_old_panels(ws, alice):
    app = App(ws)
    sign_in(app)
    datasets = app.panels["Datasets"]
    app.log_out()
    assert app.user is None and app.body.children == (app.login,)
    assert datasets.create_button.comm is None  # a crafted click can no longer reach it
    assert isinstance(app.login.password, w.Password)


# Datasets ---------------------------------------------------------------------------------------------------

def test_create_dataset_upload_pictures_and_see_counts_and_thumbnails(ws, alice):
    panel = DatasetsPanel(ws, alice)
    panel.new_name.value, panel.new_classes.value = "Pets", "cats, dogs"
    panel.create_button.click()
    assert "Created Pets" in panel.message.text and panel.class_picker.options == (("cats", "cats"), ("dogs", "dogs"))
    panel.class_picker.value = "cats"
    upload(panel.upload, {f"c{i}.jpg": picture(COLORS["red"], seed=i) for i in range(5)} | {"bad.jpg": b"nope"})
    panel.work.wait()
    assert "5 pictures added" in panel.message.text and "1 skipped" in panel.message.text
    assert "bad.jpg" in panel.report.value and "not a picture" in panel.report.value
    assert not uploads_left(ws)  # the uploaded copies are gone
    assert "cats <b>5</b>" in panel.summary.value and "dogs <b>0</b>" in panel.summary.value
    assert len(panel.thumbs.children) == 1 and len(panel.thumbs.children[0].children) == 6  # label + 5 pictures
    assert "no pictures yet: dogs" in panel.summary.value


def test_zip_upload_creates_classes_and_reports(ws, alice):
    panel = DatasetsPanel(ws, alice)
    files = class_files(("red", "blue"), per_class=4)
    files["red/notes.txt"] = b"text"
    upload(panel.zip_upload, {"colours.zip": make_zip(files)})
    panel.work.wait()
    assert "8 pictures added" in panel.message.text and "notes.txt" in panel.report.value
    assert [d.name for d in D.list_datasets(ws, alice)] == ["colours"]
    assert panel.picker.label.startswith("colours (8 pictures")


def test_imbalance_warning_is_shown(ws, alice):
    ds = colour_dataset(ws, alice, classes=("red", "blue"), per_class=3)
    D.add_uploads(ws, alice, ds.id, "red", [D.ingest.UploadedFile(f"r{i}.jpg", picture(seed=300 + i)) for i in range(9)])
    panel = DatasetsPanel(ws, alice)
    assert "imbalanced" in panel.summary.value and "weighted sampling" in panel.summary.value


def test_upload_over_the_limit_gets_a_message_not_silence(tmp_path):
    from tests.conftest import make_workspace

    ws = make_workspace(tmp_path / "d", max_upload_bytes=5_000)
    user = auth.sign_up(ws, "carol", "password123")
    ds = D.create_dataset(ws, user, "pets", ["cats", "dogs"])
    panel = DatasetsPanel(ws, user)
    assert "Up to 0 MB per upload" in panel.limit_note.value
    upload(panel.upload, {f"{i}.jpg": picture(size=(64, 64), seed=i) for i in range(6)})
    panel.work.wait()
    assert "the limit is 0 MB" in panel.message.text and D.get_dataset(ws, user, ds.id).image_count == 0


def test_delete_needs_confirmation(ws, alice):
    colour_dataset(ws, alice)
    panel = DatasetsPanel(ws, alice)
    panel.delete_button.click()
    assert D.list_datasets(ws, alice)  # nothing yet
    no = panel.confirm.children[2]
    no.click()
    assert D.list_datasets(ws, alice) and panel.confirm.children == ()
    panel.delete_button.click()
    panel.confirm.children[1].click()  # Yes
    assert D.list_datasets(ws, alice) == [] and "deleted" in panel.message.text


def test_add_rename_delete_class(ws, alice):
    colour_dataset(ws, alice)
    panel = DatasetsPanel(ws, alice)
    panel.class_name.value = "purple"
    panel.add_class_button.click()
    assert "purple" in [v for _, v in panel.class_picker.options]
    panel.class_picker.value, panel.class_name.value = "purple", "violet"
    panel.rename_class_button.click()
    assert "violet" in [v for _, v in panel.class_picker.options]


# Train, Results, Test ------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_train_panel_explains_auto_and_trains_live(ws, alice):
    colour_dataset(ws, alice)
    panel = TrainPanel(ws, alice, poll_interval=0.2)
    assert "Auto:" in panel.explanation.value and "Small CNN" in panel.explanation.value
    assert panel.arch.disabled and panel.advanced.layout.display == "none"
    panel.estimate_button.click()
    panel.work.wait()
    assert panel.estimate_label.value.startswith("About ")
    quick_train(panel)
    assert "Finished" in panel.status.value and "validation accuracy" in panel.status.value
    assert panel.progress.value == 1.0 and panel.curves.value  # the PNG of the curves
    assert not panel.start_button.disabled and panel.cancel_button.layout.display == "none"


def test_a_dataset_not_ready_is_explained_where_auto_speaks_and_the_words_go_when_it_is(ws, alice):
    ds = D.create_dataset(ws, alice, "empty", ["red", "blue"])
    panel = TrainPanel(ws, alice)
    assert "at least two classes" in panel.explanation.value and panel.message.text == ""
    D.import_archive(ws, alice, io.BytesIO(make_zip(class_files(("red", "blue"), 3))), dataset_id=ds.id)
    panel.refresh()
    assert "Auto:" in panel.explanation.value and "at least two classes" not in panel.explanation.value


def test_reopening_the_app_shows_a_running_run_live(ws, alice):
    ds = colour_dataset(ws, alice)
    run = jobs.submit(ws, alice, ds.id, {"epochs": 200, "patience": 200, "image_size": 32})
    panel = TrainPanel(ws, alice, poll_interval=0.2)  # a fresh page
    assert panel.run_id == run.id and panel.start_button.disabled
    panel.cancel_button.click()
    panel.wait()
    assert "Cancelled" in panel.status.value or "Finished" in panel.status.value


def test_cancelling_a_waiting_run_ends_on_cancelled_even_when_the_watcher_sees_it_first(ws, alice, monkeypatch):
    ds = colour_dataset(ws, alice)
    first = jobs.submit(ws, alice, ds.id, {"epochs": 200, "patience": 200, "image_size": 32})
    second = jobs.submit(ws, alice, ds.id, QUICK)  # waits behind the first: cancelled at once
    panel = TrainPanel(ws, alice, poll_interval=0.05)
    panel.watch(second.id)
    cancel = jobs.cancel

    def slow_click(*args):  # the click's thread is slower than the watcher's next look at the folder
        run = cancel(*args)
        time.sleep(1)
        return run
    monkeypatch.setattr(jobs, "cancel", slow_click)
    panel.cancel_button.click()
    panel.wait()
    assert "Cancelled" in panel.status.value, panel.status.value
    jobs.cancel(ws, alice, first.id)


@pytest.mark.slow
def test_results_show_curves_confusion_per_class_mistakes_and_compare(ws, alice):
    colour_dataset(ws, alice)
    train = TrainPanel(ws, alice, poll_interval=0.2)
    quick_train(train)
    quick_train(train)
    panel = ResultsPanel(ws, alice)
    assert panel.table.value.count("<tr>") == 3  # header + 2 runs
    text = texts(panel.detail)
    sections = " ".join(b.description for b in find_all(panel.detail, w.Button))  # the sections' titles
    assert "on the validation pictures" in sections and "weighted F1" in text and "Jump to" in text
    assert "Can you trust its confidence?" in sections and "not sure" in text
    assert "Measured on pictures the model did not learn from" in text
    images = find_all(panel.detail, Picture)
    assert len(images) == 3  # learning curves + confusion matrix + reliability diagram
    panel.compare.value = panel.compare.options[2][1]
    assert "this run" in panel.side_by_side.value and "validation accuracy" in panel.side_by_side.value
    panel.sort.value = "accuracy"
    panel.delete_button.click()
    panel.confirm.children[1].click()
    assert len(jobs.runs(ws, alice)) == 1 and "Run deleted" in panel.message.text


@pytest.mark.slow
def test_a_confusion_cell_shows_its_pictures_and_mistakes_show_where_it_looked(ws, alice):
    colour_dataset(ws, alice, classes=("plain", "dull"), per_class=10)  # both grey: mistakes for sure
    quick_train(TrainPanel(ws, alice, poll_interval=0.2))
    panel = ResultsPanel(ws, alice)
    cells = [b for b in find_all(panel.detail, w.Button) if b.description.isdigit()]
    assert len(cells) == 4 and sum(int(b.description) for b in cells) == 4  # 2 validation pictures per class
    wrong = next(b for b in cells if not b.disabled and b.button_style == "warning")
    wrong.click()
    panel.work.wait()
    shown = texts(panel.detail)
    assert f"said {wrong.tooltip.split('said ')[1]}" in shown and f"{wrong.description} picture(s)" in shown
    before = len(find_all(panel.detail, Picture))
    next(b for b in find_all(panel.detail, w.Button) if b.description == "Show where it looked").click()
    panel.work.wait()
    maps = [i for i in find_all(panel.detail, Picture) if i.format == "png"]
    assert len(maps) >= 2 and "evidence for" in texts(panel.detail), panel.message.text  # said and true, per mistake
    assert len(find_all(panel.detail, Picture)) >= before


@pytest.mark.slow
def test_test_panel_predicts_uploaded_pictures(ws, alice):
    colour_dataset(ws, alice, per_class=14)
    quick_train(TrainPanel(ws, alice, poll_interval=0.2))
    panel = TestPanel(ws, alice)
    upload(panel.upload, {"new-red.jpg": picture(COLORS["red"], size=(40, 30), seed=777), "junk.jpg": b"x"})
    panel.work.wait()
    cards = [texts(c) for c in panel.results.children]
    assert ("it is" in cards[0] or "not sure" in cards[0]) and "probability" in cards[0] and "new-red.jpg" in cards[0]
    assert "could not be tested" in cards[1]
    threshold = read_evaluation(run_folder(ws, jobs.get(ws, alice, panel.run.value)))["validation"]["calibration"]["threshold"]
    assert panel.sure.value == pytest.approx(threshold * 100, abs=0.1) and "right" in panel.sure_note.value
    panel.sure.value = 100  # the person moves the line: only a certain answer is "sure" now
    upload(panel.upload, {"new-red.jpg": picture(COLORS["red"], size=(40, 30), seed=777)})
    panel.work.wait()
    strict = texts(panel.results.children[0])
    assert "not sure" in strict or "100%" in strict
    panel.sure.value, panel.looked.value = 0.0, True
    upload(panel.upload, {"new-red.jpg": picture(COLORS["red"], size=(40, 30), seed=777), "junk.jpg": b"x"})
    panel.work.wait()
    cards = [texts(c) for c in panel.results.children]
    assert "it is" in cards[0] and "not sure" not in cards[0]
    assert [i.format for i in find_all(panel.results.children[0], Picture)] == ["jpeg", "png"]  # picture, its map
    panel.looked.value = False
    panel.refresh()  # a late refresh (a run finishing in another tab) keeps the answers on screen
    assert [texts(c) for c in panel.results.children] == cards
    panel.mirror.value = True  # the picture and its mirror image, averaged
    upload(panel.upload, {"new-red.jpg": picture(COLORS["red"], size=(40, 30), seed=777)})
    panel.work.wait()
    assert "it is" in texts(panel.results.children[0]) and panel._tta


def test_the_camera_records_pictures_into_the_chosen_class(ws, alice):
    ds = colour_dataset(ws, alice, per_class=3)
    panel = DatasetsPanel(ws, alice)
    panel.class_picker.value = "green"
    frames = [picture(COLORS["green"], size=(64, 48), seed=s) for s in range(5)]
    answers = record(panel.camera, frames)
    panel.work.wait()
    assert [a["kind"] for a in answers] == ["ack"] * 7 and answers[-2]["count"] == 5
    assert D.get_dataset(ws, alice, ds.id).counts["green"] == 8 and "5 pictures added" in panel.message.text
    assert not uploads_left(ws)  # the frames' temp files are gone


def test_the_camera_refuses_what_is_not_a_frame_and_keeps_nothing(ws, alice):
    ds = colour_dataset(ws, alice, per_class=3)
    panel = DatasetsPanel(ws, alice)
    panel.camera.limits["max_frames"] = 2  # the server's limit (the page's trait only shows it)
    answers = record(panel.camera, [picture(seed=1), picture(seed=2), picture(seed=3)])  # one too many
    assert answers[3]["kind"] == "error" and "as much as one recording" in answers[3]["text"]
    assert talk(panel.camera, {"kind": "frame"}, [b"x" * (2 << 20)])["kind"] == "error"  # not a camera frame
    assert talk(panel.camera, {"kind": "live"}, [picture()])["kind"] == "error"  # this one does not test live
    panel.work.wait()
    assert D.get_dataset(ws, alice, ds.id).image_count == 9
    assert not uploads_left(ws)


@pytest.mark.slow
def test_the_live_camera_shows_the_models_answer_for_each_frame(ws, alice):
    colour_dataset(ws, alice, per_class=14)
    quick_train(TrainPanel(ws, alice, poll_interval=0.2))
    panel = TestPanel(ws, alice)
    answer = talk(panel.camera, {"kind": "live"}, [picture(COLORS["red"], size=(64, 48), seed=5)])
    said = panel.live.value
    assert answer == {"kind": "ack"} and ("It is <b>red</b>" in said or "looks most like <b>red</b>" in said) and "%" in said
    assert talk(panel.camera, {"kind": "begin"})["kind"] == "error"  # the Test panel's camera does not record
    delete_run(ws, alice, panel.run.value)
    time.sleep(1 / panel.camera.limits["rate"])  # the page sends frames at the panel's rate at most
    answer = talk(panel.camera, {"kind": "live"}, [picture(COLORS["red"], seed=6)])
    assert answer["kind"] == "error" and "run" in answer["text"].lower()


# Security: widgets are not access control ------------------------------------------------------------------------

def test_crafted_dropdown_value_for_someone_elses_dataset_shows_nothing(ws, alice, bob):
    secret = colour_dataset(ws, alice, name="alice-secret")
    panel = DatasetsPanel(ws, bob)
    panel.picker.options = [("x", secret.id)]  # as if the browser had been made to send alice's id
    panel.picker.value = secret.id
    assert "alice-secret" not in panel.summary.value and "does not exist" in panel.message.text
    panel.delete_button.click()
    panel.confirm.children[1].click()
    assert D.get_dataset(ws, alice, secret.id)  # still there


@pytest.mark.slow
def test_crafted_run_id_cannot_be_tested_deleted_or_trained_on(ws, alice, bob):
    ds = colour_dataset(ws, alice)
    quick_train(TrainPanel(ws, alice, poll_interval=0.2))
    run_id = jobs.runs(ws, alice)[0].id
    test = TestPanel(ws, bob)
    test.run.options = [("x", run_id)]
    test.run.value = run_id
    upload(test.upload, {"a.jpg": picture()})
    test.work.wait()
    assert test.results.children == () or "it is" not in texts(test.results)
    assert "does not exist" in test.message.text
    results = ResultsPanel(ws, bob)
    results.picker.options = [("x", run_id)]
    results.picker.value = run_id
    results.delete_button.click()
    results.confirm.children[1].click()
    assert jobs.get(ws, alice, run_id)
    train = TrainPanel(ws, bob)
    train.dataset.options = [("x", ds.id)]
    train.dataset.value = ds.id
    train.start_button.click()
    assert jobs.runs(ws, bob) == [] and "does not exist" in train.message.text


def test_admin_panel_refuses_a_non_admin_even_when_reached(ws, alice, bob):
    from nocode_widgets.ui import AdminPanel

    panel = AdminPanel(ws, bob)  # a hidden panel reached anyway
    assert "administrator" in panel.message.text and panel.users.value == ""
    panel.picker.options = [("bob", bob.id)]
    panel.picker.value = bob.id
    panel.make_admin.click()
    assert not auth.find_user(ws, "bob").is_admin and "administrator" in panel.message.text


def test_disabled_button_clicked_anyway_rechecks_the_user(ws, alice, bob):
    colour_dataset(ws, bob)
    panel = TrainPanel(ws, bob)
    auth.set_disabled(ws, alice, bob.id, True)  # bob is disabled while his page is open
    panel.start_button.disabled = True
    panel.start_button.click()
    assert jobs.runs(ws, alice, everyone=True) == [] and "log in again" in panel.message.text


def test_admin_panel_for_an_admin(ws, alice, bob):
    from nocode_widgets.ui import AdminPanel

    colour_dataset(ws, bob)
    panel = AdminPanel(ws, alice)
    assert "bob" in panel.users.value and "active" in panel.users.value
    panel.picker.value = bob.id
    panel.disable.click()
    assert auth.find_user(ws, "bob").disabled and "disabled" in panel.users.value
    panel.delete.click()
    panel.confirm.children[1].click()
    assert auth.find_user(ws, "bob") is None


def test_folder_import_row_only_with_import_roots_and_only_inside_them(tmp_path):
    from tests.conftest import make_workspace
    from tests.datasets.test_datasets import write_tree

    plain = make_workspace(tmp_path / "a")
    user = auth.sign_up(plain, "carol", "password123")
    plain_panel = DatasetsPanel(plain, user)
    assert plain_panel.folder_row.layout.display == "none" and "folder" not in dict(plain_panel.source.options).values()
    share = write_tree(tmp_path / "share" / "fruit", class_files(("red", "green")))
    ws = make_workspace(tmp_path / "a", import_roots=(tmp_path / "share",))
    panel = DatasetsPanel(ws, user)
    panel.source.value = "folder"  # "Add pictures" from: a server folder
    assert panel.folder_row.layout.display == "" and panel.upload.layout.display == "none"
    panel.folder_path.value = "/etc"
    panel.folder_button.click()
    panel.work.wait()
    assert "not allowed" in panel.message.text
    panel.folder_path.value = str(share)
    panel.folder_button.click()
    panel.work.wait()
    assert "8 pictures added" in panel.message.text and D.list_datasets(ws, user)[0].name == "fruit"


def test_advanced_choices_reach_the_run_config(ws, alice):
    colour_dataset(ws, alice)
    panel = TrainPanel(ws, alice)
    panel.auto.value = False
    assert panel.advanced.layout.display == "" and not panel.arch.disabled
    panel.arch.value, panel.epochs.value, panel.lr.value = "resnet18", 7, 0.01
    panel.optimizer.value, panel.schedule.value, panel.mode.value = "sgd", "cosine", "fine-tune"
    panel.tools["focal"].value = panel.tools["weighted"].value = True
    cfg = panel.config()
    assert cfg["arch"] == "resnet18" and cfg["epochs"] == 7 and cfg["lr"] == 0.01 and cfg["optimizer"] == "sgd"
    assert cfg["schedule"] == "cosine" and cfg["loss"] == "focal" and cfg["sampler"] == "weighted"
    assert "ResNet-18" in panel.explanation.value


def test_stated_upload_limit_is_the_upload_limit_and_chunks_stay_far_under_the_websocket_cap(ws, alice):
    from nocode_widgets.ui.uploader import CHUNK

    panel = DatasetsPanel(ws, alice)
    assert f"Up to {ws.settings.max_upload_bytes // 2**20} MB per upload" in panel.limit_note.value
    assert panel.upload.max_bytes == ws.settings.max_upload_bytes
    assert 8 * CHUNK <= ws.settings.websocket_max_message_mib * 2**20


def test_auto_choices_fill_the_disabled_fields_and_unticking_starts_from_them(ws, alice):
    colour_dataset(ws, alice)
    panel = TrainPanel(ws, alice)
    assert panel.arch.value == "small_cnn" and panel.arch.disabled
    assert f"up to {panel.epochs.value} epochs" in panel.explanation.value
    panel.auto.value = False
    assert panel.config()["arch"] == "small_cnn" and panel.config()["epochs"] == panel.epochs.value


@pytest.mark.slow
def test_check_my_labels_in_the_datasets_panel_moves_keeps_and_deletes_with_a_confirmation(ws, alice):
    from tests.insight.test_label_check import flipped_dataset

    ds, flipped = flipped_dataset(ws, alice, per_class=9, flip_every=9)  # one flipped picture per colour
    panel = DatasetsPanel(ws, alice)
    panel.picker.value = ds.id
    panel.labels.folds.value = 3
    panel.labels.button.click()
    panel.work.wait(300)
    assert "probably in the wrong class" in panel.labels.summary.value, panel.message.text
    cards = list(panel.labels.cards.children)
    assert len(cards) >= 3
    buttons = lambda card: {b.description.split(" ")[0]: b for b in find_all(card, w.Button)}  # noqa: E731
    buttons(cards[0])["Move"].click()
    assert D.get_dataset(ws, alice, ds.id).version == ds.version + 1 and "Moved to" in panel.message.text
    assert len(panel.labels.cards.children) == len(cards) - 1
    buttons(cards[1])["Keep"].click()
    assert "will not be flagged again" in panel.message.text
    buttons(cards[2])["Delete"].click()  # asks first: nothing is gone yet
    assert D.get_dataset(ws, alice, ds.id).image_count == ds.image_count and panel.confirm.children
    next(b for b in find_all(panel.confirm, w.Button) if b.description.lower().startswith("yes")).click()
    assert D.get_dataset(ws, alice, ds.id).image_count == ds.image_count - 1
    close_tree(panel)  # later tests click every live widget: this page is closed, as a reload would

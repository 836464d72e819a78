"""Space taken atomically, temp files owned and swept, names that never become paths, settings the server
bounds: the limits a page cannot raise (issue: the server holds every limit)."""

import io
import multiprocessing
import os
import signal
import subprocess
import sys
import time

import pytest

from nocode_widgets.accounts import auth
from nocode_widgets import datasets as D
from nocode_widgets.errors import TrainingError
from nocode_widgets.files import safe_file_name
from nocode_widgets.markdown import md_text
from nocode_widgets.accounts.quota import QuotaError, check_room, reserved, usage
from nocode_widgets.runs.train_config import TrainConfig
from nocode_widgets.datasets.uploads import UploadFolder, sweep_uploads, upload_root
from tests.conftest import REPO, make_workspace
from tests.images import class_files, make_zip


def _import_in_a_tab(data_dir, limit, name, seed, results):
    """One browser tab's kernel (a process of its own) importing a zip into a new dataset."""
    ws = make_workspace(data_dir, max_bytes_per_user=limit)
    alice = auth.find_user(ws, "alice")
    archive = make_zip(class_files(("red", "blue"), per_class=12, size=(160, 120), prefix=f"{seed}/"))
    try:
        report = D.import_archive(ws, alice, io.BytesIO(archive), name=name)
        results.put((name, "added", report.accepted))
    except QuotaError as exc:
        results.put((name, "refused", str(exc)))


@pytest.mark.parametrize("tabs", [2, 4])
def test_tabs_importing_at_once_end_at_or_under_the_limit_and_leave_nothing_half_imported(tmp_path, tabs):
    data_dir = tmp_path / "data"
    one = make_workspace(data_dir)  # how much one import takes, measured on a person of its own
    bob = auth.sign_up(one, "bob", "password-bob")
    D.import_archive(one, bob, io.BytesIO(make_zip(class_files(("red", "blue"), per_class=12, size=(160, 120)))),
                     name="measure")
    needed = usage(one, bob.id).used
    limit = int(needed * 1.6)  # room for one import, not two
    alice = auth.sign_up(one, "alice", "password-alice")
    results = multiprocessing.get_context("fork").Queue()
    procs = [multiprocessing.get_context("fork").Process(target=_import_in_a_tab,
                                                         args=(data_dir, limit, f"tab{k}", k, results))
             for k in range(tabs)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    outcomes = [results.get(timeout=5) for _ in procs]
    ws = make_workspace(data_dir, max_bytes_per_user=limit)
    assert usage(ws, alice.id).used <= limit
    added = [o for o in outcomes if o[1] == "added"]
    assert 1 <= len(added) < tabs, outcomes
    assert all("space ran out" in o[2] or "is left" in o[2] for o in outcomes if o[1] == "refused"), outcomes
    kept = D.list_datasets(ws, alice)
    assert sorted(d.name for d in kept) == sorted(o[0] for o in added)  # each import whole, or not there
    pictures = {p.name for p in ws.settings.user_dir(alice.id).rglob("*.jpg")}
    assert len(pictures) == sum(d.image_count for d in kept)  # no picture of a refused import is left


def test_what_one_process_reserved_is_room_another_cannot_take(ws, alice):
    limit = ws.settings.max_bytes_per_user
    with reserved(ws, alice.id, limit - 1000):
        with pytest.raises(QuotaError, match="only 1000 bytes|only 1 KB"):
            check_room(ws, alice.id, 5000)
        with pytest.raises(QuotaError):
            with reserved(ws, alice.id, 5000):
                pass
    check_room(ws, alice.id, 5000)  # released when the block ended


def test_upload_temp_files_count_toward_their_owners_space(tmp_path):
    ws = make_workspace(tmp_path / "data", max_bytes_per_user=100_000)
    alice = auth.sign_up(ws, "alice", "password-alice")
    folder = UploadFolder(ws, alice.id, 60_000)
    with pytest.raises(QuotaError):
        UploadFolder(ws, alice.id, 60_000)  # a second tab's upload: no room left, and no folder made
    (folder.path / "0").write_bytes(b"x" * 60_000)
    folder.arrived()
    assert usage(ws, alice.id).used >= 60_000  # on disk, in the owner's folder
    folder.discard()
    assert usage(ws, alice.id).used == 0 and not list(upload_root(ws, alice.id).iterdir())


UPLOAD_THEN_WAIT = """
import sys, time
from nocode_widgets.workspace import Workspace
from nocode_widgets.datasets.uploads import UploadFolder
ws = Workspace.open(sys.argv[1])
folder = UploadFolder(ws, sys.argv[2], 3000)
(folder.path / "0").write_bytes(b"x" * 3000)
print(folder.path, flush=True)
if sys.argv[3] == "wait":
    time.sleep(60)
"""


def _upload_in_a_process(ws, user, then: str) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-c", UPLOAD_THEN_WAIT, str(ws.settings.data_dir), user.id, then],
                            cwd=REPO, stdout=subprocess.PIPE, text=True)
    return proc, proc.stdout.readline().strip()


def test_a_killed_kernels_upload_folder_is_swept_and_a_live_ones_is_kept(ws, alice):
    killed, killed_folder = _upload_in_a_process(ws, alice, "wait")
    live, live_folder = _upload_in_a_process(ws, alice, "wait")
    try:
        os.kill(killed.pid, signal.SIGKILL)
        killed.wait(10)
        assert os.path.isdir(killed_folder)  # nothing of that process could clean up
        assert sweep_uploads(ws.settings.data_dir) == 1
        assert not os.path.exists(killed_folder) and os.path.isdir(live_folder)
        old = time.time() - 2 * 3600  # a page that stopped sending an hour ago
        for path in (live_folder, os.path.join(live_folder, "0")):
            os.utime(path, (old, old))
        assert sweep_uploads(ws.settings.data_dir) == 1 and not os.path.exists(live_folder)
    finally:
        for proc in (killed, live):
            proc.kill()
            proc.wait(10)


def test_a_kernel_that_exits_takes_its_upload_folders_with_it(ws, alice):
    proc, folder = _upload_in_a_process(ws, alice, "exit")
    assert proc.wait(30) == 0 and folder and not os.path.exists(folder)
    assert check_room(ws, alice.id, 1).used == 0  # and its reservation with it


@pytest.mark.parametrize("name", ["../../outside", "/etc/passwd", "a/b/c", "..", "Ünïcødé 猫 😀", "x" * 500, "\x00\n",
                                  "..\\..\\windows"])
def test_a_name_becomes_one_plain_file_name(name, tmp_path):
    safe = safe_file_name(name)
    assert safe and "/" not in safe and "\\" not in safe and not safe.startswith(".") and len(safe) <= 80
    target = (tmp_path / safe).resolve()
    assert target.parent == tmp_path.resolve()
    target.write_text("ok")  # a real file name on this file system


def test_typed_names_are_plain_text_in_markdown():
    import mistune

    hostile = "[click me](http://evil.example) ![](http://track.example/p.png) <img src=x onerror=alert(1)> a|b **bold**"
    html = mistune.html(f"# {md_text(hostile)}\n\n| class |\n|---|\n| {md_text(hostile)} |\n")
    assert "<a " not in html and "<img" not in html and "<strong>" not in html
    assert "click me" in html and html.count("<td>") == 1


@pytest.mark.parametrize("field, value, said", [
    ("epochs", 10_000_000, "Max epochs must be a whole number from 1 to 500"),
    ("epochs", 0, "Max epochs must be a whole number from 1 to 500"),
    ("patience", 10_000_000, "Patience must be a whole number from 1 to 500"),
    ("batch_size", 4096, "Batch size must be a whole number from 1 to 512"),
    ("image_size", 100_000, "Picture size must be a whole number from 16 to 512"),
    ("lr", 50.0, "The learning rate must be between"),
    ("lr", -1.0, "The learning rate must be between"),
    ("label_smoothing", 5.0, "Label smoothing must be between 0 and 0.5"),
    ("cutmix", 2.0, "CutMix's share of batches must be between 0 and 1"),
])
def test_training_settings_have_server_side_ranges(field, value, said):
    with pytest.raises(TrainingError, match=said):
        TrainConfig(**{field: value}).check()


def test_the_largest_allowed_settings_pass():
    TrainConfig(epochs=500, patience=500, batch_size=512, image_size=512, lr=1.0).check()


def test_the_server_sweeps_upload_folders_of_gone_pages_when_it_starts(tmp_path, monkeypatch):
    from nocode_widgets.pages import CappedKernelManager

    data = tmp_path / "data"
    gone = data / "users" / "u_1" / "tmp" / "uploads" / "upload-999999999-abc"  # no such process
    mine = data / "users" / "u_1" / "tmp" / "uploads" / f"upload-{os.getpid()}-def"  # a live page's
    for folder in (gone, mine):
        folder.mkdir(parents=True)
        (folder / "0").write_bytes(b"x" * 1000)
    monkeypatch.setenv("NOCODE_DATA_DIR", str(data))
    CappedKernelManager()
    assert not gone.exists() and mine.exists()

"""`nocode backup` while the app runs and a run trains, `nocode restore` into an empty folder: every finished
run predicts the same there (issue: the store at the scale of a class and a term)."""

import io
import subprocess
import tarfile

import pytest

from nocode_widgets.accounts import auth
from nocode_widgets import datasets as D
from nocode_widgets.backup import BackupError, backup, restore
from nocode_widgets.predict.onnx import predictor_for
from nocode_widgets.runs import jobs
from nocode_widgets.runs.records import read_history, run_folder
from tests.conftest import NOCODE, REPO, cli_env, make_workspace
from tests.images import COLORS, picture
from tests.runs.test_jobs import LONG, final, wait_for

PICTURES = [(f"{c}.jpg", picture(COLORS[c], seed=s)) for s, c in enumerate(("red", "green", "blue"))]


def answers(ws, user, run_id):
    return [(p.label, p.probabilities) for p in predictor_for(ws, user, run_id, engine="onnx").predict(PICTURES)]


@pytest.mark.slow
def test_a_backup_taken_while_a_run_trains_restores_elsewhere_and_predicts_the_same(trained, tmp_path):
    ws, alice, ds, finished = trained
    training = jobs.submit(ws, alice, ds.id, LONG)
    try:
        wait_for(lambda: len(read_history(run_folder(ws, training))) >= 1, what="the first epoch")
        result = subprocess.run([*NOCODE, "backup", "--out", str(tmp_path / "class.tar.gz")], cwd=REPO,
                                env=cli_env(ws.settings.data_dir), capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr
        assert "Backed up" in result.stdout
        assert jobs.get(ws, alice, training.id).status == "running"  # training went on
    finally:
        jobs.cancel(ws, alice, training.id)
        final(ws, alice, training.id)
    with tarfile.open(tmp_path / "class.tar.gz") as tar:
        names = tar.getnames()
    assert not [n for n in names if "/cache/" in n or n.endswith(".lock") or "/tmp/" in n]
    result = subprocess.run([*NOCODE, "restore", str(tmp_path / "class.tar.gz"), "--data-dir", str(tmp_path / "copy")],
                            cwd=REPO, env=cli_env(tmp_path / "nowhere"), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    copy = make_workspace(tmp_path / "copy")
    alice_there = auth.log_in(copy, "alice", "password-alice")
    assert answers(copy, alice_there, finished.id) == answers(ws, alice, finished.id)
    assert [d.name for d in D.list_datasets(copy, alice_there)] == [d.name for d in D.list_datasets(ws, alice)]
    assert jobs.get(copy, alice_there, training.id).status == "interrupted"  # no worker there: it says so


def test_restore_goes_only_into_an_empty_folder_and_refuses_what_is_not_a_backup(trained, tmp_path):
    ws, alice, ds, finished = trained
    report = backup(ws, tmp_path / "store.tar", store_only=True)
    assert report.files >= 2
    with tarfile.open(tmp_path / "store.tar") as tar:
        assert not [n for n in tar.getnames() if n.endswith((".jpg", ".onnx"))]
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "something").write_text("mine")
    with pytest.raises(BackupError, match="not empty"):
        restore(tmp_path / "store.tar", tmp_path / "busy")
    with tarfile.open(tmp_path / "evil.tar", "w") as tar:
        tar.add(tmp_path / "busy" / "something", arcname="../outside")
    with pytest.raises(BackupError, match="not a backup"):
        restore(tmp_path / "evil.tar", tmp_path / "empty")
    for name, kind in (("../outside", tarfile.REGTYPE), ("store/owners.json", tarfile.REGTYPE),
                       ("users/u_1/datasets/x.jpg", tarfile.SYMTYPE), ("space/u_1.json", tarfile.REGTYPE)):
        with tarfile.open(tmp_path / "store.tar") as good, tarfile.open(tmp_path / "evil.tar", "w") as tar:
            for m in good.getmembers():
                tar.addfile(m, good.extractfile(m))
            info = tarfile.TarInfo(name)
            info.type, info.linkname = kind, "/etc/passwd"
            tar.addfile(info, io.BytesIO(b""))
        with pytest.raises(BackupError, match="never holds"):
            restore(tmp_path / "evil.tar", tmp_path / "empty")
        assert not (tmp_path / "empty").exists() and not (tmp_path / "outside").exists()
    with pytest.raises(BackupError, match="already exists"):
        backup(ws, tmp_path / "store.tar")
    restored = restore(tmp_path / "store.tar", tmp_path / "fresh")
    assert [u.username for u in auth.list_users(restored)] == [u.username for u in auth.list_users(ws)]


def test_a_backup_with_an_ensemble_restores(trained, tmp_path):
    from nocode_widgets.runs.ensemble import make_ensemble
    from tests.training_helpers import train

    ws, alice, ds, finished = trained
    other = train(ws, alice, ds, seed=3)
    ensemble = make_ensemble(ws, alice, [finished.id, other.id], name="pair")  # its member files are hard links
    backup(ws, tmp_path / "with-ensemble.tar")
    copy = restore(tmp_path / "with-ensemble.tar", tmp_path / "copy")
    there = auth.find_user(copy, "alice")
    assert answers(copy, there, ensemble.id) == answers(ws, alice, ensemble.id)

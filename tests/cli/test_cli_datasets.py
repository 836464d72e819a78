import json
import os
import signal
import subprocess
import time

import pytest

from nocode_widgets import datasets as D
from nocode_widgets.workspace import Workspace
from tests.conftest import NOCODE, cli_env
from tests.images import class_files, make_zip, picture
from tests.datasets.test_datasets import write_tree


def run(tmp_path, *args):
    env = cli_env(tmp_path / "data", NOCODE_PASSWORD="password123")
    return subprocess.run([*NOCODE, *args], env=env, capture_output=True, text=True, timeout=300)


def ok(tmp_path, *args):
    """Run `nocode ARGS` and expect success: its JSON with --json, else its text."""
    out = run(tmp_path, *args)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout) if "--json" in args else out.stdout


def setup_user(tmp_path):
    assert run(tmp_path, "user", "add", "alice").returncode == 0


def test_import_zip_prints_report_as_json(tmp_path):
    setup_user(tmp_path)
    files = class_files(("red", "blue"), per_class=3)
    files["red/bad.jpg"] = b"not an image"
    (tmp_path / "colors.zip").write_bytes(make_zip(files))
    out = run(tmp_path, "dataset", "import", "--user", "alice", "--json", str(tmp_path / "colors.zip"))
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["dataset_name"] == "colors" and report["dataset_id"].startswith("ds_")
    assert report["counts"] == {"blue": 3, "red": 3} and report["accepted"] == 6
    assert report["skipped"] == [{"name": "red/bad.jpg", "reason": report["skipped"][0]["reason"]}]
    assert "not a picture" in report["skipped"][0]["reason"]


def test_import_folder_list_show_delete(tmp_path):
    setup_user(tmp_path)
    src = write_tree(tmp_path / "pets", class_files(("red", "green")))
    assert run(tmp_path, "dataset", "import", "--user", "alice", "--name", "Pets", str(src)).returncode == 0
    listed = json.loads(run(tmp_path, "dataset", "list", "--user", "alice", "--json").stdout)
    assert [(d["name"], d["images"]) for d in listed] == [("Pets", 8)]
    shown = json.loads(run(tmp_path, "dataset", "show", "--user", "alice", "pets", "--json").stdout)
    assert shown["classes"] == {"green": 4, "red": 4}
    assert run(tmp_path, "dataset", "delete", "--user", "alice", "Pets").returncode == 0
    assert json.loads(run(tmp_path, "dataset", "list", "--user", "alice", "--json").stdout) == []


def test_import_into_existing_dataset(tmp_path):
    setup_user(tmp_path)
    (tmp_path / "a.zip").write_bytes(make_zip(class_files(("red", "blue"))))
    (tmp_path / "b.zip").write_bytes(make_zip(class_files(("yellow",))))
    run(tmp_path, "dataset", "import", "--user", "alice", "--name", "c", str(tmp_path / "a.zip"))
    out = run(tmp_path, "dataset", "import", "--user", "alice", "--into", "c", "--json", str(tmp_path / "b.zip"))
    assert json.loads(out.stdout)["counts"] == {"red": 4, "blue": 4, "yellow": 4}


def test_unknown_user_or_dataset_is_one_line_exit_1(tmp_path):
    setup_user(tmp_path)
    for args in (("dataset", "list", "--user", "nobody"), ("dataset", "show", "--user", "alice", "nope")):
        out = run(tmp_path, *args)
        assert out.returncode == 1 and len(out.stderr.strip().splitlines()) == 1


def test_one_class_zip_is_a_clear_error(tmp_path):
    setup_user(tmp_path)
    (tmp_path / "one.zip").write_bytes(make_zip(class_files(("red",))))
    out = run(tmp_path, "dataset", "import", "--user", "alice", str(tmp_path / "one.zip"))
    assert out.returncode == 1 and "at least two classes" in out.stderr


@pytest.mark.slow
def test_import_killed_half_way_leaves_store_and_manifest_consistent(tmp_path):
    setup_user(tmp_path)
    ws = Workspace.open(tmp_path / "data")
    from nocode_widgets.accounts import auth

    alice = auth.find_user(ws, "alice")
    first = D.import_archive(ws, alice, _zip_path(tmp_path, "first", 5, 0), name="pets")
    big = _zip_path(tmp_path, "big", 400, 1, size=(256, 256))
    proc = subprocess.Popen([*NOCODE, "dataset", "import", "--user", "alice", "--into", "pets", str(big)],
                            env=cli_env(tmp_path / "data"), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    images = D.dataset_folder(ws, D.get_dataset(ws, alice, first.dataset_id)) / "images"
    deadline = time.time() + 60
    while len(list(images.glob("*.jpg"))) < 30 and time.time() < deadline:  # wait until it is writing
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    ds = D.get_dataset(ws, alice, first.dataset_id)
    entries = D.read_manifest(D.dataset_folder(ws, ds))
    assert ds.image_count == len(entries) == 10  # nothing half-added: the summary matches the manifest
    assert all((D.dataset_folder(ws, ds) / e.file).exists() for e in entries)
    retry = D.import_archive(ws, alice, big, dataset_id=ds.id)  # and the import can simply be run again
    assert retry.accepted == 800 and D.get_dataset(ws, alice, ds.id).image_count == 810


def _zip_path(tmp_path, name, per_class, seed, size=(32, 24)):
    files = {f"{c}/{name}{i}.jpg": picture((200, 40, 40) if c == "red" else (40, 40, 200), size=size,
                                            seed=seed * 100000 + k * 10000 + i)
             for k, c in enumerate(("red", "blue")) for i in range(per_class)}
    path = tmp_path / f"{name}.zip"
    path.write_bytes(make_zip(files))
    return path


def test_failure_half_way_through_a_new_dataset_leaves_nothing(ws, alice, tmp_path):
    calls = []

    def give_up(done, total):
        calls.append(done)
        if done == 5:
            raise KeyboardInterrupt  # the person closed the page half way

    try:
        D.import_archive(ws, alice, _zip_path(tmp_path, "x", 10, 2), name="pets", progress=give_up)
    except KeyboardInterrupt:
        pass
    assert calls[-1] == 5 and D.list_datasets(ws, alice) == []
    assert not any((ws.settings.user_dir(alice.id) / "datasets").iterdir())

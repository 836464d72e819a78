"""A course from the command line: `nocode class ...` and `nocode assignment ...`, each a real `nocode` process
against one data folder."""

import csv
import stat

import pytest

from tests.classroom.conftest import hidden_zip
from tests.cli.test_cli_datasets import ok, run
from tests.images import class_files, make_zip

pytestmark = pytest.mark.slow


def test_a_course_round_trip(tmp_path):
    ok(tmp_path, "user", "add", "admin")
    assert ok(tmp_path, "user", "add", "teach", "--teacher", "--json")["role"] == "teacher"
    (tmp_path / "colours.zip").write_bytes(make_zip(class_files(("red", "blue"), per_class=10, size=(40, 30))))
    ok(tmp_path, "dataset", "import", "--user", "teach", "--name", "colours", str(tmp_path / "colours.zip"))
    room = ok(tmp_path, "class", "create", "Art", "--teacher", "teach", "--json")
    assert ok(tmp_path, "class", "join-code", "Art").strip() == room["code"]

    (tmp_path / "roster.csv").write_text("name\nAda Lovelace\nAlan Turing\n")
    added = ok(tmp_path, "class", "add-students", "Art", "--csv", str(tmp_path / "roster.csv"),
               "--out", str(tmp_path / "passwords.csv"), "--json")
    assert [a["username"] for a in added["added"]] == ["ada.lovelace", "alan.turing"]
    assert "password" not in added["added"][0]  # in the file only
    assert stat.S_IMODE((tmp_path / "passwords.csv").stat().st_mode) == 0o600
    lines = list(csv.DictReader((tmp_path / "passwords.csv").open()))
    assert [row["username"] for row in lines] == ["ada.lovelace", "alan.turing"] and len(lines[0]["one-time password"]) == 12

    (tmp_path / "hidden.zip").write_bytes(hidden_zip(per_class=4))
    work = ok(tmp_path, "assignment", "create", "Art", "--dataset", "colours", "--hidden-test",
              str(tmp_path / "hidden.zip"), "--deadline", "2099-01-01T12:00", "--metric", "accuracy", "--per-day", "2",
              "--title", "Colours", "--json")
    assert work["hidden_pictures"] == 8 and work["dataset"] != "" and work["overlap"] == 0
    trained = ok(tmp_path, "train", "--user", "ada.lovelace", "--dataset", work["dataset"], "--image-size", "32",
                 "--epochs", "3", "--batch-size", "8", "--wait", "--json")
    run_id = trained["run_id"]
    scored = ok(tmp_path, "assignment", "submit", "--user", "ada.lovelace", "Colours", "--run", run_id, "--json")
    assert 0 <= scored["public"] <= 1 and scored["metric"] == "accuracy"
    stolen = run(tmp_path, "assignment", "submit", "--user", "alan.turing", "Colours", "--run", run_id)
    assert stolen.returncode == 1 and "does not exist" in stolen.stderr  # another student's run
    board = ok(tmp_path, "assignment", "board", "Colours", "--user", "alan.turing", "--json")
    assert [(r["rank"], r["name"]) for r in board["rows"]] == [(1, "Ada Lovelace")] and not board["final"]
    early = run(tmp_path, "assignment", "board", "Colours", "--final")
    assert early.returncode == 1 and "opens at the deadline" in early.stderr
    ok(tmp_path, "assignment", "close", "Colours")
    final = ok(tmp_path, "assignment", "board", "Colours", "--final", "--json")
    assert final["final"] and final["rows"][0]["name"] == "Ada Lovelace"
    ok(tmp_path, "assignment", "grades", "Colours", "--out", str(tmp_path / "grades.csv"))
    grades = list(csv.DictReader((tmp_path / "grades.csv").open()))
    assert grades[0]["username"] == "ada.lovelace" and grades[0]["final rank"] == "1" and grades[1]["submissions"] == "0"
    shown = ok(tmp_path, "class", "show", "Art", "--json")
    assert {s["username"] for s in shown["students"]} == {"ada.lovelace", "alan.turing"}
    assert not any(s["signed_in"] for s in shown["students"])  # neither chose a password yet

"""The labeling loop from the command line: `nocode inbox add|list|label|discard` and `nocode predict --add-to`,
each a real `nocode` process against one data folder."""


import pytest

from tests.cli.test_cli_datasets import ok, run, setup_user
from tests.images import class_files, make_zip, picture
from tests.insight.test_suggest import half_and_half

pytestmark = pytest.mark.slow


def test_the_labeling_loop_round_trip(tmp_path):
    setup_user(tmp_path)
    (tmp_path / "colours.zip").write_bytes(make_zip(class_files(("red", "blue"), per_class=12, size=(40, 30))))
    ok(tmp_path, "dataset", "import", "--user", "alice", "--name", "colours", str(tmp_path / "colours.zip"))
    me = ("--user", "alice", "--dataset", "colours")

    unsorted = {f"trip/{i}.jpg": picture((220, 30, 30) if i % 2 else (30, 40, 220), size=(40, 30), seed=6000 + i)
                for i in range(6)}
    (tmp_path / "unsorted.zip").write_bytes(make_zip(unsorted))
    (tmp_path / "odd.jpg").write_bytes(half_and_half())
    (tmp_path / "notes.txt").write_text("not a picture")
    added = ok(tmp_path, "inbox", "add", *me, "--json", str(tmp_path / "unsorted.zip"), str(tmp_path / "odd.jpg"),
               str(tmp_path / "notes.txt"))
    assert added["accepted"] == 7 and added["inbox"] == 7 and added["into"] == "inbox"
    assert [s["name"] for s in added["skipped"]] == [str(tmp_path / "notes.txt")]

    plain = ok(tmp_path, "inbox", "list", *me, "--json")  # no run yet: newest first, no suggestions
    assert plain["run_id"] == "" and len(plain["pictures"]) == 7 and {p["suggested"] for p in plain["pictures"]} == {""}

    ok(tmp_path, "train", "--user", "alice", "--dataset", "colours", "--image-size", "32", "--epochs", "4",
       "--batch-size", "8", "--wait")
    useful = ok(tmp_path, "inbox", "list", *me, "--json")
    assert useful["run_id"].startswith("run_") and useful["order"] == "useful"
    assert useful["pictures"][0]["original"] == str(tmp_path / "odd.jpg")
    assert [p["rank"] for p in useful["pictures"]] == list(range(1, 8))
    sure = ok(tmp_path, "inbox", "list", *me, "--order", "sure", "--json")
    assert sure["pictures"][-1]["original"] == str(tmp_path / "odd.jpg")
    text = ok(tmp_path, "inbox", "list", *me)
    assert "7 pictures waiting" in text and useful["pictures"][0]["id"] in text.splitlines()[1]

    odd = useful["pictures"][0]["id"]
    filed = ok(tmp_path, "inbox", "label", *me, f"{odd}=red", "--json")
    assert filed["filed"] == {"red": 1} and filed["inbox"] == 6
    accepted = ok(tmp_path, "inbox", "label", *me, "--accept-sure", "--json")
    expected = [p for p in sure["pictures"] if p["sure"] and p["id"] != odd]
    assert sum(accepted["filed"].values()) == len(expected) and accepted["inbox"] == 6 - len(expected)
    left = [p["id"] for p in ok(tmp_path, "inbox", "list", *me, "--json")["pictures"]]
    if left:
        gone = ok(tmp_path, "inbox", "discard", *me, *left, "--json")
        assert gone["inbox"] == 0
    bad = run(tmp_path, "inbox", "label", *me, "nonsense")
    assert bad.returncode == 1 and "ID=CLASS" in bad.stderr
    missing = run(tmp_path, "inbox", "discard", *me, "abcdef123456")
    assert missing.returncode == 1 and "waiting in this inbox" in missing.stderr

    shown = ok(tmp_path, "dataset", "show", "--user", "alice", "colours", "--json")
    (tmp_path / "new.jpg").write_bytes(picture((30, 40, 220), size=(40, 30), seed=9999))
    tested = ok(tmp_path, "predict", "--user", "alice", "--run", useful["run_id"], "--add-to", "colours", "--as", "blue",
                "--json", str(tmp_path / "new.jpg"))
    assert tested[0]["added_to"] == {"dataset": shown["id"], "class": "blue", "version": shown["version"] + 1}
    after = ok(tmp_path, "dataset", "show", "--user", "alice", "colours", "--json")
    assert after["classes"]["blue"] == shown["classes"]["blue"] + 1
    lonely = run(tmp_path, "predict", "--user", "alice", "--run", useful["run_id"], "--as", "blue", str(tmp_path / "new.jpg"))
    assert lonely.returncode == 1 and "--add-to" in lonely.stderr

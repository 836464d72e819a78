"""The labeling loop on the panels, driven as a browser would: a tested picture added to the dataset from the
Test panel (and from the live camera), the inbox's suggestions filed with one click or key, the sure ones
accepted after a confirmation, then "Train again" and the before/after in Results. Crafted values change
nothing they should not."""

import ipywidgets as w
import pytest

from nocode_widgets import datasets as D
from nocode_widgets.runs import jobs
from nocode_widgets.ui import DatasetsPanel, ResultsPanel, TestPanel
from tests.images import COLORS, make_zip, picture
from tests.insight.test_suggest import half_and_half
from tests.training_helpers import colour_dataset, train
from tests.ui.driving import find_all, talk, texts, upload

pytestmark = pytest.mark.slow


def trained_colours(ws, user, per_class=14):
    ds = colour_dataset(ws, user, classes=("red", "blue"), per_class=per_class)
    return ds, train(ws, user, ds)


def test_a_tested_picture_joins_the_class_chosen_beside_its_answer(ws, alice):
    ds, run = trained_colours(ws, alice)
    panel = TestPanel(ws, alice)
    upload(panel.upload, {"new-red.jpg": picture(COLORS["red"], size=(40, 30), seed=777)})
    panel.work.wait()
    [pick] = find_all(panel.results, w.Dropdown)
    assert pick.value == "red" and list(pick.options) == ["blue", "red"]  # preselected with the answer
    [add] = [b for b in find_all(panel.results, w.Button) if b.description == "Add"]
    pick.value = "blue"  # the person corrects it
    add.click()
    after = D.get_dataset(ws, alice, ds.id)
    assert after.version == ds.version + 1 and after.counts == {"red": 14, "blue": 15}
    assert "as blue" in panel.message.text and f"version {after.version}" in panel.message.text
    assert add.disabled and add.description == "Added"
    filed = [e for e in D.read_manifest(D.dataset_folder(ws, after)) if e.original == "new-red.jpg"]
    assert [e.label for e in filed] == ["blue"]
    # a crafted class is refused in plain words, nothing is added
    upload(panel.upload, {"other.jpg": picture(COLORS["blue"], size=(40, 30), seed=778)})
    panel.work.wait()
    [add] = [b for b in find_all(panel.results, w.Button) if b.description == "Add"]
    from nocode_widgets.ui.parts import report_errors

    report_errors(panel.message, lambda: panel._add(run.id, "other.jpg", picture(COLORS["blue"], size=(40, 30), seed=778),
                                                    "no-such-class", add))  # what the button does with a crafted class
    assert "no class called 'no-such-class'" in panel.message.text
    assert D.get_dataset(ws, alice, ds.id).image_count == 29


def test_the_live_camera_adds_its_last_picture_with_its_answer(ws, alice):
    ds, _ = trained_colours(ws, alice)
    panel = TestPanel(ws, alice)
    frame = picture(COLORS["blue"], size=(64, 48), seed=31)
    assert talk(panel.camera, {"kind": "live"}, [frame]) == {"kind": "ack"}
    assert panel.live_row.layout.display == "" and panel.live_class.value == ""  # "its answer"
    panel.live_add.click()
    after = D.get_dataset(ws, alice, ds.id)
    assert after.image_count == ds.image_count + 1 and "to colours as" in panel.message.text


def test_the_inbox_suggests_files_accepts_the_sure_ones_and_trains_again(ws, alice):
    ds, run = trained_colours(ws, alice)
    panel = DatasetsPanel(ws, alice)
    files = {f"trip/red-{i}.jpg": picture(COLORS["red"], size=(40, 30), seed=5000 + i) for i in range(8)}
    files |= {f"trip/blue-{i}.jpg": picture(COLORS["blue"], size=(40, 30), seed=5100 + i) for i in range(8)}
    files["odd.jpg"] = half_and_half()
    upload(panel.inbox.upload, {"holiday.zip": make_zip(files)})
    panel.work.wait()
    assert "17 pictures added to the inbox" in panel.message.text
    assert D.get_dataset(ws, alice, ds.id).counts == ds.counts  # not training data yet
    assert "17 pictures waiting" in panel.inbox.summary.value
    assert panel.inbox.run.value == run.id

    panel.inbox.show_button.click()
    panel.work.wait()
    grid = panel.inbox.grid
    assert len(grid.cards) == 17 and grid.cards[0]["name"] == "odd.jpg"  # most useful first
    assert grid.classes == ["blue", "red"] and grid.cards[0]["src"].startswith("data:image/jpeg;base64,")
    assert all(grid.choices[c["id"]] == c["suggested"] for c in grid.cards)  # preselected
    odd = grid.cards[0]["id"]
    # the page asks: the odd one into blue, one left unfiled, and a crafted id and class that must not pass
    clear = [c for c in grid.cards[1:] if c["name"].startswith("trip/red")]
    choices = {odd: "blue", "deadbeef0000": "red"}
    grid.set_state({"choices": choices})
    panel.inbox.file_button.click()
    panel.work.wait()
    after = D.get_dataset(ws, alice, ds.id)
    assert after.counts == {"red": 14, "blue": 15} and after.inbox == 16 and "1 into blue" in panel.message.text
    grid.set_state({"choices": {clear[0]["id"]: "green"}})
    panel.inbox.file_button.click()
    panel.work.wait()
    assert "no class called 'green'" in panel.message.text and D.get_dataset(ws, alice, ds.id).inbox == 16

    panel.inbox.order.value = "sure"
    panel.inbox.show_button.click()
    panel.work.wait()
    sure = panel.inbox._found.sure_counts()
    assert sum(sure.values()) > 0
    panel.inbox.sure_button.click()
    question = texts(panel.confirm)
    assert all(f"{n} into {c}" in question for c, n in sure.items())
    [yes] = [b for b in find_all(panel.confirm, w.Button) if b.description.startswith("Yes")]
    yes.click()
    panel.work.wait()
    after = D.get_dataset(ws, alice, ds.id)
    assert after.inbox == 16 - sum(sure.values()) and after.image_count == 29 + sum(sure.values())

    panel.refresh()
    assert sum(sure.values()) + 1 >= 10 and panel.inbox.again_button.layout.display == ""  # offered
    assert f"{sum(sure.values()) + 1} pictures labelled since" in panel.inbox.again_note.value
    panel.inbox.again_button.click()
    panel.work.wait()
    again = [r for r in jobs.runs(ws, alice) if r.follows == run.id]
    assert len(again) == 1 and "Training again" in panel.message.text
    for _ in jobs.follow(ws, alice, again[0].id, interval=0.2, timeout=300):
        pass
    results = ResultsPanel(ws, alice)
    results.picker.value = again[0].id
    shown = texts(results.detail)
    assert "neither model trained on" in shown and "Before the new pictures" in shown

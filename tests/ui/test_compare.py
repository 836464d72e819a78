"""From the page alone (issue: studies and ensembles): compare models in Train, read the table and the plot in
Results, combine runs into an ensemble, test and download it; bagging in one click; crafted clicks refused."""

import ipywidgets as w
import pytest

from nocode_widgets.runs import studies as S
from nocode_widgets.store import Table
from nocode_widgets.runs import jobs
from nocode_widgets.ui import ResultsPanel, TestPanel, TrainPanel
from tests.images import COLORS, picture
from tests.training_helpers import colour_dataset
from tests.runs.test_jobs import final, wait_for
from tests.ui.driving import find_all, texts, upload


def finish_study(ws, user, study_id):
    study = wait_for(lambda: (s := S.get_study(ws, user, study_id)) and not s.pending and s, what="every model queued")
    for run_id in study.runs:
        final(ws, user, run_id)
    return S.get_study(ws, user, study_id)


@pytest.mark.slow
def test_compare_read_combine_test_and_download_from_the_page(ws, alice):
    colour_dataset(ws, alice, per_class=8)
    train = TrainPanel(ws, alice, poll_interval=0.2)
    compare = train.compare
    compare.preset.value = "quick"
    assert compare.archs.disabled and len(compare.archs.value) == 3  # the preset's models, shown
    compare.preset.value = "choose"
    compare.archs.value, compare.epochs.value = ("small_cnn", "mnasnet0_5"), 2
    compare.start.click()
    compare.work.wait()
    assert "Comparison started: 2 models queued" in compare.message.text, compare.message.text
    study = finish_study(ws, alice, S.list_studies(ws, alice)[0].id)

    results = ResultsPanel(ws, alice)
    view = results.studies
    assert view.picker.value == study.id and view.layout.display == ""
    assert view.table.value.count("<tr>") == 3 and "Small CNN" in view.table.value and "MNASNet 0.5" in view.table.value
    assert "same validation pictures" in view.table.value and "Recommended:" in view.advice.value
    assert view.plot.value and view.plot.layout.display == ""

    maker = results.ensembles
    maker.runs.value = tuple(study.runs)
    maker.name.value = "pair"
    maker.make.click()
    assert "Made pair" in maker.message.text, maker.message.text
    ensemble = next(r for r in jobs.runs(ws, alice) if r.kind == "ensemble")
    assert results.picker.value == ensemble.id and "Soft vote of 2 models" in texts(results.detail)
    assert not any(b.description == "Show where it looked" and b.layout.display != "none"
                   for b in find_all(results.detail, w.Button))  # heat maps are per model
    results.download_button.click()
    results.work.wait()
    assert "Saving colours-ensemble" in results.message.text, results.message.text

    test = TestPanel(ws, alice)
    test.run.value = ensemble.id
    upload(test.upload, {"new-red.png": picture(COLORS["red"], size=(40, 30), fmt="PNG", seed=7)})
    test.work.wait()
    card = texts(test.results.children[0])
    assert "new-red.png" in card and ("it is" in card or "not sure" in card) and "probability" in card


@pytest.mark.slow
def test_bagging_in_one_click_ends_in_an_ensemble_measured_out_of_fold(ws, alice):
    colour_dataset(ws, alice, per_class=4)
    train = TrainPanel(ws, alice, poll_interval=0.2)
    train.auto.value = False
    train.epochs.value, train.image_size.value = 2, 32
    train.bag.value, train.folds.value = True, 2
    train.start_button.click()
    assert "Bagging started: 2 models" in train.message.text, train.message.text
    study = finish_study(ws, alice, S.list_studies(ws, alice)[0].id)
    train.wait()
    jobs.runs(ws, alice)  # the queue moves on any read; the last worker has combined them already
    study = wait_for(lambda: (s := S.get_study(ws, alice, study.id)).ensemble and s, what="the ensemble")
    ensemble = jobs.get(ws, alice, study.ensemble)
    assert ensemble.metrics["split"] == "out-of-fold" and "each of the 12 pictures" in ensemble.explanation
    results = ResultsPanel(ws, alice)
    assert "held-out fold" in results.studies.table.value and "combined into one ensemble" in results.studies.advice.value


def test_crafted_ids_cannot_reach_someone_elses_runs_studies_or_datasets(ws, alice, bob):
    ds = colour_dataset(ws, alice, per_class=2)
    mine = colour_dataset(ws, bob, per_class=2)
    runner_free = S.Study("study_x", alice.id, ds.id, ds.name, "study", "t", [{"arch": "small_cnn"}] * 2)
    ws.store.insert(Table.STUDIES, runner_free.to_json())
    results = ResultsPanel(ws, bob)
    results.studies.picker.options = [("x", "study_x")]
    results.studies.picker.value = "study_x"
    assert "does not exist" in results.studies.message.text and results.studies.table.value == ""
    results.studies.cancel.click()
    assert S.load_study(ws, "study_x").status == "open"
    results.ensembles.runs.options = [("x", "run_a"), ("y", "run_b")]
    results.ensembles.runs.value = ("run_a", "run_b")
    results.ensembles.make.click()
    assert "does not exist" in results.ensembles.message.text
    train = TrainPanel(ws, bob)
    train.compare.dataset.options = [("x", ds.id), ("y", mine.id)]
    train.compare.dataset.value = ds.id
    train.compare.preset.value = "choose"
    train.compare.archs.value = ("small_cnn", "resnet18")
    train.compare.start.click()
    train.compare.work.wait()
    assert "does not exist" in train.compare.message.text and S.list_studies(ws, bob) == []
    assert [r for r in jobs.runs(ws, alice, everyone=True)] == []

"""Studies and bagging (issue: studies and ensembles): groups of ordinary runs within the owner's run limit,
one table with a recommendation, a bagging combined out of fold, from the command line with real workers."""

import json
import subprocess
import time

import pytest

from nocode_widgets.runs import studies as S
from nocode_widgets.errors import NotFound, TrainingError
from nocode_widgets.runs import jobs
from nocode_widgets.runs.queue import schedule
from nocode_widgets.runs.records import load_run, transition
from tests.conftest import NOCODE, cli_env
from tests.images import picture
from tests.training_helpers import colour_dataset
from tests.runs.test_queue import SleeperRunner, worker_processes

FIVE = ["small_cnn", "mobilenet_v3_small", "mnasnet0_5", "shufflenet_v2_x1_0", "resnet18"]


def test_a_study_queues_within_the_run_limit_and_tops_up_as_room_frees(ws, alice):
    runner, ds = SleeperRunner(), colour_dataset(ws, alice, per_class=2)
    study = S.start_study(ws, alice, ds.id, FIVE, epochs=2, runner=runner)
    try:
        assert len(study.runs) == ws.settings.max_queued_runs_per_user == 3 and len(study.pending) == 2
        assert worker_processes(study.runs) == 1 and all(load_run(ws, r).study == study.id for r in study.runs)
        with pytest.raises(TrainingError, match="already have 3 runs"):  # the study counts like its runs
            jobs.submit(ws, alice, ds.id, {"epochs": 1}, runner=runner)
        first = load_run(ws, study.runs[0])
        transition(ws, first.id, ("queued", "running"), status="done", finished=time.time())
        runner.stop(first, grace=0.2)
        schedule(ws, runner)
        study = S.get_study(ws, alice, study.id)
        assert len(study.runs) == 4 and [load_run(ws, r).config["arch"] for r in study.runs] == FIVE[:4]
        table = S.study_table(ws, alice, study.id)
        assert [r.title for r in table.rows] == ["Small CNN", "MobileNetV3 Small", "MNASNet 0.5", "ShuffleNetV2 x1.0"]
        assert table.waiting == 1 and "at least two models" in table.reason
        cancelled = S.cancel_study(ws, alice, study.id)
        assert cancelled.status == "cancelled" and not cancelled.pending
        assert all(load_run(ws, r).status in ("cancelled", "done") for r in study.runs)
    finally:
        for run_id in S.get_study(ws, alice, study.id).runs:
            runner.stop(load_run(ws, run_id), grace=0.2)


def test_studies_and_baggings_refuse_plainly(ws, alice, bob):
    ds = colour_dataset(ws, alice, per_class=2)
    for archs, message in ((["small_cnn"], "2 to 8 different models"), (["small_cnn", "small_cnn"], "2 to 8"),
                           (["small_cnn", "nope"], "Unknown architecture 'nope'")):
        with pytest.raises(TrainingError, match=message):
            S.start_study(ws, alice, ds.id, archs)
    with pytest.raises(TrainingError, match="at least 3 pictures in every class"):
        S.start_bagging(ws, alice, ds.id, {"epochs": 1}, folds=3)
    with pytest.raises(TrainingError, match="2 to 10 models"):
        S.start_bagging(ws, alice, ds.id, {}, folds=1)
    with pytest.raises(NotFound):
        S.start_study(ws, bob, ds.id, ["small_cnn", "resnet18"])
    assert S.list_studies(ws, alice) == []


def test_recommendation_is_the_fastest_model_close_to_the_best():
    def row(title, acc, seconds):
        return S.StudyRow("r", "a", title, "done", acc, acc, acc, seconds, None, None, None, 1, 1, "validation")

    text, why = S.recommend([row("Big", 0.95, 40.0), row("Small", 0.945, 10.0), row("Bad", 0.6, 1.0)])
    assert text == "Small: within 0.5 point of the best (Big, 95.0%), 4.0x faster." and "within 1 point" in why
    text, _ = S.recommend([row("Big", 0.95, 40.0), row("Small", 0.90, 10.0)])
    assert text.startswith("Big: the most accurate (95.0%)")


def nocode_json(ws, *args, timeout=300):
    out = subprocess.run([*NOCODE, *args, "--json"], env=cli_env(ws.settings.data_dir), capture_output=True, text=True,
                         timeout=timeout)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@pytest.mark.slow
def test_a_study_and_a_bagging_from_the_command_line(ws, alice, tmp_path):
    colour_dataset(ws, alice, per_class=6)
    table = nocode_json(ws, "study", "--user", "alice", "--dataset", "colours", "--archs", "small_cnn,mobilenet_v3_small",
                        "--epochs", "2", "--image-size", "32", "--wait")
    assert [r["status"] for r in table["rows"]] == ["done", "done"]
    assert {len(c) for c in table["curves"].values()} <= {1, 2} and table["recommendation"] and table["same_pictures"]
    for r in table["rows"]:
        assert r["parameters"] > 0 and r["pictures_per_s"] > 0 and r["peak_memory_mb"] > 0 and r["training_s"] > 0
        assert r["split"] == "validation" and r["accuracy"] is not None

    bag = nocode_json(ws, "train", "--user", "alice", "--dataset", "colours", "--arch", "small_cnn", "--epochs", "2",
                      "--image-size", "32", "--bag", "3", "--wait")
    ensemble = jobs.get(ws, alice, bag["ensemble"])
    assert ensemble.kind == "ensemble" and len(ensemble.members) == 3 and ensemble.study == bag["study"]["id"]
    assert ensemble.metrics["split"] == "out-of-fold" and "each of the 18 pictures" in ensemble.explanation
    assert all(r["split"] == "its held-out fold" for r in bag["rows"])
    (tmp_path / "red.png").write_bytes(picture((220, 20, 20), fmt="PNG"))
    said = nocode_json(ws, "predict", "--user", "alice", "--run", ensemble.id, str(tmp_path / "red.png"))
    assert said[0]["label"] in ("red", "green", "blue") and said[0]["engine"] == "ensemble"
    assert [s["id"] for s in nocode_json(ws, "studies", "--user", "alice")] == [bag["study"]["id"],
                                                                                table["study"]["id"]]


def test_a_preset_queues_its_own_models_under_its_name(ws, alice):
    runner, ds = SleeperRunner(), colour_dataset(ws, alice, per_class=2)
    study = S.start_preset(ws, alice, ds.id, "competition", "cpu", runner=runner)
    try:
        assert study.title == "The competition" and [c["arch"] for c in study.configs] == [
            "resnet152", "densenet161", "inception_v3", "efficientnet_v2_m"]
        assert len(study.runs) == 3 and len(study.pending) == 1
        assert S.preset_archs("quick", "cpu") == ["small_cnn", "mobilenet_v3_small", "mobilenet_v3_large"]
        with pytest.raises(TrainingError, match="Unknown preset"):
            S.start_preset(ws, alice, ds.id, "fastest", "cpu", runner=runner)
    finally:
        S.cancel_study(ws, alice, study.id)
        for run_id in study.runs:
            runner.stop(load_run(ws, run_id), grace=0.2)

import pytest
import torch
from torch import nn

from nocode_widgets.models import zoo
from nocode_widgets.errors import TrainingError
from nocode_widgets.files import read_json
from nocode_widgets.predict.onnx import open_predictor
from nocode_widgets.runs.train_config import TrainConfig
from nocode_widgets.training.fit import Callbacks, TensorFeeder, fit, predict_probs
from nocode_widgets.runs.records import read_history, run_folder
from tests.images import COLORS, picture
from tests.training_helpers import colour_dataset, train


def test_a_run_trains_evaluates_and_saves_artifacts(ws, alice):
    ds = colour_dataset(ws, alice)
    run = train(ws, alice, ds, epochs=6)
    assert run.status == "done", run.error
    folder = run_folder(ws, run)
    assert {"weights.pt", "model.json", "evaluation.json", "history.jsonl", "split.json", "progress.json"} <= \
        {p.name for p in folder.iterdir()}
    card = read_json(folder / "model.json")
    assert card["arch"] == "small_cnn" and card["image_size"] == 32 and card["classes"] == list(ds.classes)
    assert run.metrics["split"] == "validation" and run.metrics["val_accuracy"] >= 0.8
    history = read_history(folder)
    assert [h["epoch"] for h in history] == list(range(1, run.epochs_run + 1))
    assert history[run.best_epoch - 1]["val_f1"] == max(h["val_f1"] for h in history)
    evaluation = read_json(folder / "evaluation.json")["validation"]
    assert evaluation["count"] == 6 and sum(map(sum, evaluation["confusion"])) == 6  # 2 of 12 per class
    assert run.explanation and run.device == "cpu" and run.resolved["arch"] == "small_cnn"


def test_validation_never_sees_training_pictures(ws, alice):
    ds = colour_dataset(ws, alice)
    run = train(ws, alice, ds, epochs=1)
    split = read_json(run_folder(ws, run) / "split.json")
    assert not set(split["train"]) & set(split["val"])
    assert len(split["train"]) + len(split["val"]) == 36


def test_two_runs_on_one_dataset_version_validate_on_the_same_pictures(ws, alice):
    ds = colour_dataset(ws, alice)
    a, b = train(ws, alice, ds, epochs=1), train(ws, alice, ds, epochs=1, batch_size=4)
    assert read_json(run_folder(ws, a) / "split.json") == read_json(run_folder(ws, b) / "split.json")


def test_same_seed_same_results(ws, alice):
    ds = colour_dataset(ws, alice)
    a, b = train(ws, alice, ds, epochs=2), train(ws, alice, ds, epochs=2)
    strip = lambda rows: [{k: v for k, v in r.items() if k != "seconds"} for r in rows]  # noqa: E731
    assert strip(read_history(run_folder(ws, a))) == strip(read_history(run_folder(ws, b)))


def test_class_order_survives_save_load_and_predict(ws, alice):
    ds = colour_dataset(ws, alice, classes=("yellow", "blue", "red"), per_class=14)  # not alphabetical
    assert ds.classes == ("blue", "red", "yellow")  # the zip import sorts; now rename to scramble the order
    from nocode_widgets import datasets as D

    D.rename_class(ws, alice, ds.id, "blue", "zz-blue")
    ds = D.get_dataset(ws, alice, ds.id)
    run = train(ws, alice, ds, epochs=8, patience=8)
    predictor = open_predictor(run_folder(ws, run))
    assert predictor.classes == list(ds.classes) == ["zz-blue", "red", "yellow"]
    fresh = [(f"{c}.jpg", picture(COLORS[c], size=(40, 30), seed=900 + i)) for i, c in enumerate(["blue", "red", "yellow"])]
    labels = [p.label for p in predictor.predict(fresh)]
    assert labels == ["zz-blue", "red", "yellow"]
    probs = predictor.predict(fresh)[0].probabilities
    assert list(probs) == ["zz-blue", "red", "yellow"] and sum(probs.values()) == pytest.approx(1, abs=1e-5)


def test_predictor_reports_bad_files_instead_of_failing(ws, alice):
    run = train(ws, alice, colour_dataset(ws, alice), epochs=1)
    out = open_predictor(run_folder(ws, run)).predict([("bad.jpg", b"nope"), ("ok.jpg", picture())])
    assert isinstance(out[0], str) and "not a picture" in out[0] and out[1].label in ("red", "green", "blue")


def test_early_stopping_is_per_epoch_and_restores_the_best_weights():
    # Features that carry no signal for validation: validation F1 wanders, patience ends the run.
    torch.manual_seed(0)
    feats = torch.randn(120, 8)
    labels = torch.randint(0, 3, (120,))
    model = nn.Linear(8, 3)
    cfg = TrainConfig(epochs=40, patience=3, batch_size=16, lr=0.05, schedule="none", optimizer="adamw",
                      label_smoothing=0.0, sampler="shuffle")
    seen = []
    result = fit(model, TensorFeeder(feats, torch.device("cpu")), labels, list(range(90)), list(range(90, 120)), cfg,
                 torch.device("cpu"), Callbacks(on_epoch_end=lambda s, imp: seen.append(s)))
    assert result.stopped == "early-stopped"
    assert len(result.history) == result.best_epoch + 3  # stopped exactly `patience` epochs after the best
    assert len(result.history) > 1  # not after the first batch or epoch, as the origin project did
    probs = predict_probs(model, TensorFeeder(feats, torch.device("cpu")), list(range(90, 120)), 64, torch.device("cpu"))
    restored_acc = float((probs.argmax(1) == labels[90:].numpy()).mean())
    assert restored_acc == pytest.approx(result.history[result.best_epoch - 1].val_acc)


def test_nan_loss_fails_with_a_plain_message():
    model = nn.Linear(4, 2)
    with torch.no_grad():
        model.weight.fill_(float("inf"))
    cfg = TrainConfig(epochs=2, patience=2, batch_size=4, lr=0.01, schedule="none", label_smoothing=0.0,
                      sampler="shuffle")
    with pytest.raises(TrainingError, match="not a number"):
        fit(model, TensorFeeder(torch.randn(16, 4), torch.device("cpu")), torch.randint(0, 2, (16,)),
            list(range(12)), list(range(12, 16)), cfg, torch.device("cpu"))


def test_cancel_stops_at_the_next_batch_and_keeps_the_best_epoch_so_far(ws, alice):
    import threading
    import time

    from nocode_widgets.training.engine import execute_run
    from nocode_widgets.runs.records import create_run

    ds = colour_dataset(ws, alice, per_class=40)
    run = create_run(ws, alice, ds, {"image_size": 64, "epochs": 30, "batch_size": 8, "patience": 30})
    folder = run_folder(ws, run)

    def cancel_after_two_epochs():
        while len(read_history(folder)) < 2:
            time.sleep(0.005)
        (folder / "cancel").touch()

    watcher = threading.Thread(target=cancel_after_two_epochs, daemon=True)
    watcher.start()
    done = execute_run(ws, run.id)
    assert done.status == "cancelled" and done.epochs_run in (2, 3) and done.usable
    assert open_predictor(folder).predict([("x.jpg", picture())])[0].label


def test_offline_auto_trains_from_scratch_without_notice_for_small_cnn(ws, alice):
    run = train(ws, alice, colour_dataset(ws, alice), epochs=1)
    assert run.resolved["arch"] == "small_cnn" and run.notice == ""


def test_chosen_pretrained_architecture_offline_trains_from_scratch_with_a_notice(ws, alice):
    run = train(ws, alice, colour_dataset(ws, alice), arch="mobilenet_v3_small", epochs=1)
    assert run.status == "done" and "not available offline" in run.notice
    assert run.resolved["mode"] == "fine-tune"


def test_fast_mode_with_a_local_weights_file(ws, alice, tmp_path):
    torch.manual_seed(0)
    torch.save(zoo.build_model("mobilenet_v3_small", 3, imagenet_head=True).state_dict(), tmp_path / "w.pth")
    run = train(ws, alice, colour_dataset(ws, alice), arch="mobilenet_v3_small", mode="fast",
                weights_file=str(tmp_path / "w.pth"), epochs=5)
    assert run.status == "done", run.error
    assert run.resolved["mode"] == "fast" and run.notice == ""
    assert open_predictor(run_folder(ws, run)).predict([("x.jpg", picture())])[0].label


def test_dataset_with_one_class_cannot_train(ws, alice):
    from nocode_widgets import datasets as D

    ds = D.create_dataset(ws, alice, "one", ["a", "b"])
    D.add_uploads(ws, alice, ds.id, "a", [D.ingest.UploadedFile(f"{i}.jpg", picture(seed=i)) for i in range(4)])
    run = train(ws, alice, D.get_dataset(ws, alice, ds.id))
    assert run.status == "failed" and "two classes" in run.error


def test_imbalanced_dataset_gets_label_smoothing_in_its_own_proportions(ws, alice):
    from nocode_widgets import datasets as D

    ds = colour_dataset(ws, alice, classes=("red", "blue"), per_class=3)
    D.add_uploads(ws, alice, ds.id, "red", [D.ingest.UploadedFile(f"r{i}.jpg", picture(COLORS["red"], seed=500 + i))
                                             for i in range(12)])
    run = train(ws, alice, D.get_dataset(ws, alice, ds.id), epochs=1)
    assert run.status == "done" and (run.resolved["sampler"], run.resolved["label_smoothing"]) == ("shuffle", 0.1)


def test_a_run_that_learned_its_pictures_early_ends_and_says_why(ws, alice):
    from nocode_widgets.ui.train import finished_line

    run = train(ws, alice, colour_dataset(ws, alice, per_class=10), epochs=15, patience=None)  # patience left to Auto
    assert run.status == "done" and run.stopped == "learned" and run.epochs_run < 15
    assert run.ending == (f"It stopped after {run.epochs_run} of 15 epochs: it had learned its training pictures "
                          "and its score had stopped rising.")
    assert run.ending in finished_line(run)

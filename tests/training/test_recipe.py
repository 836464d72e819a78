"""Auto's training recipe (issue: Auto): a budget of passes sized from the data, a learning rate that
reaches zero exactly at its end, early stopping only once the rate has come down, a moving average of
the weights as the evaluated model; and the pretrained path chosen as designed when ImageNet weights
are at hand."""

import torch

from nocode_widgets import zoo
from nocode_widgets.training.config import (AUTO_MAX_PASSES, AUTO_MIN_PASSES, MIN_STEPS_PER_EPOCH, Facts,
                                            TrainConfig, resolve)
from nocode_widgets.training.fit import WeightAverage, make_schedule, settled
from tests.training.helpers import colour_dataset, train

CPU = dict(device="cpu", classes=3, median_side=96, imbalance=1.0, pretrained={})


def lrs(cfg: TrainConfig, steps_per_epoch: int) -> list[float]:
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=cfg.lr)
    sched, per_batch = make_schedule(opt, cfg, steps_per_epoch)
    seen = []
    for _ in range(cfg.epochs * steps_per_epoch):
        seen.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return seen + [opt.param_groups[0]["lr"]]


def test_the_cosine_schedule_warms_up_then_reaches_zero_exactly_at_the_end_of_the_budget():
    rates = lrs(TrainConfig(lr=0.01, epochs=10, schedule="cosine"), steps_per_epoch=20)
    peak = rates.index(max(rates))
    assert rates[0] < 0.01 and 0 < peak <= 20 and abs(max(rates) - 0.01) < 1e-9  # a short warm-up
    assert all(a >= b for a, b in zip(rates[peak:], rates[peak + 1:]))  # then only down
    assert rates[-1] < 1e-6 and rates[len(rates) // 2] > 0.004  # zero at the end, not before


def test_one_cycle_also_ends_at_zero_within_the_budget_after_a_long_warm_up():
    rates = lrs(TrainConfig(lr=0.01, epochs=10, schedule="onecycle"), steps_per_epoch=20)
    peak = rates.index(max(rates))
    assert 40 <= peak <= 60 and rates[0] < 0.001  # a quarter of the budget to warm up: what the shapes need
    assert rates[-1] < 1e-5


def test_auto_budgets_passes_from_the_data_not_a_fixed_epoch_count():
    for images in (60, 180, 1800, 20000):
        cfg, _ = resolve(TrainConfig(), Facts(images=images, **CPU))
        train_images = int(images * 0.8)
        steps_per_pass = -(-train_images // cfg.batch_size)
        passes = cfg.epochs * max(steps_per_pass, MIN_STEPS_PER_EPOCH) / steps_per_pass
        assert AUTO_MIN_PASSES <= passes < AUTO_MAX_PASSES + max(1, MIN_STEPS_PER_EPOCH / steps_per_pass), images
        assert cfg.schedule == "onecycle" and cfg.ema and cfg.augment == "none"


def test_early_stopping_waits_until_the_rate_has_come_down():
    cfg = TrainConfig(lr=0.01, schedule="cosine")
    assert not settled(0.002, 0.01, cfg)  # warming up
    assert not settled(0.01, 0.009, cfg)  # coming down, still high
    assert settled(0.005, 0.004, cfg)
    assert settled(0.01, 0.01, TrainConfig(lr=0.01, schedule="none"))


def test_the_weight_average_follows_the_model_smoothly_with_its_batchnorm_statistics():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.BatchNorm1d(4))
    average = WeightAverage(model, total_steps=1000)
    start = average.model[0].weight.clone()
    for _ in range(50):
        with torch.no_grad():
            model[0].weight.add_(1.0)
        model.train()(torch.randn(8, 4))  # moves the running statistics
        average.update(model)
    moved = (average.model[0].weight - start).mean().item()
    assert 0 < moved < 50  # towards the model, behind it
    assert not torch.equal(average.model[1].running_mean, torch.zeros(4))  # statistics averaged too
    assert not any(p.requires_grad for p in average.model.parameters())


def test_auto_reuses_imagenet_weights_at_hand_fast_on_the_cpu(ws, alice, hub):
    path = zoo.cached_weights_path("mobilenet_v3_large")
    path.parent.mkdir(parents=True)
    torch.manual_seed(0)
    torch.save(zoo.build_model("mobilenet_v3_large", 3, imagenet_head=True).state_dict(), path)  # ImageNet format
    run = train(ws, alice, colour_dataset(ws, alice, per_class=6), image_size=None, batch_size=None, epochs=3,
                patience=None)
    assert run.status == "done", run.error
    assert (run.resolved["arch"], run.resolved["mode"], run.resolved["image_size"]) == ("mobilenet_v3_large", "fast", 224)
    assert run.notice == "" and "reusing ImageNet features" in run.explanation
    from nocode_widgets.training.runs import run_folder

    kept = torch.load(run_folder(ws, run) / "weights.pt")
    source = torch.load(path)
    backbone = [k for k in source if k.startswith("features.") and source[k].is_floating_point()][0]
    assert torch.equal(kept[backbone], source[backbone])  # the features are the file's, untouched


def test_auto_fine_tunes_imagenet_weights_on_a_gpu():
    facts = Facts(images=400, device="cuda", classes=3, median_side=300, imbalance=1.0,
                  pretrained={"efficientnet_b0": True, "mobilenet_v3_large": True})
    cfg, text = resolve(TrainConfig(), facts)
    assert (cfg.arch, cfg.mode, cfg.schedule, cfg.ema) == ("efficientnet_b0", "fine-tune", "onecycle", True)
    assert not cfg.restart_stalled  # ImageNet weights do not fail to take off
    assert "fine-tuning ImageNet weights" in text and "GPU" in text
    cfg, text = resolve(TrainConfig(), Facts(images=400, **{**CPU, "pretrained": {"mobilenet_v3_large": True}}))
    assert (cfg.arch, cfg.mode, cfg.ema, cfg.restart_stalled) == ("mobilenet_v3_large", "fast", False, False)
    assert resolve(TrainConfig(), Facts(images=400, **CPU))[0].restart_stalled  # the small CNN from scratch


def test_a_run_that_has_not_taken_off_by_mid_budget_starts_again_once_and_says_so(ws, alice):
    from nocode_widgets.training.runs import read_history, run_folder

    ds = colour_dataset(ws, alice, per_class=6)
    stuck = train(ws, alice, ds, arch="small_cnn", lr=1e-7, epochs=6, patience=6, restart_stalled=True)
    history = read_history(run_folder(ws, stuck))
    assert stuck.status == "done" and "did not take off" in stuck.notice and "started again" in stuck.notice
    assert [h["epoch"] for h in history] == list(range(1, 7))  # the curves of the second start only
    assert stuck.best_epoch >= 1 and stuck.epochs_run == 6
    learning = train(ws, alice, ds, arch="small_cnn", epochs=6, patience=6, restart_stalled=True)
    assert "started again" not in learning.notice and learning.metrics["val_accuracy"] > 0.5

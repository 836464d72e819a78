"""Auto's training recipe (issue: Auto): a budget of passes sized from the data, a learning rate that
reaches zero exactly at its end, early stopping only once the rate has come down, a moving average of
the weights as the evaluated model; and the pretrained path chosen as designed when ImageNet weights
are at hand."""

import pytest
import torch

from nocode_widgets.models import zoo
from nocode_widgets.runs.train_config import (AUTO_MAX_PASSES, AUTO_MIN_PASSES, MIN_STEPS_PER_EPOCH, STEADY_STEPS,
                                              Facts, TrainConfig, budget_epochs, resolve, steps_per_pass)
from nocode_widgets.training.fit import (CoolDown, EarlyStop, ImageFeeder, WeightAverage, bn_sample, fit,
                                         make_schedule, recompute_batchnorm, settled)
from tests.training_helpers import colour_dataset, train

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
        taken = steps_per_pass(int(images * 0.8), cfg.batch_size)  # as data.Batches takes them
        passes = cfg.epochs * max(taken, MIN_STEPS_PER_EPOCH) / taken
        assert AUTO_MIN_PASSES <= passes < AUTO_MAX_PASSES + max(1, STEADY_STEPS / taken), images
        assert cfg.schedule == "onecycle" and cfg.ema and cfg.augment == "none"
        # a tiny set reports shorter epochs, and waits as many steps as with epochs of STEADY_STEPS
        assert cfg.patience * max(taken, MIN_STEPS_PER_EPOCH) >= 4 * min(max(taken, STEADY_STEPS), 8), images


def test_the_budget_follows_a_batch_size_the_user_chose():
    cfg, _ = resolve(TrainConfig(batch_size=8), Facts(images=180, **CPU))
    assert cfg.batch_size == 8 and cfg.epochs == budget_epochs(144, 8) != budget_epochs(144, 32)


def test_batchnorm_statistics_are_measured_afresh_on_the_pictures_given():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.Dropout(0.5))
    norm = model[1]
    norm.running_mean.fill_(100.0)  # stale statistics
    batches = [torch.randn(8, 3, 6, 6) * 2 + 1 for _ in range(3)]
    recompute_batchnorm(model.train(), batches)
    with torch.no_grad():
        out = [model[0](x) for x in batches]
    expected_mean = torch.stack([o.mean((0, 2, 3)) for o in out]).mean(0)
    expected_var = torch.stack([o.var((0, 2, 3), unbiased=True) for o in out]).mean(0)
    assert torch.allclose(norm.running_mean, expected_mean, atol=1e-5)
    assert torch.allclose(norm.running_var, expected_var, atol=1e-4)
    assert norm.momentum == 0.1 and not model.training and not norm.training and not model[2].training


def _fit_tiny(precise_bn: bool):
    torch.manual_seed(0)
    cache = torch.randint(0, 256, (48, 3, 16, 16), dtype=torch.uint8)
    labels = torch.arange(48) % 3
    cache[labels == 1, 0] //= 4  # something to learn
    feed = ImageFeeder(cache, zoo.IMAGENET_MEAN, zoo.IMAGENET_STD, torch.device("cpu"))
    model = zoo.build_model("small_cnn", 3)
    cfg = TrainConfig(arch="small_cnn", epochs=3, batch_size=8, lr=3e-3, schedule="onecycle", patience=3, ema=True,
                      precise_bn=precise_bn, amp=False)
    train_idx, val_idx = list(range(36)), list(range(36, 48))
    fit(model, feed, labels, train_idx, val_idx, cfg, torch.device("cpu"))
    return model, feed, bn_sample(train_idx, cfg.seed)


def _statistics(model):
    return torch.cat([t.flatten() for name, t in model.state_dict().items() if "running" in name])


def test_the_kept_model_carries_the_statistics_of_its_training_pictures_under_its_own_weights():
    import copy

    for precise in (True, False):
        model, feed, sample = _fit_tiny(precise)
        remeasured = copy.deepcopy(model)
        recompute_batchnorm(remeasured, (feed(i, train=False) for i in torch.as_tensor(sample).split(64)))
        same = torch.allclose(_statistics(model), _statistics(remeasured), rtol=1e-4, atol=1e-5)
        assert same == precise  # the running averages of training are another thing


def test_auto_measures_batchnorm_afresh_when_the_whole_model_trains():
    assert resolve(TrainConfig(), Facts(images=400, **CPU))[0].precise_bn
    fast, _ = resolve(TrainConfig(), Facts(images=400, **{**CPU, "pretrained": {"mobilenet_v3_large": True}}))
    assert fast.mode == "fast" and not fast.precise_bn  # only a linear head trains
    assert not resolve(TrainConfig(precise_bn=False), Facts(images=400, **CPU))[0].precise_bn


def test_a_sample_of_a_large_training_set_measures_the_statistics():
    from nocode_widgets.training.fit import BN_PICTURES

    assert bn_sample(list(range(BN_PICTURES)), 0) == list(range(BN_PICTURES))
    sample = bn_sample(list(range(0, 20000, 2)), seed=5)
    assert len(sample) == BN_PICTURES == len(set(sample)) and all(i % 2 == 0 for i in sample)
    assert sample == bn_sample(list(range(0, 20000, 2)), seed=5)  # the same pictures every epoch


def test_with_class_balanced_batches_the_statistics_are_measured_on_class_balanced_pictures():
    labels = torch.tensor([0] * 200 + [1] * 40 + [2] * 12)
    sample = bn_sample(list(range(252)), seed=0, balanced_by=labels)
    counts = torch.bincount(labels[torch.as_tensor(sample)], minlength=3).tolist()
    assert len(sample) == 64 and all(10 <= n <= 35 for n in counts), counts  # not 51 / 10 / 3
    assert set(sample) <= set(range(252))


def test_early_stopping_waits_until_the_rate_has_come_down():
    cfg = TrainConfig(lr=0.01, schedule="cosine")
    assert not settled(0.002, 0.01, cfg)  # warming up
    assert not settled(0.01, 0.009, cfg)  # coming down, still high
    assert settled(0.005, 0.004, cfg)
    assert settled(0.01, 0.01, TrainConfig(lr=0.01, schedule="none"))


LEARNING = dict(lr=0.01, schedule="onecycle", stop_when_learned=True)


def test_a_run_that_has_learned_its_pictures_cools_down_then_stops():
    stop = EarlyStop(TrainConfig(patience=4, **LEARNING))
    rising = (0.004, 0.01)  # an epoch's first and last rates, warming up
    assert stop.after(1, 0.90, 0.95, True, *rising) == "go on"
    assert stop.after(2, 1.00, 1.00, True, *rising) == "go on"
    assert stop.after(3, 1.00, 1.00, True, 0.01, 0.01) == "go on"  # a lower loss, the same F1
    assert stop.after(4, 1.00, 1.00, True, 0.01, 0.009) == "cool down"  # the rate is still high
    assert stop.after(5, 1.00, 1.00, False, 0.009, 0.0) == "stop"


def test_a_learned_run_whose_rate_has_come_down_stops_at_once():
    stop = EarlyStop(TrainConfig(patience=4, **LEARNING))
    for epoch in (1, 2):
        assert stop.after(epoch, 0.95, 1.0, True, 0.01, 0.008) == "go on"
    assert stop.after(3, 0.95, 1.0, False, 0.004, 0.003) == "stop"


def test_a_learned_run_of_short_epochs_waits_as_many_steps_before_it_stops():
    stop = EarlyStop(TrainConfig(patience=8, **LEARNING), steps_per_epoch=MIN_STEPS_PER_EPOCH)  # 4-step epochs
    for epoch in (1, 2):
        assert stop.after(epoch, 0.95, 1.0, True, 0.01, 0.008) == "go on"
    assert [stop.after(e, 0.95, 1.0, False, 0.004, 0.003) for e in (3, 4, 5)] == ["go on"] * 2 + ["stop"]  # not at 3


def test_a_run_still_learning_its_pictures_waits_for_its_patience_and_a_low_rate():
    stop = EarlyStop(TrainConfig(patience=3, **LEARNING))
    assert stop.after(1, 0.6, 0.7, True, 0.004, 0.01) == "go on"
    assert [stop.after(e, 0.6, 0.8, False, 0.01, 0.009) for e in (2, 3, 4, 5)] == ["go on"] * 4  # rate high
    assert stop.after(6, 0.6, 0.8, False, 0.005, 0.004) == "stop"


def test_a_patience_the_user_chose_is_kept_to_the_letter():
    cfg, _ = resolve(TrainConfig(patience=30), Facts(images=400, **CPU))
    assert not cfg.stop_when_learned and resolve(TrainConfig(), Facts(images=400, **CPU))[0].stop_when_learned
    stop = EarlyStop(cfg)
    assert [stop.after(e, 1.0, 1.0, e == 1, 0.001, 0.0009) for e in range(1, 20)] == ["go on"] * 19


def test_the_cool_down_brings_the_rate_to_zero_in_a_straight_line():
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.01)
    cool = CoolDown(opt, steps=4)
    seen = []
    for _ in range(4):
        cool.step()
        seen.append(round(opt.param_groups[0]["lr"], 6))
    assert seen == [0.0075, 0.005, 0.0025, 0.0]


def test_an_easy_run_ends_before_its_budget_at_a_low_rate():
    torch.manual_seed(0)
    cache = torch.zeros(40, 3, 16, 16, dtype=torch.uint8)
    labels = torch.arange(40) % 2
    cache[labels == 1] = 255  # black or white: learned at once
    feed = ImageFeeder(cache, zoo.IMAGENET_MEAN, zoo.IMAGENET_STD, torch.device("cpu"))
    cfg = TrainConfig(arch="small_cnn", epochs=20, batch_size=8, lr=3e-3, schedule="onecycle", patience=4, ema=True,
                      precise_bn=True, amp=False, stop_when_learned=True)
    result = fit(zoo.build_model("small_cnn", 2), feed, labels, list(range(30)), list(range(30, 40)), cfg,
                 torch.device("cpu"))
    assert result.stopped == "learned" and len(result.history) < 10
    assert result.history[-1].lr <= 0.5 * cfg.lr and result.history[-1].val_acc == 1.0


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
    from nocode_widgets.runs.records import run_folder

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


@pytest.mark.slow
def test_a_run_that_has_not_taken_off_by_mid_budget_starts_again_once_and_says_so(ws, alice):
    from nocode_widgets.runs.records import read_history, run_folder

    ds = colour_dataset(ws, alice, per_class=6)
    stuck = train(ws, alice, ds, arch="small_cnn", lr=1e-7, epochs=6, patience=6, restart_stalled=True)
    history = read_history(run_folder(ws, stuck))
    assert stuck.status == "done" and "did not take off" in stuck.notice and "started again" in stuck.notice
    assert "where guessing scores 33%" in stuck.notice
    assert [h["epoch"] for h in history] == list(range(1, 7))  # the curves of the second start only
    assert stuck.best_epoch >= 1 and stuck.epochs_run == 6
    learning = train(ws, alice, ds, arch="small_cnn", epochs=6, patience=6, restart_stalled=True)
    assert "started again" not in learning.notice and learning.metrics["val_accuracy"] > 0.5
    bigger = colour_dataset(ws, alice, per_class=6, size=(72, 64), name="bigger")
    second = train(ws, alice, bigger, arch="small_cnn", lr=1e-7, epochs=6, patience=6, image_size=64,
                   restart_stalled=True, restart_progressive=True)
    assert "started again" in second.notice and "learned from 32-px pictures for its first half" in second.notice


def test_auto_trains_the_first_half_of_a_tiny_sets_run_at_half_the_picture_side():
    from nocode_widgets.runs.train_config import budget_passes, explain, low_res_side

    cfg, line = resolve(TrainConfig(), Facts(images=180, **CPU))
    assert cfg.progressive and cfg.image_size == 64 and low_res_side(cfg) == 32
    assert budget_passes(144, cfg.batch_size) > AUTO_MIN_PASSES  # its budget: more passes than the fewest
    assert "64 px (the first half of training at 32 px)" in line
    for images in (252, 400, 5000):  # budgets of AUTO_MIN_PASSES passes or more steps: every step at full size
        larger, line = resolve(TrainConfig(), Facts(images=images, **CPU))
        assert not larger.progressive and "first half" not in line, images
    assert resolve(TrainConfig(progressive=True), Facts(images=400, **CPU))[0].progressive  # asked for
    chosen, _ = resolve(TrainConfig(epochs=200), Facts(images=180, **CPU))  # epochs a person chose: not Auto's budget
    assert not chosen.progressive and low_res_side(chosen) is None
    small, line = resolve(TrainConfig(), Facts(images=180, **{**CPU, "median_side": 40}))
    assert small.image_size == 40 and low_res_side(small) is None and "first half" not in line  # not below 32 px
    assert low_res_side(resolve(TrainConfig(progressive=False), Facts(images=180, **CPU))[0]) is None
    fast, _ = resolve(TrainConfig(), Facts(images=180, **{**CPU, "pretrained": {"mobilenet_v3_large": True}}))
    gpu, _ = resolve(TrainConfig(), Facts(images=180, **{**CPU, "device": "cuda"}))
    assert not fast.progressive and not gpu.progressive  # measured with the small CNN on the CPU only
    older = TrainConfig.from_json({k: v for k, v in cfg.to_json().items() if k != "progressive"})
    assert low_res_side(older) is None  # a run saved before the field existed trains as it did
    assert "first half" not in explain(older, Facts(images=180, **CPU))


class _Sides(torch.nn.Module):
    """The small CNN, noting the side of every batch it sees while training and while measured."""

    def __init__(self):
        super().__init__()
        self.net, self.seen = zoo.build_model("small_cnn", 3), []

    def forward(self, x):
        self.seen.append(("train" if self.training else "eval", x.shape[-1]))
        return self.net(x)


def test_the_first_half_of_the_steps_learn_from_half_size_pictures_and_everything_is_measured_at_full_size():
    torch.manual_seed(0)
    cache = torch.randint(0, 256, (40, 3, 64, 64), dtype=torch.uint8)
    labels = torch.arange(40) % 3
    feed = ImageFeeder(cache, zoo.IMAGENET_MEAN, zoo.IMAGENET_STD, torch.device("cpu"), channels_last=True)
    model = _Sides()
    cfg = TrainConfig(arch="small_cnn", image_size=64, epochs=5, batch_size=8, lr=3e-3, schedule="onecycle",
                      patience=50, stop_when_learned=False, ema=False, precise_bn=True, amp=False,
                      channels_last=True, progressive=True)
    result = fit(model, feed, labels, list(range(32)), list(range(32, 40)), cfg, torch.device("cpu"))
    steps = [side for kind, side in model.seen if kind == "train"]
    assert len(result.history) == 5 and len(steps) == 5 * 4  # 32 pictures in batches of 8
    assert steps == [32] * 10 + [64] * 10  # int(0.5 * 20) steps small, the rest at the full side
    assert {side for kind, side in model.seen if kind == "eval"} == {64}  # BatchNorm statistics and validation


def test_a_batch_is_made_smaller_in_its_own_memory_layout():
    from nocode_widgets.training.augment import resized

    x = torch.rand(2, 3, 64, 64)
    small = resized(x.contiguous(memory_format=torch.channels_last), 32)
    assert small.shape == (2, 3, 32, 32) and small.is_contiguous(memory_format=torch.channels_last)
    assert resized(x, 32).is_contiguous()
    stripes = ((torch.arange(64) // 2) % 2).float().expand(1, 3, 64, 64).contiguous()  # two pixels on, two off
    inside = resized(stripes, 32)[..., 2:-2]
    assert 0.2 <= float(inside.min()) and float(inside.max()) <= 0.8  # filtered: sampled, it would be all 0 or 1


def test_progressive_resizing_is_refused_where_the_smaller_pictures_are_too_small_for_the_network():
    from nocode_widgets.errors import TrainingError
    from nocode_widgets.runs.train_config import low_res_side

    with pytest.raises(TrainingError, match="progressive resizing would train it at 64 px"):
        TrainConfig(arch="inception_v3", image_size=128, progressive=True).check()
    TrainConfig(arch="inception_v3", image_size=160, progressive=True).check()  # 80 px: enough
    with pytest.raises(TrainingError, match="progressive resizing would train it at 64 px"):
        TrainConfig(arch="inception_v3", image_size=128, restart_progressive=True).check()  # its second start
    assert low_res_side(TrainConfig(arch="mobilenet_v3_large", mode="fast", image_size=224, progressive=True)) is None


def test_no_stopping_rule_may_end_a_run_in_an_epoch_that_still_had_small_steps():
    from nocode_widgets.runs.train_config import full_size_epoch

    assert full_size_epoch(None, 4) == 1
    assert full_size_epoch((32, 8), 4) == 3  # epochs 1-2 small, epoch 3 the first at full size
    assert full_size_epoch((32, 10), 4) == 4  # epoch 3 had 2 small steps of 4
    assert full_size_epoch((32, 0), 4) == 1
    stop = EarlyStop(TrainConfig(patience=1, schedule="none", stop_when_learned=False))
    assert stop.after(1, 0.9, 0.9, True, 0.01, 0.01, may_stop=False) == "go on"
    assert stop.after(2, 0.5, 0.5, False, 0.01, 0.01, may_stop=False) == "go on"  # held, however flat
    assert stop.after(3, 0.5, 0.5, False, 0.01, 0.01) == "stop"  # patience counts from the last held epoch


def test_the_estimate_of_a_progressive_run_times_real_steps_at_both_sizes(monkeypatch):
    from nocode_widgets.training import estimate

    cfg, _ = resolve(TrainConfig(), Facts(images=40, **CPU))
    assert cfg.progressive and cfg.image_size == 64
    sides, real = [], estimate._step_seconds

    def noted(model, cfg, device, batch, steps, low=None):  # the real steps, their smaller side noted
        sides.append(low)
        return real(model, cfg, device, batch, steps, low)

    monkeypatch.setattr(estimate, "_step_seconds", noted)
    out = estimate.measure(cfg, images=40, train_images=32, steps=1)
    assert sides == [None, 32]  # the full size (validation, the second half), then the first half's side
    assert 0 < out["seconds_per_epoch"] and out["typical_seconds"] <= out["max_seconds"]


def test_auto_gives_a_stalled_runs_second_start_half_size_pictures_first():
    from nocode_widgets.runs.train_config import RESTART_SEED, second_start

    cfg, _ = resolve(TrainConfig(), Facts(images=400, **CPU))
    assert cfg.restart_progressive and not cfg.progressive  # larger set: the first start at full size
    second = second_start(cfg)
    assert second.progressive and second.seed == cfg.seed + RESTART_SEED and not second.restart_stalled
    chosen, _ = resolve(TrainConfig(epochs=40), Facts(images=400, **CPU))  # epochs a person chose
    assert chosen.restart_stalled and not chosen.restart_progressive and not second_start(chosen).progressive
    fast, _ = resolve(TrainConfig(), Facts(images=400, **{**CPU, "pretrained": {"mobilenet_v3_large": True}}))
    assert not fast.restart_progressive


def test_the_second_start_of_a_run_that_did_not_take_off_trains_its_first_half_small(monkeypatch):
    from nocode_widgets.runs.events import Restarted
    from nocode_widgets.training import engine
    from nocode_widgets.training.data import Split

    torch.manual_seed(0)
    labels = torch.arange(30) % 3
    cache = torch.randint(0, 256, (30, 3, 64, 64), dtype=torch.uint8)
    cfg = TrainConfig(arch="small_cnn", image_size=64, epochs=6, batch_size=8, lr=1e-7, schedule="onecycle",
                      patience=6, ema=True, precise_bn=True, amp=False, channels_last=False, augment="none",
                      optimizer="adamw", mode="fine-tune", sampler="shuffle", label_smoothing=0.0,
                      stop_when_learned=False, restart_stalled=True, restart_progressive=True)
    starts, real_fit = [], engine.fit

    def noted(model, feed, labels, train_idx, val_idx, cfg, device, callbacks=None):  # the real loop, its config noted
        starts.append(cfg)
        return real_fit(model, feed, labels, train_idx, val_idx, cfg, device, callbacks)

    monkeypatch.setattr(engine, "fit", noted)
    events = []
    job = engine.FitJob("r", cfg.to_json(), ["a", "b", "c"], labels, Split(list(range(24)), list(range(24, 30)), []),
                        cache)
    engine.fit_and_evaluate(job, events.append)
    assert any(isinstance(e, Restarted) for e in events)  # a rate of 1e-7 does not take off
    assert [bool(c.progressive) for c in starts] == [False, True] and starts[1].seed == cfg.seed + 1000

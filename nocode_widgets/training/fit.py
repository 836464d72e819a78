"""The fit loop: one loop for the CLI, the worker process and the widgets, reporting through
callbacks. Early stopping is per epoch on the validation weighted F1 (ties: lower validation loss)
and restores the best weights. A NaN loss or running out of memory ends with a plain message;
a cancel request stops at the next batch and keeps the best epoch so far."""

from __future__ import annotations

import copy
import math
import os
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from typing import Callable

import numpy as np
import torch
from torch import nn

from ..errors import TrainingError
from ..models.evaluate import weighted_f1
from ..pictures.preprocess import normalize_batch
from . import optimizers
from .augment import PRESETS, augment, resized
from ..runs.train_config import (MIN_STEPS_PER_EPOCH, STEADY_STEPS, TrainConfig, full_size_epoch, low_res_plan,
                                 short_epochs)
from .data import Batches
from .losses import balanced_class_weights, cutmix, make_loss


@dataclass(frozen=True)
class EpochStats:
    epoch: int  # 1-based
    train_loss: float
    train_acc: float
    val_loss: float
    val_acc: float
    val_f1: float  # weighted
    lr: float
    seconds: float

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class Callbacks:
    on_batch_end: Callable[[int, int, int], None] = lambda epoch, batch, batches: None
    on_epoch_end: Callable[[EpochStats, bool], None] = lambda stats, improved: None
    on_best: Callable[[dict], None] = lambda state: None  # the kept (judged) weights, when an epoch improved
    should_stop: Callable[[], bool] = lambda: False


@dataclass
class FitResult:
    history: list[EpochStats] = field(default_factory=list)
    best_epoch: int = 0
    stopped: str = "finished"  # finished | learned | early-stopped | cancelled | stalled (did not take off)


class Cancelled(Exception):
    pass


STALL_MARGIN = 0.25  # of the way from chance to every training picture right


def stall_check_epoch(epochs: int) -> int:
    """When a from-scratch run is checked for having taken off: mid-budget, not before epoch 3."""
    return max(3, epochs // 2)


def stalled(train_acc: float, num_classes: int) -> bool:
    """Training accuracy still near chance (slow starters take off by mid-budget or not at all:
    BENCHMARKS.md, "Auto end to end"). Chance is 1/k even on imbalanced pictures: there the learners pass the
    biggest class's share only late, and measured against it they were started again in vain."""
    chance = 1 / max(num_classes, 1)
    return train_acc < chance + STALL_MARGIN * (1 - chance)


def pick_device(wanted: str = "auto") -> torch.device:
    if wanted == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if wanted == "cuda" and not torch.cuda.is_available():
        raise TrainingError("No CUDA GPU is available on this machine; choose the CPU.")
    return torch.device(wanted)


def set_cpu_threads(threads: int | None = None) -> None:
    """`threads`, or all cores this process may use, for the maths (torch's default can be lower inside
    containers, and Ray sets one thread per CPU it granted)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    torch.set_num_threads(max(1, threads or cores))


def seed_everything(seed: int) -> None:
    import random

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


class ImageFeeder:
    """Batches of pictures from the uint8 cache: moved to the device (pinned, non-blocking on CUDA),
    normalized, channels-last when asked, augmented for training only."""

    def __init__(self, cache: torch.Tensor, mean, std, device: torch.device, augment_preset: str = "none",
                 channels_last: bool = False, seed: int = 0):
        self.device, self.mean, self.std = device, mean, std
        self.preset = PRESETS[augment_preset]
        self.channels_last = channels_last
        self.generator = torch.Generator().manual_seed(seed + 1)
        on_gpu = device.type == "cuda"
        if on_gpu and cache.numel() < 2 * 2**30:  # the whole cache on the GPU: no copies per batch
            cache = cache.to(device)
        elif on_gpu:
            cache = cache.pin_memory()
        self.cache = cache

    def __call__(self, idx: torch.Tensor, train: bool) -> torch.Tensor:
        batch = self.cache[idx.to(self.cache.device)]
        x = normalize_batch(batch.to(self.device, non_blocking=True), self.mean, self.std)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return augment(x, self.preset, self.generator) if train else x


class TensorFeeder:
    """Batches of precomputed features (fast mode)."""

    def __init__(self, features: torch.Tensor, device: torch.device):
        self.features = features.to(device)

    def __call__(self, idx: torch.Tensor, train: bool) -> torch.Tensor:
        return self.features[idx.to(self.features.device)]


def cpu_has_fast_bf16() -> bool:
    """Native bf16 maths (AVX-512 BF16 or AMX): there bf16 autocast nearly doubles CPU training speed
    (benchmarks/bench_training.py); elsewhere it is emulated and slower."""
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in checks)


def autocast_for(device: torch.device, enabled: bool):
    """(autocast context, grad scaler or None): bf16 on CUDA when supported, else fp16 with a scaler;
    bf16 on a CPU with native bf16; nothing otherwise."""
    if not enabled or device.type not in ("cuda", "cpu"):
        return nullcontext(), None
    if device.type == "cpu":
        return (torch.autocast("cpu", dtype=torch.bfloat16), None) if cpu_has_fast_bf16() else (nullcontext(), None)
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    scaler = torch.amp.GradScaler("cuda") if dtype == torch.float16 else None
    return torch.autocast("cuda", dtype=dtype), scaler


def make_optimizer(model: nn.Module, cfg: TrainConfig, rules=torch.optim) -> torch.optim.Optimizer:
    """The run's optimizer. The app passes `training.optimizers` for `rules`: torch.optim's update rules
    without the 2 s import of torch._dynamo that torch.optim's own classes cost each process."""
    params = [p for p in model.parameters() if p.requires_grad]
    if cfg.optimizer == "sgd":
        return rules.SGD(params, lr=cfg.lr, momentum=0.9, nesterov=True, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "adamax":
        return rules.Adamax(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    return rules.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)


def make_schedule(opt, cfg: TrainConfig, steps_per_epoch: int):
    """(scheduler, whether it advances per batch). "cosine": a short linear warm-up, then down to zero
    exactly at the end of the budget (`cfg.epochs`), so the last epochs are the calm ones."""
    total = max(1, cfg.epochs * steps_per_epoch)
    if cfg.schedule == "onecycle":
        # at least 8 steps: its warm-up is a quarter of them, and a phase of none cannot be drawn (a 1-epoch run)
        return torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=max(8, total), pct_start=0.25), True
    if cfg.schedule == "cosine":
        warm = max(1, min(steps_per_epoch, total // 20))
        shape = lambda step: (step + 1) / warm if step < warm else (  # noqa: E731
            0.5 * (1 + math.cos(math.pi * min(1.0, (step - warm) / max(1, total - warm)))))
        return torch.optim.lr_scheduler.LambdaLR(opt, shape), True
    if cfg.schedule == "exponential":
        return torch.optim.lr_scheduler.ExponentialLR(opt, gamma=cfg.gamma), False
    return None, False


def settled(first_lr: float, last_lr: float, cfg: TrainConfig) -> bool:
    """Early stopping may end a run only once the learning rate is coming down and below half its peak
    (an epoch's first and last rates): before that, a flat epoch says little."""
    return cfg.schedule in ("none", None) or (last_lr < first_lr and last_lr <= 0.5 * cfg.lr)


LEARNED = 0.99  # training accuracy at which a run has learned its training pictures...
LEARNED_GAP = 0.1  # ...with its validation F1 this close: weighted sampling repeats a small class's few pictures
# until they are learned by heart while validation still rises (benchmarks/bench_recipe.py)
CALM_EPOCHS = 2  # epochs (of STEADY_STEPS steps at least) without a higher validation F1 that end a learned run


class EarlyStop:
    """After each epoch: "go on", "stop", or "cool down" (the rate brought to zero over one more epoch, then
    "stop"). A run stops when `patience` epochs brought no better validation score and its rate has come down.
    With `stop_when_learned`, a run that has learned its training pictures (LEARNED, and its validation F1 within
    LEARNED_GAP of them) and whose validation F1 has not risen for CALM_EPOCHS has nothing left to gain: it
    stops too, first cooling down if its rate is still high, so every run ends at a low rate (BENCHMARKS.md,
    "Auto end to end")."""

    def __init__(self, cfg: TrainConfig, steps_per_epoch: int = STEADY_STEPS):
        self.cfg, self.best_epoch, self.best_f1, self.f1_epoch, self.cooling = cfg, 0, -1.0, 0, False
        self.calm_epochs = CALM_EPOCHS * short_epochs(steps_per_epoch)
        self.reason = ""  # once it said "stop": "learned" or "early-stopped" (no better score for `patience`)

    def after(self, epoch: int, val_f1: float, train_acc: float, improved: bool, first_lr: float,
              last_lr: float, may_stop: bool = True) -> str:
        """`may_stop` False: the run still learns from smaller pictures (progressive resizing), so it goes on, and
        its patience and calm count from its first epoch at the full size."""
        if improved:
            self.best_epoch = epoch
        if val_f1 > self.best_f1 + 1e-9:
            self.best_f1, self.f1_epoch = val_f1, epoch
        if not may_stop:
            self.best_epoch = self.f1_epoch = epoch
            return "go on"
        calm = settled(first_lr, last_lr, self.cfg)
        if self.cooling:
            return "stop"
        if epoch - self.best_epoch >= self.cfg.patience and calm:
            self.reason = "early-stopped"
            return "stop"
        learned = train_acc >= LEARNED and val_f1 >= train_acc - LEARNED_GAP
        if self.cfg.stop_when_learned and learned and epoch - self.f1_epoch >= self.calm_epochs:
            self.cooling, self.reason = not calm, "learned"
            return "cool down" if self.cooling else "stop"
        return "go on"


class CoolDown:
    """The learning rate brought down in a straight line from where it is to zero over `steps` steps."""

    def __init__(self, opt: torch.optim.Optimizer, steps: int):
        self.opt, self.steps, self.done = opt, max(1, steps), 0
        self.start = [group["lr"] for group in opt.param_groups]

    def step(self) -> None:
        self.done += 1
        for group, lr in zip(self.opt.param_groups, self.start):
            group["lr"] = lr * max(0.0, 1 - self.done / self.steps)


class WeightAverage:
    """An exponential moving average of a model's weights and BatchNorm statistics, the model that is
    evaluated and kept. Its horizon is about a tenth of the run's steps (shorter at the start, so the
    first epochs are not held back by the random initial weights)."""

    def __init__(self, model: nn.Module, total_steps: int):
        self.model = copy.deepcopy(model).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.decay, self.steps = 1 - 1 / max(10, total_steps / 10), 0

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        self.steps += 1
        decay = min(self.decay, (1 + self.steps) / (10 + self.steps))
        mine = [t for t in (*self.model.parameters(), *self.model.buffers()) if t.is_floating_point()]
        theirs = [t for t in (*model.parameters(), *model.buffers()) if t.is_floating_point()]
        torch._foreach_lerp_(mine, theirs, 1 - decay)


BN_PICTURES = 64  # training pictures the BatchNorm statistics are measured on (bench_recipe.py: as stable as 512)


def bn_sample(train_idx: list[int], seed: int, balanced_by: torch.Tensor | None = None) -> list[int]:
    """The training pictures `recompute_batchnorm` measures on: all, or a fixed seeded sample of BN_PICTURES;
    with `balanced_by` (the labels, when training batches are drawn class-balanced) drawn the same way, so the
    statistics are those of the batches the model learned from."""
    generator = torch.Generator().manual_seed(seed + 3)
    if balanced_by is not None and len(train_idx):
        y = balanced_by[torch.as_tensor(train_idx)]
        weights = (1.0 / torch.bincount(y).float())[y]
        pick = torch.multinomial(weights, BN_PICTURES, replacement=True, generator=generator)
        return sorted(train_idx[i] for i in pick.tolist())
    if len(train_idx) <= BN_PICTURES:
        return list(train_idx)
    pick = torch.randperm(len(train_idx), generator=generator)[:BN_PICTURES]
    return sorted(train_idx[i] for i in pick.tolist())


@torch.no_grad()
def recompute_batchnorm(model: nn.Module, batches) -> None:
    """Set each BatchNorm layer's statistics to those of `batches` (unaugmented training pictures, at least one
    batch) under the model's current weights. The running averages kept during training trail weights that
    move fast at a high learning rate: measured with them, a model can score near chance one epoch and 100%
    the next (BENCHMARKS.md, "Auto end to end")."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return
    model.eval()
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # a plain average over the batches
        m.train()
    for x in batches:
        model(x)
    for m, momentum in zip(norms, momenta):
        m.momentum = momentum
        m.eval()


@torch.no_grad()
def predict_probs(model: nn.Module, feed, indices, batch_size: int, device: torch.device,
                  amp: bool = True) -> np.ndarray:
    """Softmax probabilities for `indices`, in order, with no augmentation."""
    model.eval()
    ctx, _ = autocast_for(device, amp)
    out = []
    idx = torch.as_tensor(indices, dtype=torch.long)
    for start in range(0, len(idx), batch_size):
        with ctx:
            logits = model(feed(idx[start:start + batch_size], train=False))
        out.append(torch.softmax(logits.float(), 1).cpu())
    return torch.cat(out).numpy() if out else np.zeros((0, 0))


def fit(model: nn.Module, feed, labels: torch.Tensor, train_idx: list[int], val_idx: list[int],
        cfg: TrainConfig, device: torch.device, callbacks: Callbacks | None = None) -> FitResult:
    """Train `model` in place; on return it holds the best epoch's weights."""
    cb = callbacks or Callbacks()
    num_classes = int(labels.max()) + 1 if len(labels) else 0
    counts = torch.bincount(labels[torch.as_tensor(train_idx)], minlength=num_classes)
    weights = balanced_class_weights(counts).to(device) if cfg.class_weights else None
    loss_fn = make_loss(cfg.loss, weights, cfg.label_smoothing or 0.0, cfg.focal_gamma).to(device)
    eval_loss = nn.CrossEntropyLoss()
    batches = Batches(train_idx, labels, cfg.batch_size, shuffle=True, weighted=cfg.sampler == "weighted",
                      seed=cfg.seed, drop_last=len(train_idx) > cfg.batch_size, min_batches=MIN_STEPS_PER_EPOCH)
    opt = make_optimizer(model, cfg, optimizers)
    sched, per_batch = make_schedule(opt, cfg, len(batches))
    average = WeightAverage(model, cfg.epochs * len(batches)) if cfg.ema else None
    judged = average.model if average else model  # what is measured and kept
    bn_idx = bn_sample(train_idx, cfg.seed, labels if cfg.sampler == "weighted" else None) if cfg.precise_bn else []
    ctx, scaler = autocast_for(device, cfg.amp)
    gen = torch.Generator().manual_seed(cfg.seed + 2)
    shrink = low_res_plan(cfg, len(batches))  # progressive resizing: (side, the first steps trained at it)
    y_dev = labels.to(device)
    result, best_key, best_state, stopping = FitResult(), None, None, EarlyStop(cfg, len(batches))
    try:
        for epoch in range(1, cfg.epochs + 1):
            start = time.perf_counter()
            first_lr = opt.param_groups[0]["lr"]
            train_loss, train_correct, seen = _train_epoch(model, feed, batches, y_dev, loss_fn, opt, sched, per_batch,
                                                           ctx, scaler, cfg, gen, epoch, cb, average, shrink)
            if sched is not None and not per_batch:
                sched.step()
            if bn_idx:
                with ctx:
                    recompute_batchnorm(judged, (feed(i, train=False) for i in torch.as_tensor(bn_idx).split(64)))
            probs = predict_probs(judged, feed, val_idx, max(cfg.batch_size, 64), device, cfg.amp)
            y_val = labels[torch.as_tensor(val_idx, dtype=torch.long)].numpy()
            val_loss = float(eval_loss(torch.log(torch.as_tensor(probs).clamp_min(1e-12)), torch.as_tensor(y_val)))
            pred = probs.argmax(1)
            lr = opt.param_groups[0]["lr"]
            stats = EpochStats(epoch, train_loss / seen, train_correct / seen, val_loss, float((pred == y_val).mean()),
                               weighted_f1(y_val, pred, num_classes), lr, time.perf_counter() - start)
            result.history.append(stats)
            improved = best_key is None or is_better((stats.val_f1, stats.val_loss), best_key)
            if improved:
                best_key, result.best_epoch = (stats.val_f1, stats.val_loss), epoch
                best_state = copy.deepcopy(judged.state_dict())
                cb.on_best(best_state)
            cb.on_epoch_end(stats, improved)
            if cfg.restart_stalled and epoch == stall_check_epoch(cfg.epochs) < cfg.epochs \
                    and stalled(stats.train_acc, num_classes):
                result.stopped = "stalled"
                break
            decision = stopping.after(epoch, stats.val_f1, stats.train_acc, improved, first_lr, lr,
                                      may_stop=epoch >= full_size_epoch(shrink, len(batches)))
            if decision == "stop":
                result.stopped = stopping.reason
                break
            if decision == "cool down":
                sched, per_batch = CoolDown(opt, len(batches)), True
    except Cancelled:
        result.stopped = "cancelled"
    except torch.cuda.OutOfMemoryError:
        raise TrainingError("The model ran out of memory. Try a smaller batch size or picture size.") from None
    except RuntimeError as exc:
        if "out of memory" in str(exc).lower() or "can't allocate memory" in str(exc).lower():
            raise TrainingError("The model ran out of memory. Try a smaller batch size or picture size.") from None
        raise
    if best_state is not None:
        model.load_state_dict(best_state)
    return result


def is_better(now: tuple[float, float], best: tuple[float, float], min_loss_delta: float = 1e-3) -> bool:
    """Better weighted F1; or the same F1 with a validation loss lower by a meaningful margin."""
    (f1, loss), (best_f1, best_loss) = now, best
    if f1 > best_f1 + 1e-9:
        return True
    return f1 >= best_f1 - 1e-9 and loss < best_loss - max(min_loss_delta, 0.01 * best_loss)


def _train_epoch(model, feed, batches, y_dev, loss_fn, opt, sched, per_batch, ctx, scaler, cfg, gen, epoch, cb,
                 average=None, shrink=None):
    model.train()
    total_loss, correct, seen = 0.0, 0, 0
    n = len(batches)
    for b, idx in enumerate(batches, 1):
        if cb.should_stop():
            raise Cancelled
        x, y = feed(idx, train=True), y_dev[idx.to(y_dev.device)]
        if shrink and (epoch - 1) * n + b <= shrink[1]:
            x = resized(x, shrink[0])
        with ctx:
            if cfg.cutmix > 0 and float(torch.rand(1, generator=gen)) < cfg.cutmix:
                x, y_a, y_b, lam = cutmix(x, y, gen)
                logits = model(x)
                loss = lam * loss_fn(logits, y_a) + (1 - lam) * loss_fn(logits, y_b)
            else:
                logits = model(x)
                loss = loss_fn(logits, y)
        if not torch.isfinite(loss):
            raise TrainingError("Training became unstable (the loss is not a number). "
                                "Try a lower learning rate, or the Auto settings.")
        opt.zero_grad(set_to_none=True)
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
        else:
            loss.backward()
            opt.step()
        if sched is not None and per_batch:
            sched.step()
        if average is not None:
            average.update(model)
        total_loss += float(loss.detach()) * len(y)
        correct += int((logits.detach().argmax(1) == y).sum())
        seen += len(y)
        cb.on_batch_end(epoch, b, n)
    if not math.isfinite(total_loss):
        raise TrainingError("Training became unstable (the loss is not a number). Try a lower learning rate.")
    return total_loss, correct, max(seen, 1)

"""What the Train panel shows before Start: Auto's choices in plain words and a time estimate
measured from a few real training steps on this machine."""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from .. import zoo
from ..auth import User, current_user
from ..workspace import Workspace
from .config import TrainConfig, resolve
from .engine import dataset_facts
from .fit import ImageFeeder, autocast_for, make_optimizer, pick_device, set_cpu_threads


@dataclass(frozen=True)
class Plan:
    config: TrainConfig
    explanation: str
    images: int
    train_images: int


@dataclass(frozen=True)
class Estimate:
    seconds_per_epoch: float
    typical_seconds: float  # early stopping usually ends near half the cap
    max_seconds: float  # if every epoch of the cap runs

    def text(self) -> str:
        return f"About {_human(self.typical_seconds)} (at most {_human(self.max_seconds)})."


def _human(seconds: float) -> str:
    if seconds < 90:
        return f"{max(1, round(seconds))} seconds"
    if seconds < 5400:
        return f"{round(seconds / 60)} minutes"
    return f"{seconds / 3600:.1f} hours"


def plan(ws: Workspace, user: User, dataset_id: str, config: dict | None = None) -> Plan:
    user = current_user(ws, user)
    asked = TrainConfig.from_json({k: v for k, v in (config or {}).items() if v is not None})
    device = pick_device(asked.device)
    _, _, entries, _, facts = dataset_facts(ws, user, dataset_id, device, asked)
    cfg, why = resolve(asked, facts)
    return Plan(cfg, why, len(entries), int(len(entries) * (1 - cfg.val_fraction - cfg.test_fraction)))


def estimate(ws: Workspace, user: User, dataset_id: str, config: dict | None = None, steps: int = 3) -> Estimate:
    """Time a few real training steps of the planned model on random pictures of the planned size."""
    p = plan(ws, user, dataset_id, config)
    cfg = p.config
    device = pick_device(cfg.device)
    set_cpu_threads()
    model = zoo.build_model(cfg.arch, 2).to(device)
    if cfg.mode == "fast":  # features once (a forward pass per picture), then a head in seconds
        return _estimate_fast(model, cfg, device, p.images)
    batch = min(cfg.batch_size, max(2, p.train_images))
    cache = torch.randint(0, 255, (batch, 3, cfg.image_size, cfg.image_size), dtype=torch.uint8)
    feed = ImageFeeder(cache, zoo.IMAGENET_MEAN, zoo.IMAGENET_STD, device, cfg.augment, cfg.channels_last)
    opt = make_optimizer(model, cfg)
    ctx, _ = autocast_for(device, cfg.amp)
    idx, y = torch.arange(batch), torch.zeros(batch, dtype=torch.long, device=device)
    model.train()
    timings = []
    for _ in range(steps + 1):  # the first step warms up
        start = time.perf_counter()
        with ctx:
            loss = torch.nn.functional.cross_entropy(model(feed(idx, train=True)), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        timings.append(time.perf_counter() - start)
    per_image = min(timings[1:]) / batch
    per_epoch = per_image * p.train_images * 1.15 + per_image / 3 * (p.images - p.train_images)
    return Estimate(per_epoch, per_epoch * min(cfg.epochs, max(cfg.patience * 2, cfg.epochs // 2)),
                    per_epoch * cfg.epochs)


@torch.no_grad()
def _estimate_fast(model, cfg, device, images: int) -> Estimate:
    model.eval()
    x = torch.randn(8, 3, cfg.image_size, cfg.image_size, device=device)
    model(x)
    start = time.perf_counter()
    model(x)
    features = (time.perf_counter() - start) / 8 * images
    return Estimate(features, features + 5, features + 10)

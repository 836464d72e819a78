"""A helper job (`slots.run_job`) on {"config", "images", "train_images"} that returns an Estimate: a few real
training steps of the planned model on random pictures of the planned size. In a helper process, so the page's
kernel never imports torch nor holds the GPU."""

from __future__ import annotations

import sys
import time

import torch

from ..models import zoo
from . import optimizers
from ..runs.train_config import LOW_RES_SHARE, TrainConfig, low_res_side
from .augment import resized
from .fit import ImageFeeder, autocast_for, make_optimizer, pick_device, set_cpu_threads


def measure(cfg: TrainConfig, images: int, train_images: int, steps: int = 3) -> dict:
    device = pick_device(cfg.device)
    set_cpu_threads()
    model = zoo.build_model(cfg.arch, 2).to(device)
    if cfg.mode == "fast":  # features once (a forward pass per picture), then a head in seconds
        return _measure_fast(model, cfg, device, images)
    batch = min(cfg.batch_size, max(2, train_images))
    per_image = _step_seconds(model, cfg, device, batch, steps) / batch
    train_per_image = per_image
    low = low_res_side(cfg)
    if low:  # progressive resizing: LOW_RES_SHARE of the steps at the smaller side (validation stays at full size)
        train_per_image = (LOW_RES_SHARE * _step_seconds(model, cfg, device, batch, steps, low) / batch
                           + (1 - LOW_RES_SHARE) * per_image)
    per_epoch = train_per_image * train_images * 1.15 + per_image / 3 * (images - train_images)
    return {"seconds_per_epoch": per_epoch,
            "typical_seconds": per_epoch * min(cfg.epochs, max(cfg.patience * 2, cfg.epochs // 2)),
            "max_seconds": per_epoch * cfg.epochs}


def _step_seconds(model, cfg: TrainConfig, device, batch: int, steps: int, low: int | None = None) -> float:
    """The fastest of `steps` real training steps on random pictures of the run's size (after one that warms up),
    made `low` px after augmentation as the fit loop does."""
    cache = torch.randint(0, 255, (batch, 3, cfg.image_size, cfg.image_size), dtype=torch.uint8)
    feed = ImageFeeder(cache, zoo.IMAGENET_MEAN, zoo.IMAGENET_STD, device, cfg.augment, cfg.channels_last)
    opt = make_optimizer(model, cfg, optimizers)
    ctx, _ = autocast_for(device, cfg.amp)
    idx, y = torch.arange(batch), torch.zeros(batch, dtype=torch.long, device=device)
    model.train()
    timings = []
    for _ in range(steps + 1):
        start = time.perf_counter()
        x = feed(idx, train=True)
        with ctx:
            loss = torch.nn.functional.cross_entropy(model(resized(x, low) if low else x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        timings.append(time.perf_counter() - start)
    return min(timings[1:])


@torch.no_grad()
def _measure_fast(model, cfg, device, images: int) -> dict:
    model.eval()
    x = torch.randn(8, 3, cfg.image_size, cfg.image_size, device=device)
    model(x)
    start = time.perf_counter()
    model(x)
    features = (time.perf_counter() - start) / 8 * images
    return {"seconds_per_epoch": features, "typical_seconds": features + 5, "max_seconds": features + 10}


def work(job: dict) -> dict:
    return measure(TrainConfig.from_json(job["config"]), job["images"], job["train_images"])


if __name__ == "__main__":
    from ..slots import helper_main

    sys.exit(helper_main(sys.argv[1:], work))

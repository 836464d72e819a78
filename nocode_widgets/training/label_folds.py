"""Out-of-sample probabilities for every picture of a dataset, for "Check my labels" (`nocode_widgets.insight.label_check`
ranks them). Runs as a helper job (`slots.run_job`), with the workspace's settings in NOCODE_* variables.

K-fold (stratified): each fold's pictures are predicted by a model that never saw them, trained on the other
folds with Auto's settings for this device (so with a frozen pretrained backbone, the features are computed
once and only K small heads train; otherwise K short runs of Auto's model). Early stopping looks at a
slice of the training folds, never at the fold being predicted. `folds=1` is the in-sample baseline
(fastai's way: one model trained on every picture ranks its own training pictures by loss), kept for the
benchmark and the test that compare the two."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..models import zoo
from ..accounts.auth import User
from ..files import write_json_atomic
from ..store import Table
from ..workspace import Workspace
from ..runs.train_config import TrainConfig, resolve
from .data import dataset_cache, folds_of, split_indices
from .engine import extract_features, feature_settings, starting_weights
from ..runs.facts import dataset_facts
from .device_probe import worker_locate
from .fit import (Callbacks, ImageFeeder, TensorFeeder, cpu_has_fast_bf16, fit, pick_device, predict_probs,
                  seed_everything, set_cpu_threads)

INNER_VAL = 0.15  # of the training folds, for early stopping


def out_of_sample(ws: Workspace, owner: User, dataset_id: str, folds: int,
                  progress=lambda done, total, what: None, should_stop=lambda: False) -> dict:
    """{"version", "folds", "classes", "files", "hashes", "labels", "probabilities", "seconds", "how"}."""
    started = time.time()
    device = pick_device("auto")
    set_cpu_threads()
    ds, ds_folder, entries, classes, facts = dataset_facts(ws, owner, dataset_id, device.type, cpu_has_fast_bf16(),
                                                           TrainConfig(), worker_locate(ws))
    cfg, explanation = resolve(TrainConfig(restart_stalled=False), facts)  # K short runs: no second starts
    labels = torch.tensor([classes.index(e.label) for e in entries], dtype=torch.long)
    hashes = [e.hash for e in entries]
    progress(0, folds, "preparing pictures")
    cache = dataset_cache(ws, ds.owner, ds_folder, entries, cfg.image_size)
    seed_everything(cfg.seed)
    initial, _ = starting_weights(cfg, len(classes), ws.settings.allow_weight_download)
    feeder = ImageFeeder(cache, zoo.IMAGENET_MEAN, zoo.IMAGENET_STD, device, cfg.augment, cfg.channels_last, cfg.seed)
    everything = list(range(len(entries)))
    features = None
    if cfg.mode == "fast":  # the frozen backbone's features once; then each fold trains a head in seconds
        backbone = zoo.build_model(cfg.arch, len(classes))
        zoo.load_weights(backbone, initial)
        how = feature_settings(device)
        features, _ = extract_features(backbone.to(device), feeder, everything, device, how["batch"],
                                       how["channels_last"], how["bf16"])
        feeder = TensorFeeder(features, device)
    fold = folds_of(labels.tolist(), folds, cfg.seed) if folds > 1 else [0] * len(entries)
    probs = np.zeros((len(entries), len(classes)), dtype=np.float32)
    for k in range(folds):
        progress(k, folds, "training")
        held = [i for i in everything if fold[i] == k]
        train = [i for i in everything if fold[i] != k] if folds > 1 else everything
        inner = split_indices(labels[train].tolist(), INNER_VAL, 0.0, cfg.seed + k)
        model = _fresh_model(cfg, len(classes), initial, features)
        model = model.to(device)
        fit(model, feeder, labels, [train[i] for i in inner.train], [train[i] for i in inner.val], cfg, device,
            Callbacks(should_stop=should_stop))
        probs[held] = predict_probs(model, feeder, held, 64, device, cfg.amp)
    progress(folds, folds, "done")
    return {"version": ds.version, "folds": folds, "classes": classes, "files": [e.file for e in entries],
            "hashes": hashes, "labels": labels.tolist(), "probabilities": probs.round(5).tolist(),
            "seconds": time.time() - started, "how": explanation}


def _fresh_model(cfg: TrainConfig, num_classes: int, initial: dict | None, features) -> nn.Module:
    if features is not None:
        return nn.Linear(features.shape[1], num_classes)
    model = zoo.build_model(cfg.arch, num_classes)
    if initial is not None:
        zoo.load_weights(model, initial)
    return model


def work(job: dict) -> dict:
    """The helper job: {"user", "dataset", "folds", "save_to"}, with the workspace's settings in NOCODE_*. The
    result is also saved to "save_to" (the dataset's review cache) here, so a finished check is kept even when its
    page is gone."""
    ws = Workspace.open()
    owner = User.from_doc(ws.store.get(Table.USERS, job["user"]))
    report = lambda done, total, what: write_json_atomic(  # noqa: E731
        job["progress"], {"done": done, "total": total, "what": what, "at": time.time()})
    result = out_of_sample(ws, owner, job["dataset"], int(job["folds"]), report)
    write_json_atomic(Path(job["save_to"]), result)  # its folder made as needed
    return result


if __name__ == "__main__":
    from ..slots import helper_main

    sys.exit(helper_main(sys.argv[1:], work))

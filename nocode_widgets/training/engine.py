"""Execute one run from its record: load the dataset, let Auto fill the config, split, cache, build
the model (pretrained when possible), fit, evaluate on validation (and test), save the artifacts and
the summary. Progress goes to the run folder so any process can follow it."""

from __future__ import annotations

import logging
import os
import threading
import time
import traceback
from contextlib import nullcontext
from pathlib import Path

import torch
from torch import nn

from .. import zoo
from ..auth import User
from ..errors import NocodeError, TrainingError
from ..evaluate import evaluate
from ..files import remove_tree_and_empty_parents, write_json_atomic
from ..model_torch import export_and_check, save_model
from ..store import Table
from ..workspace import Workspace
from .config import TrainConfig, resolve
from .data import build_cache, stable_split
from .facts import dataset_facts, worker_locate
from .fit import (Callbacks, EpochStats, ImageFeeder, TensorFeeder, cpu_has_fast_bf16, fit, pick_device,
                  predict_probs, seed_everything, set_cpu_threads)
from .runs import RunRecord, append_history, load_run, run_folder, transition, update_run, write_progress

log = logging.getLogger("nocode_widgets.training")


class Reporter:
    """Writes progress.json (throttled) and keeps a heartbeat going even during long steps. The
    heartbeat also notices when the run's record was deleted (its owner deleted the account): then
    `gone` is set, the fit loop stops, and nothing more is written."""

    def __init__(self, folder: Path, interval: float = 0.5, heartbeat: float = 5.0, still_exists=lambda: True):
        self.folder, self.interval, self.still_exists = folder, interval, still_exists
        self.gone = False
        self.state: dict = {"phase": "starting", "started": time.time()}
        self._last = 0.0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._beat = threading.Thread(target=self._heartbeat, args=(heartbeat,), daemon=True)
        self._beat.start()

    def update(self, force: bool = False, **fields) -> None:
        if self.gone:
            return
        with self._lock:
            self.state.update(fields)
            self.state["elapsed"] = time.time() - self.state["started"]
            if force or time.time() - self._last >= self.interval:
                write_progress(self.folder, self.state)
                self._last = time.time()

    def _heartbeat(self, every: float) -> None:
        while not self._stop.wait(every):
            self.gone = self.gone or not self.still_exists()
            self.update(force=True)

    def stop(self) -> None:
        self._stop.set()


class Laps:
    """Seconds per phase of a run (`run.timings`): where a small run's time goes."""

    def __init__(self, start: float):
        self.last, self.seconds = start, {}

    def __call__(self, phase: str) -> None:
        now = time.time()
        self.seconds[phase] = round(self.seconds.get(phase, 0.0) + now - self.last, 3)
        self.last = now


def cancel_requested(folder: Path) -> bool:
    return (folder / "cancel").exists()


def execute_run(ws: Workspace, run_id: str, process_started: float | None = None) -> RunRecord:
    """Train the queued run in this process; always leaves it in a final state. A run that is no
    longer queued (cancelled meanwhile) is left as it is. `process_started`: when the worker process
    began, to count its start and imports in the run's timings."""
    laps = Laps(process_started or time.time())
    run = load_run(ws, run_id)
    if not transition(ws, run.id, ("queued",), status="running", started=time.time(), pid=os.getpid(),
                      host=os.uname().nodename):
        return run
    folder = run_folder(ws, run)
    folder.mkdir(parents=True, exist_ok=True)
    reporter = Reporter(folder, still_exists=lambda: ws.store.get(Table.RUNS, run.id) is not None)
    laps("process start, imports, slot")
    if process_started and run.launched:
        laps.seconds["launch"] = round(max(0.0, process_started - run.launched), 3)
    try:
        _train(ws, run, folder, reporter, laps)
    except NocodeError as exc:
        _finish_failed(ws, run, reporter, str(exc))
    except Exception as exc:  # noqa: BLE001 - the run must end in a state, with the details logged
        (folder / "error.log").write_text(traceback.format_exc())
        log.exception("run %s failed", run.id)
        _finish_failed(ws, run, reporter, f"Training stopped because of an unexpected problem ({type(exc).__name__}). "
                                          "The details are in the run's error log.")
    finally:
        reporter.stop()
    return load_run(ws, run.id)


def _finish_failed(ws, run, reporter, message: str) -> None:
    reporter.update(force=True, phase="failed")
    transition(ws, run.id, ("running",), status="failed", error=message, finished=time.time(),
               seconds=time.time() - reporter.state["started"])


def _train(ws: Workspace, run: RunRecord, folder: Path, reporter: Reporter, laps: Laps) -> None:
    owner = User.from_doc(ws.store.get(Table.USERS, run.owner) or _gone())
    asked = TrainConfig.from_json(run.config)
    device = pick_device(asked.device)
    set_cpu_threads()
    ds, ds_folder, entries, classes, facts = dataset_facts(ws, owner, run.dataset_id, device.type,
                                                           cpu_has_fast_bf16(), asked, worker_locate(ws))
    cfg, explanation = resolve(asked, facts)
    update_run(ws, run.id, resolved=cfg.to_json(), explanation=explanation, device=str(device),
               dataset_version=ds.version)
    seed_everything(cfg.seed)
    index = {c: i for i, c in enumerate(classes)}
    labels = torch.tensor([index[e.label] for e in entries], dtype=torch.long)
    hashes = [e.hash for e in entries]
    split = stable_split(ds_folder, hashes, labels.tolist(), ds.version, cfg.val_fraction, cfg.test_fraction, cfg.seed)
    write_json_atomic(folder / "split.json", {k: [hashes[i] for i in v] for k, v in split.to_json().items()})
    laps("dataset, Auto, split")

    reporter.update(force=True, phase="preparing pictures", done=0, total=len(entries))
    cache = build_cache([ds_folder / e.file for e in entries], hashes, cfg.image_size, ds_folder / "cache",
                        progress=lambda d, t: reporter.update(done=d, total=t))
    laps("picture cache")

    model, notice = _model(cfg, len(classes), ws.settings.allow_weight_download)
    if notice:
        update_run(ws, run.id, notice=notice)
    mean, std = zoo.IMAGENET_MEAN, zoo.IMAGENET_STD
    feeder = ImageFeeder(cache, mean, std, device, cfg.augment, cfg.channels_last, cfg.seed)
    model = model.to(device, memory_format=torch.channels_last if cfg.channels_last else torch.contiguous_format)
    laps("model")

    started = time.time()

    def checkpoint():  # the best weights so far, so an interrupted run stays usable
        if cfg.mode != "fast":
            save_model(folder, model, cfg.arch, classes, cfg.image_size, mean, std, run_id=run.id,
                       dataset_id=ds.id, dataset_version=ds.version)

    callbacks = Callbacks(
        on_batch_end=lambda e, b, n: reporter.update(phase="training", epoch=e, epochs=cfg.epochs, batch=b, batches=n),
        on_epoch_end=lambda stats, improved: _epoch_done(ws, run, folder, reporter, cfg, stats, improved, started,
                                                         checkpoint),
        should_stop=lambda: reporter.gone or cancel_requested(folder))
    if cfg.mode == "fast":
        reporter.update(force=True, phase="computing features", done=0, total=len(entries))
        result = _fit_head(model, feeder, labels, split, cfg, device, callbacks, reporter)
    else:
        result = fit(model, feeder, labels, split.train, split.val, cfg, device, callbacks)
    laps("training")

    if reporter.gone:  # deleted while training: leave nothing behind
        remove_tree_and_empty_parents(folder, ws.settings.data_dir)
        return
    finished = time.time()
    summary = dict(epochs_run=len(result.history), best_epoch=result.best_epoch, finished=finished,
                   seconds=finished - reporter.state["started"])
    if result.best_epoch == 0:
        reporter.update(force=True, phase="cancelled")
        transition(ws, run.id, ("running",), status="cancelled", **summary)
        return
    reporter.update(force=True, phase="evaluating")
    metrics = _evaluate(model, feeder, labels, split, cfg, device, classes, entries, folder)
    laps("evaluation")
    save_model(folder, model.cpu(), cfg.arch, classes, cfg.image_size, mean, std, run_id=run.id,
               dataset_id=ds.id, dataset_version=ds.version, best_epoch=result.best_epoch)
    laps("saving")
    reporter.update(force=True, phase="exporting")
    export = export_and_check(model, folder, cfg.image_size, cache[torch.as_tensor(split.val)], mean, std)
    laps("ONNX export and check")
    finished = time.time()
    summary.update(timings=laps.seconds, finished=finished, seconds=finished - reporter.state["started"])
    status = "cancelled" if result.stopped == "cancelled" else "done"
    reporter.update(force=True, phase=status)
    transition(ws, run.id, ("running",), status=status, metrics=metrics, export=export,  # not if marked interrupted
               **summary)


def _gone():
    raise TrainingError("The owner of this run no longer exists.")


def _model(cfg: TrainConfig, num_classes: int, allow_download: bool) -> tuple[nn.Module, str]:
    arch = zoo.get_arch(cfg.arch)
    if not (arch.has_pretrained and cfg.pretrained):
        return zoo.build_model(cfg.arch, num_classes), ""
    model = zoo.build_model(cfg.arch, num_classes, imagenet_head=True)
    loaded = zoo.load_pretrained(model, cfg.arch, cfg.weights_file, allow_download=allow_download)
    return zoo.replace_head(model, num_classes), loaded.notice


def _epoch_done(ws, run, folder, reporter, cfg, stats: EpochStats, improved: bool, started: float,
                checkpoint) -> None:
    if reporter.gone:
        return
    if improved:
        checkpoint()
    append_history(folder, {**stats.to_json(), "improved": improved})
    per_epoch = (time.time() - started) / stats.epoch
    reporter.update(force=True, phase="training", epoch=stats.epoch, epochs=cfg.epochs, last=stats.to_json(),
                    remaining_max=per_epoch * (cfg.epochs - stats.epoch))
    best = {"best_epoch": stats.epoch, "metrics": {"val_accuracy": stats.val_acc, "val_weighted_f1": stats.val_f1,
                                                   "split": "validation"}} if improved else {}
    update_run(ws, run.id, epochs_run=stats.epoch, **best)  # metrics: those of the weights kept


def feature_settings(device: torch.device) -> dict:
    """How fast mode computes features here: measured in benchmarks/bench_fast_mode.py (BENCHMARKS.md)."""
    bf16 = device.type == "cpu" and cpu_has_fast_bf16()
    return {"batch": 32, "channels_last": True, "bf16": bf16, "bf16_possible": bf16 or device.type == "cuda"}


def extract_features(model, feeder, indices: list[int], device, batch: int, channels_last: bool, bf16: bool,
                     progress=lambda done, total: None, should_stop=lambda: False):
    """The frozen backbone's features for `indices` (rows of a [N, features] tensor; the others stay zero) and
    where its head was, (parent, attribute, head): the head is taken off `model` (an nn.Identity in its place)."""
    parent, attr, head = zoo.head(model)
    setattr(parent, attr, nn.Identity())
    model.eval()
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    ctx = torch.autocast(device.type, dtype=torch.bfloat16) if bf16 else nullcontext()
    feats = torch.zeros(max(indices) + 1 if indices else 0, head.in_features)
    with torch.no_grad(), ctx:
        for start in range(0, len(indices), batch):
            idx = torch.as_tensor(indices[start:start + batch])
            x = feeder(idx, train=False)
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            feats[idx] = model(x).float().cpu()
            progress(min(start + batch, len(indices)), len(indices))
            if should_stop():
                break
    return feats, (parent, attr, head)


def _fit_head(model, feeder, labels, split, cfg, device, callbacks, reporter):
    """Fast mode: the frozen backbone's features computed once per picture, then only the head trains."""
    how = feature_settings(device)
    every = split.train + split.val + split.test
    feats, (parent, attr, head) = extract_features(model, feeder, every, device, how["batch"], how["channels_last"], how["bf16"],
                                   progress=lambda d, t: reporter.update(done=d, total=t),
                                   should_stop=callbacks.should_stop)
    model.to(memory_format=torch.contiguous_format)
    new_head = nn.Linear(head.in_features, head.out_features).to(device)
    result = fit(new_head, TensorFeeder(feats, device), labels, split.train, split.val, cfg, device, callbacks)
    setattr(parent, attr, new_head)
    return result


def _evaluate(model, feeder, labels, split, cfg, device, classes, entries, folder) -> dict:
    report, metrics = {}, {"split": "validation"}
    for part, idx in (("validation", split.val), ("test", split.test)):
        if not idx:
            continue
        probs = predict_probs(model, feeder, idx, 64, device, cfg.amp)
        ev = evaluate(labels[torch.as_tensor(idx)].numpy(), probs, classes, split=part)
        data = ev.to_json()
        for m in data["mistakes"]:
            e = entries[idx[m["index"]]]
            m.update(file=e.file, original=e.original)
        report[part] = data
        prefix = "val" if part == "validation" else "test"
        metrics.update({f"{prefix}_accuracy": ev.accuracy, f"{prefix}_weighted_f1": ev.weighted_f1,
                        f"{prefix}_macro_f1": ev.macro_f1})
    write_json_atomic(folder / "evaluation.json", report)
    return metrics

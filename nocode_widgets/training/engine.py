"""Execute one run from its record, in three pieces (docs/architecture.md, "One training path, two runners"):

- *prepare* (app host): the dataset's facts, Auto, the split, the uint8 picture cache and the
  pretrained weights found here, packed into a `FitJob` (tensors + the resolved config, no paths);
- *fit and evaluate* (anywhere): `fit_and_evaluate(job, emit, should_stop)`, a pure function of the job
  that reports through `emit(kind, payload)` and returns a `FitOutput` (the kept weights, history,
  metrics, the evaluation report);
- *record* (app host): `Recorder` turns the events into progress, history and checkpoints, and the
  output into the run's files and its summary in the store.

A `Fitter` says where the middle piece runs: `LocalFitter` in this process, `on_ray.RayFitter` on a
Ray cluster. Both feed the same `Recorder`, so both paths run the same code."""

from __future__ import annotations

import logging
import os
import threading
import time
import traceback
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Protocol

import torch
from torch import nn

from ..models import zoo
from ..accounts.auth import User
from ..errors import NocodeError, TrainingError
from ..models.calibrate import apply_temperature, calibrate, typical_pictures
from ..models.evaluate import evaluate
from ..files import remove_tree_and_empty_parents, write_json_atomic
from ..models.artifact import export_and_check, save_weights
from ..accounts.quota import Reservation, reserved
from ..store import Table
from ..workspace import Workspace
from ..runs.train_config import (LOW_RES_SHARE, MIN_STEPS_PER_EPOCH, TrainConfig, low_res_side, resolve,
                                 second_start)
from .data import Split, dataset_cache, fold_split, stable_split
from ..runs.events import BatchDone, Emit, EpochDone, FitEvent, PhaseChanged, Restarted
from ..runs.facts import dataset_facts
from .device_probe import worker_locate
from .fit import (Callbacks, Cancelled, EpochStats, ImageFeeder, TensorFeeder, cpu_has_fast_bf16, fit, pick_device,
                  predict_probs, seed_everything, set_cpu_threads)
from ..runs.records import (INTERRUPTED, RunRecord, WorkerLost, append_history, load_run, run_folder, transition,
                            update_run, write_progress)

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
        self._beat.join(timeout=10)


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


@dataclass
class FitJob:
    """Everything fit-and-evaluate needs, and nothing of the app host (no paths, no store): it travels."""

    run_id: str
    config: dict  # the resolved TrainConfig
    classes: list[str]
    labels: torch.Tensor  # int64 [N]
    split: Split
    cache: torch.Tensor  # uint8 [N, 3, S, S]
    initial: dict | None = None  # the starting weights when pretrained ones were found on the app host
    mean: tuple = zoo.IMAGENET_MEAN
    std: tuple = zoo.IMAGENET_STD
    threads: int | None = None  # CPU threads for the maths (None: every core this process may use)


@dataclass
class FitOutput:
    state: dict | None  # the kept weights on the CPU (None when no epoch finished)
    history: list[dict]
    best_epoch: int
    stopped: str  # finished | learned | early-stopped | cancelled
    metrics: dict = field(default_factory=dict)
    report: dict = field(default_factory=dict)  # evaluation.json; mistakes carry `picture`, their row in the job
    predictions: dict = field(default_factory=dict)  # per split: pictures (rows), labels, calibrated probabilities
    timings: dict = field(default_factory=dict)
    device: str = ""
    usage: dict = field(default_factory=dict)  # parameters, pictures per second, peak memory (a study's table)


class Fitter(Protocol):
    def device(self, asked: str) -> tuple[str, bool]:
        """(device type, whether its CPU has fast bf16) a run asking for `asked` will train on, for Auto."""

    def fit(self, job: FitJob, emit: Emit, should_stop: Callable[[], bool]) -> FitOutput:
        """Run `fit_and_evaluate(job, ...)` where this fitter trains, relaying its events to `emit`."""


class LocalFitter:
    """Fit and evaluate in this process (the local worker)."""

    def device(self, asked: str) -> tuple[str, bool]:
        return pick_device(asked).type, cpu_has_fast_bf16()

    def fit(self, job: FitJob, emit: Emit, should_stop: Callable[[], bool]) -> FitOutput:
        return fit_and_evaluate(job, emit, should_stop)


def execute_run(ws: Workspace, run_id: str, process_started: float | None = None,
                fitter: Fitter | None = None) -> RunRecord:
    """Train the queued run (fitting it with `fitter`, here by default); always leaves it in a final state.
    A run that is no longer queued (cancelled meanwhile) is left as it is; one deleted meanwhile leaves no files
    (its record as it was is returned). `process_started`: when the
    worker process began, to count its start and imports in the run's timings."""
    fitter = fitter or LocalFitter()
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
        with reserved(ws, run.owner) as space:  # what the run will write, held until it has written it
            recorder = prepare(ws, run, folder, reporter, laps, fitter, space)
            output = fitter.fit(recorder.job, recorder.event, recorder.should_stop)
            recorder.finish(output)
    except Cancelled:  # before it trained (a cluster with no room for it yet)
        reporter.update(force=True, phase="cancelled")
        transition(ws, run.id, ("running",), status="cancelled", finished=time.time(),
                   seconds=time.time() - reporter.state["started"])
    except WorkerLost as exc:
        reporter.update(force=True, phase="interrupted")
        transition(ws, run.id, ("running",), status="interrupted", finished=time.time(),
                   error=str(exc) or INTERRUPTED, seconds=time.time() - reporter.state["started"])
    except NocodeError as exc:
        _finish_failed(ws, run, reporter, str(exc))
    except Exception as exc:  # noqa: BLE001 - the run must end in a state, with the details logged
        (folder / "error.log").write_text(getattr(exc, "remote_traceback", "") or traceback.format_exc())
        log.exception("run %s failed", run.id)
        kind = getattr(exc, "kind", type(exc).__name__)
        _finish_failed(ws, run, reporter, f"Training stopped because of an unexpected problem ({kind}). "
                                          "The details are in the run's error log.")
    finally:
        reporter.stop()
        final = ws.store.get(Table.RUNS, run.id)
        if final is None:  # deleted meanwhile (its owner's account): leave nothing behind
            reporter.gone = True
            remove_tree_and_empty_parents(folder, ws.settings.data_dir)
    return RunRecord.from_doc(final) if final else run


def _finish_failed(ws, run, reporter, message: str) -> None:
    reporter.update(force=True, phase="failed")
    transition(ws, run.id, ("running",), status="failed", error=message, finished=time.time(),
               seconds=time.time() - reporter.state["started"])


# Prepare (app host) ------------------------------------------------------------------------------------

def prepare(ws: Workspace, run: RunRecord, folder: Path, reporter: Reporter, laps: Laps,
            fitter: Fitter, space: Reservation) -> "Recorder":
    """Facts, Auto, split, cache and starting weights, as a FitJob inside the Recorder that will record it.
    The model's files are reserved in `space`, the picture cache while it is written (QuotaError: no room)."""
    owner = User.from_doc(ws.store.get(Table.USERS, run.owner) or _gone())
    asked = TrainConfig.from_json(run.config)
    device_type, cpu_bf16 = fitter.device(asked.device)
    ds, ds_folder, entries, classes, facts = dataset_facts(ws, owner, run.dataset_id, device_type, cpu_bf16, asked,
                                                           worker_locate(ws))
    cfg, explanation = resolve(asked, facts)
    update_run(ws, run.id, resolved=cfg.to_json(), explanation=explanation, device=device_type,
               dataset_version=ds.version)
    index = {c: i for i, c in enumerate(classes)}
    labels = torch.tensor([index[e.label] for e in entries], dtype=torch.long)
    hashes = [e.hash for e in entries]
    if cfg.folds:  # a bagging member: its fold is its test part
        split = fold_split(labels.tolist(), cfg.folds, cfg.fold, cfg.val_fraction, cfg.seed)
    else:
        split = stable_split(ds_folder, hashes, labels.tolist(), ds.version, cfg.val_fraction, cfg.test_fraction,
                             cfg.seed)
    write_json_atomic(folder / "split.json", {k: [hashes[i] for i in v] for k, v in split.to_json().items()})
    laps("dataset, Auto, split")

    space.claim(zoo.model_bytes(cfg.arch))
    reporter.update(force=True, phase="preparing pictures", done=0, total=len(entries))
    cache = dataset_cache(ws, run.owner, ds_folder, entries, cfg.image_size,
                          progress=lambda d, t: reporter.update(done=d, total=t))
    laps("picture cache")
    seed_everything(cfg.seed)
    initial, notice = starting_weights(cfg, len(classes), ws.settings.allow_weight_download)
    if notice:
        update_run(ws, run.id, notice=notice)
    laps("pretrained weights")
    job = FitJob(run.id, cfg.to_json(), classes, labels, split, cache, initial)
    return Recorder(ws, run, folder, reporter, laps, job, ds, entries)


def _gone():
    raise TrainingError("The owner of this run no longer exists.")


def starting_weights(cfg: TrainConfig, num_classes: int, allow_download: bool) -> tuple[dict | None, str]:
    """The starting weights (ImageNet's, with a new head) when the arch has them and they are here."""
    arch = zoo.get_arch(cfg.arch)
    if not (arch.has_pretrained and cfg.pretrained):
        return None, ""
    model = zoo.build_model(cfg.arch, num_classes, imagenet_head=True)
    loaded = zoo.load_pretrained(model, cfg.arch, cfg.weights_file, allow_download=allow_download)
    if not loaded.loaded:
        return None, loaded.notice
    return zoo.replace_head(model, num_classes).state_dict(), loaded.notice


# Fit and evaluate (anywhere) ---------------------------------------------------------------------------

def fit_and_evaluate(job: FitJob, emit: Emit, should_stop: Callable[[], bool] = lambda: False) -> FitOutput:
    """Train the job's model and evaluate the kept weights on validation (and test), telling `emit` how it
    goes (`events`: PhaseChanged, BatchDone, EpochDone with the kept weights when the epoch improved and
    the whole model trains (fast mode has nothing worth keeping before its head is put back), Restarted)."""
    laps = Laps(time.time())
    cfg = TrainConfig.from_json(job.config)
    device = pick_device(cfg.device)
    set_cpu_threads(job.threads)
    seed_everything(cfg.seed)
    model = zoo.build_model(cfg.arch, len(job.classes))
    if job.initial is not None:
        zoo.load_weights(model, job.initial)
    feeder = ImageFeeder(job.cache, job.mean, job.std, device, cfg.augment, cfg.channels_last, cfg.seed)
    model = model.to(device, memory_format=torch.channels_last if cfg.channels_last else torch.contiguous_format)
    laps("model")
    best: dict = {}

    def epoch_end(stats: EpochStats, improved: bool) -> None:
        weights = cpu_copy(best.pop("state")) if improved and "state" in best else None
        emit(EpochDone(stats.to_json(), improved, weights))

    callbacks = Callbacks(
        on_batch_end=lambda e, b, n: emit(BatchDone(e, cfg.epochs, b, n)),
        on_best=lambda state: best.update(state=state) if cfg.mode != "fast" else None,
        on_epoch_end=epoch_end, should_stop=should_stop)
    if cfg.mode == "fast":
        emit(PhaseChanged("computing features", 0, len(job.labels)))
        result = _fit_head(model, feeder, job.labels, job.split, cfg, device, callbacks, emit)
    else:
        result = fit(model, feeder, job.labels, job.split.train, job.split.val, cfg, device, callbacks)
        if result.stopped == "stalled":  # start again from other initial weights, once, with the whole budget
            emit(Restarted(len(result.history), result.history[-1].train_acc))
            cfg = second_start(cfg)
            seed_everything(cfg.seed)
            model = zoo.build_model(cfg.arch, len(job.classes)).to(
                device, memory_format=torch.channels_last if cfg.channels_last else torch.contiguous_format)
            result = fit(model, feeder, job.labels, job.split.train, job.split.val, cfg, device, callbacks)
    laps("training")
    out = FitOutput(None, [s.to_json() for s in result.history], result.best_epoch, result.stopped,
                    device=str(device), usage=usage(model, device, cfg, len(job.split.train), len(result.history),
                                                    laps.seconds["training"]))
    if result.best_epoch:
        emit(PhaseChanged("evaluating"))
        out.metrics, out.report, out.predictions = _evaluate(model, feeder, job.labels, job.split, cfg, device,
                                                             job.classes)
        if "validation" in out.report:  # what an ordinary picture looks like, to say "not sure" about others
            out.report["validation"]["calibration"]["typical"] = typical_pictures(
                job.cache[torch.as_tensor(job.split.train)].numpy(), job.cache[torch.as_tensor(job.split.val)].numpy())
        out.state = cpu_copy(model.state_dict())
        laps("evaluation")
    out.timings = laps.seconds
    return out


def usage(model: nn.Module, device: torch.device, cfg: TrainConfig, train_pictures: int, epochs: int,
          seconds: float) -> dict:
    """What a run cost, for a study's table: the model's parameters, training pictures processed per second
    (a tiny set is passed over several times per epoch, as the fit loop does) and the peak memory: the GPU's
    when it trained on one, else the whole training process's."""
    import resource

    steps = max(train_pictures // cfg.batch_size if train_pictures > cfg.batch_size else 1, MIN_STEPS_PER_EPOCH)
    if device.type == "cuda":
        peak, of = torch.cuda.max_memory_allocated(device) / 2**20, "GPU"
    else:
        peak, of = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "process"
    return {"parameters": zoo.param_count(model), "pictures_per_s": round(epochs * steps * cfg.batch_size / max(seconds, 1e-6), 1),
            "peak_memory_mb": round(peak, 1), "memory_of": of}


RESTARTED = ("The first start did not take off (training accuracy {acc:.0%} after {epochs} epochs, where guessing "
             "scores {chance:.0%}), so it started again from other initial weights; the curves show the second start.")


def cpu_copy(state: dict) -> dict:
    """The weights as CPU tensors of their own (training may go on changing the originals)."""
    return {k: v.detach().to("cpu", copy=True) for k, v in state.items()}


# Record (app host) -------------------------------------------------------------------------------------

class Recorder:
    """The app side of a run: turns fit events into progress, history and checkpoints (the best weights so
    far, so an interrupted run stays usable), and the output into the run's files and store summary."""

    def __init__(self, ws: Workspace, run: RunRecord, folder: Path, reporter: Reporter, laps: Laps, job: FitJob,
                 ds, entries):
        self.ws, self.run, self.folder, self.reporter, self.laps = ws, run, folder, reporter, laps
        self.job, self.ds, self.entries = job, ds, entries
        self.cfg = TrainConfig.from_json(job.config)
        self.started = time.time()

    def should_stop(self) -> bool:
        return self.reporter.gone or cancel_requested(self.folder)

    def event(self, event: FitEvent) -> None:
        if not self.reporter.gone:
            self._handlers[type(event)](self, event)

    def _batch(self, e: BatchDone) -> None:
        self.reporter.update(phase="training", epoch=e.epoch, epochs=e.epochs, batch=e.batch, batches=e.batches)

    def _phase(self, e: PhaseChanged) -> None:
        extra = {k: v for k, v in (("done", e.done), ("total", e.total)) if v is not None}
        self.reporter.update(force=e.done in (None, 0), phase=e.phase, **extra)

    def _restarted(self, e: Restarted) -> None:
        """The curves start again; the checkpoint is replaced by the new start's first epoch."""
        (self.folder / "history.jsonl").unlink(missing_ok=True)
        first, self.cfg = self.cfg, second_start(self.cfg)  # the figures shown from now on are the second start's
        note = RESTARTED.format(acc=e.train_acc, epochs=e.epochs, chance=1 / len(self.job.classes))
        low = low_res_side(self.cfg)
        if low and not low_res_side(first):
            note += f" The second start learned from {low}-px pictures for its first half."
        update_run(self.ws, self.run.id, epochs_run=0,
                   notice=" ".join(filter(None, [load_run(self.ws, self.run.id).notice, note])))
        self.started = time.time()

    def _epoch(self, e: EpochDone) -> None:
        stats, improved = EpochStats(**e.stats), e.improved
        if e.weights is not None:
            self._save(e.weights)
        append_history(self.folder, {**stats.to_json(), "improved": improved})
        self.reporter.update(force=True, phase="training", epoch=stats.epoch, epochs=self.cfg.epochs,
                             last=stats.to_json(), remaining_max=self._remaining_max(stats))
        best = {"best_epoch": stats.epoch, "metrics": {"val_accuracy": stats.val_acc, "val_weighted_f1": stats.val_f1,
                                                       "split": "validation"}} if improved else {}
        update_run(self.ws, self.run.id, epochs_run=stats.epoch, **best)  # metrics: those of the weights kept

    def _remaining_max(self, stats: EpochStats) -> float:
        """At most this long left: the slower of the mean epoch so far and the last; while the run still learns from
        smaller pictures (progressive resizing), as if every epoch left cost (side / smaller side)^2 as much."""
        per_epoch = max((time.time() - self.started) / stats.epoch, stats.seconds)
        low = low_res_side(self.cfg)
        if low and stats.epoch < self.cfg.epochs * LOW_RES_SHARE:
            per_epoch *= (self.cfg.image_size / low) ** 2
        return per_epoch * (self.cfg.epochs - stats.epoch)

    def _save(self, state: dict, **extra) -> None:
        save_weights(self.folder, state, self.cfg.arch, self.job.classes, self.cfg.image_size, self.job.mean,
                     self.job.std, run_id=self.run.id, dataset_id=self.ds.id, dataset_version=self.ds.version, **extra)

    def finish(self, out: FitOutput) -> None:
        ws, run, reporter, laps = self.ws, self.run, self.reporter, self.laps
        gap = time.time() - laps.last - sum(out.timings.values())  # the fitter's start and the transfers
        laps.seconds.update({k: round(laps.seconds.get(k, 0.0) + v, 3) for k, v in out.timings.items()})
        if gap > 0.01:
            laps.seconds["hand-over to the fitter"] = round(gap, 3)
        laps.last = time.time()
        if reporter.gone:  # deleted while training: leave nothing behind
            remove_tree_and_empty_parents(self.folder, ws.settings.data_dir)
            return
        finished = time.time()
        summary = dict(epochs_run=len(out.history), best_epoch=out.best_epoch, finished=finished, stopped=out.stopped,
                       seconds=finished - reporter.state["started"], device=out.device or self.run.device)
        if out.best_epoch == 0 or out.state is None:
            reporter.update(force=True, phase="cancelled")
            transition(ws, run.id, ("running",), status="cancelled", **summary)
            return
        for part in out.report.values():
            for m in part["mistakes"]:
                e = self.entries[m.pop("picture")]
                m.update(file=e.file, original=e.original)
        write_json_atomic(self.folder / "evaluation.json", out.report)
        write_json_atomic(self.folder / "predictions.json", {
            part: {"files": [self.entries[i].file for i in p["pictures"]], **{k: v for k, v in p.items() if k != "pictures"}}
            for part, p in out.predictions.items()})
        calibration = out.report.get("validation", {}).get("calibration", {})
        self._save(out.state, best_epoch=out.best_epoch, temperature=calibration.get("temperature", 1.0),
                   sure_threshold=calibration.get("threshold", 0.0), typical=calibration.get("typical"))
        laps("saving")
        reporter.update(force=True, phase="exporting")
        model = zoo.build_model(self.cfg.arch, len(self.job.classes))
        zoo.load_weights(model, out.state)
        export = export_and_check(model, self.folder, self.cfg.image_size,
                                  self.job.cache[torch.as_tensor(self.job.split.val)], self.job.mean, self.job.std)
        laps("ONNX export and check")
        finished = time.time()
        summary.update(timings=laps.seconds, finished=finished, seconds=finished - reporter.state["started"])
        status = "cancelled" if out.stopped == "cancelled" else "done"
        reporter.update(force=True, phase=status)
        transition(ws, run.id, ("running",), status=status, metrics=out.metrics, export=export,  # not if interrupted
                   usage=out.usage, **summary)

    _handlers = {BatchDone: _batch, PhaseChanged: _phase, EpochDone: _epoch, Restarted: _restarted}


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


def _fit_head(model, feeder, labels, split, cfg, device, callbacks, emit):
    """Fast mode: the frozen backbone's features computed once per picture, then only the head trains."""
    how = feature_settings(device)
    every = split.train + split.val + split.test
    feats, (parent, attr, head) = extract_features(
        model, feeder, every, device, how["batch"], how["channels_last"], how["bf16"],
        progress=lambda d, t: emit(PhaseChanged("computing features", d, t)),
        should_stop=callbacks.should_stop)
    model.to(memory_format=torch.contiguous_format)
    new_head = nn.Linear(head.in_features, head.out_features).to(device)
    result = fit(new_head, TensorFeeder(feats, device), labels, split.train, split.val, cfg, device, callbacks)
    setattr(parent, attr, new_head)
    return result


def _evaluate(model, feeder, labels, split, cfg, device, classes) -> tuple[dict, dict, dict]:
    """(metrics, report, predictions): the kept weights measured on validation and test. Temperature scaling
    is fitted on validation (`calibrate`) and every probability reported after it is the calibrated one.
    Each mistake and prediction names its `picture` (the row in the job) for the app side to add the file."""
    report, metrics, predictions, temperature = {}, {"split": "validation"}, {}, 1.0
    for part, idx in (("validation", split.val), ("test", split.test)):
        if not idx:
            continue
        y = labels[torch.as_tensor(idx)].numpy()
        raw = predict_probs(model, feeder, idx, 64, device, cfg.amp)
        calibration = calibrate(raw, y) if part == "validation" else None
        temperature = calibration["temperature"] if calibration else temperature
        probs = apply_temperature(raw, temperature)
        data = evaluate(y, probs, classes, split=part).to_json()
        for m in data["mistakes"]:
            m["picture"] = idx[m["index"]]
        if calibration:
            data["calibration"] = calibration
        report[part] = data
        predictions[part] = {"pictures": list(idx), "labels": y.tolist(), "probabilities": probs.round(5).tolist()}
        prefix = "val" if part == "validation" else "test"
        metrics.update({f"{prefix}_accuracy": data["accuracy"], f"{prefix}_weighted_f1": data["weighted_f1"],
                        f"{prefix}_macro_f1": data["macro_f1"]})
    return metrics, report, predictions

"""Fit and evaluate on a Ray cluster (`NOCODE_RUNNER=ray`, `NOCODE_RAY_ADDRESS`; docs/deploy.md).

A run's worker process on the app host stays what it is for local runs: the fair queue starts it, it
takes the run's slot, *prepares* (facts, Auto, split, picture cache, pretrained weights found here) and
*records* (files, store). Only the middle piece moves: one Ray actor per run, asking for one GPU when
the cluster has GPUs and CPUs otherwise, runs `engine.fit_and_evaluate`. The job's tensors go out
through Ray's object store; the events come back from a streaming generator (batch progress, each
epoch with the kept weights when it improved, then the output), so no machine needs to see `data/`.

Ray's facts this is built around:
- An actor that is not detached dies with the process that created it. The creator is the run's
  worker, which is detached from the page and the CLI: they may exit or restart while the run trains.
  If the worker itself ends (the app host restarts), the actor ends too, nothing trains on unseen, and
  the usual reconciliation marks the run `interrupted`.
- Objects in the object store die with their owner: everything the app needs comes back in the
  stream before the actor is released.
- An actor or node that dies surfaces as a Ray error on the stream: the run ends `interrupted`, its
  best epoch so far kept (those weights came back when the epoch improved).
- Ray has no per-user isolation: who may train what, and how much, stays decided by our queue.
- Not the Jobs API: it survives its submitter, but expects the code and the data on the cluster (we have
  no shared filesystem) and would need its own channel back for progress and results. Not a detached
  actor either: it would go on training after the app host restarted, with nobody to record it, and a
  re-attach protocol to get it back. The run's worker is already the long-lived, detached owner we need.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # never phone home (these machines are offline)

import ray  # noqa: E402
from ray import exceptions as rx  # noqa: E402

from ..config import Settings  # noqa: E402
from ..errors import NocodeError, TrainingError  # noqa: E402
from ..runs.events import BatchDone, Emit, PhaseChanged  # noqa: E402
from ..runs.records import WorkerLost  # noqa: E402

if TYPE_CHECKING:  # torch is imported by the worker meanwhile: joining the cluster overlaps it
    from .engine import FitJob, FitOutput

EVENT_EVERY_S = 0.25  # progress events within an epoch are thinned to this; epochs and the output never are
POLL_S = 0.2
LOST = ("The Ray worker training this run stopped (its process or machine ended). "
        "The best epoch so far is kept when there was one.")
_DEAD = (rx.RayActorError, rx.WorkerCrashedError, rx.ObjectLostError, rx.NodeDiedError, rx.LocalRayletDiedError)


def connect(address: str) -> None:
    """Join the cluster at `address`; empty: the local Ray instance, or a new one in this process."""
    if ray.is_initialized():
        return
    where = f"at {address}" if address else "on this machine"
    if address and not _answers(address):
        raise TrainingError(f"The Ray cluster {where} does not answer. Check NOCODE_RAY_ADDRESS and that the cluster "
                            "is running (`nocode ray check`).")
    try:
        ray.init(address=address or None, logging_level="ERROR", log_to_driver=False)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise TrainingError(f"The Ray cluster {where} could not be reached ({str(exc).splitlines()[0][:160]}). "
                            "Check NOCODE_RAY_ADDRESS and that the cluster is running (`nocode ray check`).") from None


def _answers(address: str, timeout: float = 5.0) -> bool:
    """Whether something listens at host:port (Ray itself would retry for a minute before giving up)."""
    import socket

    host, _, port = address.rpartition(":")
    try:
        socket.create_connection((host.strip("[]") or "127.0.0.1", int(port)), timeout=timeout).close()
        return True
    except (OSError, ValueError):
        return False


def cluster() -> dict:
    """The live nodes with their CPUs and GPUs, and the totals."""
    nodes = [{"node": n["NodeManagerAddress"], "cpus": int(n["Resources"].get("CPU", 0)),
              "gpus": int(n["Resources"].get("GPU", 0))} for n in ray.nodes() if n.get("Alive")]
    return {"nodes": nodes, "cpus": sum(n["cpus"] for n in nodes), "gpus": sum(n["gpus"] for n in nodes)}


@ray.remote(max_concurrency=2)  # one thread streams the run, the other takes a cancel
class FitActor:
    def __init__(self):
        self._stop = threading.Event()

    def facts(self) -> dict:
        from .fit import cpu_has_fast_bf16, pick_device

        return {"device": pick_device("auto").type, "cpu_bf16": cpu_has_fast_bf16(),
                "node": ray.util.get_node_ip_address(), "pid": os.getpid()}

    def cancel(self) -> None:
        self._stop.set()

    def run(self, job: FitJob):
        """Fit in a thread; yield its events (`events`), ending with Finished(FitOutput), or Failed(message)
        for a plain-language failure, or Crashed(kind, traceback)."""
        import traceback

        from .engine import fit_and_evaluate

        events: queue.Queue = queue.Queue()

        def work():
            try:
                events.put(Finished(fit_and_evaluate(job, events.put, self._stop.is_set)))
            except NocodeError as exc:
                events.put(Failed(str(exc)))
            except BaseException as exc:  # noqa: BLE001 - reported to the app side with its traceback
                events.put(Crashed(type(exc).__name__, traceback.format_exc()))

        threading.Thread(target=work, daemon=True).start()
        last = 0.0
        while True:
            event = events.get()
            if event.stale_soon and time.time() - last < EVENT_EVERY_S:
                continue  # a later one says the same and more
            last = time.time() if isinstance(event, (BatchDone, PhaseChanged)) else last
            yield event
            if isinstance(event, (Finished, Failed, Crashed)):
                return


@dataclass(frozen=True)
class Finished:
    """The end of a run's stream from its actor: what fit-and-evaluate returned."""

    output: object  # FitOutput
    stale_soon = False


@dataclass(frozen=True)
class Failed:
    message: str  # plain words for the person
    stale_soon = False


@dataclass(frozen=True)
class Crashed:
    kind: str
    traceback: str
    stale_soon = False


def resources(found: dict, asked: str, cpus_per_run: int = 0) -> dict:
    """What a run asks Ray for: one GPU (and a CPU to feed it) when the cluster has GPUs and the run may
    use one; else `cpus_per_run` CPUs, or every CPU of the largest node (a run gets a machine, as locally)."""
    if asked == "cuda" and not found["gpus"]:
        raise TrainingError("The Ray cluster has no GPU; choose the CPU.")
    if asked == "mps":
        raise TrainingError("Apple GPUs (mps) are not used on a Ray cluster; choose Auto or the CPU.")
    if found["gpus"] and asked != "cpu":
        return {"num_gpus": 1, "num_cpus": 1}
    largest = max([n["cpus"] for n in found["nodes"]] or [1])
    return {"num_cpus": min(cpus_per_run, largest) if cpus_per_run else largest}


class RemoteError(Exception):
    """An unexpected exception in the Ray actor, with the remote traceback for the run's error log."""

    def __init__(self, kind: str, remote_traceback: str):
        super().__init__(kind)
        self.kind, self.remote_traceback = kind, remote_traceback


class RayFitter:
    """`engine.Fitter` on a Ray cluster. `placed(where)` is told the actor's node and pid once it runs;
    `should_stop()` is asked while waiting for the cluster to place the actor (a cancel meanwhile).
    `start(asked)` begins joining the cluster and placing the actor in a thread, so that this overlaps
    the worker's own imports and preparation; `device` then waits for it."""

    def __init__(self, settings: Settings, placed: Callable[[dict], None] = lambda where: None,
                 should_stop: Callable[[], bool] = lambda: False):
        self.settings, self.placed, self.should_stop = settings, placed, should_stop
        self.actor = None
        self.threads: int | None = None
        self._placing: threading.Thread | None = None
        self._placed: dict = {}

    def start(self, asked: str) -> "RayFitter":
        self._placing = threading.Thread(target=self._place_catching, args=(asked,), daemon=True)
        self._placing.start()
        return self

    def device(self, asked: str) -> tuple[str, bool]:
        if self._placing is None:
            self.start(asked)
        self._placing.join()
        if "error" in self._placed:
            raise self._placed["error"]
        return self._placed["device"]

    def _place_catching(self, asked: str) -> None:
        try:
            self._placed["device"] = self._place(asked)
        except BaseException as exc:  # noqa: BLE001 - raised again in `device`, in the run's thread
            self._placed["error"] = exc

    def _place(self, asked: str) -> tuple[str, bool]:
        connect(self.settings.ray_address)
        options = resources(cluster(), asked, self.settings.ray_cpus_per_run)
        self.threads = None if "num_gpus" in options else options["num_cpus"]
        self.actor = FitActor.options(**options).remote()
        facts = self._get(self.actor.facts.remote())
        self.placed({"node": facts["node"], "pid": facts["pid"], **options})
        return ("cpu" if asked == "cpu" else facts["device"]), facts["cpu_bf16"]

    def _get(self, ref):
        """ray.get that gives up when the run is cancelled while the cluster has no room for it yet."""
        try:
            while not ray.wait([ref], timeout=POLL_S)[0]:
                if self.should_stop():
                    from .fit import Cancelled

                    ray.kill(self.actor)
                    raise Cancelled
            return ray.get(ref)
        except _DEAD:
            raise WorkerLost(LOST) from None

    def fit(self, job: FitJob, emit: Emit, should_stop: Callable[[], bool]) -> FitOutput:
        job.threads = self.threads
        finished = threading.Event()
        threading.Thread(target=self._relay_cancel, args=(should_stop, finished), daemon=True).start()
        try:
            for ref in self.actor.run.options(num_returns="streaming").remote(job):
                event = ray.get(ref)
                if isinstance(event, Finished):
                    return event.output
                if isinstance(event, Failed):
                    raise TrainingError(event.message)
                if isinstance(event, Crashed):
                    raise RemoteError(event.kind, event.traceback)
                emit(event)
            raise WorkerLost(LOST)
        except _DEAD:
            raise WorkerLost(LOST) from None
        finally:
            finished.set()
            ray.kill(self.actor)  # its GPU or CPUs go back to the cluster now

    def _relay_cancel(self, should_stop: Callable[[], bool], finished: threading.Event) -> None:
        while not finished.wait(POLL_S):
            if should_stop():
                self.actor.cancel.remote()
                return


def check(address: str) -> dict:
    """For `nocode ray check`: the cluster's nodes, CPUs and GPUs, and whether a tiny task round-trips."""
    started = time.time()
    connect(address)
    found = cluster()
    try:
        echoed = ray.get(ray.remote(num_cpus=0)(lambda x: x + 1).remote(41), timeout=60)
    except (rx.GetTimeoutError, rx.RayError):
        echoed = None
    return {**found, "address": address or "local", "round_trip": echoed == 42,
            "seconds": round(time.time() - started, 2)}

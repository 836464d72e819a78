"""Shared fixtures: a fresh workspace per test (real TinyDB file, real folders) with cheap argon2
parameters so that tests creating many accounts stay fast."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import time
from pathlib import Path

import pytest

from nocode_widgets.config import Settings
from nocode_widgets.workspace import Workspace
from tests.processes import processes

REPO = Path(__file__).resolve().parent.parent
# Cheap password hashing, and never a download of pretrained weights (tests make their own files).
# Fast password hashing, no downloads, and no warm process (it would outlive a test; the warm-start tests ask
# for one and end it). Also in the environment of every `nocode` the tests start, `nocode serve` included.
TEST_SETTINGS = {"argon2_time_cost": 1, "argon2_memory_kib": 1024, "allow_weight_download": False,
                 "warm_start": False}


@pytest.fixture(autouse=True, scope="session")
def empty_torch_cache(tmp_path_factory):
    """A torch cache of the suite's own, so weights a developer has cached cannot change Auto's choices."""
    import torch

    home = tmp_path_factory.mktemp("torch-home")
    old_env, old_hub = os.environ.get("TORCH_HOME"), torch.hub.get_dir()
    os.environ["TORCH_HOME"] = str(home)
    torch.hub.set_dir(str(home / "hub"))
    yield home
    torch.hub.set_dir(old_hub)
    if old_env is None:
        os.environ.pop("TORCH_HOME", None)
    else:
        os.environ["TORCH_HOME"] = old_env


SESSION_MARK = "NOCODE_TEST_SESSION"  # in the environment of every process the tests start (and theirs)


def servers_left() -> list[tuple[int, str]]:
    """Processes this test session started, directly or not, that are still running (a developer's own app
    beside the tests is not one of them: it lacks the session's mark)."""
    mark = f"{SESSION_MARK}={os.getpid()}".encode()
    left = []
    for pid, _, cmdline in processes():
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                marked = mark in f.read().split(b"\0")
        except OSError:
            continue
        if marked and pid != os.getpid():
            left.append((pid, cmdline.replace(b"\0", b" ").decode(errors="replace")[:160]))
    return left


@pytest.fixture(autouse=True, scope="session")
def no_server_outlives_the_suite():
    """The suite fails if a server, kernel or worker it started is still running when it ends (every fixture
    that starts one must end it and its kernels); they are killed either way."""
    os.environ[SESSION_MARK] = str(os.getpid())
    yield
    deadline = time.time() + 15
    while (left := servers_left()) and time.time() < deadline:
        time.sleep(0.5)
    for pid, _ in left:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    if left:
        pytest.fail("processes the tests started outlived the suite: " + "; ".join(f"{pid} {cmd}" for pid, cmd in left),
                    pytrace=False)


@pytest.fixture(autouse=True)
def no_worker_outlives_its_test():
    """A training worker this test started and left running (a long run a test ended without cancelling,
    or one that failed before it could) is ended, so it does not train on beside the tests after it."""
    yield
    for pid in _worker_children():
        with contextlib.suppress(OSError):
            os.killpg(pid, signal.SIGKILL)  # workers lead their own process group


def _worker_children() -> list[int]:
    me = os.getpid()
    return [pid for pid, stat, cmdline in processes()
            if int(stat[1]) == me and b"nocode_widgets.training.worker" in cmdline]


def make_workspace(path: Path, **changes) -> Workspace:
    settings = Settings(data_dir=path, **{**TEST_SETTINGS, **changes})
    seed_device_record(path)
    return Workspace.open(settings=settings)


_DEVICE_RECORD: dict = {}


def seed_device_record(data_dir: Path) -> None:
    """Give a new data folder this machine's device record (`training.facts.device_facts`), as a folder
    probed before would have it. The probe (a subprocess importing torch and torchvision, about 5 s here)
    runs for real once per test session instead of at every new folder's first Train panel. A test that
    changes what the record is keyed on (TORCH_HOME, CUDA_VISIBLE_DEVICES) gets a fresh probe: the key
    no longer matches."""
    import tempfile

    from nocode_widgets.files import write_json_atomic
    from nocode_widgets.runs import facts

    if not _DEVICE_RECORD:
        with tempfile.TemporaryDirectory() as scratch:
            probed = Workspace.open(settings=Settings(data_dir=Path(scratch) / "data", **TEST_SETTINGS))
            _DEVICE_RECORD.update(facts.device_facts(probed))
    data_dir.mkdir(parents=True, exist_ok=True)
    write_json_atomic(data_dir / "device.json", _DEVICE_RECORD)


@pytest.fixture
def ws(tmp_path) -> Workspace:
    return make_workspace(tmp_path / "data")


@pytest.fixture
def alice(ws):
    from nocode_widgets.accounts import auth

    return auth.sign_up(ws, "alice", "password-alice")


@pytest.fixture
def bob(ws, alice):
    from nocode_widgets.accounts import auth

    return auth.sign_up(ws, "bob", "password-bob")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli_env(data_dir: Path, **extra) -> dict:
    """Environment for running `nocode` in a subprocess against `data_dir`."""
    env = dict(os.environ, NOCODE_DATA_DIR=str(data_dir), PYTHONUNBUFFERED="1")
    env.update({f"NOCODE_{k.upper()}": str(int(v) if isinstance(v, bool) else v) for k, v in TEST_SETTINGS.items()})
    env.update(extra)
    return env


NOCODE = [sys.executable, "-m", "nocode_widgets"]


def at_once(count: int, action) -> list:
    """Call `action()` from `count` threads released together (parallel pages or clicks); returns
    what each returned or the exception it raised."""
    import threading

    results, barrier = [], threading.Barrier(count)

    def one():
        barrier.wait()
        try:
            results.append(action())
        except Exception as exc:  # noqa: BLE001 - the caller looks at what came back
            results.append(exc)

    threads = [threading.Thread(target=one) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One small run trained (and exported) once per test module: (ws, alice, dataset, run)."""
    from nocode_widgets.accounts import auth
    from tests.training_helpers import colour_dataset, train

    ws = make_workspace(tmp_path_factory.mktemp("export") / "data")
    alice = auth.sign_up(ws, "alice", "password-alice")
    ds = colour_dataset(ws, alice, per_class=14)
    return ws, alice, ds, train(ws, alice, ds)


@pytest.fixture
def hub(tmp_path, monkeypatch):
    """An empty torch cache of the test's own: for this process and, through TORCH_HOME, for the processes it
    starts (TORCH_HOME is also part of the key of a data folder's device record, so the record is probed again)."""
    import torch

    old = torch.hub.get_dir()
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    torch.hub.set_dir(str(tmp_path / "hub"))
    yield tmp_path / "hub"
    torch.hub.set_dir(old)

"""The warm processes, seen from the server's side, and the helpers that stay warm while pages use them.
Both only with `warm_start` on (NOCODE_WARM_START); off, every run and helper job is a new Python process.

- **The warm process** (`training/warm.py`): one per data folder that imported torch and the training code,
  forking run workers and helpers on request. `warm_fork` asks it; with no answer the caller starts cold and
  `start_warm` starts one for the next time.
- **Warm helpers**: each of the machine's helper slots (`slots.py`) has at most one long-lived helper process
  (`python -m nocode_widgets.warm_pool K`, forked warm when it can be), which runs the helper jobs of whoever
  holds slot K, one at a time, in its own process, and keeps the last models it loaded (`keep_loaded`). A heat
  map of a second picture of the same run then costs its own forward and backward pass, not seconds of imports
  and model loading (`benchmarks/bench_auto.py`). So the helper processes are still capped by the slots.
  - A helper ends after `helper_idle_s` without a job, and only while nobody holds its slot (it takes the
    slot's lock to end), so a caller never talks to a helper that is leaving.
  - A job that runs past its time has its helper killed; one that fails leaves it serving. A helper that died
    is replaced on the next job.
  - Its socket (`slots/helper-K.sock`) is 0600 in the 0700 data folder; only the modules in HELPERS run there.
- `stop_warm` ends the warm process and the helpers (the server's shutdown, tests). Run workers forked earlier
  are in sessions of their own and go on."""

from __future__ import annotations

import contextlib
import gc
import importlib
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
from collections import OrderedDict
from pathlib import Path
from typing import Callable

from filelock import FileLock, Timeout

from .config import Settings
from .errors import NocodeError
from .files import process_exists, read_json, write_json_atomic

HELPERS = {"nocode_widgets.insight.gradcam", "nocode_widgets.training.estimate", "nocode_widgets.training.label_folds",
           "nocode_widgets.insight.score_inbox", "nocode_widgets.classroom.score_hidden"}
MODELS_KEPT = 3  # per helper: the runs a page is looking at
START_WAIT_S = 120.0  # a helper started cold imports torch first
ONCE = {"nocode_widgets.training.label_folds"}  # K trainings: their helper ends after the job, its memory with it
LOG_BYTES = 10 * 2**20  # a log past this is moved to <name>.1 when a process that writes it starts
AHEAD_EVERY_S = 30.0  # `warm_ahead` starts a warm process at most this often per data folder
SOCKET_PATH_MAX = 100  # a Unix socket's path has a short limit (108 bytes with its end): longer, stay cold


def started_at(pid: int) -> str:
    """When the process started, in clock ticks since boot (/proc/PID/stat), or "" when it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def _slots(settings) -> Path:
    folder = settings.data_dir / "slots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def listen_on(path: Path, backlog: int, timeout_s: float) -> socket.socket:
    """A Unix socket listening at `path` (any old one there replaced), readable by this user only (0600)."""
    path.unlink(missing_ok=True)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old_mask = os.umask(0o177)
    try:
        server.bind(str(path))
    finally:
        os.umask(old_mask)
    server.listen(backlog)
    server.settimeout(timeout_s)
    return server


def mark_pid(path: Path) -> None:
    """Say which process this is (pid and start time), for `stop_warm`."""
    write_json_atomic(path, {"pid": os.getpid(), "start": started_at(os.getpid())})


def marked_pid(path: Path) -> int | None:
    """The process a `mark_pid` file names, while it runs (the same start time: not a new one with its pid)."""
    mark = read_json(path) or {}
    pid = mark.get("pid")
    if isinstance(pid, int) and mark.get("start") and started_at(pid) == mark["start"]:
        return pid
    return None


def fits(settings) -> bool:
    """This data folder's sockets have short enough paths (otherwise everything starts cold)."""
    return len(str(settings.data_dir / "slots" / "helper-00.sock")) <= SOCKET_PATH_MAX


def rotated(log: Path) -> Path:
    """`log`, moved aside to <name>.1 first when it has grown past LOG_BYTES (the one before is dropped)."""
    try:
        if log.stat().st_size > LOG_BYTES:
            log.replace(log.with_name(log.name + ".1"))
    except FileNotFoundError:
        pass
    return log


def start_detached(module: str, args: list[str], env: dict, log: Path) -> int:
    """`python -m module args...` in a session of its own (it outlives its caller), output appended to `log`;
    its pid. Reaped if the caller is still there when it ends."""
    with open(rotated(log), "ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", module, *args], env=env, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True, close_fds=True)
    threading.Thread(target=proc.wait, daemon=True).start()
    return proc.pid


def warm_fork(settings, module: str, args: list[str], env: dict, log: Path) -> int | None:
    """Ask the data folder's warm process to fork `module`; None when there is none that answers (then it is
    started for the next time, and the caller starts cold)."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(10.0)
            conn.connect(str(_slots(settings) / "warm.sock"))
            conn.sendall((json.dumps({"module": module, "args": args, "env": env, "log": str(log)}) + "\n").encode())
            answer = json.loads(conn.makefile("r").readline() or "{}")
        if isinstance(answer.get("pid"), int):
            return answer["pid"]
    except (OSError, ValueError):
        pass
    start_warm(settings)
    return None


def start_warm(settings) -> None:
    """Start the warm process (it exits at once if one serves this data folder already)."""
    folder = _slots(settings)
    if not fits(settings):
        return
    start_detached("nocode_widgets.training.warm", [], {**os.environ, **settings.to_env()}, folder / "warm.log")


def warm_ahead(settings) -> None:
    """With the warm start on, start this data folder's warm process when none runs: a person about to train (the
    Train panel opened) then gets a warm first run, where it would have started cold and started the warm process
    for the next one. Idle, it ends after `warm_idle_s` as always."""
    if not settings.warm_start or marked_pid(settings.data_dir / "slots" / "warm.pid") is not None:
        return
    tried = _slots(settings) / "warm.ahead"
    with contextlib.suppress(FileNotFoundError):
        if time.time() - tried.stat().st_mtime < AHEAD_EVERY_S:
            return  # a page refreshing in a loop, or a warm process that cannot start, costs one start a while
    tried.touch()
    start_warm(settings)


def stop_warm(settings) -> None:
    """End the warm process and the warm helpers of this data folder, if they run."""
    folder = settings.data_dir / "slots"
    for path in [folder / "warm.pid", *folder.glob("helper-*.pid")] if folder.exists() else []:
        pid = marked_pid(path)
        if pid is not None:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            until = time.time() + 5
            while process_exists(pid) and time.time() < until:
                time.sleep(0.02)
        path.unlink(missing_ok=True)


# The caller's side of a warm helper.

def ask(settings, slot: int, module: str, job_file: Path, poll: Callable[[], None], timeout_s: float,
        too_long: str, failed: str) -> None:
    """Have helper `slot` run `module` on `job_file` (it writes the job's "out"), calling `poll()` every half
    second meanwhile. Call it holding that slot. Past `timeout_s`: the helper is killed, NocodeError `too_long`."""
    deadline = time.time() + timeout_s
    request = {"module": module, "job": str(job_file), "timeout_s": timeout_s, "settings": settings.to_env()}
    for attempt in (1, 2):
        try:
            with _connect(settings, slot) as conn:
                conn.sendall((json.dumps(request) + "\n").encode())
                _follow(conn, deadline, poll, too_long, failed)
                return
        except _NotTaken:  # what answered was a helper's leftover, not a helper: it is gone now, start one
            if attempt == 2:
                raise NocodeError(f"{failed}.") from None
        except (OSError, ValueError):  # the helper went away mid-answer
            raise NocodeError(f"{failed}.") from None


class _NotTaken(Exception):
    """The connection ended before a helper took the job."""


def _follow(conn: socket.socket, deadline: float, poll: Callable[[], None], too_long: str, failed: str) -> None:
    """Read the helper's answer: its pid, then {"ok"} or {"error"}; kill it past the deadline."""
    conn.settimeout(0.5)
    buffer, pid = b"", None
    while True:
        if b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            answer = json.loads(line)
            if "pid" in answer:
                pid = answer["pid"]
                continue
            if "error" in answer:
                raise NocodeError(f"{failed}{': ' + answer['error'] if answer['error'] else ''}.")
            return
        try:
            chunk = conn.recv(4096)
        except socket.timeout:
            poll()
            if time.time() > deadline:
                if pid:  # the helper leads its own process group: with whatever its job started
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(pid, signal.SIGKILL)
                raise NocodeError(too_long) from None
            continue
        except OSError:
            chunk = b""
        if not chunk and pid is None:  # a dying helper's child still held its socket a moment
            raise _NotTaken
        if not chunk:  # the helper died on this job
            raise NocodeError(f"{failed}.")
        buffer += chunk


def _connect(settings, slot: int) -> socket.socket:
    """A connection to helper `slot`, started (warm if it can be) when none answers."""
    folder = _slots(settings)
    path = folder / f"helper-{slot}.sock"
    started = False
    until = time.time() + START_WAIT_S
    while True:
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        conn.settimeout(5.0)  # a helper answers at once: it serves one slot holder at a time
        try:
            conn.connect(str(path))
            return conn
        except OSError:
            conn.close()
        if not started:
            log = rotated(folder / "helpers.log")
            env = {**os.environ, **settings.to_env(), "PYTHONUNBUFFERED": "1"}
            if warm_fork(settings, "nocode_widgets.warm_pool", [str(slot)], env, log) is None:
                start_detached("nocode_widgets.warm_pool", [str(slot)], env, log)
            started = True
        if time.time() > until:
            raise NocodeError("The server could not start a helper for this just now. Please try again in a moment.")
        time.sleep(0.05)


# The helper's side.

_kept: OrderedDict = OrderedDict()


def keep_loaded(kind: str, folder: Path, make: Callable[[], object], **limits) -> object:
    """`make()`'s model of the run in `folder`, kept for the next job of this process (the last MODELS_KEPT),
    while the run's model files are the same (by their times and sizes)."""
    files = []
    for name in ("model.json", "weights.pt", "model.onnx", "export.json", "calibration.json"):
        try:
            stat = (Path(folder) / name).stat()
            files.append((name, stat.st_mtime_ns, stat.st_size))
        except FileNotFoundError:
            continue
    key = (kind, str(Path(folder).resolve()), tuple(sorted(limits.items())), tuple(files))
    if key in _kept:
        _kept.move_to_end(key)
        return _kept[key]
    value = _kept[key] = make()
    print(f"loaded {kind} model of {folder}", file=sys.stderr, flush=True)
    while len(_kept) > MODELS_KEPT:
        _kept.popitem(last=False)
    return value


def do_job(job_file: Path, work: Callable[[dict], dict]) -> str | None:
    """Read the job, write what `work(job)` returns to its "out"; on a failure, what to tell the page (our own
    errors in their plain words, else nothing more than that it failed), with the traceback on stderr."""
    job = json.loads(job_file.read_text(encoding="utf-8"))
    try:
        write_json_atomic(Path(job["out"]), work(job))
        return None
    except Exception as exc:  # noqa: BLE001 - said to the page in one line; the details go to stderr
        _log(f"{job_file} failed")
        traceback.print_exc()
        return str(exc) if isinstance(exc, NocodeError) else ""


def serve(settings, slot: int) -> int:
    for module in HELPERS:  # before the socket opens: the first caller waits for it, the next ones do not
        importlib.import_module(module)
    gc.collect()  # the imports' garbage first: what is frozen is never collected
    gc.freeze()  # what stays loaded is left out of garbage collections: `_tidy`'s after each job took 0.15 s, now ~0
    folder = _slots(settings)
    path = folder / f"helper-{slot}.sock"
    server = listen_on(path, 4, 1.0)
    inode = path.stat().st_ino
    mark_pid(folder / f"helper-{slot}.pid")
    last = time.time()
    slot_lock = FileLock(str(folder / f"helper-{slot}.lock"))
    try:
        while True:
            try:
                if path.stat().st_ino != inode:
                    return 0  # another helper took this slot's place
            except FileNotFoundError:
                return 0
            if time.time() - last > settings.helper_idle_s and _free(slot_lock):
                return 0
            try:
                conn, _ = server.accept()
            except socket.timeout:
                continue
            with conn:
                done = _answer(conn)
            last = time.time()
            if done in ONCE:
                return 0
    finally:
        if path.exists() and path.stat().st_ino == inode:
            path.unlink()
        if slot_lock.is_locked:
            slot_lock.release()


def _free(lock: FileLock) -> bool:
    """Take the slot's lock when nobody holds it (kept until this helper ends): no caller is on its way."""
    try:
        lock.acquire(timeout=0)
        return True
    except Timeout:
        return False


def _answer(conn: socket.socket) -> str | None:
    """Run one caller's job (the module it ran, or None). The job ends this helper when its caller hangs up (a
    closed page: nobody waits for it, and its slot is free for the next person) or runs past its time."""
    try:
        conn.settimeout(30.0)
        request = json.loads(conn.makefile("r").readline() or "{}")
        module = request.get("module")
        if module not in HELPERS:
            conn.sendall(b'{"error": ""}\n')
            return None
        for name in [k for k in os.environ if k.startswith("NOCODE_")]:  # the caller's settings, not the first's
            del os.environ[name]
        os.environ.update({k: str(v) for k, v in request.get("settings", {}).items() if k.startswith("NOCODE_")})
        conn.sendall((json.dumps({"pid": os.getpid()}) + "\n").encode())
        watching = threading.Event()
        threading.Thread(target=_watch, args=(conn, time.time() + float(request.get("timeout_s", 3600)), watching),
                         daemon=True).start()
        try:
            error = do_job(Path(request["job"]), importlib.import_module(module).work)
        finally:
            watching.set()
            _tidy()
        conn.sendall((json.dumps({"error": error} if error is not None else {"ok": True}) + "\n").encode())
        return module
    except (OSError, ValueError, KeyError) as exc:  # the caller went away (a closed page): nothing to say it to
        _log(f"a request ended early: {exc!r}")
        return None


def _watch(conn: socket.socket, deadline: float, done: threading.Event) -> None:
    """While the job runs: end this process when the caller has hung up or the job's time is past."""
    while not done.wait(0.5):
        try:
            gone = bool(select.select([conn], [], [], 0)[0]) and conn.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            gone = True
        if done.is_set():  # the job ended meanwhile: its caller may have read the answer and gone
            return
        if gone or time.time() > deadline:
            _log(f"job ended ({'its caller left' if gone else 'past its time'})")
            if os.getpgrp() == os.getpid():  # with whatever the job started (a helper leads its own group)
                os.killpg(0, signal.SIGKILL)
            os._exit(1)


def _log(message: str) -> None:
    """One line of the helpers' log (this process's stderr), with the time and the pid."""
    print(f"{time.strftime('%Y-%m-%d %H:%M:%S')} pid {os.getpid()}: {message}", file=sys.stderr, flush=True)


def _tidy() -> None:
    """What a job left: Python's garbage, and torch's cached GPU memory (a training run may want it)."""
    gc.collect()
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_initialized():
        torch.cuda.empty_cache()


def main(argv: list[str]) -> int:
    return serve(Settings.from_env(), int(argv[0]))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""The warm start: one process per data folder that has imported torch, torchvision and the training code (and
nothing of a run; its ONNX exporter started once), and forks a run's worker on request, so the worker skips the
seconds of those imports (`benchmarks/bench_warm_start.py`). `python -m nocode_widgets.training.warm`, started
detached by `warm_pool.start_warm` when `NOCODE_WARM_START` is on; the settings come from its environment.

- It listens on a Unix socket, `data/slots/warm.sock` (0600, in the 0700 data folder: only its own user can
  ask), for one JSON line: {"module", "args", "env", "log"}. Only the modules in FORKABLE may be run.
- The child starts its own session (so it is killable as a group and outlives the server), takes the caller's
  environment and log, and runs the module as `python -m` would. Torch's thread pools start in the child, on its
  first parallel work: the server never does any, so forking it is safe. CUDA is never touched here either.
- One per data folder (`warm.lock`); it ends after `warm_idle_s` without a request. If it dies, callers fall back
  to a cold start and start a new one."""

from __future__ import annotations

import fcntl
import gc
import json
import os
import runpy
import signal
import socket
import sys
import time

FORKABLE = {"nocode_widgets.training.worker", "nocode_widgets.warm_pool"}  # run workers, warm helpers


def serve(settings) -> int:
    folder = settings.data_dir / "slots"
    folder.mkdir(parents=True, exist_ok=True)
    lock = os.open(folder / "warm.lock", os.O_RDWR | os.O_CREAT, 0o600)  # our own fd: children close it
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(lock)
        return 0  # another warm process serves this data folder
    from ..warm_pool import listen_on, mark_pid

    mark_pid(folder / "warm.pid")  # from now: `stop_warm` ends it, and `warm_ahead` starts no other
    import torch  # noqa: F401 - what the children are spared
    import torchvision  # noqa: F401
    from . import engine, worker  # noqa: F401
    from ..models.artifact import warm_up_export

    try:
        warm_up_export()  # each run's export is then 0.2-0.3 s quicker (BENCHMARKS.md, "A warm start")
    except Exception:  # noqa: BLE001 - only a saving: the runs export as they would cold
        import traceback

        traceback.print_exc()
    gc.collect()  # the imports' garbage first: what is frozen is never collected
    gc.freeze()  # the children's garbage collections skip all this, and leave its pages shared
    path = folder / "warm.sock"
    server = listen_on(path, 16, 5.0)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the system
    last = time.time()
    try:
        while time.time() - last < settings.warm_idle_s and path.exists():
            try:
                conn, _ = server.accept()
            except socket.timeout:
                continue
            last = time.time()
            with conn:
                conn.settimeout(10.0)
                try:
                    request = json.loads(conn.makefile("r").readline())
                    pid = _fork(request, server, conn, lock)
                    conn.sendall((json.dumps({"pid": pid}) + "\n").encode())
                except (OSError, ValueError, KeyError) as exc:
                    conn.sendall((json.dumps({"error": str(exc)}) + "\n").encode())
    finally:
        path.unlink(missing_ok=True)
        (folder / "warm.pid").unlink(missing_ok=True)
        os.close(lock)
    return 0


def _fork(request: dict, server: socket.socket, conn: socket.socket, lock: int) -> int:
    module, args, env, log = request["module"], list(map(str, request["args"])), dict(request["env"]), request["log"]
    if module not in FORKABLE:
        raise ValueError(f"{module} is not started here")
    pid = os.fork()
    if pid:
        return pid
    try:  # the child: nothing here may return into the server's loop
        server.close()
        conn.close()
        os.close(lock)  # the lock stays the warm process's alone: a child that outlives it must not hold it
        os.setsid()
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        out = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        os.dup2(out, 1)
        os.dup2(out, 2)
        os.environ.clear()
        os.environ.update(env)
        sys.argv = [module, *args]
        runpy.run_module(module, run_name="__main__", alter_sys=True)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # noqa: BLE001 - the child's own failure, said in its log
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)


def main() -> int:
    from ..config import Settings

    return serve(Settings.from_env())


if __name__ == "__main__":
    sys.exit(main())

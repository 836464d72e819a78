"""A real local Ray cluster (for the tests and benchmarks/bench_ray.py): `ray start --head --block` on free
ports with its own short temp folder, in a new session; stopped by the ids of the processes in that
session (the head's GCS, raylet and the workers they started), never by `ray stop`, which would end any
other Ray on the machine."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from tests.processes import processes

RAY = str(Path(sys.executable).with_name("ray"))
NOCODE = [sys.executable, "-m", "nocode_widgets"]


def free_port() -> int:
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """`count` different free ports: every socket is held open until all are picked, or the system may hand
    the same port out twice (it did: Ray then refuses to start)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def session_processes(sid: int) -> list[int]:
    return [pid for pid, stat, _ in processes() if int(stat[3]) == sid]  # after the name: state, ppid, pgrp, session


def stop_session(sid: int, grace: float = 1.0) -> None:
    """SIGTERM, then SIGKILL to what is left after `grace` seconds: a throw-away cluster needs no orderly
    shutdown, and Ray's head processes take over 10 s to end on SIGTERM here."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in session_processes(sid):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.time() + grace
        while time.time() < deadline and session_processes(sid):
            time.sleep(0.1)


@contextmanager
def local_cluster(log_path: Path, cpus: int = 2, env: dict | None = None):
    """Yield the address (host:port) of a fresh one-node cluster once `nocode ray check` sees it answer."""
    temp = tempfile.mkdtemp(prefix="nr-", dir="/tmp")  # short: Ray's socket paths must fit in 107 bytes
    names = ("node-manager-port", "object-manager-port", "dashboard-agent-listen-port", "dashboard-agent-grpc-port",
             "runtime-env-agent-port", "metrics-export-port")
    port, *picked = free_ports(len(names) + 1)
    ports = [f"--{name}={number}" for name, number in zip(names, picked)]
    env = dict(env or os.environ, RAY_USAGE_STATS_ENABLED="0")
    with open(log_path, "wb") as log:
        head = subprocess.Popen([RAY, "start", "--head", "--block", f"--port={port}", f"--temp-dir={temp}",
                                 f"--num-cpus={cpus}", "--num-gpus=0", "--include-dashboard=false",
                                 "--disable-usage-stats", *ports],
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=env)
    address = f"127.0.0.1:{port}"
    try:
        deadline = time.time() + 90
        while not listening(port):
            if head.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"the Ray head did not start; see {log_path}")
            time.sleep(0.2)
        while True:
            check = subprocess.run([*NOCODE, "ray", "check", "--address", address],
                                   capture_output=True, text=True, env=env, timeout=120)
            if check.returncode == 0:
                break
            if head.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"the Ray head does not answer: {check.stderr[-2000:]}")
            time.sleep(1)
        yield address
    finally:
        stop_session(head.pid)
        head.wait(timeout=30)
        shutil.rmtree(temp, ignore_errors=True)

"""A real local Ray cluster for the Ray tests: `ray start --head --block` on free ports with its own temp
folder, in a new session; stopped by the ids of the processes in that session (the head's raylet, GCS,
and the workers they started), never by `ray stop`, which would end any other Ray on the machine."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.conftest import NOCODE, cli_env, free_port

pytest.importorskip("ray", reason="Ray is installed by scripts/test (the [ray] extra)")

RAY = str(Path(sys.executable).with_name("ray"))


def session_processes(sid: int) -> list[int]:
    pids = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid and fields[0] != "Z":  # field 6 of stat: the session id
            pids.append(int(pid))
    return pids


def stop_session(sid: int, grace: float = 10.0) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        pids = session_processes(sid)
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.time() + grace
        while time.time() < deadline and session_processes(sid):
            time.sleep(0.1)


def listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def ray_cluster(tmp_path_factory):
    """The cluster's address (host:port) once `nocode ray check` sees it answer."""
    temp = tempfile.mkdtemp(prefix="nr-", dir="/tmp")  # short: Ray's socket paths must fit in 107 bytes
    port = free_port()
    ports = {f"--{name}": str(free_port()) for name in (
        "node-manager-port", "object-manager-port", "dashboard-agent-listen-port", "dashboard-agent-grpc-port",
        "runtime-env-agent-port", "metrics-export-port")}
    log = open(tmp_path_factory.mktemp("ray") / "ray-start.log", "wb")
    head = subprocess.Popen([RAY, "start", "--head", "--block", f"--port={port}", f"--temp-dir={temp}", "--num-cpus=2",
                             "--num-gpus=0", "--include-dashboard=false", "--disable-usage-stats",
                             *[f"{k}={v}" for k, v in ports.items()]],
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                            env=dict(os.environ, RAY_USAGE_STATS_ENABLED="0"))
    address = f"127.0.0.1:{port}"
    try:
        deadline = time.time() + 90
        while not listening(port):
            if head.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"the Ray head did not start; see {log.name}")
            time.sleep(0.2)
        while True:
            check = subprocess.run([*NOCODE, "ray", "check", "--address", address], capture_output=True, text=True,
                                   env=cli_env(tmp_path_factory.mktemp("check")), timeout=120)
            if check.returncode == 0:
                break
            if head.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"the Ray head did not start: {check.stderr[-2000:]}")
            time.sleep(1)
        yield address
    finally:
        stop_session(head.pid)
        head.wait(timeout=30)
        log.close()
        shutil.rmtree(temp, ignore_errors=True)

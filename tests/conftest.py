"""Shared fixtures: a fresh workspace per test (real TinyDB file, real folders) with cheap argon2
parameters so that tests creating many accounts stay fast."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import pytest

from nocode_widgets.config import Settings
from nocode_widgets.workspace import Workspace

REPO = Path(__file__).resolve().parent.parent
FAST_HASH = {"argon2_time_cost": 1, "argon2_memory_kib": 1024}


def make_workspace(path: Path, **changes) -> Workspace:
    settings = Settings(data_dir=path, **{**FAST_HASH, **changes})
    return Workspace.open(settings=settings)


@pytest.fixture
def ws(tmp_path) -> Workspace:
    return make_workspace(tmp_path / "data")


@pytest.fixture
def alice(ws):
    from nocode_widgets import auth

    return auth.sign_up(ws, "alice", "password-alice")


@pytest.fixture
def bob(ws, alice):
    from nocode_widgets import auth

    return auth.sign_up(ws, "bob", "password-bob")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli_env(data_dir: Path, **extra) -> dict:
    """Environment for running `nocode` in a subprocess against `data_dir`."""
    env = dict(os.environ, NOCODE_DATA_DIR=str(data_dir), PYTHONUNBUFFERED="1")
    env.update({f"NOCODE_{k.upper()}": str(v) for k, v in FAST_HASH.items()})
    env.update(extra)
    return env


NOCODE = [sys.executable, "-m", "nocode_widgets"]

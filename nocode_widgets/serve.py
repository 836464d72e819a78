"""Start Voila on `notebooks/app.ipynb` from the repository root, where `voila.json` lives, with the
web server's door plugged in (`door.py`: its settings are Python objects, which a JSON file cannot hold,
so Voila runs through `python -m nocode_widgets.serve`, which hands them to it).

`nocode serve` stays in front of Voila: SIGTERM or SIGINT to it (a service manager's stop, `docker stop`,
Ctrl+C) is passed on to Voila, which shuts its page kernels down; a Voila that has not ended within
`STOP_WITHIN_S` is killed with whatever kernels are left. Nothing keeps serving the port after it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from traitlets.config import Config
from voila.app import Voila

from .config import REPO_ROOT, Settings
from .door import DoorAuthorizer, DoorIdentityProvider, prelaunch_hook
from .errors import NocodeError
from .warm_pool import stop_warm

APP_NOTEBOOK = REPO_ROOT / "notebooks" / "app.ipynb"
STOP_WITHIN_S = 10.0


def voila_command(port: int, host: str = "127.0.0.1", open_browser: bool = False) -> list[str]:
    cmd = [sys.executable, "-m", "nocode_widgets.serve", str(APP_NOTEBOOK.relative_to(REPO_ROOT)), f"--port={port}",
           f"--Voila.ip={host}"]
    if not open_browser:
        cmd.append("--no-browser")
    return cmd


def serve(settings: Settings, port: int, host: str = "127.0.0.1", open_browser: bool = False) -> int:
    """Run Voila in the foreground until it ends or this process is asked to stop; the kernels it starts
    use `settings.data_dir`."""
    if not APP_NOTEBOOK.exists():
        raise NocodeError(f"The app notebook is missing: {APP_NOTEBOOK}. Run from a checkout of the project.")
    # The page's kernels learn where they are served: beyond this machine, nobody becomes admin through it.
    env = dict(os.environ, NOCODE_DATA_DIR=str(settings.data_dir), NOCODE_SERVE_HOST=host)
    env.setdefault("NOCODE_WARM_START", "1")  # the server's runs and helpers start warm unless told otherwise
    print(f"nocode: serving http://{host}:{port}/ with data in {settings.data_dir}", flush=True)
    voila = subprocess.Popen(voila_command(port, host, open_browser), cwd=REPO_ROOT, env=env)
    stopping: list[float] = []

    def stop(_sig, _frame) -> None:
        if not stopping:
            stopping.append(time.monotonic())
            voila.send_signal(signal.SIGTERM)  # Voila shuts its kernels down on SIGTERM

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        while True:
            try:
                return voila.wait(timeout=0.5)
            except subprocess.TimeoutExpired:
                if stopping and time.monotonic() - stopping[0] > STOP_WITHIN_S - 2:
                    _kill_with_kernels(voila)
                    return voila.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        stop_warm(settings)  # the warm process and helpers go with the server; runs train on


def _kill_with_kernels(voila: subprocess.Popen) -> None:
    """The last resort: Voila and the kernels it started (they lead process groups of their own)."""
    kernels = [pid for pid, ppid in _children() if ppid == voila.pid]
    for pid in [voila.pid, *kernels]:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            continue


def _children() -> list[tuple[int, int]]:
    found = []
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as f:
                    found.append((int(entry), int(f.read().rsplit(b")", 1)[1].split()[1])))
            except (OSError, IndexError, ValueError):
                continue
    return found


def run_voila(argv: list[str]) -> None:
    """Voila, in this process, with the door: sign-in pages, the identity of every request from its
    cookie, a ticket for each page's kernel, and kernels only for the person whose page they serve."""
    config = Config()
    config.Voila.identity_provider_class = DoorIdentityProvider
    config.Voila.authorizer_class = DoorAuthorizer
    config.VoilaConfiguration.prelaunch_hook = prelaunch_hook
    Voila.launch_instance(argv=argv, config=config)


if __name__ == "__main__":
    run_voila(sys.argv[1:])

"""Start Voila on `notebooks/app.ipynb` from the repository root, where `voila.json` lives."""

from __future__ import annotations

import os
import subprocess
import sys

from .config import REPO_ROOT, Settings
from .errors import NocodeError

APP_NOTEBOOK = REPO_ROOT / "notebooks" / "app.ipynb"


def voila_command(port: int, host: str = "127.0.0.1", open_browser: bool = False) -> list[str]:
    cmd = [sys.executable, "-m", "voila", str(APP_NOTEBOOK.relative_to(REPO_ROOT)), f"--port={port}",
           f"--Voila.ip={host}"]
    if not open_browser:
        cmd.append("--no-browser")
    return cmd


def serve(settings: Settings, port: int, host: str = "127.0.0.1", open_browser: bool = False) -> int:
    """Run Voila in the foreground until interrupted; the kernels it starts use `settings.data_dir`."""
    if not APP_NOTEBOOK.exists():
        raise NocodeError(f"The app notebook is missing: {APP_NOTEBOOK}. Run from a checkout of the project.")
    # The page's kernels learn where they are served: beyond this machine, nobody becomes admin through it.
    env = dict(os.environ, NOCODE_DATA_DIR=str(settings.data_dir), NOCODE_SERVE_HOST=host)
    print(f"nocode: serving http://{host}:{port}/ with data in {settings.data_dir}", flush=True)
    try:
        return subprocess.call(voila_command(port, host, open_browser), cwd=REPO_ROOT, env=env)
    except KeyboardInterrupt:
        return 0

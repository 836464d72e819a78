"""Settings: where data lives and the limits that protect the machine, from NOCODE_* environment
variables with safe defaults. One frozen object is passed around; nothing reads the environment
elsewhere."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
MIB = 1024 * 1024
GIB = 1024 * MIB


def _default_data_dir() -> Path:
    return REPO_ROOT / "data"


@dataclass(frozen=True)
class Settings:
    data_dir: Path = field(default_factory=_default_data_dir)
    # Uploads and datasets.
    max_upload_bytes: int = 200 * MIB  # one upload (all files selected at once) or one zip
    max_images_per_dataset: int = 20_000
    max_inbox_pictures: int = 5_000  # unsorted pictures waiting in one dataset's inbox
    max_image_pixels: int = 50_000_000  # larger images are refused before decoding
    max_image_file_bytes: int = 50 * MIB  # one picture file
    image_max_side: int = 512  # stored images are downscaled to this longer side
    max_zip_uncompressed_bytes: int = 4096 * MIB
    max_zip_ratio: int = 200  # an entry inflating more than this is treated as a zip bomb
    import_roots: tuple[Path, ...] = ()  # server folders a web user may import from
    # Quotas per user (pictures + prepared caches + runs on disk; datasets).
    max_bytes_per_user: int = 5 * GIB
    max_datasets_per_user: int = 50
    # Accounts.
    login_failures_before_lockout: int = 5  # failures within the window before the first lock
    login_failure_window_s: float = 900.0  # failures older than this no longer count
    lockout_base_seconds: float = 30.0  # doubles with every further failure in the window
    lockout_max_seconds: float = 900.0
    signup: str = "open"  # open: anyone may create an account on the page; closed: only admins
    serve_host: str = "127.0.0.1"  # the address the page is served on (`nocode serve --host`)
    session_idle_minutes: float = 60.0  # a page with no action this long signs out
    remember_days: float = 14.0  # a sign-in with "keep me signed in" lasts this long (its cookie too)
    max_pages: int = 64  # page kernels one server runs at once; more get "the server is full"
    max_pages_per_user: int = 5  # pages (kernels) one person may have open at once
    # pages being started (kernel start + the app notebook running) at once; more get a "busy" page that
    # retries by itself. A crowd starting together on a small machine would otherwise get blank pages.
    max_starting_pages: int = 4
    # The door's cookie: "auto" marks it Secure when the page is served over HTTPS (as the TLS proxy says,
    # if trusted); "always" behind a TLS proxy that does not say; "never" for plain-HTTP testing only.
    secure_cookies: str = "auto"
    # Addresses (comma separated) of reverse proxies whose X-Forwarded-For / X-Forwarded-Proto are believed;
    # empty: the client's address is the socket's.
    trusted_proxies: str = ""
    max_helper_processes: int = 2  # heat maps, estimates and label checks running at once on the machine
    argon2_time_cost: int = 3
    argon2_memory_kib: int = 65_536
    # Training.
    allow_weight_download: bool = True  # fetch pretrained ImageNet weights when online
    # Runs.
    heartbeat_timeout_s: float = 60.0  # a running run silent this long is `interrupted`
    max_concurrent_runs: int = 1  # per device
    max_queued_runs_per_user: int = 3  # queued + running
    # Where runs train (docs/deploy.md): "local" (a worker process per run here) or "ray" (the worker here
    # prepares and records; fitting runs on the Ray cluster). With Ray, max_concurrent_runs is the number of
    # runs the whole cluster trains at once.
    runner: str = "local"
    # Runs' workers forked from one warm process per data folder that imported torch already (training/warm.py),
    # and helpers (heat maps, estimates, label checks, scorers) that stay warm while pages use them (warm_pool.py),
    # instead of a new Python paying those imports each time. `nocode serve` turns it on (NOCODE_WARM_START=0 turns
    # it off); off for the library and one-off commands, which would leave the processes behind for a while.
    warm_start: bool = False
    warm_idle_s: float = 600.0  # the warm process ends after this long without a run to start
    helper_idle_s: float = 120.0  # with warm_start, a helper (warm_pool.py) ends after this long without a job
    ray_address: str = ""  # a cluster's address (host:port); empty: join the local Ray instance, or start one
    ray_cpus_per_run: int = 0  # CPUs a run asks of a GPU-less cluster; 0: every CPU of its largest node
    # The store.
    store_lock_timeout_s: float = 20.0  # then "the server is busy", never a hang
    # Must match voila.json. Uploads travel in 512 KiB chunks, so no message comes near it.
    websocket_max_message_mib: int = 32

    @property
    def served_on_loopback(self) -> bool:
        """The page is reachable from this machine only (then the first account may become admin)."""
        return is_loopback(self.serve_host)

    @property
    def db_path(self) -> Path:
        return self.data_dir / "nocode.json"

    def user_dir(self, user_id: str) -> Path:
        return self.data_dir / "users" / user_id

    def with_changes(self, **changes) -> "Settings":
        return replace(self, **changes)

    def to_env(self) -> dict[str, str]:
        """These settings as NOCODE_* variables, for a worker process to read back with from_env."""
        env = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "import_roots":
                value = os.pathsep.join(str(p) for p in value)
            elif isinstance(value, bool):
                value = "1" if value else "0"
            env["NOCODE_" + f.name.upper()] = str(value)
        return env

    @classmethod
    def from_env(cls, data_dir: str | Path | None = None, env=None) -> "Settings":
        """Read NOCODE_<FIELD> variables (e.g. NOCODE_DATA_DIR, NOCODE_MAX_UPLOAD_BYTES)."""
        env = os.environ if env is None else env
        values = {}
        for f in fields(cls):
            raw = env.get("NOCODE_" + f.name.upper())
            if raw is not None and raw != "":
                values[f.name] = _parse(f.name, raw)
        if data_dir is not None:
            values["data_dir"] = Path(data_dir)
        settings = cls(**values)
        return replace(settings, data_dir=Path(settings.data_dir).expanduser().resolve())


def is_loopback(host: str) -> bool:
    import ipaddress

    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _parse(name: str, raw: str):
    if name == "data_dir":
        return Path(raw)
    if name == "import_roots":
        return tuple(Path(p).expanduser().resolve() for p in raw.split(os.pathsep) if p)
    default = getattr(Settings(), name)
    if name == "runner" and raw.strip().lower() not in ("local", "ray"):
        raise ValueError(f"NOCODE_RUNNER must be 'local' or 'ray', got {raw!r}")
    if name == "runner":
        return raw.strip().lower()
    if name == "secure_cookies" and raw.strip().lower() not in ("auto", "always", "never"):
        raise ValueError(f"NOCODE_SECURE_COOKIES must be 'auto', 'always' or 'never', got {raw!r}")
    if name == "secure_cookies":
        return raw.strip().lower()
    if name == "signup" and raw.strip().lower() not in ("open", "closed"):
        raise ValueError(f"NOCODE_SIGNUP must be 'open' or 'closed', got {raw!r}")
    if name == "signup":
        return raw.strip().lower()
    if isinstance(default, bool):
        return raw.strip().lower() in ("1", "true", "yes", "on")
    try:
        return type(default)(raw)
    except ValueError:
        raise ValueError(f"NOCODE_{name.upper()} must be a {type(default).__name__}, got {raw!r}") from None

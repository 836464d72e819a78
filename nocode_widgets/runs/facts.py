"""What Auto needs to know, without torch (page kernels plan with it): the dataset's facts, and the
machine's devices, probed once in a short subprocess and cached in the data folder (`device.json`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Callable

from ..models import zoo
from ..accounts.auth import User
from ..datasets import dataset_folder, get_dataset, read_manifest
from ..errors import NotFound, TrainingError
from ..files import read_json, write_json_atomic
from ..workspace import Workspace
from .train_config import Facts, TrainConfig

AUTO_CANDIDATES = ("mobilenet_v3_large", "efficientnet_b0")
_PROBE = "import json\nfrom nocode_widgets.training.device_probe import probe\nprint(json.dumps(probe()))"  # torch side
Locate = Callable[[str], "tuple[str | None, str | None]"]


def dataset_facts(ws: Workspace, owner: User, dataset_id: str, device_type: str, cpu_bf16: bool,
                  config: TrainConfig, locate: Locate):
    """The dataset's pictures (classes with pictures only, in dataset order) and Auto's Facts.
    `locate(arch)` gives the pretrained weights' (URL, cached file), or (None, None)."""
    try:
        ds = get_dataset(ws, owner, dataset_id)
    except NotFound:
        raise TrainingError("The dataset of this run was deleted.") from None
    folder = dataset_folder(ws, ds)
    entries = read_manifest(folder)
    classes = [c for c in ds.classes if ds.counts.get(c, 0) > 0]
    if len(classes) < 2:
        raise TrainingError("Training needs at least two classes with pictures.")
    thin = [c for c in classes if ds.counts[c] < 2]
    if thin:
        raise TrainingError(f"Each class needs at least two pictures (one to learn from, one to check): {', '.join(thin)}.")
    entries = [e for e in entries if e.label in classes]
    sides = sorted(min(e.width, e.height) for e in entries)
    counts = [ds.counts[c] for c in classes]
    candidates = set(AUTO_CANDIDATES) | ({config.arch} if config.arch else set())
    allow = ws.settings.allow_weight_download and config.pretrained
    pretrained = {a: config.pretrained and (bool(config.weights_file) and a == config.arch
                                            or zoo.weights_available(*_as_path(locate(a)), allow)) for a in candidates}
    facts = Facts(device_type, len(entries), len(classes), sides[len(sides) // 2], max(counts) / min(counts), pretrained,
                  cpu_bf16=cpu_bf16)
    return ds, folder, entries, classes, facts


def _as_path(location):
    url, path = location
    return url, (Path(path) if path else None)


def probed_locate(ws: Workspace) -> Locate:
    """Where the weights are, from the device probe's record (no torch in this process)."""
    return locate_in(device_facts(ws))


def locate_in(facts: dict) -> Locate:
    weights = facts.get("weights", {})
    return lambda arch: tuple(weights.get(arch, (None, None)))


def _device_key() -> str:
    return " ".join([os.uname().nodename, sys.executable, os.environ.get("CUDA_VISIBLE_DEVICES", ""),
                     os.environ.get("TORCH_HOME", ""), os.environ.get("XDG_CACHE_HOME", "")])


def cached_device_facts(ws: Workspace) -> dict | None:
    """The device record of this machine and Python, if one was probed."""
    cached = read_json(ws.settings.data_dir / "device.json") or {}
    return cached if cached.get("key") == _device_key() else None


def remember_device_facts(ws: Workspace, facts: dict) -> dict:
    """Keep a probe's record for this machine and Python."""
    facts = {**facts, "key": _device_key()}
    write_json_atomic(ws.settings.data_dir / "device.json", facts)
    return facts


def device_facts(ws: Workspace) -> dict:
    """{"auto": "cuda"|"mps"|"cpu", "cuda": bool, "cpu_bf16": bool} for this machine and Python, probed
    once (a subprocess imports torch, this process does not) and cached."""
    cached = cached_device_facts(ws)
    if cached:
        return cached
    out = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=300)
    if out.returncode != 0:
        raise TrainingError("This machine's training device could not be checked. Please try again.")
    return remember_device_facts(ws, json.loads(out.stdout.strip().splitlines()[-1]))


def device_type(ws: Workspace, wanted: str = "auto") -> str:
    """The device a run asking for `wanted` would use (as `fit.pick_device` decides, without torch)."""
    facts = device_facts(ws)
    if wanted == "auto":
        return facts["auto"]
    if wanted == "cuda" and not facts["cuda"]:
        raise TrainingError("No CUDA GPU is available on this machine; choose the CPU.")
    return wanted

"""The device record, probed where torch is imported anyway: in the probe's own short process, which
`runs.facts.device_facts` starts for page kernels (`python -c` with `runs.facts._PROBE`), or in a worker."""

from __future__ import annotations

import torch

from ..models import zoo
from ..runs.facts import Locate, cached_device_facts, locate_in, remember_device_facts
from ..workspace import Workspace
from .fit import cpu_has_fast_bf16, pick_device


def probe() -> dict:
    """{"auto": "cuda"|"mps"|"cpu", "cuda": bool, "cpu_bf16": bool, "weights": {arch: (url, file)}}."""
    return {"auto": pick_device("auto").type, "cuda": torch.cuda.is_available(), "cpu_bf16": cpu_has_fast_bf16(),
            "weights": zoo.weights_locations()}


def worker_locate(ws: Workspace) -> Locate:
    """For the worker: where the weights are, from the device record (asking torchvision means importing it,
    about a second of a small run), which the worker writes itself when no page or command probed yet."""
    return locate_in(cached_device_facts(ws) or remember_device_facts(ws, probe()))

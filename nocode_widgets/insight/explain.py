"""Where a run's model looked, for the page and the CLI, with no torch in this process: heat maps are
computed by a helper (`insight/gradcam.py`, a job of `slots.run_job`) and cached per run, picture and class
in the run's folder (`explain/`, counted in the owner's disk use), so showing them again is free."""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import NocodeError
from ..files import read_json, write_atomic, write_json_atomic
from ..predict.onnx import NO_MODEL
from ..accounts.auth import current_user
from ..accounts.quota import reserved
from ..slots import helper_slot, run_job
from ..runs.records import get_run, run_folder
from ..workspace import Workspace

MAX_PICTURES = 48  # per request: the worker takes about 0.1-1 s per picture on a CPU
TIMEOUT_S = 300


@dataclass(frozen=True)
class Explanation:
    name: str
    label: str = ""  # what the model said
    probability: float = 0.0  # calibrated
    target: str = ""  # the class whose evidence the map shows
    target_probability: float = 0.0
    png: bytes = b""  # the picture with the heat map over it
    error: str = ""  # why there is no map for this picture

    def to_json(self, file: str = "") -> dict:
        data = {"name": self.name, "label": self.label, "probability": self.probability, "target": self.target,
                "target_probability": self.target_probability}
        return {**data, "file": file} if not self.error else {"name": self.name, "error": self.error}


def explain(ws: Workspace, user, run_id: str, pictures: list[tuple[str, bytes]],
            targets: list[str | None] | None = None) -> list[Explanation]:
    """A heat map per (name, bytes) for the class in `targets` (None: the class the model predicts), from
    one of the user's runs (any run for an admin)."""
    run = get_run(ws, user, run_id)  # ownership checked here
    if not run.usable:
        raise NocodeError(NO_MODEL)
    if run.kind == "ensemble":
        raise NocodeError("Heat maps are drawn for one model at a time; this ensemble combines several. "
                          "Open one of its runs to see where it looked.")
    if len(pictures) > MAX_PICTURES:
        raise NocodeError(f"Heat maps are made for at most {MAX_PICTURES} pictures at a time.")
    targets = list(targets or [None] * len(pictures))
    folder = run_folder(ws, run)
    cache = folder / "explain"
    keys = [hashlib.sha256(raw + b"\0" + (t or "").encode()).hexdigest()[:24] for (_, raw), t in zip(pictures, targets)]
    missing = [i for i, k in enumerate(keys) if not ((cache / f"{k}.json").exists() and (cache / f"{k}.png").exists())]
    if missing:  # the maps count in the owner's space: reserved first, refused when it is full
        room = len(missing) * map_bytes(ws.settings.image_max_side)
        with reserved(ws, run.owner, room), \
                helper_slot(ws, current_user(ws, user).id, "heat maps, estimates and label checks") as slot:
            _compute(ws, slot, folder, cache, [(pictures[i][1], targets[i], keys[i]) for i in missing])
    out = []
    for (name, _), key in zip(pictures, keys):
        meta = read_json(cache / f"{key}.json") or {"error": "No heat map could be made for this picture."}
        if "error" in meta:
            out.append(Explanation(name, error=meta["error"]))
        else:
            out.append(Explanation(name, meta["label"], meta["probability"], meta["target"], meta["target_probability"],
                                   (cache / f"{key}.png").read_bytes()))
    return out


def map_bytes(side: int) -> int:
    """At most, one heat map's PNG (RGB, `side` px, incompressible at worst) and its JSON."""
    return side * side * 3 + 8192


def _compute(ws: Workspace, slot: int, folder: Path, cache: Path, todo: list[tuple[bytes, str | None, str]]) -> None:
    cache.mkdir(parents=True, exist_ok=True)
    tmp_root = ws.settings.data_dir / "tmp"
    tmp_root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=tmp_root) as tmp:
        items = []
        for k, (raw, target, key) in enumerate(todo):
            path = Path(tmp) / f"{k}.picture"
            path.write_bytes(raw)
            items.append({"path": str(path), "target": target, "png": str(Path(tmp) / f"{k}.png"), "key": key})
        done = run_job(ws, slot, "nocode_widgets.insight.gradcam", {"folder": str(folder), "pictures": items},
                       lambda state: None, TIMEOUT_S, "Making the heat maps took too long; try fewer pictures.",
                       "The heat maps could not be made")
        for item, result in zip(items, done["results"]):
            if "error" not in result:
                write_atomic(cache / f"{item['key']}.png", Path(item["png"]).read_bytes())
            write_json_atomic(cache / f"{item['key']}.json", result)

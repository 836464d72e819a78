"""What the Train panel shows before Start: Auto's choices in plain words (no torch: the page's kernel
plans from the dataset's facts and the cached device facts) and a time estimate measured from a few
real training steps in a helper process (`training/estimate.py`, a job of `slots.run_job`), never in the page's
kernel."""

from __future__ import annotations

from dataclasses import dataclass

from ..accounts.auth import User, current_user
from ..errors import NocodeError, TrainingError
from ..slots import HelpersBusy, helper_slot, run_job
from ..workspace import Workspace
from .train_config import TrainConfig, resolve
from .facts import dataset_facts, device_facts, device_type, probed_locate

ESTIMATE_TIMEOUT_S = 300


@dataclass(frozen=True)
class Plan:
    config: TrainConfig
    explanation: str
    images: int
    train_images: int


@dataclass(frozen=True)
class Estimate:
    seconds_per_epoch: float
    typical_seconds: float  # early stopping usually ends near half the cap
    max_seconds: float  # if every epoch of the cap runs

    def text(self) -> str:
        return f"About {_human(self.typical_seconds)} (at most {_human(self.max_seconds)})."


def _human(seconds: float) -> str:
    if seconds < 90:
        return f"{max(1, round(seconds))} seconds"
    if seconds < 5400:
        return f"{round(seconds / 60)} minutes"
    return f"{seconds / 3600:.1f} hours"


def plan(ws: Workspace, user: User, dataset_id: str, config: dict | None = None) -> Plan:
    user = current_user(ws, user)
    asked = TrainConfig.from_json({k: v for k, v in (config or {}).items() if v is not None})
    kind = device_type(ws, asked.device)
    _, _, entries, _, facts = dataset_facts(ws, user, dataset_id, kind, device_facts(ws)["cpu_bf16"], asked,
                                            probed_locate(ws))
    cfg, why = resolve(asked, facts)
    return Plan(cfg, why, len(entries), int(len(entries) * (1 - cfg.val_fraction - cfg.test_fraction)))


def estimate(ws: Workspace, user: User, dataset_id: str, config: dict | None = None) -> Estimate:
    """Time a few real training steps of the planned model, in a helper (see training/estimate.py)."""
    p = plan(ws, user, dataset_id, config)
    job = {"config": p.config.to_json(), "images": p.images, "train_images": p.train_images}
    try:
        with helper_slot(ws, user.id, "estimates, heat maps and label checks") as slot:
            out = run_job(ws, slot, "nocode_widgets.training.estimate", job, lambda state: None, ESTIMATE_TIMEOUT_S,
                          "Measuring took too long; the machine may be busy. Please try again later.",
                          "The time could not be measured on this machine")
    except HelpersBusy:
        raise
    except NocodeError as exc:
        raise TrainingError(f"{exc} You can still start training.") from None
    return Estimate(**out)

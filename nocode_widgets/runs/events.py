"""What the fit loop tells the side that records a run, as small frozen dataclasses: the same objects in
this process and across Ray (they pickle as they are). The Recorder dispatches on their type."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Union


@dataclass(frozen=True)
class BatchDone:
    epoch: int
    epochs: int
    batch: int
    batches: int

    @property
    def stale_soon(self) -> bool:
        """A later batch of the same epoch makes it stale (the epoch's last one does not)."""
        return self.batch != self.batches


@dataclass(frozen=True)
class PhaseChanged:
    phase: str  # "computing features", "evaluating", ...
    done: int | None = None
    total: int | None = None

    @property
    def stale_soon(self) -> bool:
        return self.done not in (None, 0, self.total)


@dataclass(frozen=True)
class EpochDone:
    stats: dict  # EpochStats.to_json()
    improved: bool
    weights: dict | None = None  # the kept weights (a CPU copy) when the epoch improved and the whole model trains

    stale_soon = False


@dataclass(frozen=True)
class Restarted:
    """The run had not taken off by mid-budget and starts again from other initial weights."""

    epochs: int
    train_acc: float

    stale_soon = False


FitEvent = Union[BatchDone, PhaseChanged, EpochDone, Restarted]
Emit = Callable[[FitEvent], None]

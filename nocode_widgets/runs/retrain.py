"""Train again after new pictures were labelled, and say honestly whether it helped: the new run keeps the
settings it was asked with (Auto stays Auto) and remembers the run it follows; the before/after figure is
measured on the pictures neither run trained on, by picture file, with the same class in both, from each
run's `predictions.json`: their shared test pictures when they have some (used for nothing else), else their
shared validation pictures (which each run also used to choose its best epoch: said with the figure). Splits
are inherited by new dataset versions (`training/data.stable_split`), so those are nearly all of the earlier
run's held-out pictures."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..datasets import dataset_folder, read_manifest
from ..errors import TrainingError
from ..files import read_json
from ..workspace import Workspace
from .jobs import submit
from .records import RunRecord, get_run, model_classes, run_folder


@dataclass(frozen=True)
class BeforeAfter:
    before: str  # run ids
    after: str
    pictures: int  # held out by both runs
    before_accuracy: float
    after_accuracy: float
    part: str = "test"  # the pictures compared: both runs' test parts, or else their validation parts

    def to_json(self) -> dict:
        return asdict(self)

    @property
    def text(self) -> str:
        change = self.after_accuracy - self.before_accuracy
        verdict = "better" if change > 0 else "worse" if change < 0 else "the same"
        used = ("" if self.part == "test" else " (validation pictures: each run also used them to choose its best "
                "epoch, so both figures lean a little high)")
        return (f"Before the new pictures {self.before_accuracy:.1%}, now {self.after_accuracy:.1%} ({verdict}), on the "
                f"same {self.pictures} pictures that neither model trained on{used}.")


def retrain(ws: Workspace, user, run_id: str) -> RunRecord:
    """Queue the same training again on the dataset as it is now (its newest version)."""
    run = get_run(ws, user, run_id)
    if run.kind != "run" or run.config.get("folds"):
        raise TrainingError("Only a single model can be trained again this way; start a new training instead.")
    return submit(ws, user, run.dataset_id, dict(run.config), follows=run.id)


def before_after(ws: Workspace, user, run: RunRecord) -> BeforeAfter | None:
    """How the run did against the run it follows on the pictures both held out; None when it follows none,
    either has no per-picture record, or they share no held-out picture."""
    if not run.follows:
        return None
    try:
        earlier = get_run(ws, user, run.follows)
    except Exception:  # noqa: BLE001 - deleted meanwhile: nothing to compare with
        return None
    for part in (("test",), ("validation", "test")):  # the test parts when both have shared ones: never chose anything
        mine, theirs = held_out(ws, run, part), held_out(ws, earlier, part)
        common = sorted(f for f in mine if f in theirs and mine[f][0] == theirs[f][0])
        if common:
            right = lambda table: float(np.mean([table[f][0] == table[f][1] for f in common]))  # noqa: E731
            return BeforeAfter(earlier.id, run.id, len(common), right(theirs), right(mine), part[0])
    return None


def new_pictures_since(ws: Workspace, run: RunRecord, ds) -> int:
    """Pictures of the dataset as it is now that the run did not have (labelled or added since)."""
    had = {h for part in (read_json(run_folder(ws, run) / "split.json") or {}).values() for h in part}
    return sum(1 for e in read_manifest(dataset_folder(ws, ds)) if e.hash not in had)


RETRAIN_AFTER = 10  # new labelled pictures since a run before training again is offered


def worth_training_again(ws: Workspace, run: RunRecord, ds) -> int:
    """How many new pictures the dataset has since `run` when that is enough to offer training again (at least
    RETRAIN_AFTER, or any once the inbox is empty), else 0."""
    new = new_pictures_since(ws, run, ds)
    return new if new >= RETRAIN_AFTER or (new > 0 and ds.inbox == 0) else 0


def held_out(ws: Workspace, run: RunRecord, parts=("validation", "test")) -> dict[str, tuple[str, str]]:
    """{picture file: (its class, what the run said)} over the pictures of `parts` (which it did not train on)."""
    predictions = read_json(run_folder(ws, run) / "predictions.json") or {}
    classes = model_classes(ws, run)
    table = {}
    for part in parts:
        found = predictions.get(part) or {}
        for f, y, probs in zip(found.get("files", []), found.get("labels", []), found.get("probabilities", [])):
            table[f] = (classes[y], classes[int(np.argmax(probs))])
    return table

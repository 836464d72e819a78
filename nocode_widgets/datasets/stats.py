"""What the datasets panel shows about a dataset: counts per class, a sample of pictures per
class, the spread of original picture sizes, and a warning when classes are imbalanced."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path

from ..accounts.auth import User
from ..workspace import Workspace
from .manifest import read_manifest
from .catalog import dataset_folder, get_dataset

IMBALANCE_RATIO = 3.0


@dataclass(frozen=True)
class DatasetStats:
    counts: dict
    samples: dict  # class -> up to `per_class` image paths
    width: tuple[int, int, int]  # min, median, max of the originals
    height: tuple[int, int, int]
    imbalance: float  # largest class / smallest class (inf if a class is empty)
    warnings: tuple[str, ...]


def dataset_stats(ws: Workspace, user: User, dataset_id: str, per_class: int = 6) -> DatasetStats:
    ds = get_dataset(ws, user, dataset_id)
    folder = dataset_folder(ws, ds)
    entries = read_manifest(folder)
    samples: dict[str, list[Path]] = {c: [] for c in ds.classes}
    for e in entries:
        if len(samples.setdefault(e.label, [])) < per_class:
            samples[e.label].append(folder / e.file)
    counts = dict(ds.counts)
    return DatasetStats(counts, samples, _spread([e.width for e in entries]), _spread([e.height for e in entries]),
                        imbalance_ratio(counts), tuple(dataset_warnings(counts)))


def _spread(values: list[int]) -> tuple[int, int, int]:
    return (min(values), int(statistics.median(values)), max(values)) if values else (0, 0, 0)


def imbalance_ratio(counts: dict) -> float:
    sizes = list(counts.values())
    if not sizes or max(sizes) == 0:
        return 1.0
    return float("inf") if min(sizes) == 0 else max(sizes) / min(sizes)


def dataset_warnings(counts: dict) -> list[str]:
    out = []
    if len(counts) < 2:
        out.append("Add at least two classes to train a model.")
    empty = [c for c, n in counts.items() if n == 0]
    if empty:
        out.append("These classes have no pictures yet: " + ", ".join(empty) + ".")
    small = [c for c, n in counts.items() if 0 < n < 10]
    if small:
        out.append("Fewer than 10 pictures in " + ", ".join(small) + ": more pictures give a better model.")
    ratio = imbalance_ratio(counts)
    if ratio >= IMBALANCE_RATIO and not empty:
        big = max(counts, key=counts.get)
        little = min(counts, key=counts.get)
        out.append(f"The classes are imbalanced ({big!r} has {ratio:.1f}x as many pictures as {little!r}). "
                   "Auto allows for it, and Train offers more ways to balance them (weighted sampling, focal "
                   "loss); Results shows each class's own score. Adding pictures to the smaller classes helps most.")
    return out

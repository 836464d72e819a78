"""The data pipeline: a seeded stratified split made once per dataset version, every picture decoded
once into a uint8 tensor cache at the training size, and batches drawn from that cache (optionally
by weighted sampling). Validation batches come from the same cache, never augmented."""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..errors import TrainingError
from ..files import process_exists, read_json, sweep_stale_temp_files, write_json_atomic
from ..pictures.preprocess import load_rgb, to_uint8_array
from ..accounts.quota import reserved

IN_MEMORY_LIMIT = 1_500_000_000  # bytes of cache kept in RAM; larger caches are memory-mapped files


@dataclass(frozen=True)
class Split:
    train: list[int]
    val: list[int]
    test: list[int]

    def to_json(self) -> dict:
        return {"train": self.train, "val": self.val, "test": self.test}


def split_indices(labels: list[int], val_fraction: float = 0.2, test_fraction: float = 0.0, seed: int = 0) -> Split:
    """Stratified: each class is shuffled with `seed` and cut into val/test/train parts, so every
    class appears in validation (when it has at least two pictures)."""
    rng = np.random.default_rng(seed)
    train, val, test = [], [], []
    by_class: dict[int, list[int]] = {}
    for i, y in enumerate(labels):
        by_class.setdefault(y, []).append(i)
    for y in sorted(by_class):
        idx = np.array(by_class[y])
        rng.shuffle(idx)
        n = len(idx)
        n_val = max(1, round(n * val_fraction)) if n >= 2 and val_fraction > 0 else 0
        n_test = max(1, round(n * test_fraction)) if n - n_val >= 2 and test_fraction > 0 else 0
        val += idx[:n_val].tolist()
        test += idx[n_val:n_val + n_test].tolist()
        train += idx[n_val + n_test:].tolist()
    return Split(sorted(train), sorted(val), sorted(test))


def folds_of(labels: list[int], k: int, seed: int = 0) -> list[int]:
    """A fold number per picture, stratified: each class is shuffled and dealt round the folds."""
    rng = np.random.default_rng(seed)
    fold = [0] * len(labels)
    for y in sorted(set(labels)):
        idx = [i for i, label in enumerate(labels) if label == y]
        rng.shuffle(idx)
        for position, i in enumerate(idx):
            fold[i] = position % k
    return fold


def fold_split(labels: list[int], k: int, fold: int, val_fraction: float, seed: int) -> Split:
    """Bagging's split for member `fold` of `k`: that fold is its test part (never trained on, never used to
    stop); a stratified `val_fraction` of the other folds decides early stopping; the rest trains."""
    folds = folds_of(labels, k, seed)
    rest = [i for i, f in enumerate(folds) if f != fold]
    inner = split_indices([labels[i] for i in rest], val_fraction, 0.0, seed + fold)
    return Split(sorted(rest[j] for j in inner.train), sorted(rest[j] for j in inner.val),
                 [i for i, f in enumerate(folds) if f == fold])


def stable_split(folder: Path, hashes: list[str], labels: list[int], version: int, val_fraction: float,
                 test_fraction: float, seed: int) -> Split:
    """The split for this dataset version, made once and kept in `folder/splits/` by picture hash, so
    every run on the same version (and settings) validates on the same pictures. A new version inherits the
    parts of the newest earlier one with the same settings (pictures added are split among themselves), so
    pictures held out stay held out and two runs before and after new pictures can be compared on them;
    when that would leave a class with no validation picture, the version is split afresh."""
    settings = f"s{seed}-val{val_fraction:g}-test{test_fraction:g}"
    path = folder / "splits" / f"v{version}-{settings}.json"
    saved = read_json(path)
    position = {h: i for i, h in enumerate(hashes)}
    if saved is not None and set(saved["parts"]) == set(hashes):
        parts = saved["parts"]
    else:
        parts = _inherited(folder, settings, version, hashes, labels, val_fraction, test_fraction, seed)
        if parts is None:
            split = split_indices(labels, val_fraction, test_fraction, seed)
            parts = {hashes[i]: part for part, idx in split.to_json().items() for i in idx}
        write_json_atomic(path, {"version": version, "seed": seed, "parts": parts})
    pick = lambda part: sorted(position[h] for h, p in parts.items() if p == part)  # noqa: E731
    return Split(pick("train"), pick("val"), pick("test"))


def _part_by_hash(picture_hash: str, val_fraction: float, test_fraction: float, seed: int) -> str:
    """A new picture's part, drawn from its hash: each is held out with the split's shares, so a few pictures
    added at a time are not held out more often than the rest (a stratified split of three would hold out one
    per class)."""
    draw = int(hashlib.sha256(f"{seed}:{picture_hash}".encode()).hexdigest()[:12], 16) / 16 ** 12
    return "val" if draw < val_fraction else "test" if draw < val_fraction + test_fraction else "train"


def _inherited(folder: Path, settings: str, version: int, hashes: list[str], labels: list[int], val_fraction: float,
               test_fraction: float, seed: int) -> dict | None:
    """{hash: part}: the newest earlier version's parts for the pictures still here, and each new one's part by
    its hash; None when there is no earlier split or a class would have no validation picture."""
    earlier = sorted(((int(p.name[1:].split("-", 1)[0]), p) for p in (folder / "splits").glob(f"v*-{settings}.json")
                      if p.name[1:].split("-", 1)[0].isdigit()), key=lambda vp: vp[0])
    earlier = [p for v, p in earlier if v < version]
    old = (read_json(earlier[-1]) or {}).get("parts") if earlier else None
    if not old:
        return None
    parts = {h: old[h] for h in hashes if h in old}
    parts.update({h: _part_by_hash(h, val_fraction, test_fraction, seed) for h in hashes if h not in old})
    validated = {labels[i] for i, h in enumerate(hashes) if parts[h] == "val"}
    counts = {y: labels.count(y) for y in set(labels)}
    if val_fraction > 0 and any(n >= 2 and y not in validated for y, n in counts.items()):
        return None
    return parts


def cache_key(hashes: list[str], size: int) -> str:
    digest = hashlib.sha256("\n".join(hashes).encode()).hexdigest()[:16]
    return f"{size}px-{len(hashes)}-{digest}"


def cache_bytes(pictures: int, size: int) -> int:
    """The size on disk of a picture cache (uint8 pixels, plus the .npy header)."""
    return pictures * 3 * size * size + 4096


def build_cache(paths: list[Path], hashes: list[str], size: int, cache_dir: Path,
                progress: Callable[[int, int], None] | None = None) -> torch.Tensor:
    """uint8 [N,3,size,size] for the pictures, decoded once in parallel and kept on disk, so the next
    run at this size starts at once. Returned in memory, or memory-mapped when large. Only the latest
    picture set's cache per size is kept; temp files of crashed builds are swept."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    final = cache_dir / f"{cache_key(hashes, size)}.npy"
    prune_caches(cache_dir, keep=final)
    nbytes = len(paths) * 3 * size * size
    if not final.exists():
        tmp = final.with_name(final.name + f".{os.getpid()}.tmp")
        array = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=(len(paths), 3, size, size))
        decode = lambda p: to_uint8_array(load_rgb(p), size)  # noqa: E731
        with ThreadPoolExecutor(max(1, min(4, os.cpu_count() or 1))) as pool:
            for i, tensor in enumerate(pool.map(decode, paths)):
                array[i] = tensor
                if progress and (i % 32 == 0 or i == len(paths) - 1):
                    progress(i + 1, len(paths))
        array.flush()
        del array
        os.replace(tmp, final)
    try:
        array = np.load(final) if nbytes <= IN_MEMORY_LIMIT else np.load(final, mmap_mode="c")  # big: paged in
        check_cache(array, len(paths), size)
    except (ValueError, OSError, EOFError):
        final.unlink(missing_ok=True)  # the next run prepares the pictures again
        raise TrainingError("The prepared copy of this dataset's pictures was damaged, so this run stopped. "
                            "It has been removed: start the run again and it will be prepared afresh.") from None
    return torch.from_numpy(array)


def dataset_cache(ws, owner_id: str, ds_folder: Path, entries, size: int,
                  progress: Callable[[int, int], None] | None = None) -> torch.Tensor:
    """`build_cache` for a dataset's pictures (`entries` of its manifest), a new cache's bytes reserved in the
    owner's space while it is written (QuotaError, in plain words, when it does not fit)."""
    hashes = [e.hash for e in entries]
    cache_dir = ds_folder / "cache"
    final = cache_dir / f"{cache_key(hashes, size)}.npy"
    new = 0 if final.exists() else cache_bytes(len(entries), size)
    replaced = sum(p.stat().st_size for p in cache_dir.glob(f"{size}px-*.npy") if p != final)  # pruned first
    with reserved(ws, owner_id, new, credit=replaced):
        return build_cache([ds_folder / e.file for e in entries], hashes, size, cache_dir, progress)


def prune_caches(cache_dir: Path, keep: Path) -> None:
    """Remove the caches of older picture sets at the same size (a mapped one stays readable to a run
    that has it open) and the temp files of builds whose process is gone."""
    size_prefix = keep.name.split("-", 1)[0] + "-"
    for old in cache_dir.glob(size_prefix + "*.npy"):
        if old != keep:
            old.unlink(missing_ok=True)
    for tmp in cache_dir.glob("*.tmp"):
        pid = tmp.name.rsplit(".", 2)[-2]
        if not (pid.isdigit() and process_exists(int(pid))):
            tmp.unlink(missing_ok=True)
    sweep_stale_temp_files(cache_dir.parent)


def check_cache(cache, expected: int, size: int) -> None:
    if tuple(cache.shape) != (expected, 3, size, size):
        raise ValueError(f"the picture cache is damaged (shape {tuple(cache.shape)})")


class Batches:
    """Index batches over a split part: shuffled or weighted-sampled for training, in order for
    validation. Weighted sampling draws each class equally often (with replacement).

    `min_batches` makes an epoch of a tiny dataset several passes over it: with one or two steps per
    epoch, BatchNorm's running statistics never settle and validation scores are noise."""

    def __init__(self, indices: list[int], labels: torch.Tensor, batch_size: int, shuffle: bool,
                 weighted: bool = False, seed: int = 0, drop_last: bool = False, min_batches: int = 1):
        self.indices = torch.as_tensor(indices, dtype=torch.long)
        self.batch_size = batch_size
        self.shuffle, self.weighted, self.drop_last = shuffle, weighted, drop_last
        self.min_batches = min_batches
        self.generator = torch.Generator().manual_seed(seed)
        if weighted:
            y = labels[self.indices]
            counts = torch.bincount(y).float()
            self.weights = (1.0 / counts)[y]

    def __len__(self) -> int:
        n = len(self.indices)
        one_pass = n // self.batch_size if self.drop_last and n >= self.batch_size else -(-n // self.batch_size)
        return max(one_pass, self.min_batches)

    def __iter__(self):
        n = len(self.indices)
        needed = max(n, len(self) * self.batch_size)
        if self.weighted:
            order = self.indices[torch.multinomial(self.weights, needed, replacement=True, generator=self.generator)]
        elif self.shuffle:
            passes = -(-needed // n)
            order = torch.cat([self.indices[torch.randperm(n, generator=self.generator)] for _ in range(passes)])
        else:
            order = self.indices
        for b in range(len(self)):
            yield order[b * self.batch_size:(b + 1) * self.batch_size]

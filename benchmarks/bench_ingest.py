"""Ingest throughput and memory: our pipeline (zip and uploads) against a naive loader
(extract the whole zip to disk, then PIL open/convert/resize/save each file in one thread).

    python benchmarks/bench_ingest.py            # prints the table
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import tempfile
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import machine, peak_rss_mb, run_case, table  # noqa: E402


def make_zip(path: Path, n: int, size: int = 256) -> None:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        for i in range(n):
            arr = rng.integers(0, 255, (size // 8, size // 8, 3), dtype=np.uint8)
            img = Image.fromarray(arr).resize((size, size), Image.Resampling.BILINEAR)
            buf = io.BytesIO()
            img.save(buf, "JPEG", quality=90)
            z.writestr(f"class{i % 4}/img{i}.jpg", buf.getvalue())


def case(kind: str, zip_path: Path, n: int) -> dict:
    from nocode_widgets.accounts import auth
    from nocode_widgets import datasets as D
    from nocode_widgets.config import Settings
    from nocode_widgets.datasets.uploads import read_upload
    from nocode_widgets.workspace import Workspace

    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace.open(settings=Settings(data_dir=Path(tmp), argon2_time_cost=1, argon2_memory_kib=1024))
        user = auth.sign_up(ws, "bench", "password123")
        start = time.perf_counter()
        if kind == "zip":
            report = D.import_archive(ws, user, zip_path, name="bench")
        elif kind == "uploads":
            with zipfile.ZipFile(zip_path) as z:
                value = tuple({"name": i.filename, "content": memoryview(z.read(i))} for i in z.infolist())
            ds = D.create_dataset(ws, user, "bench", ["class0"])
            start = time.perf_counter()  # the upload is already in memory, as in a kernel
            report = D.add_uploads(ws, user, ds.id, "class0", read_upload(value))
        else:
            report = None
            naive(zip_path, Path(tmp))
        seconds = time.perf_counter() - start
    accepted = report.accepted if report else n
    return {"case": kind, "images": accepted, "seconds": seconds, "images_per_s": accepted / seconds,
            "peak_rss_mb": peak_rss_mb()}


def naive(zip_path: Path, tmp: Path) -> None:
    from PIL import Image

    out = tmp / "out"
    with zipfile.ZipFile(zip_path) as z:
        z.extractall(tmp / "raw")
    for f in sorted((tmp / "raw").rglob("*.jpg")):
        img = Image.open(f).convert("RGB")
        img.thumbnail((512, 512))
        (out / f.parent.name).mkdir(parents=True, exist_ok=True)
        img.save(out / f.parent.name / f.name, "JPEG", quality=90)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--case")
    parser.add_argument("--zip")
    parser.add_argument("--n", type=int, default=2000)
    args = parser.parse_args()
    if args.case:
        print(json.dumps(case(args.case, Path(args.zip), args.n)))
        return
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in (500, 2000):
            path = Path(tmp) / f"{n}.zip"
            make_zip(path, n)
            kinds = ("naive", "zip", "uploads") if n == 2000 else ("zip",)
            for kind in kinds:
                row = run_case(__file__, "--case", kind, "--zip", str(path), "--n", str(n))
                row["zip_mb"] = path.stat().st_size / 2**20
                rows.append(row)
    naive_rate = next(r["images_per_s"] for r in rows if r["case"] == "naive")
    for r in rows:
        r["vs_naive"] = r["images_per_s"] / naive_rate
    print(f"Ingest of 256x256 JPEGs ({machine()})")
    print(table(rows, ["case", "images", "zip_mb", "seconds", "images_per_s", "vs_naive", "peak_rss_mb"]))


if __name__ == "__main__":
    main()

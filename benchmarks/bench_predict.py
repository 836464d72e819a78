"""Prediction with the exported model (onnxruntime, CPU provider) beside PyTorch eager, in one process
on the same pictures, at batch 1 and batch 32, for the small CNN (32 px) and MobileNetV3-Large (224 px);
and the export + parity time of every architecture at its minimum size.

    python benchmarks/bench_predict.py [--only predict,export]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import machine, table  # noqa: E402


def _best(fn, repeat: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def predict_rows() -> list[dict]:
    import numpy as np
    import onnxruntime as ort
    import torch

    from nocode_widgets.models import zoo
    from nocode_widgets.models.artifact import export_onnx
    from nocode_widgets.pictures.preprocess import normalize_array

    rows = []
    for arch, size in (("small_cnn", 32), ("mobilenet_v3_large", 224)):
        torch.manual_seed(0)
        model = zoo.build_model(arch, 5).eval()
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "model.onnx"
            export_onnx(model, path, size)
            session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        pictures = np.random.default_rng(0).integers(0, 255, (32, 3, size, size), dtype=np.uint8)
        for batch in (1, 32):
            x = normalize_array(pictures[:batch], zoo.IMAGENET_MEAN, zoo.IMAGENET_STD)
            repeat = 20 if batch == 1 else 5

            def eager():
                with torch.no_grad():
                    torch.softmax(model(torch.from_numpy(x)), 1)

            def onnx():
                session.run(None, {"pixels": x})

            t_eager, t_onnx = _best(eager, repeat), _best(onnx, repeat)
            rows.append({"model": arch, "px": size, "batch": batch, "eager ms": f"{t_eager * 1000:.1f}",
                         "onnx ms": f"{t_onnx * 1000:.1f}", "onnx pictures/s": f"{batch / t_onnx:,.0f}",
                         "onnx / eager time": f"{t_onnx / t_eager:.2f}"})
    return rows


def export_rows() -> list[dict]:
    import torch

    from nocode_widgets.models import zoo
    from nocode_widgets.models.artifact import export_and_check

    rows = []
    for name, arch in sorted(zoo.ARCHS.items()):
        torch.manual_seed(0)
        model = zoo.build_model(name, 3).eval()
        pictures = torch.randint(0, 255, (8, 3, arch.min_size, arch.min_size), dtype=torch.uint8)
        with tempfile.TemporaryDirectory() as tmp:
            report = export_and_check(model, Path(tmp), arch.min_size, pictures, zoo.IMAGENET_MEAN, zoo.IMAGENET_STD)
            size_mb = (Path(tmp) / "model.onnx").stat().st_size / 2**20 if report["ok"] else 0
        rows.append({"architecture": name, "px": arch.min_size, "export + parity s": f"{report['seconds']:.1f}",
                     "agree": f"{report['agree']}/{report['total']}", "max diff": f"{report['max_diff']:.1e}",
                     "MB": f"{size_mb:.1f}", "ok": report["ok"]})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", default="predict,export")
    parts = parser.parse_args().only.split(",")
    print(machine())
    if "predict" in parts:
        rows = predict_rows()
        print("\nPrediction, best of several runs (same process, same pictures)\n")
        print(table(rows, list(rows[0])))
    if "export" in parts:
        rows = export_rows()
        print("\nExport to ONNX and parity check on 8 pictures, every architecture at its minimum size\n")
        print(table(rows, list(rows[0])))


if __name__ == "__main__":
    main()

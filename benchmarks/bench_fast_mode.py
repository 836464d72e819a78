"""Fast mode's cost (frozen MobileNetV3-Large features + a trained head, what Auto picks on a CPU when ImageNet
weights are at hand). Its speed does not depend on the weights' values, so random weights stand in for
ImageNet's. 1,000 pictures at 224 px: features + head as the app computes them (`engine.feature_settings`)
under each setting tried, beside a plain torchvision inference loop (fp32, batch 32, contiguous) over the
same pictures.

    python benchmarks/bench_fast_mode.py [--pictures 1000]
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import machine, table  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pictures", type=int, default=1000)
    args = ap.parse_args()
    import torch

    from nocode_widgets.models import zoo
    from nocode_widgets.runs.train_config import TrainConfig
    from nocode_widgets.training.engine import extract_features, feature_settings
    from nocode_widgets.training.fit import ImageFeeder, TensorFeeder, fit, set_cpu_threads
    from nocode_widgets.pictures.preprocess import normalize_batch

    set_cpu_threads()
    torch.manual_seed(0)
    n = args.pictures
    cache = torch.randint(0, 256, (n, 3, 224, 224), dtype=torch.uint8)
    labels = torch.arange(n) % 3
    cpu = torch.device("cpu")

    def plain() -> float:
        model = zoo.build_model("mobilenet_v3_large", 3).eval()
        start = time.perf_counter()
        with torch.no_grad():
            for s in range(0, n, 32):
                model(normalize_batch(cache[s:s + 32], zoo.IMAGENET_MEAN, zoo.IMAGENET_STD))
        return time.perf_counter() - start

    def ours(batch: int, channels_last: bool, bf16: bool) -> tuple[float, float]:
        model = zoo.build_model("mobilenet_v3_large", 3)
        feeder = ImageFeeder(cache, zoo.IMAGENET_MEAN, zoo.IMAGENET_STD, cpu, "none", channels_last)
        start = time.perf_counter()
        feats, _where = extract_features(model, feeder, list(range(n)), cpu, batch, channels_last, bf16)
        features = time.perf_counter() - start
        cfg = TrainConfig(arch="mobilenet_v3_large", mode="fast", image_size=224, batch_size=64, epochs=60, lr=3e-3,
                          patience=8, schedule="cosine", augment="none", sampler="shuffle", label_smoothing=0.0,
                          amp=False, channels_last=False, ema=False)
        head = torch.nn.Linear(feats.shape[1], 3)
        start = time.perf_counter()
        fit(head, TensorFeeder(feats, cpu), labels, list(range(n - n // 5)), list(range(n - n // 5, n)), cfg, cpu)
        return features, time.perf_counter() - start

    baseline = plain()
    rows = [{"setting": "plain torchvision loop (fp32, batch 32)", "seconds": baseline, "pictures/s": n / baseline,
             "ratio": 1.0}]
    chosen = feature_settings(cpu)
    for batch, cl, bf16 in ((64, False, False), (64, True, False), (16, True, True), (32, True, True), (64, True, True),
                            (128, True, True)):
        if bf16 and not chosen["bf16_possible"]:
            continue
        features, head = ours(batch, cl, bf16)
        total = features + head
        mark = " (the app's)" if (batch, cl, bf16) == (chosen["batch"], chosen["channels_last"], chosen["bf16"]) else ""
        rows.append({"setting": f"ours: batch {batch}, {'channels_last' if cl else 'contiguous'}, "
                                f"{'bf16' if bf16 else 'fp32'}{mark}", "seconds": total, "features s": features,
                     "head s": head, "pictures/s": n / total, "ratio": total / baseline})
    print(f"Machine: {machine()}\n")
    print(table(rows, ["setting", "seconds", "features s", "head s", "pictures/s", "ratio"]))


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()

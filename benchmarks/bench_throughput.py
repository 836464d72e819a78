"""Pictures per second of a training epoch, Auto's recipe against the plain loops, beside the machine's matmul
peak at the same precision (issue: faster epochs). One process, torch threads = the cores; 64 px pictures,
batch 32, 8 steps an epoch (Auto's epoch on a 180-picture set), then evaluation of 54 pictures.

  auto, all        the app's fit loop pieces: bf16 autocast where the CPU has it, channels-last, the weight
                   average updated every step, BatchNorm recomputed on 64 pictures and the validation pictures
                   scored after the epoch
  auto, no X       the same without one piece, to see what it costs
  plain, small CNN fp32, no extras: benchmarks/plain_loop.py's step on the app's network (1.17 M parameters)
  plain, light     fp32, the origin project's lighter network (light_net: 3 blocks, 0.29 M parameters)

GFLOP/s counts the multiply-adds of forward and backward (torch.utils.flop_counter) over the epoch's training
steps only; "of peak" is that against a square matmul of the same precision.

    python benchmarks/bench_throughput.py [--epochs 5]
"""

from __future__ import annotations

import argparse
import sys
import time
from contextlib import nullcontext
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402
from torch import nn  # noqa: E402

from benchmarks._common import machine, table  # noqa: E402
from benchmarks.plain_loop import light_net  # noqa: E402
from nocode_widgets.models.small_cnn import SmallCNN  # noqa: E402
from nocode_widgets.training.fit import (WeightAverage, cpu_has_fast_bf16, predict_probs,  # noqa: E402
                                         recompute_batchnorm, set_cpu_threads)

SIZE, BATCH, STEPS, VAL = 64, 32, 8, 54


def matmul_peak(dtype: torch.dtype, n: int = 2048, repeat: int = 5) -> float:
    a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
    a @ b
    best = min(_timed(lambda: a @ b) for _ in range(repeat))
    return 2 * n ** 3 / best / 1e9


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def step_flops(model: nn.Module, x: torch.Tensor, ctx) -> float:
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter, ctx:
        model(x).sum().backward()
    model.zero_grad(set_to_none=True)
    return counter.get_total_flops()


def epoch_time(make_model, bf16: bool, channels_last: bool, average: bool, precise_bn: bool, evaluate: bool,
               epochs: int) -> tuple[float, float]:
    """(seconds of the median epoch, GFLOP/s of its training steps)."""
    torch.manual_seed(0)
    model = make_model()
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    images = torch.rand(STEPS * BATCH + VAL, 3, SIZE, SIZE)
    if channels_last:
        images = images.contiguous(memory_format=torch.channels_last)
    labels = torch.randint(0, 3, (len(images),))
    ctx = torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else nullcontext()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    avg = WeightAverage(model, epochs * STEPS) if average else None
    judged = avg.model if avg else model
    flops = step_flops(model, images[:BATCH], ctx) * STEPS
    feed = lambda idx, train: images[idx]  # noqa: E731
    times, train_times = [], []
    for _ in range(epochs):
        start = time.perf_counter()
        model.train()
        for s in range(STEPS):
            x, y = images[s * BATCH:(s + 1) * BATCH], labels[s * BATCH:(s + 1) * BATCH]
            with ctx:
                loss = nn.functional.cross_entropy(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if avg:
                avg.update(model)
        train_times.append(time.perf_counter() - start)
        if precise_bn:
            with ctx:
                recompute_batchnorm(judged, (feed(i, False) for i in torch.arange(64).split(64)))
        if evaluate:
            predict_probs(judged, feed, list(range(STEPS * BATCH, len(images))), 64, torch.device("cpu"), bf16)
        times.append(time.perf_counter() - start)
    median = sorted(times[1:])[len(times[1:]) // 2]  # the first epoch warms up
    train = sorted(train_times[1:])[len(train_times[1:]) // 2]
    return median, flops / train / 1e9


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=5)
    args = parser.parse_args()
    set_cpu_threads()
    bf16 = cpu_has_fast_bf16()
    peaks = {"fp32": matmul_peak(torch.float32), "bf16": matmul_peak(torch.bfloat16)}
    small, light = (lambda: SmallCNN(3)), (lambda: light_net(3))
    auto = dict(bf16=bf16, channels_last=True, average=True, precise_bn=True, evaluate=True)
    plain = dict(bf16=False, channels_last=False, average=False, precise_bn=False, evaluate=True)
    cases = [("auto, all", small, auto), ("auto, no weight average", small, {**auto, "average": False}),
             ("auto, no BatchNorm recompute", small, {**auto, "precise_bn": False}),
             ("auto, no evaluation", small, {**auto, "evaluate": False}), ("auto, fp32", small, {**auto, "bf16": False}),
             ("auto recipe, light network", light, auto), ("plain, small CNN", small, plain),
             ("plain, light network", light, plain)]
    rows = []
    base = None
    for name, make, how in cases:
        seconds, gflops = epoch_time(make, epochs=args.epochs, **how)
        base = base or seconds
        peak = peaks["bf16" if how["bf16"] else "fp32"]
        rows.append({"case": name, "epoch s": seconds, "pictures/s": STEPS * BATCH / seconds,
                     "x auto, all": seconds / base, "train GFLOP/s": gflops, "of peak": gflops / peak})
    print(f"Machine: {machine()}; matmul peak {peaks['fp32']:.0f} GFLOP/s fp32, {peaks['bf16']:.0f} bf16 "
          f"(native bf16: {bf16})\n")
    print(table(rows, ["case", "epoch s", "pictures/s", "x auto, all", "train GFLOP/s", "of peak"]))


if __name__ == "__main__":
    main()

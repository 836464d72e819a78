"""A run's optimizer, from a fresh process as every worker and Ray actor starts: seconds to build the
optimizer and take its first 3 steps on the small CNN (torch already imported, not counted), with
torch.optim's classes (the plain baseline) and with the app's (training/optimizers.py, the same update
rules without torch.optim.Optimizer's methods, which import torch._dynamo on first use).

    python benchmarks/bench_optimizer_start.py [repeats]
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import machine, run_case, table  # noqa: E402

RULES = ("adamw", "sgd", "adamax")


def case(which: str, name: str) -> None:
    import torch

    from nocode_widgets.models import small_cnn
    from nocode_widgets.training import optimizers
    from nocode_widgets.runs.train_config import TrainConfig
    from nocode_widgets.training.fit import make_optimizer

    model = small_cnn.SmallCNN(3)
    x, y = torch.randn(16, 3, 32, 32), torch.randint(0, 3, (16,))
    torch.nn.functional.cross_entropy(model(x), y).backward()  # the maths warmed up, as after the first batch
    start = time.perf_counter()
    opt = make_optimizer(model, TrainConfig(optimizer=name, lr=1e-3), torch.optim if which == "torch.optim" else optimizers)
    for _ in range(3):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    print(json.dumps({"seconds": time.perf_counter() - start, "dynamo": "torch._dynamo" in sys.modules}))


def main(repeats: int) -> None:
    rows = []
    for name in RULES:
        seen = {}
        for which in ("torch.optim", "app"):
            results = [run_case(__file__, "--case", which, name) for _ in range(repeats)]
            seen[which] = statistics.median(r["seconds"] for r in results)
            rows.append({"rule": name, "optimizer": which, "seconds (median)": seen[which],
                         "imports torch._dynamo": "yes" if results[0]["dynamo"] else "no"})
        rows[-1]["ratio"] = f"{seen['app'] / seen['torch.optim']:.3f}x"
    print(machine(), f"- {repeats} fresh processes each")
    print(table(rows, ["rule", "optimizer", "seconds (median)", "imports torch._dynamo", "ratio"]))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--case"]:
        case(sys.argv[2], sys.argv[3])
    else:
        main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)

"""What a warm torch process would save (issue: no cold starts; measured before building it). A run worker and
every helper (heat maps, estimates, label checks) start a new Python that imports torch, torchvision and the
training code. Here, beside that cold start, the same readiness reached by forking a process that imported them
already (what a fork server would do), and the memory that costs: the warm process's RSS, and how much of a
child's memory stays shared with it (PSS against RSS).

    python benchmarks/bench_warm_start.py [--repeat 5]

"Ready" is the first line a child prints after a small convolution on a 32x32 picture (torch's thread pool
started in the child, as the fork-safety rule asks: fork before any parallel work, set threads in the child).
What a person then waits for (a run's first epoch, heat maps, an estimate), cold beside warm, is measured by
`bench_auto.py`."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import machine, table  # noqa: E402

IMPORTS = "import torch, torchvision\nimport nocode_widgets.training.engine\n"
FIRST_WORK = ("torch.set_num_threads(os.cpu_count())\n"
              "torch.nn.functional.conv2d(torch.rand(1, 3, 32, 32), torch.rand(8, 3, 3, 3))\n")


def cold(repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import os\n" + IMPORTS + FIRST_WORK + "print('ready')"], check=True,
                       capture_output=True)
        times.append(time.perf_counter() - started)
    return times


def memory_of(pid: int) -> tuple[float, float]:
    """(RSS, PSS) in MB from /proc/PID/smaps_rollup."""
    fields = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, value = line.split(":", 1)
        fields[name] = int(value.split()[0]) / 1024
    return fields["Rss"], fields["Pss"]


WARM = IMPORTS + """import os, sys, time
import torch
print("warm", flush=True)
for line in sys.stdin:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
""" + "\n".join("        " + line for line in FIRST_WORK.splitlines()) + """
        os.write(write, b"ready")
        time.sleep(float(line))  # hold still a moment, to be measured
        os._exit(0)
    os.close(write)
    os.read(read, 5)
    print(pid, flush=True)
    os.waitpid(pid, 0)
    print("done", flush=True)
"""


def warm(repeat: int) -> tuple[float, list[float], list[tuple[float, float]], tuple[float, float]]:
    started = time.perf_counter()
    server = subprocess.Popen([sys.executable, "-c", WARM], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert server.stdout.readline().strip() == "warm"
    warming = time.perf_counter() - started
    server_memory = memory_of(server.pid)
    times, children = [], []
    try:
        for _ in range(repeat):
            started = time.perf_counter()
            server.stdin.write("1.0\n")
            server.stdin.flush()
            child = int(server.stdout.readline())
            times.append(time.perf_counter() - started)
            children.append(memory_of(child))
            assert server.stdout.readline().strip() == "done"
    finally:
        server.stdin.close()
        server.wait(10)
    return warming, times, children, server_memory


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(machine())
    cold_times = cold(args.repeat)
    warming, warm_times, children, (server_rss, server_pss) = warm(args.repeat)
    plain = sorted(cold_times)[len(cold_times) // 2]
    median = sorted(warm_times)[len(warm_times) // 2]
    rss, pss = children[len(children) // 2]
    print(table([
        {"case": "cold: a new python imports torch, torchvision, the training code, first conv", "seconds": plain,
         "x cold": 1.0},
        {"case": "warm: fork of a process that imported them, first conv in the child", "seconds": median,
         "x cold": median / plain, "child RSS MB": rss, "child PSS MB": pss},
        {"case": "the warm process itself (started once)", "seconds": warming, "child RSS MB": server_rss,
         "child PSS MB": server_pss},
    ], ["case", "seconds", "x cold", "child RSS MB", "child PSS MB"]))
    print(f"cold runs: {', '.join(f'{t:.2f}' for t in cold_times)}; warm runs: {', '.join(f'{t:.3f}' for t in warm_times)}"
          f"; {os.cpu_count()} cores")


if __name__ == "__main__":
    main()

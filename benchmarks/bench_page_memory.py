"""Memory of a page's kernel, driving the real Voila page in Chromium: a plain idle ipykernel (the
baseline), the sign-in page (served by the web server: no kernel at all), and a page after the whole flow (sign-up, a zip of pictures through the file
chooser, Auto training, Results, Test on 12 pictures, both downloads). Target: <= 200 MB after the
flow (it was ~800 MB when the panels imported torch).

    python benchmarks/bench_page_memory.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import table  # noqa: E402


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def kernels() -> list[int]:
    """Page kernels on this machine, oldest first."""
    found = []
    for pid in filter(str.isdigit, (p.name for p in Path("/proc").iterdir())):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"ipykernel_launcher" in cmd:
            found.append((Path(f"/proc/{pid}").stat().st_mtime, int(pid)))
    return [pid for _, pid in sorted(found)]


def plain_kernel_mb() -> float:
    from jupyter_client.manager import start_new_kernel

    manager, client = start_new_kernel(kernel_name="python3")
    try:
        client.execute_interactive("pass", timeout=60)
        time.sleep(1)
        return rss_mb(manager.provisioner.process.pid)
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def main() -> None:
    from playwright.sync_api import sync_playwright

    from tests.e2e.conftest import CHROMIUM_ARGS, chromium_path, sign_up_at_door, voila_server
    from tests.e2e.test_app_e2e import create_colours, upload_files
    from tests.images import COLORS, picture

    rows = [{"page kernel": "plain ipykernel, idle (baseline)", "RSS MB": f"{plain_kernel_mb():.0f}"}]
    with tempfile.TemporaryDirectory() as tmp, voila_server(Path(tmp) / "data") as url, sync_playwright() as p:
        tmp = Path(tmp)
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS, headless=True)
        before = set(kernels())
        idle = browser.new_context().new_page()
        idle.goto(url + "/")
        idle.get_by_text("Welcome").wait_for(timeout=120_000)
        time.sleep(2)
        started = [pid for pid in kernels() if pid not in before]
        rows.append({"page kernel": f"sign-in page ({len(started)} kernels)",
                     "RSS MB": f"{sum(rss_mb(pid) for pid in started):.0f}"})
        page = browser.new_context().new_page()
        page.set_default_timeout(120_000)
        sign_up_at_door(page, url, "bench")
        flow_kernel = kernels()[-1]
        create_colours(page, tmp, per_class=20)
        page.get_by_role("tab", name="Train").click()
        page.get_by_text("Auto:").wait_for()
        page.get_by_role("button", name="Start training").click()
        page.locator(".nocode-train").get_by_text("Finished").wait_for(timeout=600_000)
        page.get_by_role("tab", name="Results").click()
        results = page.locator(".nocode-results:visible")
        results.get_by_text("Measured on the validation pictures").wait_for()
        for name in ("Download model", "Download as notebook"):
            with page.expect_download():
                results.get_by_role("button", name=name).click()
        page.get_by_role("tab", name="Test").click()
        new = []
        for i in range(12):
            path = tmp / f"new-{i}.jpg"
            path.write_bytes(picture(COLORS["red" if i % 2 else "blue"], size=(40, 30), seed=500 + i))
            new.append(str(path))
        upload_files(page, ".nocode-test", "Choose pictures to test", new)
        page.locator(".nocode-test .nocode-prediction").nth(11).wait_for()
        time.sleep(2)
        rows.append({"page kernel": "after the whole flow", "RSS MB": f"{rss_mb(flow_kernel):.0f}"})
        browser.close()
    base = float(rows[0]["RSS MB"])
    for row in rows:
        row["x baseline"] = f"{float(row['RSS MB']) / base:.1f}"
    print(table(rows, ["page kernel", "RSS MB", "x baseline"]))


if __name__ == "__main__":
    main()

"""The door (sign in at the web server, before any kernel), through a real `nocode serve` and Chromium:

1. 50 anonymous visitors: page kernels started and their memory (target: 0), and the time to the sign-in
   page, against a plain Voila page of a one-cell notebook (a kernel per visit: what every visitor cost
   before the door) measured in the same run.
2. Pressing "Log in" until the app is usable (its tabs and the Log out button), against the same plain
   kernel page.
3. N people opening the page and signing in at once (N = 16 and 50), each in their own browser context:
   pages that stayed blank (neither the app nor a plain "busy" answer within the wait; target 0), pages
   told to try again (a busy page retries by itself; a busy sign-in form is submitted again, as a person
   would), the most page kernels at once and their memory, and the time until everyone was signed in.

    python benchmarks/bench_door.py [--crowds 16,50] [--wait 300]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import table  # noqa: E402
from tests.processes import kernels_of  # noqa: E402

PASSWORD = "a-good-password"


def rss_mb(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024
        except OSError:
            continue
    return total


async def plain_page_s(browser, tmp: Path, repeats: int) -> float:
    """A plain Voila page of a one-cell notebook (a kernel per visit), median seconds until shown."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    from tests.conftest import free_port
    from tests.e2e.conftest import jupyter_server

    nb = tmp / "plain.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell("import ipywidgets as w\nw.Button(description='Ready')")],
                                metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}}), nb)
    port = free_port()
    times = []
    with jupyter_server([sys.executable, "-m", "voila", str(nb), f"--port={port}", "--no-browser"], port) as url:
        for _ in range(repeats):
            context = await browser.new_context()
            page = await context.new_page()
            start = time.perf_counter()
            await page.goto(url + "/")
            await page.get_by_role("button", name="Ready").wait_for(timeout=120_000)
            times.append(time.perf_counter() - start)
            await context.close()
    return statistics.median(times)


async def sign_in_page_s(browser, url: str, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        context = await browser.new_context()
        page = await context.new_page()
        start = time.perf_counter()
        await page.goto(url + "/")
        await page.get_by_text("Welcome").wait_for()
        times.append(time.perf_counter() - start)
        await context.close()
    return statistics.median(times)


async def sign_in(browser, url: str, name: str, wait_s: float) -> tuple[str, float]:
    """('app' | 'app after busy' | 'busy' | 'blank', seconds from pressing Log in). A "busy" page retries by
    itself, so the person waits on, as they would."""
    context = await browser.new_context()
    page = await context.new_page()
    try:
        await page.goto(url + "/", timeout=wait_s * 1000)
        await page.get_by_label("Username").fill(name)
        await page.get_by_label("Password", exact=True).fill(PASSWORD)
        start = time.perf_counter()
        await page.get_by_role("button", name="Log in").click(no_wait_after=True)
        deadline, told_busy = start + wait_s, False
        while time.perf_counter() < deadline:
            try:
                if await page.get_by_role("button", name="Log out").count():
                    return ("app after busy" if told_busy else "app"), time.perf_counter() - start
                text = await page.evaluate("() => document.body ? document.body.innerText : ''")
            except Exception:  # noqa: BLE001 - the page is navigating (the form's redirect, a retry): look again
                text = ""
            told_busy = told_busy or "tries again by itself" in text
            if "Please try again in a moment" in text:  # the sign-in form said busy: press Log in again
                told_busy = True
                await asyncio.sleep(3)
                try:
                    await page.get_by_label("Password", exact=True).fill(PASSWORD)
                    await page.get_by_role("button", name="Log in").click(no_wait_after=True)
                except Exception:  # noqa: BLE001 - navigating already
                    pass
            await asyncio.sleep(0.25)
        return ("busy" if told_busy else "blank"), time.perf_counter() - start
    except Exception:  # noqa: BLE001 - a page that never loaded is what is counted here
        return "blank", wait_s
    finally:
        await context.close()


async def main_async(crowds: list[int], wait_s: float) -> None:
    from playwright.async_api import async_playwright

    from nocode_widgets.accounts import auth
    from nocode_widgets.workspace import Workspace
    from tests.e2e.conftest import CHROMIUM_ARGS, chromium_path, voila_server

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data = tmp / "data"
        ws = Workspace.open(data)  # the real argon2 cost: signing in pays it
        for i in range(max(crowds)):
            auth.sign_up(ws, f"person{i}", PASSWORD)
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS, headless=True)
            plain = await plain_page_s(browser, tmp, repeats=5)
            rows.append({"what": "plain Voila page, one cell (baseline: a kernel per visit)", "seconds": f"{plain:.2f}",
                         "x baseline": "1.00", "kernels": "1 per visit", "kernel MB": ""})
            with voila_server(data, NOCODE_MAX_PAGES_PER_USER="5") as url:
                for _ in range(50):
                    urllib.request.urlopen(url + "/", timeout=60).read()
                time.sleep(2)
                pids = kernels_of(data)
                door = await sign_in_page_s(browser, url, repeats=5)
                rows.append({"what": "50 anonymous visitors, then the sign-in page", "seconds": f"{door:.2f}",
                             "x baseline": f"{door / plain:.2f}", "kernels": str(len(pids)),
                             "kernel MB": f"{rss_mb(pids):.0f}"})
                alone = [await sign_in(browser, url, "person0", wait_s) for _ in range(3)]
                first = statistics.median(s for _, s in alone)
                rows.append({"what": "pressing Log in until the app is usable", "seconds": f"{first:.2f}",
                             "x baseline": f"{first / plain:.2f}", "kernels": "1", "kernel MB": ""})
                await asyncio.sleep(2)
            for crowd in crowds:
                log_path = tmp / f"voila-{crowd}.log"
                with open(log_path, "w") as log, voila_server(data, log) as url:
                    start = time.perf_counter()
                    peak = {"kernels": 0, "MB": 0.0}

                    async def watch():
                        while True:
                            pids = kernels_of(data)
                            if len(pids) >= peak["kernels"]:
                                peak.update(kernels=len(pids), MB=rss_mb(pids))
                            await asyncio.sleep(2)

                    watcher = asyncio.ensure_future(watch())
                    results = await asyncio.gather(*(sign_in(browser, url, f"person{i}", wait_s)
                                                     for i in range(crowd)))
                    took = time.perf_counter() - start
                    watcher.cancel()
                    pids, memory = range(peak["kernels"]), peak["MB"]
                kinds = [k for k, _ in results]
                voila_log = log_path.read_text(errors="replace")
                print(f"{crowd} at once: Voila logged 'Timeout waiting for IOPub output' "
                      f"{voila_log.count('Timeout waiting for IOPub output')} times, "
                      f"{voila_log.count('Traceback')} tracebacks", flush=True)
                if "--keep-log" in sys.argv:
                    Path(f"/tmp/bench-door-voila-{crowd}.log").write_text(voila_log)
                rows.append({"what": f"{crowd} people signing in at once: {kinds.count('app')} in the app at once, "
                                     f"{kinds.count('app after busy')} after a busy page, {kinds.count('busy')} "
                                     f"still busy, {kinds.count('blank')} blank",
                             "seconds": f"{took:.1f} (all)", "x baseline": "",
                             "kernels": str(len(pids)), "kernel MB": f"{memory:.0f}"})
            await browser.close()
    print(table(rows, ["what", "seconds", "x baseline", "kernels", "kernel MB"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--crowds", default="16,50")
    parser.add_argument("--wait", type=float, default=300.0, help="seconds a person waits before calling a page blank")
    parser.add_argument("--keep-log", action="store_true", help="keep Voila's log of each crowd in /tmp")
    args = parser.parse_args()
    asyncio.run(main_async([int(c) for c in args.crowds.split(",")], args.wait))


if __name__ == "__main__":
    main()

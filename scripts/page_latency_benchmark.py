"""Next record shown after a key press on the screening page, on a large project, in Chromium.

    python scripts/page_latency_benchmark.py [--records 100000] [--presses 200] [--workdir DIR]

Builds (once, kept in ``--workdir``) the synthetic project of ``rank_benchmark.py`` (records
recombined from the shared benchmark's titles and abstracts, 300 labelled, 30 of them
includes) and ranks it once, then copies it to a fresh working copy for each run. Serves the
page on that copy with background retraining on (every ``--retrain-every`` decisions, in its
worker process, as a reviewer would have it) and drives it in headless Chromium (Playwright,
Debian's ``chromium``): at least ``--presses`` key presses (``e`` mostly, ``i`` every
seventh), each waiting for the next record, and on until ``--retrains`` background retrains
have finished, so that presses during training and right after a new ranking is taken in
count too. The page itself times each press, from the key event to the
first animation frame after the next record is in the page (``window.keyToScreenMs``), so
Playwright's own polling is not counted; the first ``--warmup`` presses are left out.
Prints the 50th/95th/99th percentiles and the maximum, the server's own write time per
decision, how many background retrains ran meanwhile, and the load average.
Target (issue #15): 95th percentile <= 150 ms on a 100,000-record project on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from import_scale_benchmark import DATASETS
from rank_benchmark import build_project

from prioritiser.store import Project
from prioritiser.screening import rank_project
from prioritiser.web.app import serving

TARGET_P95_MS = 150.0


def prepare(workdir: Path, n_records: int, datasets: Path, seed: int) -> Path:
    """The pristine ranked project in ``workdir`` (built on first use) and a fresh copy to run on."""
    pristine = workdir / "project"
    if not pristine.exists():
        build_project(pristine, n_records, 300, 30, datasets, seed)
    with Project(pristine) as project:
        if project.latest_iteration() is None:
            start = time.monotonic()
            rank_project(project, batch=50, progress=False)
            print(f"first ranking in {time.monotonic() - start:.1f} s", flush=True)
    run = workdir / "run"
    if run.exists():
        shutil.rmtree(run)
    shutil.copytree(pristine, run)
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--presses", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--retrains", type=int, default=1,
                        help="Go on pressing until this many background retrains have finished (so that presses "
                             "while the worker trains and when its new ranking is taken in are counted).")
    parser.add_argument("--max-presses", type=int, default=5000)
    parser.add_argument("--retrain-every", type=int, default=10)
    parser.add_argument("--workdir", type=Path, default=None,
                        help="Where the project is built and kept (default /tmp/prioritiser-page-N).")
    parser.add_argument("--datasets", type=Path, default=DATASETS, help="Benchmark datasets folder (*.csv.gz).")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("no chromium executable: apt-get install -y chromium")
    workdir = args.workdir or Path(tempfile.gettempdir()) / f"prioritiser-page-{args.records}"
    workdir.mkdir(parents=True, exist_ok=True)
    project = prepare(workdir, args.records, args.datasets, args.seed)
    with Project(project) as opened:
        from prioritiser.store.team import save_settings

        save_settings(opened, retrain_every=args.retrain_every)
        info, iterations_before = opened.info(), opened.info()["iterations"]
    print(f"project {project}: {info['records']:,} records in {info['groups']:,} groups, "
          f"{info['labelled']:,} labelled; retraining every {args.retrain_every} decisions", flush=True)

    with serving(project, reviewer="benchmark") as served, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_context(bypass_csp=True).new_page()
        page.goto(served.url)
        page.wait_for_function("document.body.dataset.ready === '1'", timeout=120_000)
        start = time.monotonic()
        n = 0
        with Project(project) as opened:
            while n < args.max_presses and (n < args.presses or (
                    n % 50 or opened.info()["iterations"] - iterations_before < args.retrains)):
                page.keyboard.press("i" if n % 7 == 3 else "e")
                page.wait_for_function(f"window.keyToScreenMs.length > {n}", timeout=60_000)
                n += 1
        wall = time.monotonic() - start
        timings = np.asarray(page.evaluate("window.keyToScreenMs"), dtype=float)[args.warmup:]
        server = np.asarray(page.evaluate("window.serverSaveMs"), dtype=float)[args.warmup:]
        browser.close()
    with Project(project) as opened:
        retrains = opened.info()["iterations"] - iterations_before
    p50, p95, p99 = np.percentile(timings, [50, 95, 99])
    load = os.getloadavg()
    print(f"{n} presses in {wall:.1f} s; {retrains} background retrains finished meanwhile")
    print(f"server write of a decision (ms): median {np.median(server):.1f}, 95th percentile "
          f"{np.percentile(server, 95):.1f}, max {server.max():.1f}")
    print(f"key press to next record shown, {len(timings)} presses after {args.warmup} warm-up (ms): "
          f"median {p50:.1f}, 95th percentile {p95:.1f}, 99th percentile {p99:.1f}, max {timings.max():.1f}")
    print(f"target p95 <= {TARGET_P95_MS:.0f} ms on {info['records']:,} records: "
          f"{'met' if p95 <= TARGET_P95_MS else 'MISSED'}; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} "
          f"on {os.cpu_count()} CPUs")
    sys.stdout.flush()


if __name__ == "__main__":
    main()

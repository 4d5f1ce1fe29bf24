"""Time ``prioritiser rank`` on a large synthetic project with a warm cache: wall time and peak memory.

    python scripts/rank_benchmark.py [--records 100000] [--workdir DIR] [--model PRESET] [--profile]

Builds (once, kept in ``--workdir``) a project of ``--records`` records made from the shared
benchmark titles and abstracts (recombined so that texts are distinct, with some duplicates;
see ``import_scale_benchmark.py``) and labels ``--labels`` random records, ``--includes`` of
them as includes. Then runs ``prioritiser rank`` twice in a child process: the first fills the
project's cache (term counts, embeddings) where the preset needs it, the second is the measured
one. Each run's wall and CPU seconds and peak resident set size (the child's own ``ru_maxrss``,
from ``wait4``) are printed, with the stage timings the iteration stored and the load average;
``--profile`` then ranks once more under cProfile. Targets (issue #3): 100,000 records in 10 s
and 4 GiB; 1,000,000 in 90 s and 16 GiB.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from import_scale_benchmark import DATASETS, write_search_export

from prioritiser.importing import create_project
from prioritiser.labels import import_labels
from prioritiser.store import Project

GIB = 1024**3
#: (records, wall seconds, peak GiB) targets; a size between two targets is held to the larger one.
TARGETS = ((100_000, 10.0, 4.0), (1_000_000, 90.0, 16.0))


def build_project(project: Path, n_records: int, n_labels: int, n_includes: int, datasets: Path, seed: int) -> None:
    """Create the synthetic project and label ``n_labels`` random records (``n_includes`` includes)."""
    with tempfile.TemporaryDirectory(dir=project.parent) as folder:
        records, decisions = Path(folder) / "records.csv", Path(folder) / "decisions.csv"
        start = time.monotonic()
        write_search_export(records, n_records, seed=seed, datasets=datasets)
        print(f"wrote {n_records:,} records in {time.monotonic() - start:.0f} s", flush=True)
        start = time.monotonic()
        with create_project(project, [records])[0] as created:
            print(f"imported them in {time.monotonic() - start:.0f} s", flush=True)
            rng = random.Random(seed)
            chosen = rng.sample(range(1, n_records + 1), min(n_labels, n_records))
            with open(decisions, "w", newline="", encoding="utf-8") as handle:
                writer = csv.writer(handle)
                writer.writerow(["record_id", "label"])
                writer.writerows((record_id, int(i < n_includes)) for i, record_id in enumerate(chosen))
            import_labels(created, decisions, reviewer="benchmark")


def run_rank(project: Path, model: str, profile: Path | None) -> dict:
    """Run ``prioritiser rank`` in a child: wall and CPU seconds, and the child's peak RSS."""
    command = [sys.executable, "-m", "prioritiser.cli", "rank", str(project), "--model", model, "--batch", "50"]
    if profile is not None:
        command[1:3] = ["-m", "cProfile", "-o", str(profile), "-m", "prioritiser.cli"]
    start = time.monotonic()
    with tempfile.TemporaryFile("w+") as out:
        child = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, text=True)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.monotonic() - start
        out.seek(0)
        output = out.read()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"prioritiser rank failed:\n{output}")
    return {"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime, "peak_gib": usage.ru_maxrss * 1024 / GIB,
            "output": output.strip()}


def stage_timings(project: Path) -> str:
    """The stage timings stored with the latest iteration."""
    with Project(project) as opened:
        timings = opened.latest_iteration().timings
    return ", ".join(f"{name} {seconds:.2f}" for name, seconds in timings.items())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--workdir", type=Path, default=None,
                        help="Where the project is built and kept for reuse (default /tmp/prioritiser-rank-N).")
    parser.add_argument("--model", default="default", help="Model preset (default: whatever models/default.toml says).")
    parser.add_argument("--labels", type=int, default=300, help="Records labelled before ranking.")
    parser.add_argument("--includes", type=int, default=30, help="How many of the labelled records are includes.")
    parser.add_argument("--datasets", type=Path, default=DATASETS, help="Benchmark datasets folder (*.csv.gz).")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--profile", action="store_true", help="Then rank once more under cProfile and print the top.")
    args = parser.parse_args()

    workdir = args.workdir or Path(tempfile.gettempdir()) / f"prioritiser-rank-{args.records}"
    workdir.mkdir(parents=True, exist_ok=True)
    project = workdir / "project"
    if not project.exists():
        build_project(project, args.records, args.labels, args.includes, args.datasets, args.seed)
    with Project(project) as opened:
        info = opened.info()
    print(f"project {project}: {info['records']:,} records in {info['groups']:,} groups, "
          f"{info['included']} includes and {info['excluded']} excludes; model {args.model!r}", flush=True)

    warm = run_rank(project, args.model, None)
    print(f"first rank (fills the cache): wall {warm['wall_s']:.1f} s, CPU {warm['cpu_s']:.1f} s, "
          f"peak RSS {warm['peak_gib']:.2f} GiB; "
          f"stages (s): {stage_timings(project)}", flush=True)
    measured = run_rank(project, args.model, None)
    print(measured["output"])
    print(f"stages (s): {stage_timings(project)}")
    if args.profile:
        import pstats

        profile = workdir / "rank.prof"
        run_rank(project, args.model, profile)
        pstats.Stats(str(profile)).sort_stats("cumulative").print_stats(30)
    records, target_s, target_gib = next((t for t in TARGETS if info["records"] <= t[0]), TARGETS[-1])
    load = os.getloadavg()
    print(f"rank with a warm cache, {info['records']:,} records: wall {measured['wall_s']:.1f} s "
          f"(target <= {target_s:.0f} s for {records:,}: {'met' if measured['wall_s'] <= target_s else 'MISSED'}), "
          f"CPU {measured['cpu_s']:.1f} s, "
          f"peak RSS {measured['peak_gib']:.2f} GiB "
          f"(target <= {target_gib:.0f} GiB: {'met' if measured['peak_gib'] <= target_gib else 'MISSED'}); "
          f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()

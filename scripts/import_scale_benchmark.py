"""Import a very large search export with ``prioritiser init`` and measure wall time and peak memory.

Builds a CSV of ``--records`` rows (default 1,000,000) from the titles and abstracts of the
shared benchmark datasets, perturbed so that most rows are distinct records: a few title words
swapped for words of other titles, abstract sentences rotated, a synthetic DOI. A share of rows
repeats an earlier row (same DOI: an exact duplicate) or varies its title (case, trailing
period, no DOI: a fuzzy duplicate), so the duplicate finder has real work. Then runs
``python -m prioritiser.cli init`` on it in a child process, samples the child's resident set
size (RSS) from /proc every ``--sample`` seconds and reports wall time, peak RSS (the child's
own ``ru_maxrss``, from ``wait4``) and the RSS over time. The CSV is written by a separate
process, so this one stays small: on Linux a child's ``ru_maxrss`` starts at the peak of the
process it was forked from.

    python scripts/import_scale_benchmark.py [--records N] [--workdir DIR] [--datasets DIR]

Target: peak RSS at most 4 GiB for 1,000,000 records.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import multiprocessing
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DATASETS = Path("/work/shared/benchmark/datasets")
COLUMNS = ["record_id", "title", "abstract", "authors", "year", "doi"]
#: Shares of rows that copy an earlier row exactly (same DOI) or vary its title (no DOI).
EXACT_SHARE, VARIANT_SHARE = 0.04, 0.04
RECENT = 2000
GIB = 1024**3


def load_pool(datasets: Path) -> list[tuple[str, str, str, str]]:
    """(title, abstract, authors, year) of every benchmark record with a title."""
    pool = []
    for path in sorted(datasets.glob("*.csv.gz")):
        with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                if (row.get("title") or "").strip():
                    pool.append((row["title"], row.get("abstract") or "", row.get("authors") or "", row.get("year") or ""))
    if not pool:
        raise SystemExit(f"{datasets}: no benchmark records (*.csv.gz with a title column)")
    return pool


def write_search_export(path: Path, n_records: int, seed: int = 0, datasets: Path = DATASETS) -> None:
    """Write a ``n_records``-row CSV search export built from the benchmark records (see module doc)."""
    rng = random.Random(seed)
    pool = load_pool(datasets)
    vocabulary = sorted({w for title, *_ in pool for w in title.split() if w.isalpha() and len(w) > 3})
    recent: list[list[str]] = []
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for i in range(1, n_records + 1):
            draw = rng.random()
            if recent and draw < EXACT_SHARE:
                row = [str(i), *rng.choice(recent)[1:]]
            elif recent and draw < EXACT_SHARE + VARIANT_SHARE:
                source = rng.choice(recent)
                title = source[1].upper() if rng.random() < 0.5 else source[1].rstrip(".") + "."
                row = [str(i), title, *source[2:5], ""]
            else:
                title, abstract, authors, year = rng.choice(pool)
                words = title.split()
                for _ in range(min(3, len(words))):
                    words[rng.randrange(len(words))] = rng.choice(vocabulary)
                sentences = abstract.split(". ")
                shift = rng.randrange(len(sentences))
                row = [str(i), " ".join(words), ". ".join(sentences[shift:] + sentences[:shift]), authors, year,
                       f"10.5555/scale.{seed}.{i}" if rng.random() < 0.7 else ""]
                if len(recent) < RECENT:
                    recent.append(row)
                else:
                    recent[rng.randrange(RECENT)] = row
            writer.writerow(row)


def _rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def run_init(project: Path, records: Path, sample_s: float = 1.0) -> dict:
    """Run ``prioritiser init`` in a child; wall seconds, its peak RSS bytes (from ``wait4``, so
    other children of this process do not count) and an RSS timeline."""
    start = time.monotonic()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        child = subprocess.Popen([sys.executable, "-m", "prioritiser.cli", "init", str(project), "--records",
                                  str(records)], stdout=out, stderr=err, text=True)
        timeline: list[tuple[float, int]] = []
        while True:
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                break
            timeline.append((time.monotonic() - start, _rss_bytes(child.pid)))
            time.sleep(sample_s)
        wall = time.monotonic() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if child.returncode != 0:
        raise SystemExit(f"prioritiser init failed ({child.returncode}): {stderr.strip()}")
    return {"wall_s": wall, "peak_rss": usage.ru_maxrss * 1024, "timeline": timeline, "stdout": stdout}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000, help="Rows in the generated CSV.")
    parser.add_argument("--workdir", type=Path, default=None, help="Where to write the CSV and project (default: a temp dir, removed).")
    parser.add_argument("--datasets", type=Path, default=DATASETS, help="Benchmark datasets folder (*.csv.gz).")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sample", type=float, default=1.0, help="Seconds between RSS samples.")
    args = parser.parse_args()

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="prioritiser-scale-"))
    workdir.mkdir(parents=True, exist_ok=True)
    records, project = workdir / f"search-{args.records}.csv", workdir / "project"
    try:
        start = time.monotonic()
        builder = multiprocessing.get_context("spawn").Process(
            target=write_search_export, args=(records, args.records), kwargs={"seed": args.seed, "datasets": args.datasets})
        builder.start()
        builder.join()
        if builder.exitcode != 0:
            raise SystemExit(f"writing {records} failed (exit {builder.exitcode})")
        print(f"wrote {args.records:,} records ({records.stat().st_size / 1e6:,.0f} MB) in {time.monotonic() - start:.0f} s",
              flush=True)
        shutil.rmtree(project, ignore_errors=True)
        result = run_init(project, records, args.sample)
        print(result["stdout"].strip())
        step = max(1, len(result["timeline"]) // 40)
        for t, rss in result["timeline"][::step]:
            print(f"  t={t:7.1f} s  RSS {rss / GIB:6.2f} GiB")
        db = project / "project.sqlite"
        print(f"init: wall {result['wall_s']:.1f} s, peak RSS {result['peak_rss'] / GIB:.2f} GiB "
              f"(target <= 4 GiB: {'met' if result['peak_rss'] <= 4 * GIB else 'MISSED'}), "
              f"database {db.stat().st_size / 1e6:,.0f} MB")
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()

"""Benchmark prioritiser's simulation on every dataset and seed of the shared benchmark,
side by side with ASReview LAB's default (elas_u4).

Peer figures come from ``peer/asreview_elas_u4.csv`` (measured on the same priors); with
``--asreview PATH`` ASReview itself is run in this same run on the same priors and timed,
so speed ratios compare runs on one machine.

    python scripts/benchmark.py --bench ../shared/benchmark --out benchmark.csv
    python scripts/benchmark.py --datasets Cohen_2006_ADHD --seeds 1 --asreview /path/to/asreview
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pandas as pd
from rich.console import Console
from rich.table import Table

METRICS = ["loss", "wss95", "wss100", "rrf10", "atd", "n95", "n100"]


def run_one(task: tuple) -> dict:
    """One simulation in this process; ``seconds`` is feature extraction plus screening."""
    from prioritiser.simulate import run_simulation

    bench, dataset, seed, priors, model, overrides, batch = task
    result = run_simulation(Path(bench) / "datasets" / f"{dataset}.csv.gz", None, priors, seed=seed, model=model,
                            overrides=overrides, batch=batch, progress=False)
    return {"dataset": dataset, "seed": seed, "tool": f"prioritiser-{model}", "seconds": result.seconds,
            "n_records": result.n_records, **{m: result.metrics[m] for m in METRICS}}


def run_one_cli(task: tuple) -> dict:
    """One simulation as a user runs it, ``prioritiser simulate`` in a new process; ``seconds``
    is its wall time: start-up, reading, features, screening and writing the outputs, as
    ASReview's own ``simulate`` is timed."""
    bench, dataset, seed, priors, model, overrides, batch = task
    sets = [arg for key, value in overrides.items() for arg in ("--set", f"{key}={json.dumps(value)}")]
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "prioritiser", "simulate", str(Path(bench) / "datasets" / f"{dataset}.csv.gz"),
                        "--prior-record-ids", " ".join(priors), "--seed", str(seed), "--model", model,
                        "--batch", str(batch), "--out", tmp, *sets], check=True, capture_output=True)
        seconds = time.perf_counter() - start
        metrics = json.loads((Path(tmp) / "metrics.json").read_text())
    return {"dataset": dataset, "seed": seed, "tool": f"prioritiser-{model}", "seconds": seconds,
            "n_records": int(pd.read_csv(Path(bench) / "datasets" / f"{dataset}.csv.gz", usecols=[0]).shape[0]),
            **{m: metrics[m] for m in METRICS}}


def run_asreview(asreview: str, bench: Path, dataset: str, seed: int, priors: list[str]) -> dict:
    """Time ``asreview simulate`` (elas_u4) on the same priors and score its order with our metrics."""
    from prioritiser.metrics import screening_metrics

    frame = pd.read_csv(bench / "datasets" / f"{dataset}.csv.gz")
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / f"{dataset}.csv"
        frame.rename(columns={"label_included": "included"}).to_csv(data, index=False)
        project = Path(tmp) / "sim.asreview"
        prior_idx = [str(int(p) - 1) for p in priors]
        start = time.perf_counter()
        subprocess.run([asreview, "simulate", str(data), "--ai", "elas_u4", "--prior-idx", *prior_idx,
                        "--seed", str(seed), "-o", str(project)], check=True, capture_output=True)
        seconds = time.perf_counter() - start
        order = asreview_order(project, len(frame))
    labels = frame.set_index(frame.index)["label_included"].to_numpy()[order]
    metrics = screening_metrics(labels, len(frame), int(frame["label_included"].sum()))
    return {"dataset": dataset, "seed": seed, "tool": "asreview-elas_u4 (this run)", "seconds": seconds,
            "n_records": len(frame), **{m: metrics[m] for m in METRICS}}


def asreview_order(project: Path, n: int) -> list[int]:
    """Row positions in the order ASReview screened them, read from its project's results table."""
    import sqlite3
    import zipfile

    with tempfile.TemporaryDirectory() as tmp:
        zipfile.ZipFile(project).extractall(tmp)
        db = next(Path(tmp).rglob("results.db"))
        con = sqlite3.connect(db)
        rows = [r[0] for r in con.execute("SELECT record_id FROM results ORDER BY rowid")]
        con.close()
    return rows[:n]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bench", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "benchmark")
    parser.add_argument("--datasets", default="", help="comma-separated subset")
    parser.add_argument("--seeds", default="", help="comma-separated subset of seeds")
    parser.add_argument("--model", default="default")
    parser.add_argument("--set", action="append", default=[], help="preset override KEY=VALUE (JSON value)")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--asreview", help="path of an 'asreview' executable (ASReview LAB 3.0.8) to run side by side")
    parser.add_argument("--cli", action="store_true",
                        help="time each simulation as a 'prioritiser simulate' process (start-up and output included)")
    parser.add_argument("--out", type=Path, help="CSV of every run")
    args = parser.parse_args()

    overrides = {}
    for pair in args.set:
        key, _, value = pair.partition("=")
        try:
            overrides[key] = json.loads(value)
        except json.JSONDecodeError:
            overrides[key] = value
    priors = pd.read_csv(args.bench / "priors.csv")
    if args.datasets:
        priors = priors[priors.dataset.isin(args.datasets.split(","))]
    if args.seeds:
        priors = priors[priors.seed.isin([int(s) for s in args.seeds.split(",")])]
    tasks = [(str(args.bench), r.dataset, int(r.seed), r.prior_record_ids.split(), args.model, overrides, args.batch)
             for r in priors.itertuples()]
    console = Console()
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        rows = list(pool.map(run_one_cli if args.cli else run_one, tasks))
    if args.asreview:
        for _, dataset, seed, prior_ids, *_ in tasks:
            rows.append(run_asreview(args.asreview, args.bench, dataset, seed, prior_ids))
    ours = pd.DataFrame(rows)
    peer = pd.read_csv(args.bench / "peer" / "asreview_elas_u4.csv")
    peer = peer.merge(priors[["dataset", "seed"]], on=["dataset", "seed"])
    results = pd.concat([ours, peer.assign(tool="asreview-elas_u4 (peer file)")], ignore_index=True)
    if args.out:
        results.to_csv(args.out, index=False)

    mine = ours[ours.tool.str.startswith("prioritiser")].groupby("dataset").mean(numeric_only=True)
    theirs = peer.groupby("dataset").mean(numeric_only=True)
    live = ours[ours.tool.str.contains("this run")].groupby("dataset").mean(numeric_only=True)
    table = Table(title=f"prioritiser ({args.model}) vs ASReview elas_u4, mean over seeds")
    for column in ["dataset", "N", "loss", "peer loss", "loss ratio", "wss95", "peer wss95", "seconds", "peer s", "speed ratio"]:
        table.add_column(column, justify="right" if column != "dataset" else "left")
    for dataset, row in mine.iterrows():
        p = theirs.loc[dataset]
        peer_seconds = live.loc[dataset, "seconds"] if dataset in live.index else p["seconds"]
        table.add_row(dataset, f"{int(row.n_records)}", f"{row.loss:.4f}", f"{p.loss:.4f}", f"{row.loss / p.loss:.2f}",
                      f"{row.wss95:.3f}", f"{p.wss95:.3f}", f"{row.seconds:.1f}", f"{peer_seconds:.1f}",
                      f"{row.seconds / peer_seconds:.2f}")
    console.print(table)
    runs_ours = ours[ours.tool.str.startswith("prioritiser")]
    console.print(
        f"Mean over {len(runs_ours)} runs: loss {runs_ours.loss.mean():.4f} vs {peer.loss.mean():.4f} "
        f"(ratio {runs_ours.loss.mean() / peer.loss.mean():.3f}, target <= 0.90); "
        f"wss95 {runs_ours.wss95.mean():.4f} vs {peer.wss95.mean():.4f} "
        f"(diff {runs_ours.wss95.mean() - peer.wss95.mean():+.4f}, target >= +0.03); "
        f"worst dataset loss ratio {(mine.loss / theirs.loss.loc[mine.index]).max():.3f} (target <= 1.05)."
    )
    if not live.empty:
        console.print("Speed ratios above use ASReview timed in this run.")
    else:
        console.print("Speed ratios above use the peer file's seconds (ASReview on a 2-core machine); "
                      "pass --asreview to time it in the same run.")


if __name__ == "__main__":
    sys.exit(main())

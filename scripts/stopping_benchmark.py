"""Benchmark the stopping rules and the recall lower bound on every dataset x seed.

For each run a full screening order (every record, priors first) comes from a pluggable
source, then :class:`prioritiser.stopping.simulation.StoppingMonitor` replays it record by
record, exactly as ``prioritiser simulate --stopping`` does: sample-based rules draw their
random certification samples from the not-yet-screened labels with a seeded generator.

Order sources (``--source``):
  simulate  ``prioritiser simulate DATASET --prior-record-ids ... --seed S --all`` (the real engine,
            preset ``--model``, ``default`` unless told)
  orders    read ``ORDERS/<dataset>_seed<S>/order.csv`` (a ``record_id`` column, priors first),
            the layout ``prioritiser simulate --out`` writes
  quick     an in-script TF-IDF + logistic-regression active learner whose batch grows with
            the labelled set (fast; for developing rules, not for reporting the engine)
With ``--orders DIR`` the simulate and quick sources also write their orders there, and reuse
them when already present. Figures to report come from ``--source simulate`` without ``--orders``:
every order is then simulated afresh with the preset as it is at run time.

Per rule: reliability (share of runs with recall >= target at the stop), mean and worst recall
at the stop, mean overshoot ((records screened at the stop - n95) / N, random samples
included) and, for the estimator, the coverage of ``recall_lower_95`` over all checkpoints.

    python scripts/stopping_benchmark.py --source quick --orders /tmp/orders --out stopping.csv
"""

from __future__ import annotations

import argparse
import math
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

BENCH = Path(__file__).resolve().parents[2] / "shared" / "benchmark"


def read_dataset(bench: Path, dataset: str) -> pd.DataFrame:
    frame = pd.read_csv(bench / "datasets" / f"{dataset}.csv.gz", keep_default_na=False)
    frame["text"] = frame["title"].astype(str) + " " + frame["abstract"].astype(str)
    return frame


def quick_order(frame: pd.DataFrame, priors: list[int], seed: int, growth: float = 0.05) -> np.ndarray:
    """Positions in screening order from a TF-IDF + class-balanced logistic regression learner
    that screens the top ``max(1, growth x labelled)`` records between two fits. Once every
    include is found the rest only holds excludes, so it is appended in the last model's order."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    labels = frame["label_included"].to_numpy()
    X = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True, stop_words="english").fit_transform(frame["text"])
    screened = np.zeros(len(labels), dtype=bool)
    screened[priors] = True
    order = list(priors)
    total = int(labels.sum())
    while not screened.all():
        pool = np.flatnonzero(~screened)
        model = LogisticRegression(C=1.0, class_weight="balanced", solver="liblinear", random_state=seed)
        model.fit(X[order], labels[order])
        ranked = pool[np.lexsort((pool, -model.decision_function(X[pool])))]
        take = len(ranked) if labels[order].sum() == total else max(1, int(growth * len(order)))
        picked = ranked[:take]
        order.extend(picked.tolist())
        screened[picked] = True
    return np.asarray(order)


def simulate_order(bench: Path, dataset: str, prior_ids: list[str], seed: int, model: str = "default") -> list[str]:
    from prioritiser.simulate import run_simulation

    result = run_simulation(bench / "datasets" / f"{dataset}.csv.gz", None, prior_ids, seed=seed, model=model,
                            screen_all=True, progress=False)
    return [str(r) for r in result.order]


def get_order(source: str, bench: Path, orders: Path | None, dataset: str, seed: int, prior_ids: list[str],
              model: str = "default") -> np.ndarray:
    """0/1 labels of every record in screening order (priors first)."""
    frame = read_dataset(bench, dataset)
    label_of = dict(zip(frame["record_id"].astype(str), frame["label_included"].astype(int)))
    path = orders / f"{dataset}_seed{seed}" / "order.csv" if orders is not None else None
    if path is not None and path.is_file():
        ids = pd.read_csv(path, dtype=str)["record_id"].tolist()
    elif source == "orders":
        raise SystemExit(f"{path}: no order file (expected a record_id column, priors first)")
    elif source == "simulate":
        ids = simulate_order(bench, dataset, prior_ids, seed, model)
    else:
        position = {rid: i for i, rid in enumerate(frame["record_id"].astype(str))}
        picked = quick_order(frame, [position[p] for p in prior_ids], seed)
        ids = frame["record_id"].astype(str).to_numpy()[picked].tolist()
    if path is not None and not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        pd.DataFrame({"record_id": ids}).to_csv(path, index=False)
    if len(ids) != len(frame) or set(ids) != set(label_of):
        raise SystemExit(f"{dataset} seed {seed}: the order does not list every record exactly once")
    return np.array([label_of[i] for i in ids], dtype=np.int64)


def replay(labels: np.ndarray, n_prior: int, target: float, confidence: float, seed: int) -> tuple[list[dict], list[dict]]:
    """Every rule's stop and the checkpoints of the estimate along one full screening order."""
    from prioritiser.stopping import default_rules
    from prioritiser.stopping.simulation import StoppingMonitor

    monitor = StoppingMonitor(n_total=len(labels), n_prior=n_prior, rules=default_rules(target, confidence), seed=seed)
    for s in range(n_prior, len(labels) + 1):
        monitor.observe(labels[:s], labels[s:])
    return monitor.summary(), monitor.checkpoints


def run_one(task: tuple) -> tuple[list[dict], dict]:
    source, bench, orders, dataset, seed, prior_ids, target, confidence, model = task
    labels = get_order(source, bench, orders, dataset, seed, prior_ids, model)
    n, relevant = len(labels), int(labels.sum())
    n_target = int(np.searchsorted(np.cumsum(labels), math.ceil(target * relevant)) + 1)
    summary, checkpoints = replay(labels, len(prior_ids), target, confidence, seed)
    run = {"dataset": dataset, "seed": seed, "n_records": n, "n_relevant": relevant, "n_target": n_target}
    rows = [{**run, "rule": r["rule"], "default": r["default"], "screened": r["stop_at"], "sampled": r["sampled"],
             "recall": r["recall"], "reached_target": r["recall"] >= target,
             "overshoot": (r["stop_at"] - n_target) / n} for r in summary]
    lower = np.array([c["recall_lower_95"] for c in checkpoints])
    truth = np.array([c["true_recall"] for c in checkpoints])
    point = np.array([c["estimated_recall"] for c in checkpoints])
    estimates = {**run, "checkpoints": len(checkpoints), "lower_bound_covered": int(np.sum(lower <= truth + 1e-12)),
                 "point_abs_error_sum": float(np.abs(point - truth).sum())}
    return rows, estimates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bench", type=Path, default=BENCH)
    parser.add_argument("--source", choices=["simulate", "orders", "quick"], default="simulate")
    parser.add_argument("--model", default="default", help="simulate source: the preset (a name in models/ or a TOML file)")
    parser.add_argument("--orders", type=Path, help="directory of <dataset>_seed<S>/order.csv (read, and written by simulate/quick)")
    parser.add_argument("--datasets", default="", help="comma-separated subset")
    parser.add_argument("--seeds", default="", help="comma-separated subset of the benchmark's seeds")
    parser.add_argument("--target-recall", type=float, default=0.95)
    parser.add_argument("--confidence", type=float, default=0.95)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("stopping_benchmark.csv"), help="CSV, one row per run and rule")
    args = parser.parse_args()

    priors = pd.read_csv(args.bench / "priors.csv")
    if args.datasets:
        priors = priors[priors.dataset.isin(args.datasets.split(","))]
    if args.seeds:
        priors = priors[priors.seed.isin([int(s) for s in args.seeds.split(",")])]
    tasks = [(args.source, args.bench, args.orders, r.dataset, int(r.seed), r.prior_record_ids.split(),
              args.target_recall, args.confidence, args.model) for r in priors.itertuples()]
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        results = list(pool.map(run_one, tasks))
    rules = pd.DataFrame([row for rows, _ in results for row in rows])
    estimates = pd.DataFrame([e for _, e in results])
    rules.to_csv(args.out, index=False)
    estimates.to_csv(args.out.with_name(args.out.stem + "_estimates.csv"), index=False)

    table = Table(title=f"Stopping rules at target recall {args.target_recall:g}, confidence {args.confidence:g} "
                        f"({len(results)} runs, source: {args.source}"
                        f"{f', model {args.model}' if args.source == 'simulate' else ''}"
                        f"{f', orders {args.orders}' if args.orders else ''})")
    for column in ["rule", "reliability", "mean recall", "worst recall", "mean overshoot", "max overshoot", "mean sampled"]:
        table.add_column(column, justify="left" if column == "rule" else "right")
    for rule, group in rules.groupby("rule", sort=False):
        name = rule + (" (default)" if group["default"].iloc[0] else "")
        table.add_row(name, f"{group.reached_target.mean():.3f}", f"{group.recall.mean():.3f}", f"{group.recall.min():.3f}",
                      f"{group.overshoot.mean():.3f}", f"{group.overshoot.max():.3f}", f"{group.sampled.mean():.1f}")
    console = Console(width=140)
    console.print(table)
    total = estimates.checkpoints.sum()
    console.print(f"recall_lower_95 <= true recall at {estimates.lower_bound_covered.sum() / total:.3f} of {total} "
                  f"checkpoints (worst run {(estimates.lower_bound_covered / estimates.checkpoints).min():.3f}); "
                  f"mean |estimated_recall - true recall| {estimates.point_abs_error_sum.sum() / total:.3f}.")
    console.print(f"Per-run rows in {args.out}; estimate coverage per run in "
                  f"{args.out.with_name(args.out.stem + '_estimates.csv')}.")


if __name__ == "__main__":
    sys.exit(main())

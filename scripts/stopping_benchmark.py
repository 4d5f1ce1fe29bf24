"""Benchmark the stopping rules and the recall lower bound on every dataset x seed.

For each run a full screening order (every record, priors first) comes from a pluggable
source, then :class:`prioritiser.stopping.simulation.StoppingMonitor` replays it record by
record, exactly as ``prioritiser simulate --stopping`` does: sample-based rules draw their
random certification samples from the not-yet-screened labels with a seeded generator.

Order sources (``--source``):
  simulate  ``prioritiser simulate DATASET --prior-record-ids ... --seed S --all`` (the real engine)
  orders    read ``ORDERS/<dataset>_seed<S>/order.csv`` (a ``record_id`` column, priors first),
            the layout ``prioritiser simulate --out`` writes
  quick     an in-script TF-IDF + logistic-regression active learner whose batch grows with
            the labelled set (fast; for developing rules, not for reporting the engine)
With ``--orders DIR`` the simulate and quick sources also write their orders there, and reuse
them when already present.

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


def simulate_order(bench: Path, dataset: str, prior_ids: list[str], seed: int) -> list[str]:
    from prioritiser.simulate import run_simulation

    result = run_simulation(bench / "datasets" / f"{dataset}.csv.gz", None, prior_ids, seed=seed, screen_all=True,
                            progress=False)
    return [str(r) for r in result.order]


def get_order(source: str, bench: Path, orders: Path | None, dataset: str, seed: int, prior_ids: list[str]) -> np.ndarray:
    """0/1 labels of every record in screening order (priors first)."""
    frame = read_dataset(bench, dataset)
    label_of = dict(zip(frame["record_id"].astype(str), frame["label_included"].astype(int)))
    path = orders / f"{dataset}_seed{seed}" / "order.csv" if orders is not None else None
    if path is not None and path.is_file():
        ids = pd.read_csv(path, dtype=str)["record_id"].tolist()
    elif source == "orders":
        raise SystemExit(f"{path}: no order file (expected a record_id column, priors first)")
    elif source == "simulate":
        ids = simulate_order(bench, dataset, prior_ids, seed)
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

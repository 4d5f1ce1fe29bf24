"""Benchmark the stopping rules and the recall estimate on every dataset x seed.

For each run a full screening order (every record, priors first) comes from a pluggable
source, then :class:`prioritiser.stopping.simulation.StoppingMonitor` replays it record by
record, exactly as ``prioritiser simulate --stopping`` does, at each target recall.

Order sources (``--source``):
  simulate  the real engine (preset ``--model``, ``default`` unless told) screening every
            record from the benchmark's priors; with ``--cache DIR`` (default
            /tmp/stopping/runs) each run's order and the scores of the unscreened records
            at every refit are kept there as DIR/<model>/<dataset>_seed<S>.npz and reused,
            so rules can be iterated without simulating again (delete the folder after a
            change to the engine)
  orders    read ``ORDERS/<dataset>_seed<S>/order.csv`` (a ``record_id`` column, priors first)
  quick     an in-script TF-IDF + logistic-regression active learner (fast; for developing
            rules, not for reporting the engine)

Reported per target recall (``--targets``, default 0.90, 0.95, 0.99) and rule: reliability
(share of runs with recall >= target at the stop), mean and worst recall at the stop, mean
and worst overshoot ((records screened at the stop - n_target) / N, random samples
included; n_target = records screened when ceil(target x R) includes were found), and the
default rule's overshoot per review (mean over seeds, with min and max). For the estimate
(every N/200 records): the share of checkpoints with ``recall_lower_95`` <= true recall and
the mean absolute error of ``estimated_recall`` from 10% of the records screened on (and
over the checkpoints not flagged ``too_early``). ``--odds`` also reports the leave-one-
review-out choice of the biased-urn odds: for each review, the largest odds in the grid at
which the other reviews keep reliability >= ``--min-reliability`` and worst recall >=
``--min-recall`` at target 0.95, and what that odds gives on the held-out review.

    python scripts/stopping_benchmark.py --source simulate --jobs 2 --odds 1,1.25,1.5,2
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


class ScoreRecorder:
    """Stands in for the stopping monitor of :func:`prioritiser.simulate.simulate`: keeps the
    screening order and, after every refit of the model, the scores and oracle labels of the
    records then unscreened (a refit is seen as scores that are not the last ones minus the
    record just picked). Never done, so the simulation screens every record."""

    done = False

    def __init__(self):
        self.labels = None
        self.at, self.scores, self.truth = [], [], []
        self._last = None

    def observe(self, labels_screened, labels_unscreened, scores_unscreened) -> None:
        self.labels = np.asarray(labels_screened, dtype=np.int8)
        scores = np.asarray(scores_unscreened, dtype=np.float64)
        last = self._last
        refit = last is None or len(last) != len(scores) + 1 or not np.isclose(
            last.sum() - scores.sum(), last.max(), rtol=0, atol=1e-6 * (1 + np.abs(last).sum()))
        if refit and len(scores):
            self.at.append(len(self.labels))
            self.scores.append(scores.astype(np.float32))
            self.truth.append(np.asarray(labels_unscreened, dtype=np.int8))
        self._last = scores


def cached_run(bench: Path, dataset: str, seed: int, prior_ids: list[str], model: str, cache: Path) -> dict:
    """The real engine's screening of (dataset, seed) to the last record, read from ``cache``
    or simulated and written there: ``labels`` (0/1 in screening order, priors first) and,
    at each refit, ``at`` (records screened), ``scores`` and ``truth`` (scores and oracle
    labels of the unscreened records, concatenated; ``at`` and the lengths split them)."""
    path = cache / model / f"{dataset}_seed{seed}.npz"
    if not path.is_file():
        from prioritiser.features import extract_features
        from prioritiser.learning import load_preset
        from prioritiser.simulate import load_dataset, simulate

        config = load_preset(model, {})
        config["seed"] = seed
        frame = load_dataset(bench / "datasets" / f"{dataset}.csv.gz")
        labels = frame["label"].to_numpy()
        position = {rid: i for i, rid in enumerate(frame["record_id"])}
        X = extract_features(config["features"], frame["text"].tolist(), params=config.get("feature_params"),
                             progress=False)
        recorder = ScoreRecorder()
        simulate(X, labels, [position[p] for p in prior_ids], config, screen_all=True, stopping=recorder)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.stem + ".partial.npz")
        np.savez_compressed(partial, labels=recorder.labels, n_prior=len(prior_ids), at=np.asarray(recorder.at),
                            scores=np.concatenate(recorder.scores), truth=np.concatenate(recorder.truth))
        partial.replace(path)
    with np.load(path) as data:
        return {key: data[key] for key in data.files}


def get_order(source: str, bench: Path, orders: Path | None, cache: Path | None, dataset: str, seed: int,
              prior_ids: list[str], model: str = "default") -> np.ndarray:
    """0/1 labels of every record in screening order (priors first)."""
    if source == "simulate" and cache is not None:
        return cached_run(bench, dataset, seed, prior_ids, model, cache)["labels"].astype(np.int64)
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


def replay(labels: np.ndarray, n_prior: int, rules, seed: int, checkpoints: bool) -> tuple[list[dict], list[dict]]:
    """Every rule's stop and (when ``checkpoints``) the estimate's checkpoints along one order."""
    from prioritiser.stopping.simulation import StoppingMonitor

    monitor = StoppingMonitor(n_total=len(labels), n_prior=n_prior, rules=rules, seed=seed,
                              checkpoint_every=None if checkpoints else len(labels) + 1)
    for s in range(n_prior, len(labels) + 1):
        monitor.observe(labels[:s], labels[s:])
        if monitor.done and not checkpoints:
            break
    return monitor.summary(), monitor.checkpoints


def n_at_target(labels: np.ndarray, target: float) -> int:
    """Records screened when ceil(target x R) includes had been found."""
    return int(np.searchsorted(np.cumsum(labels), math.ceil(target * labels.sum() - 1e-9)) + 1)


def first_stop(labels: np.ndarray, n_prior: int, rule) -> int:
    """Records screened when ``rule`` (with a fast ``stops``) first says stop on a ranked order."""
    from prioritiser.stopping import ScreeningHistory

    for s in range(n_prior, len(labels)):
        if rule.stops(ScreeningHistory(len(labels), labels[:s], None, None, n_prior)):
            return s
    return len(labels)


def run_one(task: tuple) -> tuple[list[dict], dict, list[dict]]:
    from prioritiser.stopping import BiasedUrnRule, LowerBoundRule, default_rules

    source, bench, orders, cache, dataset, seed, prior_ids, targets, confidence, model, all_rules, odds_grid = task
    labels = get_order(source, bench, orders, cache, dataset, seed, prior_ids, model)
    n, relevant, n_prior = len(labels), int(labels.sum()), len(prior_ids)
    run = {"dataset": dataset, "seed": seed, "n_records": n, "n_relevant": relevant}
    rows, checkpoints = [], []
    for i, target in enumerate(targets):
        rules = default_rules(target, confidence) if all_rules else [BiasedUrnRule(target, confidence),
                                                                      LowerBoundRule(target, confidence)]
        summary, found = replay(labels, n_prior, rules, seed, checkpoints=i == 0)
        checkpoints = checkpoints or found
        n_target = n_at_target(labels, target)
        rows += [{**run, "target": target, "n_target": n_target, "rule": r["rule"], "default": r["default"],
                  "screened": r["stop_at"], "sampled": r["sampled"], "recall": r["recall"],
                  "reached_target": r["recall"] >= target - 1e-12, "overshoot": (r["stop_at"] - n_target) / n}
                 for r in summary]
    n95 = n_at_target(labels, 0.95)
    grid = []
    for odds in odds_grid:
        stop = first_stop(labels, n_prior, BiasedUrnRule(0.95, confidence, odds))
        recall = labels[:stop].sum() / relevant
        grid.append({**run, "odds": odds, "screened": stop, "recall": recall, "reached_target": recall >= 0.95 - 1e-12,
                     "overshoot": (stop - n95) / n})
    estimates = [{**run, "screened": c["screened"], "share": c["screened"] / n, "true_recall": c["true_recall"],
                  "estimated_recall": c["estimated_recall"], "recall_lower_95": c["recall_lower_95"],
                  "recall_upper": c["recall_upper"], "too_early": c["too_early"]} for c in checkpoints]
    return rows, estimates, grid


def loro(grid: pd.DataFrame, min_reliability: float, min_recall: float) -> pd.DataFrame:
    """Leave-one-review-out choice of the odds: per held-out review, the largest odds whose
    runs on the other reviews meet both criteria, and its result on the held-out review."""
    out = []
    for review in grid.dataset.unique():
        train, test = grid[grid.dataset != review], grid[grid.dataset == review]
        ok = [o for o, g in train.groupby("odds") if g.reached_target.mean() >= min_reliability
              and g.recall.min() >= min_recall - 1e-12]
        odds = max(ok) if ok else min(grid.odds)
        held = test[test.odds == odds]
        out.append({"review": review, "odds": odds, "reliability": held.reached_target.mean(),
                    "worst_recall": held.recall.min(), "mean_overshoot": held.overshoot.mean(),
                    "max_overshoot": held.overshoot.max()})
    return pd.DataFrame(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bench", type=Path, default=BENCH)
    parser.add_argument("--source", choices=["simulate", "orders", "quick"], default="simulate")
    parser.add_argument("--model", default="default", help="simulate source: the preset (a name in models/ or a TOML file)")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/stopping/runs"),
                        help="simulate source: where simulated orders and scores are kept and reused")
    parser.add_argument("--orders", type=Path, help="directory of <dataset>_seed<S>/order.csv (read, and written by quick)")
    parser.add_argument("--datasets", default="", help="comma-separated subset")
    parser.add_argument("--seeds", default="", help="comma-separated subset of the benchmark's seeds")
    parser.add_argument("--targets", default="0.9,0.95,0.99", help="comma-separated target recalls")
    parser.add_argument("--confidence", type=float, default=0.95)
    parser.add_argument("--all-rules", action="store_true", help="replay every registered rule, not only biased-urn and lower-bound")
    parser.add_argument("--odds", default="", help="comma-separated odds grid for the leave-one-review-out choice (target 0.95)")
    parser.add_argument("--min-reliability", type=float, default=0.97)
    parser.add_argument("--min-recall", type=float, default=0.90)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("stopping_benchmark.csv"), help="CSV, one row per run, target and rule")
    args = parser.parse_args()

    priors = pd.read_csv(args.bench / "priors.csv")
    if args.datasets:
        priors = priors[priors.dataset.isin(args.datasets.split(","))]
    if args.seeds:
        priors = priors[priors.seed.isin([int(s) for s in args.seeds.split(",")])]
    targets = [float(t) for t in args.targets.split(",")]
    odds_grid = [float(o) for o in args.odds.split(",") if o]
    tasks = [(args.source, args.bench, args.orders, args.cache, r.dataset, int(r.seed), r.prior_record_ids.split(),
              targets, args.confidence, args.model, args.all_rules, odds_grid) for r in priors.itertuples()]
    console = Console(width=150, markup=False)
    results = []
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        for i, result in enumerate(pool.map(run_one, tasks), 1):
            results.append(result)
            console.print(f"[{i}/{len(tasks)}] {tasks[i - 1][4]} seed {tasks[i - 1][5]}", highlight=False)
    rules = pd.DataFrame([row for rows, _, _ in results for row in rows])
    estimates = pd.DataFrame([e for _, est, _ in results for e in est])
    rules.to_csv(args.out, index=False)
    estimates.to_csv(args.out.with_name(args.out.stem + "_estimates.csv"), index=False)
    source = f"source: {args.source}" + (f", model {args.model}" if args.source == "simulate" else "")

    table = Table(title=f"Stopping rules at confidence {args.confidence:g} ({len(results)} runs, {source})")
    for column in ["target", "rule", "reliability", "mean recall", "worst recall", "mean overshoot", "worst overshoot",
                   "worst review", "mean sampled"]:
        table.add_column(column, justify="left" if column in ("rule", "worst review") else "right")
    for (target, rule), group in rules.groupby(["target", "rule"], sort=False):
        per_review = group.groupby("dataset").overshoot.mean()
        name = rule + (" (default)" if group["default"].iloc[0] else "")
        table.add_row(f"{target:g}", name, f"{group.reached_target.mean():.3f}", f"{group.recall.mean():.3f}",
                      f"{group.recall.min():.3f}", f"{group.overshoot.mean():.3f}", f"{group.overshoot.max():.3f}",
                      f"{per_review.idxmax()} {per_review.max():.3f}", f"{group.sampled.mean():.1f}")
    console.print(table)

    default = rules[rules["default"]]
    per_review = default.groupby(["dataset", "target"]).overshoot.agg(["mean", "min", "max"]).unstack("target")
    table = Table(title="Default rule: overshoot per review, mean over seeds (min to max)")
    table.add_column("review")
    for target in targets:
        table.add_column(f"target {target:g}", justify="right")
    for review, row in per_review.iterrows():
        table.add_row(review, *[f"{row[('mean', t)]:.3f} ({row[('min', t)]:.3f} to {row[('max', t)]:.3f})" for t in targets])
    console.print(table)

    covered = estimates.recall_lower_95 <= estimates.true_recall + 1e-12
    late = estimates.share >= 0.10
    error = (estimates.estimated_recall - estimates.true_recall).abs()
    shown = late & ~estimates.too_early
    per_run = covered.groupby([estimates.dataset, estimates.seed]).mean()
    console.print(f"Estimate, {len(estimates)} checkpoints: recall_lower_95 <= true recall at {covered.mean():.3f} "
                  f"(worst run {per_run.min():.3f}); mean |estimated_recall - true recall| from 10% screened on "
                  f"{error[late].mean():.3f} (worst review {error[late].groupby(estimates.dataset[late]).mean().max():.3f}), "
                  f"over the checkpoints not too early {error[shown].mean():.3f}, before 10% {error[~late].mean():.3f}; "
                  f"too early at {estimates.too_early.mean():.3f} of checkpoints.", highlight=False)

    if odds_grid:
        grid = pd.DataFrame([g for _, _, rows in results for g in rows])
        grid.to_csv(args.out.with_name(args.out.stem + "_odds.csv"), index=False)
        table = Table(title="biased-urn at target 0.95 by odds (all runs)")
        for column in ["odds", "reliability", "worst recall", "mean overshoot", "worst overshoot"]:
            table.add_column(column, justify="right")
        for odds, g in grid.groupby("odds"):
            table.add_row(f"{odds:g}", f"{g.reached_target.mean():.3f}", f"{g.recall.min():.3f}",
                          f"{g.overshoot.mean():.3f}", f"{g.overshoot.max():.3f}")
        console.print(table)
        folds = loro(grid, args.min_reliability, args.min_recall)
        table = Table(title=f"Leave-one-review-out odds (train: reliability >= {args.min_reliability:g}, "
                            f"worst recall >= {args.min_recall:g} at target 0.95)")
        for column in folds.columns:
            table.add_column(column, justify="left" if column == "review" else "right")
        for row in folds.itertuples(index=False):
            table.add_row(row.review, *[f"{v:g}" if isinstance(v, float) and c == "odds" else f"{v:.3f}"
                                        for c, v in zip(folds.columns[1:], row[1:])])
        console.print(table)
        console.print(f"Held out: odds chosen {', '.join(f'{o:g}' for o in sorted(folds.odds.unique()))}; reliability {folds.reliability.mean():.3f} "
                      f"(mean over reviews), mean overshoot {folds.mean_overshoot.mean():.3f} "
                      f"({folds.mean_overshoot.min():.3f} to {folds.mean_overshoot.max():.3f} per review)", highlight=False)
    console.print(f"Per-run rows in {args.out} and *_estimates.csv, *_odds.csv beside it.")


if __name__ == "__main__":
    sys.exit(main())

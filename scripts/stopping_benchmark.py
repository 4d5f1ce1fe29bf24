"""Benchmark the stopping rules and the recall estimate on every dataset x seed.

For each run a full screening order (every record, priors first) comes from a pluggable
source, then :class:`prioritiser.stopping.simulation.StoppingMonitor` replays it record by
record, exactly as ``prioritiser simulate --stopping`` does, at each target recall.

Order sources (``--source``):
  simulate  the real engine (preset ``--model``, ``default`` unless told) screening every
            record from the benchmark's priors; with ``--cache DIR`` (default
            /tmp/stopping/runs) each run's order, every record's score when chosen and the
            scores of the unscreened records at every refit are kept there as DIR/<model>/<dataset>_seed<S>.npz and reused,
            so rules can be iterated without simulating again (delete the folder after a
            change to the engine)
  orders    read ``ORDERS/<dataset>_seed<S>/order.csv`` (a ``record_id`` column, priors first)
  quick     an in-script TF-IDF + logistic-regression active learner (fast; for developing
            rules, not for reporting the engine)

Reported per target recall (``--targets``, default 0.90, 0.95, 0.99) and rule: reliability
(share of runs with recall >= target at the stop), mean and worst recall at the stop, mean
and worst overshoot ((records screened at the stop - n_target) / N, random samples
included; n_target = records screened when ceil(target x R) includes were found), and the
default rule's overshoot per review (mean over seeds, with min and max) beside the evidence at
each review's target point (includes needed, misses then allowed, the excludes in a row after the
last needed include, and the most any rule could overshoot). For the estimate
(every N/200 records): the share of checkpoints with ``recall_lower_95`` <= true recall and
the mean absolute error of ``estimated_recall`` from 10% of the records screened on (and
over the checkpoints not flagged ``too_early``). ``--odds`` (with ``--shares`` and
``--quantiles``) also reports the leave-one-review-out choice of the default rule's
parameters at target 0.95: every odds alone (the biased urn) and with the scaled scores at
each window share and quantile (the urn-and-scores rule; its stop in this grid is the first
record at which both agree, on the simulate source's scores); for each review, the
configuration with the smallest mean overshoot on the other reviews among those keeping
reliability >= ``--min-reliability`` and worst recall >= ``--min-recall``, and what it
gives on the held-out review.

    python scripts/stopping_benchmark.py --source simulate --jobs 2 --odds 1.5,2,3,5 --shares 0.25,0.5,1 \
        --quantiles 0.5,0.8,0.95
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
    screening order, each screened record's score when it was chosen, and after every refit
    of the model the scores of the records then unscreened (a refit is seen as scores that
    are not the last ones minus the records just picked). Never done, so the simulation
    screens every record."""

    done = False

    def __init__(self):
        self.labels = self.chosen = None
        self.at, self.scores = [], []
        self._last = None

    def observe(self, labels_screened, labels_unscreened, scores_unscreened, screened_scores) -> None:
        picked = np.asarray(screened_scores, dtype=np.float64)[len(self.labels) if self.labels is not None else 0:]
        self.labels = np.asarray(labels_screened, dtype=np.int8)
        self.chosen = np.asarray(screened_scores, dtype=np.float64)
        scores = np.asarray(scores_unscreened, dtype=np.float64)
        last = self._last
        refit = last is None or np.isnan(picked).any() or not np.array_equal(_without(np.sort(last)[::-1], picked),
                                                                              np.sort(scores)[::-1])
        if refit and len(scores):
            self.at.append(len(self.labels))
            self.scores.append(scores)
        self._last = scores


def _drop(ordered: np.ndarray, keep: np.ndarray, value: float) -> None:
    """Clear ``keep`` at the first still-kept occurrence of ``value`` in ``ordered`` (if any)."""
    hit = np.flatnonzero((ordered == value) & keep)
    if len(hit):
        keep[hit[0]] = False


def _without(ordered: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``ordered`` (descending) less one occurrence of each of ``values``."""
    keep = np.ones(len(ordered), dtype=bool)
    for v in values:
        _drop(ordered, keep, v)
    return ordered[keep]


def cached_run(bench: Path, dataset: str, seed: int, prior_ids: list[str], model: str, cache: Path) -> dict:
    """The real engine's screening of (dataset, seed) to the last record, read from ``cache``
    or simulated and written there: ``labels`` (0/1 in screening order, priors first),
    ``chosen`` (each record's score when the ranking chose it, NaN for priors and before the
    first model) and, at each refit, ``at`` (records screened) and ``scores`` (the scores of
    the unscreened records, concatenated; ``at`` splits them)."""
    path = cache / model / f"{dataset}_seed{seed}.npz"
    if not path.is_file():
        from prioritiser.learning import Ranker
        from prioritiser.simulate import load_dataset, simulate

        ranker = Ranker.from_preset(model, seed=seed)
        frame = load_dataset(bench / "datasets" / f"{dataset}.csv.gz")
        labels = frame["label"].to_numpy()
        position = {rid: i for i, rid in enumerate(frame["record_id"])}
        X = ranker.extract(frame["text"].tolist(), progress=False)
        recorder = ScoreRecorder()
        simulate(X, labels, [position[p] for p in prior_ids], ranker, screen_all=True, stopping=recorder)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.stem + ".partial.npz")
        np.savez_compressed(partial, labels=recorder.labels, chosen=recorder.chosen, n_prior=len(prior_ids),
                            at=np.asarray(recorder.at), scores=np.concatenate(recorder.scores))
        partial.replace(path)
    with np.load(path) as data:
        return {key: data[key] for key in data.files}


def unscreened_scores(run: dict) -> list[np.ndarray | None]:
    """Per count s of records screened (index s), the scores of the records then unscreened
    under the model in force, best first (None before the first model): the last refit's
    scores less those of the records chosen since."""
    labels, chosen, at = run["labels"], run["chosen"], run["at"]
    blocks = np.split(run["scores"], np.cumsum(len(labels) - at)[:-1])
    out: list[np.ndarray | None] = [None] * (len(labels) + 1)
    for i, (start, block) in enumerate(zip(at, blocks)):
        stop = at[i + 1] if i + 1 < len(at) else len(labels) + 1
        ordered = np.sort(block)[::-1]
        keep = np.ones(len(ordered), dtype=bool)
        for s in range(start, stop):
            if s > start:
                _drop(ordered, keep, chosen[s - 1])
            out[s] = ordered[keep]
    return out


def get_order(source: str, bench: Path, orders: Path | None, cache: Path | None, dataset: str, seed: int,
              prior_ids: list[str], model: str = "default") -> np.ndarray:
    """0/1 labels of every record in screening order (priors first), for the orders and quick sources."""
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


def replay(labels: np.ndarray, n_prior: int, rules, seed: int, checkpoints: bool, tails=None,
           chosen=None) -> tuple[list[dict], list[dict]]:
    """Every rule's stop and (when ``checkpoints``) the estimate's checkpoints along one order;
    ``tails`` and ``chosen`` (from a simulated run) give the rules the scores."""
    from prioritiser.stopping.simulation import StoppingMonitor

    monitor = StoppingMonitor(n_total=len(labels), n_prior=n_prior, rules=rules, seed=seed,
                              checkpoint_every=None if checkpoints else len(labels) + 1)
    for s in range(n_prior, len(labels) + 1):
        monitor.observe(labels[:s], labels[s:], None if tails is None else tails[s],
                        None if chosen is None else chosen[:s])
        if monitor.done and not checkpoints:
            break
    return monitor.summary(), monitor.checkpoints


def includes_needed(labels: np.ndarray, target: float) -> int:
    """ceil(target x R): the includes that make recall ``target``."""
    return math.ceil(target * labels.sum() - 1e-9)


def n_at_target(labels: np.ndarray, target: float) -> int:
    """Records screened when ceil(target x R) includes had been found."""
    return int(np.searchsorted(np.cumsum(labels), includes_needed(labels, target)) + 1)


def target_evidence(labels: np.ndarray, target: float) -> dict:
    """What the labels alone offer at the target point: the includes needed (ceil(target x R)),
    how many more may be missed once they are found (floor(needed / target - needed)), and the
    run of excludes that follows the last needed include (to the next include or the end)."""
    needed = includes_needed(labels, target)
    positions = np.flatnonzero(labels)
    after = (positions[needed] if needed < len(positions) else len(labels)) - positions[needed - 1] - 1
    return {"needed": needed, "allowed_missing": int(math.floor(needed / target - needed + 1e-9)),
            "excludes_after": int(after)}


def history_at(labels: np.ndarray, n_prior: int, s: int, tails, chosen):
    from prioritiser.stopping import ScreeningHistory

    return ScreeningHistory(len(labels), labels[:s], None, None if tails is None else tails[s], n_prior,
                            None if chosen is None else chosen[:s])


def grid_stops(labels: np.ndarray, n_prior: int, target: float, confidence: float, grid: list[tuple], tails,
               chosen) -> dict:
    """Records screened when each (odds, window_share, score_quantile) of ``grid`` first says stop
    at ``target``: the biased urn at that odds alone (window_share None), or the urn-and-scores
    rule with those parameters (:class:`~prioritiser.stopping.UrnAndScoresRule`: the urn at its
    default odds, or the urn at that odds and the scaled scores both; where the scores cannot
    say, the urn at its default odds)."""
    from prioritiser.stopping import BiasedUrnRule
    from prioritiser.stopping.estimate import DEFAULT_ODDS
    from prioritiser.stopping.scores import calibrated, scaled_bound

    n = len(labels)
    urn = {odds: BiasedUrnRule(target, confidence, odds) for odds in {key[0] for key in grid} | {DEFAULT_ODDS}}
    stops = {key: n for key in grid}
    for s in range(n_prior, n):
        open_keys = [key for key in grid if stops[key] == n]
        if not open_keys:
            break
        history = history_at(labels, n_prior, s, tails, chosen)
        urn_says = {odds: urn[odds].stops(history) for odds in {key[0] for key in open_keys}}
        if not any(urn_says.values()):
            continue
        fit, safe = calibrated(history), None
        for odds, share, quantile in open_keys:
            says = urn_says[odds]
            if says and share is not None:
                safe = urn[DEFAULT_ODDS].stops(history) if safe is None else safe
                if fit is None:
                    says = safe
                else:
                    found = history.found
                    says = safe or scaled_bound(*fit, share, quantile)[0] <= found / target - found
            if says:
                stops[(odds, share, quantile)] = s
    return stops


def run_one(task: tuple) -> tuple[list[dict], dict, list[dict]]:
    from prioritiser.stopping import BiasedUrnRule, LowerBoundRule, default_rule, default_rules

    source, bench, orders, cache, dataset, seed, prior_ids, targets, confidence, model, all_rules, grid_keys = task
    tails = chosen = None
    if source == "simulate" and cache is not None:
        simulated = cached_run(bench, dataset, seed, prior_ids, model, cache)
        labels, chosen, tails = simulated["labels"].astype(np.int64), simulated["chosen"], unscreened_scores(simulated)
    else:
        labels = get_order(source, bench, orders, cache, dataset, seed, prior_ids, model)
    n, relevant, n_prior = len(labels), int(labels.sum()), len(prior_ids)
    run = {"dataset": dataset, "seed": seed, "n_records": n, "n_relevant": relevant}
    rows, checkpoints = [], []
    for i, target in enumerate(targets):
        rules = default_rules(target, confidence) if all_rules else [
            default_rule(target, confidence), BiasedUrnRule(target, confidence), LowerBoundRule(target, confidence)]
        summary, found = replay(labels, n_prior, rules, seed, i == 0, tails, chosen)
        checkpoints = checkpoints or found
        n_target = n_at_target(labels, target)
        rows += [{**run, "target": target, "n_target": n_target, **target_evidence(labels, target), "rule": r["rule"],
                  "default": r["default"],
                  "screened": r["stop_at"], "sampled": r["sampled"], "recall": r["recall"],
                  "reached_target": r["recall"] >= target - 1e-12, "overshoot": (r["stop_at"] - n_target) / n}
                 for r in summary]
    grid = []
    for target in targets if grid_keys else []:
        n_target = n_at_target(labels, target)
        for (odds, share, quantile), stop in grid_stops(labels, n_prior, target, confidence, grid_keys, tails,
                                                        chosen).items():
            recall = labels[:stop].sum() / relevant
            grid.append({**run, "target": target, "odds": odds, "window_share": share, "score_quantile": quantile,
                         "screened": stop, "recall": recall, "reached_target": recall >= target - 1e-12,
                         "overshoot": (stop - n_target) / n})
    estimates = [{**run, "screened": c["screened"], "share": c["screened"] / n, "true_recall": c["true_recall"],
                  "estimated_recall": c["estimated_recall"], "recall_lower_95": c["recall_lower_95"],
                  "recall_upper": c["recall_upper"], "too_early": c["too_early"]} for c in checkpoints]
    return rows, estimates, grid


def loro(grid: pd.DataFrame, min_reliability: float, min_recall: float) -> pd.DataFrame:
    """Leave-one-review-out choice of the configuration (odds, window_share, score_quantile):
    per held-out review, the one with the smallest mean overshoot at target 0.95 among those
    whose runs on the other reviews keep reliability >= ``min_reliability`` at every target
    and worst recall >= target - (0.95 - ``min_recall``), and its result on the held-out
    review at each target."""
    out = []
    keys = ["odds", "window_share", "score_quantile"]
    grid = grid.fillna({"window_share": -1.0, "score_quantile": -1.0})  # -1: the urn alone
    slack = 0.95 - min_recall
    for review in grid.dataset.unique():
        train, test = grid[grid.dataset != review], grid[grid.dataset == review]
        ok = {}
        for key, g in train.groupby(keys):
            by_target = g.groupby("target")
            if all(t.reached_target.mean() >= min_reliability and t.recall.min() >= target - slack - 1e-12
                   for target, t in by_target):
                ok[key] = g[np.isclose(g.target, 0.95)].overshoot.mean()
        key = min(ok, key=ok.get) if ok else min(train.groupby(keys).groups)
        held = test[(test[keys] == pd.Series(key, index=keys)).all(axis=1)]
        for target, h in held.groupby("target"):
            out.append({"review": review, "target": target, "odds": key[0], "window_share": key[1],
                        "score_quantile": key[2], "reliability": h.reached_target.mean(),
                        "worst_recall": h.recall.min(), "mean_overshoot": h.overshoot.mean(),
                        "max_overshoot": h.overshoot.max()})
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
    parser.add_argument("--all-rules", action="store_true", help="replay every registered rule, not only the default, biased-urn and lower-bound")
    parser.add_argument("--odds", default="", help="comma-separated odds grid for the leave-one-review-out choice (target 0.95)")
    parser.add_argument("--shares", default="", help="with --odds: comma-separated window shares of the scaled scores "
                                                     "(simulate source); each odds is also tried alone")
    parser.add_argument("--quantiles", default="0.5", help="with --shares: comma-separated Poisson quantiles of the scaled scores")
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
    shares = [float(v) for v in args.shares.split(",") if v]
    quantiles = [float(v) for v in args.quantiles.split(",") if v]
    odds_grid = [(o, None, None) for o in odds_grid] + [(o, w, q) for o in odds_grid for w in shares for q in quantiles]
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

    evidence = default.groupby(["dataset", "target"]).agg(
        n=("n_records", "first"), needed=("needed", "first"), allowed=("allowed_missing", "first"),
        at=("n_target", "mean"), after=("excludes_after", "mean"), overshoot=("overshoot", "mean"))
    table = Table(title="Evidence at the target point per review (mean over seeds): includes needed, misses then allowed, "
                        "where the last needed include lies, the excludes in a row after it, and the most a rule could "
                        "overshoot (stopping at the last record) against the default's overshoot")
    for column in ["review", "target", "needed/R", "allowed", "at (share)", "excludes after (share)", "most overshoot",
                   "default overshoot"]:
        table.add_column(column, justify="left" if column == "review" else "right")
    relevant = default.groupby("dataset").n_relevant.first()
    for (review, target), e in evidence.iterrows():
        table.add_row(review, f"{target:g}", f"{e.needed:.0f}/{relevant[review]}", f"{e.allowed:.0f}", f"{e['at'] / e.n:.3f}",
                      f"{e.after:.1f} ({e.after / e.n:.3f})", f"{1 - e['at'] / e.n:.3f}", f"{e.overshoot:.3f}")
    console.print(table)
    most = (1 - evidence["at"] / evidence.n).groupby("target").mean()
    console.print("Mean of the most a rule could overshoot (stopping at the last record): "
                  + ", ".join(f"{t:g}: {v:.3f}" for t, v in most.items()), highlight=False)

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
        keys = ["odds", "window_share", "score_quantile"]
        table = Table(title="By configuration (all runs; window share '-': the biased urn alone)")
        for column in ["odds", "window share", "quantile"] + [f"{t:g}: {m}" for t in targets
                                                              for m in ("rel.", "worst", "mean ov.", "max ov.")]:
            table.add_column(column, justify="right")
        for key, g in grid.fillna(-1.0).groupby(keys):
            cells = []
            for target in targets:
                t = g[np.isclose(g.target, target)]
                cells += [f"{t.reached_target.mean():.3f}", f"{t.recall.min():.3f}", f"{t.overshoot.mean():.3f}",
                          f"{t.overshoot.max():.3f}"]
            table.add_row(*[f"{v:g}" if v >= 0 else "-" for v in key], *cells)
        console.print(table)
        folds = loro(grid, args.min_reliability, args.min_recall)
        chosen = folds[np.isclose(folds.target, 0.95)].groupby(keys).size()
        console.print(f"Leave-one-review-out (train: reliability >= {args.min_reliability:g} at every target, worst "
                      f"recall >= target - {0.95 - args.min_recall:g}; then the smallest mean overshoot at 0.95): "
                      f"chosen {'; '.join(f'{k} in {n} folds' for k, n in chosen.items())}", highlight=False)
        table = Table(title="Held out, per target (each review scored with the configuration chosen without it)")
        for column in ["target", "reliability", "worst recall", "mean overshoot", "worst overshoot", "worst review"]:
            table.add_column(column, justify="left" if column == "worst review" else "right")
        for target, f in folds.groupby("target"):
            table.add_row(f"{target:g}", f"{f.reliability.mean():.3f}", f"{f.worst_recall.min():.3f}",
                          f"{f.mean_overshoot.mean():.3f}", f"{f.max_overshoot.max():.3f}",
                          f"{f.loc[f.mean_overshoot.idxmax(), 'review']} {f.mean_overshoot.max():.3f}")
        console.print(table)
    console.print(f"Per-run rows in {args.out} and *_estimates.csv, *_odds.csv beside it.")


if __name__ == "__main__":
    sys.exit(main())

"""Simulated screening of a fully labelled dataset: the labels play the reviewer.

The model is a :class:`~prioritiser.learning.Ranker`, the same one ``rank`` uses, and the next
records are chosen by its querier (:meth:`Ranker.select`) as ``rank`` chooses a batch. Between
two retrainings the next records are taken from the latest scores; the model is retrained
after every include found and whenever the records screened since the last fit exceed
``retrain_every`` × the records labelled so far (0 retrains after every record).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from prioritiser.errors import UserError
from prioritiser.learning import Ranker
from prioritiser.metrics import found_curve, screening_metrics
from prioritiser.package_data import data_dir
from prioritiser.progress import progress_bar


def example_dataset() -> Path:
    """The bundled, fully labelled example (``prioritiser/data/example.csv``)."""
    example = data_dir() / "example.csv"
    if not example.is_file():
        raise UserError(f"{example}: the bundled example is missing; reinstall prioritiser")
    return example


@dataclass
class SimulationResult:
    """Positions are 0-based into the dataset; ``order`` holds record ids, priors first."""

    order: list
    labels: np.ndarray
    n_records: int
    n_relevant: int
    metrics: dict
    seconds: float
    n_fits: int
    stopping: list = field(default_factory=list)
    checkpoints: list = field(default_factory=list)


def load_dataset(path: Path) -> pd.DataFrame:
    """A labelled dataset as a frame with record_id, text and label (0/1)."""
    from prioritiser.io import iter_records

    rows = []
    for record in iter_records(path):
        if record.label not in ("include", "exclude"):
            raise UserError(f"{path}, line {record.line}: record has no include/exclude label; a simulation needs every record labelled")
        rows.append((record.source_key or str(record.position), record.text, int(record.label == "include")))
    frame = pd.DataFrame(rows, columns=["record_id", "text", "label"])
    if frame["record_id"].duplicated().any():
        raise UserError(f"{path}: record ids are not unique (e.g. {frame.loc[frame.record_id.duplicated(), 'record_id'].iloc[0]})")
    if frame["label"].sum() == 0:
        raise UserError(f"{path}: no included record; nothing to find")
    return frame


def default_priors(labels: np.ndarray, seed: int) -> list[int]:
    rng = np.random.default_rng(seed)
    return [int(rng.choice(np.flatnonzero(labels == 1))), int(rng.choice(np.flatnonzero(labels == 0)))]


def simulate(X, labels: np.ndarray, priors: list[int], ranker: Ranker, batch: int = 1, screen_all: bool = False,
             stopping=None, report=None) -> tuple[list[int], int, list]:
    """Screen in model order from ``priors`` (positions) until every include is found.

    ``stopping``, when given, is a :class:`~prioritiser.stopping.simulation.StoppingMonitor`:
    it observes each step (labels screened so far in order, the oracle labels and latest
    scores of the unscreened rows) and the simulation runs until its ``done`` (every rule has
    said stop) or nothing is left. Returns the order (positions), the number of model fits
    and the monitor's checkpoints. ``report(screened, total)`` is called after each batch.
    """
    n = len(labels)
    retrain_every = float(ranker.retrain_every)
    screened = np.zeros(n, dtype=bool)
    order: list[int] = list(priors)
    screened[priors] = True
    total_relevant = int(labels.sum())
    found = int(labels[priors].sum())
    scores = None
    at_choice = np.full(n, np.nan)  # each record's score when the ranking chose it (NaN: prior, or no model yet)
    fitted_at, fitted_found, n_fits = -1, -1, 0
    rng = np.random.default_rng(ranker.seed)
    while not screened.all():
        if stopping is None:
            if found == total_relevant and not screen_all:
                break
        elif stopping.done and not screen_all:
            break
        n_lab = len(order)
        stale = n_lab - fitted_at >= max(1.0, retrain_every * n_lab)
        if scores is None or found != fitted_found or stale:
            y = labels[order]
            modelled = 0 < y.sum() < len(y)
            if modelled:
                scores = ranker.fit(X, np.asarray(order), y).decision_function(X)
                n_fits += 1
            else:
                scores = rng.random(n)
            fitted_at, fitted_found = n_lab, found
        pool = np.flatnonzero(~screened)
        picked = pool[ranker.select(scores[pool], batch, n_screened=n_lab)]
        if modelled:
            at_choice[picked] = scores[picked]
        order.extend(picked.tolist())
        screened[picked] = True
        found += int(labels[picked].sum())
        if stopping is not None:
            stopping.observe(labels[order], labels[~screened], scores[~screened], at_choice[order])
        if report is not None:
            report(len(order), n)
    return order, n_fits, getattr(stopping, "checkpoints", [])


def run_simulation(dataset: Path, out: Path | None = None, prior_record_ids: list[str] = (), seed: int | None = None,
                   model: str = "default", overrides: dict | None = None, batch: int = 1, screen_all: bool = False,
                   stopping: bool = False, progress: bool = True, cache_dir: Path | None = None) -> SimulationResult:
    """Load ``dataset``, simulate, and write order.csv, metrics.json and recall.png to ``out``.

    ``seed`` replaces the preset's seed (as ``rank --seed`` does); it also draws the default
    priors (one include and one exclude)."""
    if batch < 1:
        raise UserError(f"--batch must be at least 1 (got {batch})")
    ranker = Ranker.from_preset(model, **(overrides or {}))
    if seed is not None:
        ranker.set_params(seed=seed)
    seed = ranker.seed
    frame = load_dataset(Path(dataset))
    labels = frame["label"].to_numpy()
    position_of = {rid: i for i, rid in enumerate(frame["record_id"])}
    if prior_record_ids:
        unknown = [p for p in prior_record_ids if p not in position_of]
        if unknown:
            raise UserError(f"{dataset}: no record with id {unknown[0]} (--prior-record-ids)")
        priors = [position_of[p] for p in prior_record_ids]
    else:
        priors = default_priors(labels, seed)
    start = time.perf_counter()
    X = ranker.extract(frame["text"].tolist(), cache_dir=cache_dir, progress=progress)
    rules = None
    if stopping:
        from prioritiser.stopping.simulation import StoppingMonitor

        rules = StoppingMonitor(n_total=len(labels), n_prior=len(priors))
    with progress_bar("Simulating screening (records screened)", progress) as report:
        order, n_fits, checkpoints = simulate(X, labels, priors, ranker, batch, screen_all, rules, report)
    seconds = time.perf_counter() - start
    result = SimulationResult(
        order=frame["record_id"].iloc[order].tolist(), labels=labels[order], n_records=len(labels),
        n_relevant=int(labels.sum()), metrics=screening_metrics(labels[order], len(labels), int(labels.sum())),
        seconds=seconds, n_fits=n_fits, stopping=rules.summary() if rules else [], checkpoints=checkpoints,
    )
    if out is not None:
        write_outputs(result, Path(out), ranker.get_params())
    return result


def write_outputs(result: SimulationResult, out: Path, config: dict) -> None:
    """order.csv, metrics.json, recall.png (and stopping.json when stopping was simulated)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"record_id": result.order}).to_csv(out / "order.csv", index=False)
    metrics = {**result.metrics, "seconds": round(result.seconds, 3), "model_fits": result.n_fits,
               "preset": config.get("preset"), "seed": config.get("seed")}
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    if result.stopping:
        (out / "stopping.json").write_text(json.dumps(result.stopping, indent=2))
    found = found_curve(result.labels, result.n_records, result.n_relevant)
    x = np.arange(1, result.n_records + 1)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.plot(x, found / result.n_relevant, label=f"prioritiser ({config.get('preset')})")
    ax.plot(x, x / result.n_records, linestyle="--", color="grey", label="random screening (expected)")
    ax.axhline(0.95, color="tab:red", linewidth=0.8, linestyle=":", label="95% recall")
    ax.set_xlabel("records screened")
    ax.set_ylabel("recall (share of includes found)")
    ax.set_title(f"WSS@95 {result.metrics['wss95']:.3f}   loss {result.metrics['loss']:.3f}")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(out / "recall.png", dpi=110)
    plt.close(fig)

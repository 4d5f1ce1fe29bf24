"""One screening iteration on a project: train on the decisions in force, rank the unscreened
records, estimate recall, store the iteration and hand out the next batch.

Units: everything here works on duplicate *groups* (a group is screened once); a group is
named by its ``group_id``, the smallest record id in it, which is also the ``record_id`` a
batch file carries.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from prioritiser.errors import UserError
from prioritiser.project import Iteration, Project, config_hash, now_iso
from prioritiser.records import EXCLUDE, INCLUDE

BATCH_COLUMNS = ["record_id", "title", "abstract", "authors", "year", "doi", "score", "rank", "label"]


@dataclass
class ScreeningState:
    """Groups, their texts and the decisions in force up to one label event.

    ``screened_order`` lists screened groups in the order of their first decision.
    """

    group_ids: np.ndarray
    texts: list[str]
    decisions: dict[int, str]
    screened_order: list[int]
    last_event_id: int

    @property
    def training(self) -> tuple[np.ndarray, np.ndarray]:
        """Positions (into ``group_ids``) and 0/1 labels of groups decided include/exclude."""
        position = {g: i for i, g in enumerate(self.group_ids.tolist())}
        pairs = [(position[g], d == INCLUDE) for g, d in self.decisions.items() if d in (INCLUDE, EXCLUDE)]
        pairs.sort()
        idx = np.fromiter((p for p, _ in pairs), dtype=np.int64, count=len(pairs))
        y = np.fromiter((int(v) for _, v in pairs), dtype=np.int64, count=len(pairs))
        return idx, y

    @property
    def unscreened(self) -> np.ndarray:
        """Positions of groups with no decision in force ('maybe' counts as screened)."""
        return np.flatnonzero([g not in self.decisions for g in self.group_ids.tolist()])


def screening_state(project: Project, up_to_event: int | None = None) -> ScreeningState:
    last = project.last_event_id() if up_to_event is None else up_to_event
    group_ids, texts = project.group_texts()
    decisions = project.group_decisions(last)
    first_seen: dict[int, None] = {}
    for (group,) in project.con.execute(
        "SELECT r.group_id FROM label_events e JOIN records r USING (record_id) WHERE e.event_id <= ? ORDER BY e.event_id",
        (last,),
    ):
        first_seen.setdefault(group, None)
    return ScreeningState(group_ids, texts, decisions, list(first_seen), last)


def compute_ranking(
    project: Project,
    config: dict,
    state: ScreeningState | None = None,
    up_to_event: int | None = None,
    query: str | None = None,
    progress: bool = True,
) -> tuple[np.ndarray, np.ndarray, dict]:
    """Rank the unscreened groups with ``config`` (which holds its seed).

    Returns group ids highest score first, their scores, and timings in seconds. Ties are
    broken by group id, so the same labels, configuration and seed give the same ranking.
    """
    from prioritiser.features import extract_features
    from prioritiser.learning import rank_by_query, score_pool

    state = state or screening_state(project, up_to_event)
    timings: dict[str, float] = {}
    pool = state.unscreened
    if len(pool) == 0:
        raise UserError(f"{project.path}: every record has a decision; nothing is left to rank")
    idx, y = state.training
    start = time.perf_counter()
    if y.sum() >= 1 and (y == 0).sum() >= 1:
        X = extract_features(config["features"], state.texts, cache_dir=project.path / "cache",
                             params=config.get("feature_params"), progress=progress)
        timings["features_s"] = time.perf_counter() - start
        start = time.perf_counter()
        scores = np.asarray(score_pool(X, idx, y, config, seed=config["seed"]), dtype=np.float64)[pool]
        timings["model_s"] = time.perf_counter() - start
    elif query:
        scores = np.asarray(rank_by_query(query, [state.texts[i] for i in pool], config), dtype=np.float64)
        timings["query_s"] = time.perf_counter() - start
    else:
        raise UserError(
            f"{project.path}: training needs at least one include and one exclude "
            f"(now {int(y.sum())} includes, {int((y == 0).sum())} excludes); label more with 'prioritiser label', "
            "or rank by similarity to your research question with --query \"...\""
        )
    groups = state.group_ids[pool]
    order = np.lexsort((groups, -scores))
    return groups[order], scores[order], timings


def screening_history(project: Project, state: ScreeningState, scores: np.ndarray | None = None):
    """The screening so far as the stopping rules read it (maybe counts as relevant).

    Priors (``n_prior``) are the groups decided before the first ranking existed, i.e. with a
    first decision no later than the first iteration's last label event: no ranking chose
    them, so the ranked-window tests leave them out. Before any iteration every decision is
    a prior."""
    from prioritiser.stopping import ScreeningHistory

    random_groups = {int(g) for b in project.batches("random") for g in b["group_ids"]}
    labels = [0 if state.decisions[g] == EXCLUDE else 1 for g in state.screened_order]
    iterations = project.iterations()
    prior_until = state.last_event_id if not iterations else min(iterations[0].last_event_id, state.last_event_id)
    (n_prior,) = project.con.execute(
        "SELECT COUNT(DISTINCT r.group_id) FROM label_events e JOIN records r USING (record_id) WHERE e.event_id <= ?",
        (prior_until,),
    ).fetchone()
    return ScreeningHistory(
        n_total=len(state.group_ids),
        labels=np.asarray(labels, dtype=np.int64),
        sampled_randomly=np.asarray([g in random_groups for g in state.screened_order], dtype=bool),
        scores=scores,
        n_prior=min(int(n_prior), len(labels)),
    )


def stopping_estimates(project: Project, state: ScreeningState, scores: np.ndarray | None, rules=None) -> dict:
    """Recall estimate and every stopping rule's verdict, JSON-ready."""
    from prioritiser.stopping import default_rules, estimate, evaluate_all

    history = screening_history(project, state, scores)
    return {"estimate": estimate(history), "rules": evaluate_all(history, rules or default_rules())}


@dataclass
class RankResult:
    iteration_id: int
    config: dict
    n_ranked: int
    batch: pd.DataFrame
    estimates: dict
    timings: dict
    used_query: bool


def batch_frame(project: Project, group_ids: np.ndarray, scores: np.ndarray | None, ranks: np.ndarray | None) -> pd.DataFrame:
    """Rows for a batch file: the group's representative record, an empty label column."""
    ids = [int(g) for g in group_ids]
    if not ids:
        return pd.DataFrame(columns=BATCH_COLUMNS)
    placeholders = ",".join("?" * len(ids))
    frame = pd.read_sql_query(
        f"SELECT record_id, title, abstract, authors, year, doi FROM records WHERE record_id IN ({placeholders})",
        project.con, params=ids,
    ).set_index("record_id").loc[ids].reset_index()
    frame["year"] = frame["year"].astype("Int64")
    frame["score"] = np.round(scores, 6) if scores is not None else np.nan
    frame["rank"] = ranks if ranks is not None else pd.NA
    frame["label"] = ""
    return frame[BATCH_COLUMNS]


def write_batch(frame: pd.DataFrame, out: Path) -> None:
    from prioritiser.io import write_table

    write_table(frame, out)


def rank_project(
    project: Project,
    model: str = "default",
    overrides: dict | None = None,
    batch: int = 50,
    out: Path | None = None,
    query: str | None = None,
    seed: int | None = None,
    progress: bool = True,
) -> RankResult:
    """Retrain on the decisions in force, rank every unscreened group, store the iteration
    (configuration, counts, timings, full ranking, recall estimates) and write the top
    ``batch`` groups to ``out`` (.csv, .tsv, .xlsx or .ris) when given."""
    from prioritiser.learning import load_preset

    if batch < 1:
        raise UserError(f"--batch must be at least 1 (got {batch})")
    config = load_preset(model, overrides or {})
    if seed is not None:
        config["seed"] = seed
    state = screening_state(project)
    start = time.perf_counter()
    groups, scores, timings = compute_ranking(project, config, state=state, query=query, progress=progress)
    used_query = "query_s" in timings
    if used_query:
        config = {**config, "query": query}
    estimates = stopping_estimates(project, state, None if used_query else scores)
    timings["total_s"] = time.perf_counter() - start
    _, y = state.training
    top = groups[:batch]
    frame = batch_frame(project, top, scores[:batch], np.arange(1, len(top) + 1))
    with project.write():  # the iteration and the batch it hands out are stored together or not at all
        iteration_id = project.add_iteration(Iteration(
            iteration_id=0, created_at=now_iso(), kind="query" if used_query else "rank", config=config,
            config_hash=config_hash(config), seed=int(config["seed"]), last_event_id=state.last_event_id,
            n_labelled=len(state.decisions), n_included=int(y.sum()), n_excluded=int((y == 0).sum()),
            timings=timings, estimates=estimates, group_ids=groups, scores=scores,
        ))
        project.add_batch("ranked", top, seed=int(config["seed"]), iteration_id=iteration_id)
    if out is not None:
        write_batch(frame, out)
    return RankResult(iteration_id, config, len(groups), frame, estimates, timings, used_query)

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
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from prioritiser.batches import batch_frame, hand_out
from prioritiser.errors import UserError
from prioritiser.records import EXCLUDE, INCLUDE
from prioritiser.store import Iteration, Project, config_hash, now_iso

if TYPE_CHECKING:  # the model (scikit-learn) loads only when something is ranked, not for status/stop
    from prioritiser.learning import Ranker


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
    return ScreeningState(group_ids, texts, project.group_decisions(last), project.screening_order(last), last)


@dataclass
class Ranking:
    """The unscreened groups highest score first (ties by group id), their scores, the groups
    of the next batch in the order to screen them with their 1-based places in the ranking,
    and timings in seconds."""

    group_ids: np.ndarray
    scores: np.ndarray
    batch: np.ndarray
    batch_ranks: np.ndarray
    timings: dict

    @property
    def used_query(self) -> bool:
        return "query_s" in self.timings


def compute_ranking(
    project: Project,
    ranker: Ranker,
    state: ScreeningState | None = None,
    up_to_event: int | None = None,
    query: str | None = None,
    batch: int = 0,
    progress: bool = True,
) -> Ranking:
    """Rank the unscreened groups with ``ranker`` and choose the next ``batch`` of them with its
    querier, as a simulation from the same labels would.

    Before any include/exclude pair exists, ``query`` (a research question) ranks by
    similarity to it, and the batch is the most similar groups.
    """
    state = state or screening_state(project, up_to_event)
    timings: dict[str, float] = {}
    pool = state.unscreened
    if len(pool) == 0:
        raise UserError(f"{project.path}: every record has a decision; nothing is left to rank")
    idx, y = state.training
    start = time.perf_counter()
    if y.sum() >= 1 and (y == 0).sum() >= 1:
        X = ranker.extract(state.texts, cache_dir=project.path / "cache", progress=progress)
        timings["features_s"] = time.perf_counter() - start
        start = time.perf_counter()
        rows, scores = ranker.fit(X, idx, y).rank(X, pool, batch)
        chosen = np.searchsorted(pool, rows)  # positions into the pool (which is sorted)
        timings["model_s"] = time.perf_counter() - start
    elif query:
        scores = np.asarray(ranker.similarity_scores(query, [state.texts[i] for i in pool]), dtype=np.float64)
        timings["query_s"] = time.perf_counter() - start
    else:
        raise UserError(
            f"{project.path}: training needs at least one include and one exclude "
            f"(now {int(y.sum())} includes, {int((y == 0).sum())} excludes); label more with 'prioritiser label', "
            "or rank by similarity to your research question with --query \"...\""
        )
    groups = state.group_ids[pool]
    order = np.lexsort((groups, -scores))
    if "query_s" in timings:
        chosen = order[:batch]  # the most similar to the question
    place = np.empty(len(order), dtype=np.int64)
    place[order] = np.arange(1, len(order) + 1)
    return Ranking(groups[order], scores[order], groups[chosen], place[chosen], timings)


def screening_history(project: Project, state: ScreeningState | None = None, scores: np.ndarray | None = None,
                      up_to_event: int | None = None):
    """The screening so far (up to ``state``'s last label event, else ``up_to_event``, else the
    latest) as the stopping rules read it (maybe counts as relevant).

    Priors (``n_prior``) are the groups decided before the first ranking existed, i.e. with a
    first decision no later than the first iteration's last label event: no ranking chose
    them, so the ranked-window tests leave them out. Before any iteration every decision is
    a prior.

    A group counts as randomly sampled only when it belongs to a certification sample (a
    ``random`` batch not marked void) and its first decision came in while that sample was
    the open batch: after the sample was handed out and no later than the next batch was
    (handing out a ranked batch closes an open sample)."""
    from prioritiser.stopping import ScreeningHistory

    if state is not None:
        last, n_total, decisions = state.last_event_id, len(state.group_ids), state.decisions
    else:
        last = project.last_event_id() if up_to_event is None else up_to_event
        n_total, decisions = len(project.group_ids()), project.group_decisions(last)
    first = project.first_decisions(last)
    sampled = randomly_sampled(project, first)
    iterations = project.iterations()
    prior_until = last if not iterations else min(iterations[0].last_event_id, last)
    return ScreeningHistory(
        n_total=n_total,
        labels=np.asarray([0 if decisions[g] == EXCLUDE else 1 for g in first], dtype=np.int64),
        sampled_randomly=np.asarray([g in sampled for g in first], dtype=bool),
        scores=scores,
        n_prior=sum(e <= prior_until for e in first.values()),
    )


def randomly_sampled(project: Project, first_decisions: dict[int, int]) -> set[int]:
    """Groups (of ``first_decisions``: group -> event id of its first decision) that count as
    randomly sampled: see :func:`screening_history`."""
    sampled: set[int] = set()
    for batch in project.batches("random"):
        if batch["void"]:
            continue
        start, end = batch["last_event_id"], batch["closed_at_event"]
        for g in project.current_groups(batch["group_ids"]):
            e = first_decisions.get(g)
            if e is not None and e > start and (end is None or e <= end):
                sampled.add(g)
    return sampled


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
    """Retrain on the decisions in force, rank every unscreened group, choose the next
    ``batch`` with the preset's querier, and store the iteration (configuration, counts,
    timings, full ranking, recall estimates) with that batch, written to ``out`` (.csv, .tsv,
    .xlsx or .ris) when given. ``seed`` replaces the preset's seed."""
    if batch < 1:
        raise UserError(f"--batch must be at least 1 (got {batch})")
    overrides = dict(overrides or {})
    if seed is not None:
        overrides["seed"] = seed
    from prioritiser.learning import Ranker

    ranker = Ranker.from_preset(model, **overrides)
    state = screening_state(project)
    start = time.perf_counter()
    ranking = compute_ranking(project, ranker, state=state, query=query, batch=batch, progress=progress)
    config = ranker.get_params()
    if ranking.used_query:
        config["query"] = query
    timings = ranking.timings
    estimates = stopping_estimates(project, state, None if ranking.used_query else ranking.scores)
    timings["total_s"] = time.perf_counter() - start
    _, y = state.training
    frame = batch_frame(project, ranking.batch, ranking.scores[ranking.batch_ranks - 1], ranking.batch_ranks)
    handed = hand_out(project, "ranked", frame, seed=ranker.seed, out=out, iteration=Iteration(
        iteration_id=0, created_at=now_iso(), kind="query" if ranking.used_query else "rank", config=config,
        config_hash=config_hash(config), seed=ranker.seed, last_event_id=state.last_event_id,
        n_labelled=len(state.decisions), n_included=int(y.sum()), n_excluded=int((y == 0).sum()),
        timings=timings, estimates=estimates, group_ids=ranking.group_ids, scores=ranking.scores,
    ))
    return RankResult(handed.iteration_id, config, len(ranking.group_ids), frame, estimates, timings,
                      ranking.used_query)

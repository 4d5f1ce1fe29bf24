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

from prioritiser.batches import batch_frame, check_output, default_batch_file, hand_out
from prioritiser.errors import UserError
from prioritiser.progress import step
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
    timings in seconds, and (when asked for) why each group of the batch ranks where it does
    (:func:`explanation_frame`)."""

    group_ids: np.ndarray
    scores: np.ndarray
    batch: np.ndarray
    batch_ranks: np.ndarray
    timings: dict
    explanations: pd.DataFrame | None = None

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
    explain: bool = False,
) -> Ranking:
    """Rank the unscreened groups with ``ranker`` and choose the next ``batch`` of them with its
    querier, as a simulation from the same labels would; with ``explain``, say why each group
    of the batch ranks where it does.

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
        with step(f"Extracting features ({ranker.features}) of {len(state.texts):,} records", progress):
            X = ranker.extract(state.texts, cache_dir=project.path / "cache", progress=progress)
        timings["features_s"] = time.perf_counter() - start
        start = time.perf_counter()
        with step(f"Fitting on {len(y):,} decisions and scoring {len(pool):,} records", progress):
            rows, scores = ranker.fit(X, idx, y).rank(X, pool, batch)
        chosen = np.searchsorted(pool, rows)  # positions into the pool (which is sorted)
        timings["model_s"] = time.perf_counter() - start
    elif query:
        with step(f"Ranking {len(pool):,} records by similarity to the question", progress):
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
    explanations = None
    if explain:
        start = time.perf_counter()
        rows = pool[chosen]
        reasons = None if "query_s" in timings else ranker.explain(X, rows, [state.texts[i] for i in rows], idx, y)
        explanations = explanation_frame(state, place[chosen], len(pool), reasons)
        timings["explain_s"] = time.perf_counter() - start
    return Ranking(groups[order], scores[order], groups[chosen], place[chosen], timings, explanations)


#: Columns :func:`explanation_frame` adds to a batch file or export (see :mod:`prioritiser.learning.explain`).
EXPLANATION_COLUMNS = ["percentile", "top_terms", "similar_include_id", "similar_include_title"]


def explanation_frame(state: ScreeningState | None, ranks, n_ranked: int, reasons: dict | None) -> pd.DataFrame:
    """Rows (one per ranked group, in the order of ``ranks``) of :data:`EXPLANATION_COLUMNS`:
    the percentile of each group among the ``n_ranked`` unscreened groups, and from
    ``reasons`` (:meth:`Ranker.explain` on ``state``'s texts; None for a query ranking: no
    model to explain) the terms that pushed it up and the most similar include (its group id
    and title)."""
    from prioritiser.learning.explain import percentiles

    frame = pd.DataFrame({"percentile": percentiles(ranks, n_ranked)})
    if reasons is None:
        frame["top_terms"] = ""
        frame["similar_include_id"] = pd.array([pd.NA] * len(frame), dtype="Int64")
        frame["similar_include_title"] = ""
        return frame
    similar = reasons["similar_include"]
    frame["top_terms"] = reasons["top_terms"]
    frame["similar_include_id"] = pd.array(state.group_ids[similar], dtype="Int64")
    frame["similar_include_title"] = [state.texts[i].partition("\n")[0] for i in similar]
    return frame


def screening_history(project: Project, state: ScreeningState | None = None, scores: np.ndarray | None = None,
                      up_to_event: int | None = None, iterations: list[Iteration] | None = None):
    """The screening so far (up to ``state``'s last label event, else ``up_to_event``, else the
    latest) as the stopping rules read it (maybe counts as relevant).

    Priors (``n_prior``) are the groups decided before the first ranking existed, i.e. with a
    first decision no later than the first iteration's last label event: no ranking chose
    them, so the ranked-window tests leave them out. Before any iteration every decision is
    a prior.

    A group counts as randomly sampled only when it belongs to a certification sample (a
    ``random`` batch not marked void) and its first decision came in while that sample was
    the open batch: after the sample was handed out and no later than the next batch was
    (handing out a ranked batch closes an open sample).

    Scores: each screened group's score in the ranking in force at its first decision (the
    newest iteration stored before that decision; NaN for priors, random draws, groups a
    query ranking chose and groups that ranking lacked), and ``scores`` of the unscreened
    groups: as given (a ranking just computed), else the newest stored ranking's, when it
    covers every unscreened group. ``iterations``: the project's iterations with their
    rankings, when already read."""
    from prioritiser.stopping import ScreeningHistory

    if state is not None:
        last, n_total, decisions = state.last_event_id, len(state.group_ids), state.decisions
    else:
        last = project.last_event_id() if up_to_event is None else up_to_event
        n_total, decisions = len(project.group_ids()), project.group_decisions(last)
    first = project.first_decisions(last)
    sampled = randomly_sampled(project, first)
    iterations = project.iterations(with_ranking=True) if iterations is None else iterations
    iterations = [it for it in iterations if it.last_event_id <= last]
    prior_until = last if not iterations else min(iterations[0].last_event_id, last)
    if scores is None and iterations and iterations[-1].kind == "rank":
        newest = iterations[-1]
        unscreened = ~np.isin(newest.group_ids, np.fromiter(first, dtype=np.int64, count=len(first)))
        scores = newest.scores[unscreened] if unscreened.sum() == n_total - len(first) else None
    return ScreeningHistory(
        n_total=n_total,
        labels=np.asarray([0 if decisions[g] == EXCLUDE else 1 for g in first], dtype=np.int64),
        sampled_randomly=np.asarray([g in sampled for g in first], dtype=bool),
        scores=scores,
        n_prior=sum(e <= prior_until for e in first.values()),
        screened_scores=scores_at_choice(iterations, first, sampled),
    )


def scores_at_choice(iterations: list[Iteration], first: dict[int, int], sampled: set[int]) -> np.ndarray:
    """Per group of ``first`` (group -> event of its first decision, in that order), its score in
    the ranking in force at that event: the newest of ``iterations`` (with rankings, oldest
    first) whose last label event came before it. NaN where there was none, where it was a
    query ranking or lacked the group, and for the ``sampled`` groups (a random draw, not the
    ranking, chose them)."""
    groups = np.fromiter(first, dtype=np.int64, count=len(first))
    events = np.fromiter(first.values(), dtype=np.int64, count=len(first))
    out = np.full(len(groups), np.nan)
    in_force = np.searchsorted([it.last_event_id for it in iterations], events, side="left") - 1
    for j in np.unique(in_force[in_force >= 0]):
        it = iterations[j]
        if it.kind != "rank":
            continue
        rows = np.flatnonzero(in_force == j)
        where = pd.Index(it.group_ids).get_indexer(groups[rows])
        found = where >= 0
        out[rows[found]] = it.scores[where[found]]
    if sampled:
        out[np.isin(groups, np.fromiter(sampled, dtype=np.int64, count=len(sampled)))] = np.nan
    return out


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
    """What :func:`rank_project` stored and handed out: the iteration, the batch (its id, its
    rows as written, the file it was written to)."""

    iteration_id: int
    config: dict
    n_ranked: int
    batch: pd.DataFrame
    estimates: dict
    timings: dict
    used_query: bool
    batch_id: int | None = None
    batch_file: Path | None = None


def rank_project(
    project: Project,
    model: str = "default",
    overrides: dict | None = None,
    batch: int = 50,
    out: Path | None = None,
    query: str | None = None,
    seed: int | None = None,
    progress: bool = True,
    write_file: bool = True,
) -> RankResult:
    """Retrain on the decisions in force, rank every unscreened group, choose the next
    ``batch`` with the preset's querier, and store the iteration (configuration, counts,
    timings, full ranking, recall estimates) with that batch (``write_file=False``: stored
    only, as the screening page shows it record by record), written to ``out`` (.csv, .tsv,
    .xlsx or .ris), by default to ``DIR/batches/batch-NNNN.csv`` (NNNN: the batch id). Each
    row says why it ranks there (:data:`EXPLANATION_COLUMNS`). ``seed`` replaces the preset's
    seed.

    Every argument is checked before anything is computed or stored: a wrong one is a
    one-line :class:`UserError` and leaves the project as it was."""
    if batch < 1:
        raise UserError(f"--batch must be at least 1 (got {batch})")
    if out is not None:
        check_output(out)
    if query is not None and not query.strip():
        raise UserError("--query is empty: give the research question, e.g. --query \"virus metagenomics in pigs\"")
    from prioritiser.learning import Ranker

    ranker = Ranker.from_preset(model, **(overrides or {}))
    if seed is not None:
        ranker.set_params(seed=seed)
    with step("Reading the project", progress):
        state = screening_state(project)
    start = time.perf_counter()
    ranking = compute_ranking(project, ranker, state=state, query=query, batch=batch, progress=progress, explain=True)
    config = ranker.get_params()
    if ranking.used_query:
        config["query"] = query
    timings = ranking.timings
    with step("Estimating recall", progress):
        estimates = stopping_estimates(project, state, None if ranking.used_query else ranking.scores)
    timings["total_s"] = time.perf_counter() - start
    _, y = state.training
    frame = batch_frame(project, ranking.batch, ranking.scores[ranking.batch_ranks - 1], ranking.batch_ranks)
    frame = with_explanations(frame, ranking.explanations)
    batch_file = None
    if write_file:
        batch_file = out if out is not None else lambda batch_id: default_batch_file(project, batch_id)
    handed = hand_out(project, "ranked", frame, seed=ranker.seed, out=batch_file, iteration=Iteration(
        iteration_id=0, created_at=now_iso(), kind="query" if ranking.used_query else "rank", config=config,
        config_hash=config_hash(config), seed=ranker.seed, last_event_id=state.last_event_id,
        n_labelled=len(state.decisions), n_included=int(y.sum()), n_excluded=int((y == 0).sum()),
        timings=timings, estimates=estimates, group_ids=ranking.group_ids, scores=ranking.scores,
    ))
    return RankResult(handed.iteration_id, config, len(ranking.group_ids), frame, estimates, timings,
                      ranking.used_query, handed.batch_id, handed.path)


def with_explanations(frame: pd.DataFrame, explanations: pd.DataFrame | None) -> pd.DataFrame:
    """``frame`` (rows of a batch file) with :data:`EXPLANATION_COLUMNS` before its ``label`` column."""
    if explanations is None or frame.empty:
        return frame
    columns = [c for c in frame.columns if c != "label"]
    explained = pd.concat([frame[columns].reset_index(drop=True), explanations.reset_index(drop=True)], axis=1)
    explained["label"] = frame["label"].to_numpy()
    return explained


#: How many groups from the front of a ranking :func:`explain_iteration` explains with terms
#: and the most similar include (each costs a re-analysis of its text); every ranked group
#: gets its percentile. The front is where a wrongly labelled include shows first.
EXPLAINED_GROUPS = 1000


def explain_iteration(project: Project, iteration: Iteration, limit: int = EXPLAINED_GROUPS,
                      progress: bool = True) -> pd.DataFrame:
    """:data:`EXPLANATION_COLUMNS` for every group ``iteration`` ranked (index: group id): its
    percentile, and for the first ``limit`` groups the terms and most similar include of the
    iteration's model, refitted from its stored configuration and the decisions it was fitted
    on (a query ranking has no model: percentiles only)."""
    n = len(iteration.group_ids)
    frame = explanation_frame(None, np.arange(1, n + 1), n, None)
    frame.index = pd.Index(iteration.group_ids, name="group_id")
    if iteration.kind == "query" or n == 0:
        return frame
    from prioritiser.learning import Ranker

    ranker = Ranker.from_config(iteration.config)
    state = screening_state(project, iteration.last_event_id)
    idx, y = state.training
    with step(f"Refitting iteration {iteration.iteration_id}'s model to explain its ranking", progress):
        X = ranker.extract(state.texts, cache_dir=project.path / "cache", progress=progress)
        ranker.fit(X, idx, y)
    front = iteration.group_ids[:limit]
    rows = pd.Index(state.group_ids).get_indexer(front)
    kept = rows >= 0  # a group merged into another since the iteration is left unexplained
    with step(f"Explaining the top {len(front):,} records", progress):
        reasons = ranker.explain(X, rows[kept], [state.texts[i] for i in rows[kept]], idx, y)
        explained = explanation_frame(state, np.flatnonzero(kept) + 1, n, reasons)
    explained.index = pd.Index(front[kept], name="group_id")
    frame.loc[explained.index, EXPLANATION_COLUMNS[1:]] = explained[EXPLANATION_COLUMNS[1:]]
    return frame

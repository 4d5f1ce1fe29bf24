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
from typing import TYPE_CHECKING, Callable

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


#: Pools of at least this many unscreened groups are scored on the Ray cluster when ``rank``
#: is given one (``--ray``): from about here the pool's feature matrix and texts no longer sit
#: comfortably in a driver (1.5 KiB of MiniLM features and about 1 KiB of text a record:
#: 2.5 GiB at 1M), and the cluster's fixed cost is small beside the embedding (docs/scale.md:
#: at 1M records the Ray path took 1.11x the local wall time and 0.60 GiB of driver memory
#: against 3.84 GiB locally).
CLUSTER_FROM = 1_000_000

#: Rows of the ranking an iteration scored on the cluster stores (at least the batch): the
#: next batches and the screening page's queue come from its front, and 10,000 groups are
#: weeks of screening at a few hundred a day, for 160 KB per iteration instead of 16 bytes a
#: pool record (160 MB at 10M).
STORED_TOP_K = 10_000


@dataclass
class Ranking:
    """The unscreened groups highest score first (ties by group id) and their scores (all of
    them, or the first rows of a pool scored on a cluster), the number of groups ranked, the
    groups of the next batch in the order to screen them with their 1-based places in the
    ranking and their scores, timings in seconds, and (when asked for) why each group of the
    batch ranks where it does (:func:`explanation_frame`), and the same for the first groups of
    the ranking (``front_explanations``, indexed by group id) when asked for."""

    group_ids: np.ndarray
    scores: np.ndarray
    n_ranked: int
    batch: np.ndarray
    batch_ranks: np.ndarray
    batch_scores: np.ndarray
    timings: dict
    explanations: pd.DataFrame | None = None
    front_explanations: pd.DataFrame | None = None

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
    cluster_from: int | None = None,
    explain_front: int = 0,
) -> Ranking:
    """Rank the unscreened groups with ``ranker`` and choose the next ``batch`` of them with its
    querier, as a simulation from the same labels would; with ``explain``, say why each group
    of the batch ranks where it does, and with ``explain_front``, why each of the first that
    many groups of the ranking does (a model ranking scored here, not a query's).

    Before any include/exclude pair exists, ``query`` (a research question) ranks by
    similarity to it, and the batch is the most similar groups.

    With ``cluster_from``, a pool of at least that many groups is scored on the connected Ray
    cluster (:func:`compute_ranking_on_cluster`): the same batch, and the first :data:`STORED_TOP_K` rows
    of the ranking.
    """
    state = state or screening_state(project, up_to_event)
    timings: dict[str, float] = {}
    pool = state.unscreened
    if len(pool) == 0:
        raise UserError(f"{project.path}: every record has a decision; nothing is left to rank")
    idx, y = state.training
    start = time.perf_counter()
    trainable = y.sum() >= 1 and (y == 0).sum() >= 1
    if trainable and cluster_from is not None and len(pool) >= cluster_from:
        return compute_ranking_on_cluster(project, ranker, state, batch, progress, explain)
    if trainable:
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
    front = None
    if explain_front and "query_s" not in timings:
        first = order[:explain_front]
        rows = pool[first]
        front = explanation_frame(state, place[first], len(pool),
                                  ranker.explain(X, rows, [state.texts[i] for i in rows], idx, y))
        front.index = pd.Index(groups[first], name="group_id")
    return Ranking(groups[order], scores[order], len(order), groups[chosen], place[chosen], scores[chosen], timings,
                   explanations, front)


def compute_ranking_on_cluster(project: Project, ranker: Ranker, state: ScreeningState, batch: int, progress: bool,
                               explain: bool) -> Ranking:
    """:func:`compute_ranking` of a large pool on the connected Ray cluster: fit here on the
    decided groups' features, score the pool there (:func:`prioritiser.distributed.rank_on_cluster`)
    and keep the first ``max(STORED_TOP_K, batch)`` rows of the ranking. The batch is the one
    :meth:`Ranker.rank` would choose from the whole pool: the querier must be ``max`` (its
    order's front is what comes back), and the random share, drawn from the pool in group
    order, is scored and placed on the cluster where it falls beyond the rows kept. A
    one-line :class:`UserError` before anything is scored when the features or the querier
    cannot be scored in blocks."""
    from prioritiser.distributed import check_dense, rank_on_cluster, texts_dataset

    check_dense(ranker.features)
    if ranker.querier != "max":
        raise UserError(f"scoring on a Ray cluster needs the 'max' querier, not {ranker.querier!r}: "
                        "rank without --ray, or with --set querier=max")
    timings: dict[str, float] = {}
    pool = state.unscreened
    idx, y = state.training
    start = time.perf_counter()
    with step(f"Extracting features ({ranker.features}) of {len(y):,} decisions and fitting", progress):
        fitted = ranker.extract([state.texts[i] for i in idx], cache_dir=project.path / "cache", progress=progress)
        ranker.fit(fitted, np.arange(len(idx)), y)
    timings["features_s"] = time.perf_counter() - start
    start = time.perf_counter()
    in_pool = np.zeros(len(state.group_ids), dtype=bool)
    in_pool[pool] = True
    dataset = texts_dataset({"group_id": state.group_ids, "text": state.texts, "in_pool": in_pool})
    with step(f"Scoring {len(pool):,} records on the Ray cluster", progress):
        scored = rank_on_cluster(dataset, ranker.features, ranker.feature_params, ranker, max(STORED_TOP_K, batch))
        groups = state.group_ids[pool]
        chosen = ranker.take(np.searchsorted(groups, scored.group_ids), batch, len(state.group_ids) - len(pool),
                             n_pool=len(pool))
        batch_groups = groups[chosen]
        place = pd.Series(np.arange(1, len(scored.group_ids) + 1), index=scored.group_ids)
        ranks = np.array(place.reindex(batch_groups), dtype=np.float64)
        scores = np.array(pd.Series(scored.scores, index=scored.group_ids).reindex(batch_groups), dtype=np.float64)
        beyond = np.isnan(ranks)
        if beyond.any():  # random picks past the rows kept
            scores[beyond], ranks[beyond] = scored.locate(batch_groups[beyond])
    timings["model_s"] = time.perf_counter() - start
    ranks = ranks.astype(np.int64)
    explanations = None
    if explain:
        start = time.perf_counter()
        reasons = explain_rows(project, ranker, state, fitted, pool[chosen])
        explanations = explanation_frame(state, ranks, len(pool), reasons)
        timings["explain_s"] = time.perf_counter() - start
    return Ranking(scored.group_ids, scored.scores, len(pool), batch_groups, ranks, scores, timings, explanations)


def explain_rows(project: Project, ranker: Ranker, state: ScreeningState, fitted, rows) -> dict:
    """:meth:`Ranker.explain` of the ``rows`` of ``state`` for a ranker fitted on the features
    ``fitted`` of the decided groups alone (:attr:`ScreeningState.training`, in its order):
    with sentence-encoder features each text's features stand alone, so only these rows'
    are built, not the pool's."""
    idx, y = state.training
    texts = [state.texts[i] for i in rows]
    X = np.vstack([fitted, ranker.extract(texts, cache_dir=project.path / "cache")])
    reasons = ranker.explain(X, len(idx) + np.arange(len(rows)), texts, np.arange(len(idx)), y)
    reasons["similar_include"] = idx[reasons["similar_include"]]
    return reasons


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
    rankings, when already read; otherwise each ranking is read when needed, one at a time
    (a ranking of a million groups takes 16 MB)."""
    from prioritiser.stopping import ScreeningHistory

    if state is not None:
        last, n_total, decisions = state.last_event_id, len(state.group_ids), state.decisions
    else:
        last = project.last_event_id() if up_to_event is None else up_to_event
        n_total, decisions = len(project.group_ids()), project.group_decisions(last)
    first = project.first_decisions(last)
    sampled = randomly_sampled(project, first)
    read = iterations is None
    iterations = project.iterations() if read else iterations

    def ranked(it: Iteration) -> Iteration:
        return project.iteration(it.iteration_id) if read else it

    iterations = [it for it in iterations if it.last_event_id <= last]
    prior_until = last if not iterations else min(iterations[0].last_event_id, last)
    if scores is None and iterations and iterations[-1].kind == "rank":
        newest = ranked(iterations[-1])
        unscreened = ~np.isin(newest.group_ids, np.fromiter(first, dtype=np.int64, count=len(first)))
        scores = newest.scores[unscreened] if unscreened.sum() == n_total - len(first) else None
    return ScreeningHistory(
        n_total=n_total,
        labels=np.asarray([0 if decisions[g] == EXCLUDE else 1 for g in first], dtype=np.int64),
        sampled_randomly=np.asarray([g in sampled for g in first], dtype=bool),
        scores=scores,
        n_prior=sum(e <= prior_until for e in first.values()),
        screened_scores=scores_at_choice(iterations, first, sampled, ranked),
    )


def scores_at_choice(iterations: list[Iteration], first: dict[int, int], sampled: set[int],
                     ranked: Callable[[Iteration], Iteration]) -> np.ndarray:
    """Per group of ``first`` (group -> event of its first decision, in that order), its score in
    the ranking in force at that event: the newest of ``iterations`` (oldest first; ``ranked``
    gives an iteration with its ranking) whose last label event came before it. NaN where
    there was none, where it was a query ranking or lacked the group, and for the ``sampled``
    groups (a random draw, not the ranking, chose them)."""
    groups = np.fromiter(first, dtype=np.int64, count=len(first))
    events = np.fromiter(first.values(), dtype=np.int64, count=len(first))
    out = np.full(len(groups), np.nan)
    in_force = np.searchsorted([it.last_event_id for it in iterations], events, side="left") - 1
    for j in np.unique(in_force[in_force >= 0]):
        if iterations[j].kind != "rank":
            continue
        it = ranked(iterations[j])
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
    rows as written, the file it was written to), and why the first groups of the ranking rank
    there when asked for (``front_explanations``, see :func:`compute_ranking`)."""

    iteration_id: int
    config: dict
    n_ranked: int
    batch: pd.DataFrame
    estimates: dict
    timings: dict
    used_query: bool
    batch_id: int | None = None
    batch_file: Path | None = None
    front_explanations: pd.DataFrame | None = None


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
    ray: str | None = None,
    cluster_from: int = CLUSTER_FROM,
    explain_front: int = 0,
    state: ScreeningState | None = None,
) -> RankResult:
    """Retrain on the decisions in force, rank every unscreened group, choose the next
    ``batch`` with the preset's querier, and store the iteration (configuration, counts,
    timings, ranking, recall estimates) with that batch (``write_file=False``: stored
    only, as the screening page shows it record by record), written to ``out`` (.csv, .tsv,
    .xlsx or .ris), by default to ``DIR/batches/batch-NNNN.csv`` (NNNN: the batch id). Each
    row says why it ranks there (:data:`EXPLANATION_COLUMNS`). ``seed`` replaces the preset's
    seed. With ``ray`` (a Ray cluster's address, or ``auto``), a pool of at least
    ``cluster_from`` groups is scored on that cluster and the iteration stores the first
    :data:`STORED_TOP_K` rows of its ranking (:func:`compute_ranking_on_cluster`).
    ``explain_front``: also say why the first that many groups of the ranking rank there
    (the screening page's "why this record"), from the model just fitted. ``state``: the
    project's :func:`screening_state`, when the caller has just read it (read here otherwise).

    Every argument is checked before anything is computed or stored: a wrong one is a
    one-line :class:`UserError` and leaves the project as it was."""
    if batch < 1:
        raise UserError(f"--batch must be at least 1 (got {batch})")
    if out is not None:
        check_output(out)
    if query is not None and not query.strip():
        raise UserError("--query is empty: give the research question, e.g. --query \"virus metagenomics in pigs\"")
    if cluster_from < 1:
        raise UserError(f"--cluster-from must be at least 1 (got {cluster_from})")
    if ray is not None:
        from prioritiser.distributed import connect

        connect(ray)
    from prioritiser.learning import Ranker

    ranker = Ranker.from_preset(model, **(overrides or {}))
    if seed is not None:
        ranker.set_params(seed=seed)
    if state is None:
        with step("Reading the project", progress):
            state = screening_state(project)
    start = time.perf_counter()
    ranking = compute_ranking(project, ranker, state=state, query=query, batch=batch, progress=progress, explain=True,
                              cluster_from=None if ray is None else cluster_from, explain_front=explain_front)
    config = ranker.get_params()
    if ranking.used_query:
        config["query"] = query
    timings = ranking.timings
    with step("Estimating recall", progress):
        in_full = not ranking.used_query and len(ranking.scores) == ranking.n_ranked
        estimates = stopping_estimates(project, state, ranking.scores if in_full else None)
    timings["total_s"] = time.perf_counter() - start
    _, y = state.training
    frame = batch_frame(project, ranking.batch, ranking.batch_scores, ranking.batch_ranks)
    frame = with_explanations(frame, ranking.explanations)
    batch_file = None
    if write_file:
        batch_file = out if out is not None else lambda batch_id: default_batch_file(project, batch_id)
    handed = hand_out(project, "ranked", frame, seed=ranker.seed, out=batch_file, iteration=Iteration(
        iteration_id=0, created_at=now_iso(), kind="query" if ranking.used_query else "rank", config=config,
        config_hash=config_hash(config), seed=ranker.seed, last_event_id=state.last_event_id,
        n_labelled=len(state.decisions), n_included=int(y.sum()), n_excluded=int((y == 0).sum()),
        timings=timings, estimates=estimates, group_ids=ranking.group_ids, scores=ranking.scores,
        n_ranked=ranking.n_ranked,
    ))
    return RankResult(handed.iteration_id, config, ranking.n_ranked, frame, estimates, timings,
                      ranking.used_query, handed.batch_id, handed.path, ranking.front_explanations)


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
    on (a query ranking has no model: percentiles only). An iteration that stored only its
    first rows explains those, among all it ranked, from the features of the decided groups
    and of those rows alone (:func:`explain_rows`)."""
    n = len(iteration.group_ids)
    frame = explanation_frame(None, np.arange(1, n + 1), iteration.n_ranked, None)
    frame.index = pd.Index(iteration.group_ids, name="group_id")
    if iteration.kind == "query" or n == 0:
        return frame
    from prioritiser.learning import Ranker

    ranker = Ranker.from_config(iteration.config)
    state = screening_state(project, iteration.last_event_id)
    idx, y = state.training
    with step(f"Refitting iteration {iteration.iteration_id}'s model to explain its ranking", progress):
        texts = state.texts if iteration.stored_in_full else [state.texts[i] for i in idx]
        X = ranker.extract(texts, cache_dir=project.path / "cache", progress=progress)
        ranker.fit(X, idx if iteration.stored_in_full else np.arange(len(idx)), y)
    front = iteration.group_ids[:limit]
    rows = pd.Index(state.group_ids).get_indexer(front)
    kept = rows >= 0  # a group merged into another since the iteration is left unexplained
    with step(f"Explaining the top {len(front):,} records", progress):
        if iteration.stored_in_full:
            reasons = ranker.explain(X, rows[kept], [state.texts[i] for i in rows[kept]], idx, y)
        else:
            reasons = explain_rows(project, ranker, state, X, rows[kept])
        explained = explanation_frame(state, np.flatnonzero(kept) + 1, iteration.n_ranked, reasons)
    explained.index = pd.Index(front[kept], name="group_id")
    frame.loc[explained.index, EXPLANATION_COLUMNS[1:]] = explained[EXPLANATION_COLUMNS[1:]]
    return frame

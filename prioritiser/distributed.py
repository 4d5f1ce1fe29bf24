"""Embedding and scoring on a Ray cluster, for pools of millions of records (``pip install
prioritiser[ray]``). Ray does the scheduling, retries and data movement; nothing here is a
scheduler.

**Embedding** (:func:`embed_on_cluster`): the texts a cache lacks go through Ray Data
``map_batches`` to a pool of actors, each loading the encoder once (one actor per GPU when the
cluster has GPUs, else one per CPU). The vectors stream back to this process, which writes them
with :meth:`~prioritiser.features.cache.EmbeddingCache.append` into the same shards a local run
writes, so ``rank`` reads them unchanged. Each block of results is delivered once: a task lost
with its worker is retried by Ray and its block written when it arrives, so no shard is
duplicated; a run that dies keeps every shard written, and the next run embeds only the texts
still missing (as after ``add`` of an update search).

**Scoring** (:func:`rank_on_cluster`; ``prioritiser rank --ray`` for pools past ``--cluster-from``): a model fitted here on the labelled rows (their vectors
are few) is broadcast with ``ray.put``; actors build the features of the pool block by block from
the embedding cache (which must be on storage the workers share: ``XDG_CACHE_HOME``) and score
them. An ensemble's members are standardised over every row, as :meth:`Ranker.decision_function <prioritiser.learning.Ranker.decision_function>`
does, from per-block sums; only each block's top ``k`` and those sums come back. The ranking is
the local one: highest score first, ties broken by the smaller group id.
"""

from __future__ import annotations

import logging
import math
import socket
import time
from dataclasses import dataclass, field

import numpy as np

from prioritiser.errors import UserError
from prioritiser.features import EMBEDDERS, EmbeddingRun, cached_embedders, make_extractor, parse_spec
from prioritiser.features.cache import KEY_DTYPE, text_keys
from prioritiser.features.dense import CachedEmbedder, DenseEmbedder
from prioritiser.progress import progress_bar

#: Texts per call of the encoder on a worker; rows per shard written here.
EMBED_BATCH_ROWS = 1024
SHARD_ROWS = 8192
#: Rows per scoring block: each block reads the cache's key index once, so blocks are large.
SCORE_BLOCK_ROWS = 100_000
#: Rows of the records handed to the cluster per Ray block.
SOURCE_BLOCK_ROWS = 20_000


def require_ray():
    """The ``ray`` module, or a one-line :class:`UserError` saying how to install it."""
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise UserError("--ray needs Ray: pip install 'prioritiser[ray]'") from None
    return ray


def connect(address: str):
    """Join the Ray cluster at ``address`` (``auto``: the one started on this machine with
    ``ray start``); returns the ``ray`` module. Ray Data's progress bars and logs stay quiet."""
    ray = require_ray()
    if not ray.is_initialized():
        if address != "auto" and "://" not in address:
            host, _, port = address.rpartition(":")
            try:
                socket.create_connection((host, int(port)), timeout=10).close()
            except (OSError, ValueError) as error:
                raise UserError(f"cannot join the Ray cluster at {address!r}: {error}") from None
        try:
            ray.init(address=address, log_to_driver=False, logging_level=logging.ERROR)
        except (ConnectionError, ValueError, RuntimeError) as error:
            raise UserError(f"cannot join the Ray cluster at {address!r}: {str(error).splitlines()[0]}") from None
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    logging.getLogger("ray.data").setLevel(logging.ERROR)
    return ray


def worker_slots() -> tuple[int, bool]:
    """``(actors, on_gpu)``: one actor per GPU of the cluster when it has any, else one per CPU."""
    import ray

    resources = ray.cluster_resources()
    gpus = int(resources.get("GPU", 0))
    return (gpus, True) if gpus else (max(1, int(resources.get("CPU", 1))), False)


def _pinned(embedder: DenseEmbedder) -> DenseEmbedder:
    """``embedder`` with an ``auto`` precision fixed to the one this machine resolves, so that
    workers compute the vectors of the identity whose cache folder they fill."""
    from sklearn.base import clone

    if embedder.get_params().get("precision") == "auto" and hasattr(embedder, "settings"):
        return clone(embedder).set_params(precision=embedder.settings()[1])
    return embedder


class _Encoder:
    """Ray Data actor: loads ``embedder`` once, then embeds batches of ``text`` into ``key``
    (SHA-256 digests as 32 bytes) and ``vector`` columns."""

    def __init__(self, embedder: DenseEmbedder):
        self.embedder = embedder
        self.embedder.embed(["load the model once"])

    def __call__(self, batch: dict) -> dict:
        texts = [str(t) for t in batch["text"]]
        keys = text_keys(texts)
        return {"key": keys.view(np.uint8).reshape(len(texts), 32), "vector": self.embedder.embed(texts)}


def embed_dataset(cached: CachedEmbedder, dataset, total: int, progress: bool = False,
                  batch_rows: int = EMBED_BATCH_ROWS, shard_rows: int = SHARD_ROWS) -> int:
    """Embed every ``text`` of the Ray ``dataset`` (``total`` rows) on the cluster with
    ``cached``'s encoder, ``batch_rows`` texts per call, and append the vectors to its cache,
    ``shard_rows`` per shard, as they arrive. Returns the rows written.

    The actor pool may shrink to one actor: a lost worker's actor is restarted and its batch
    retried by Ray wherever there is room."""
    actors, on_gpu = worker_slots()
    vectors = dataset.map_batches(
        _Encoder, fn_constructor_args=(_pinned(cached.embedder),), batch_size=batch_rows,
        batch_format="numpy", concurrency=(1, actors), num_gpus=1 if on_gpu else 0, num_cpus=0 if on_gpu else 1,
    )
    cache, written = cached.cache(), 0
    with progress_bar(f"Embedding with {cached.name} on the Ray cluster", progress) as report:
        for batch in vectors.iter_batches(batch_size=shard_rows, batch_format="numpy"):
            keys = np.ascontiguousarray(batch["key"], dtype=np.uint8).view(KEY_DTYPE).reshape(-1)
            cache.append(keys, batch["vector"])
            written += len(keys)
            report(written, total)
    return written


def texts_dataset(columns: dict):
    """A Ray dataset of the equal-length ``columns`` (name -> sequence), ``SOURCE_BLOCK_ROWS``
    rows per block."""
    import pyarrow as pa
    import ray

    table = pa.table({name: pa.array(values) for name, values in columns.items()})
    n = table.num_rows
    return ray.data.from_arrow([table.slice(start, SOURCE_BLOCK_ROWS) for start in range(0, max(n, 1), SOURCE_BLOCK_ROWS)])


def embed_on_cluster(spec: str, texts: list[str], params: dict | None = None, progress: bool = True) -> list[EmbeddingRun]:
    """As :func:`prioritiser.features.embed_missing`, on the connected Ray cluster: every dense
    part of ``spec`` embeds the distinct texts its cache lacks, and only those."""
    runs = []
    keys = text_keys(list(texts))
    for cached in cached_embedders(spec, params):
        start = time.perf_counter()
        found = cached.cache().contains(keys)
        _, first = np.unique(keys[~found], return_index=True)
        positions = np.flatnonzero(~found)[first]
        if len(positions):
            embed_dataset(cached, texts_dataset({"text": [texts[i] for i in positions]}), len(positions), progress)
        seconds = time.perf_counter() - start
        runs.append(EmbeddingRun(cached.name, cached.identity(), len(positions), seconds,
                                 len(positions) / seconds if len(positions) else None))
    return runs


def check_dense(spec: str) -> None:
    """Cluster scoring builds features block by block, so every part of ``spec`` must be a
    per-text encoder (tf-idf is fitted on the whole pool)."""
    if any(part not in EMBEDDERS for part in parse_spec(spec)):
        raise UserError(f"scoring on a Ray cluster needs sentence-encoder features ({', '.join(EMBEDDERS)}), "
                        f"not {spec!r} (tf-idf is fitted on the whole pool): rank without --ray, or with "
                        "--set features=minilm --set feature_params={}")


class _BlockScorer:
    """Ray Data actor: fetches the broadcast model once, then builds the features of a block of
    ``text`` from the embedding cache (the encoder is loaded once, and only for texts not cached)
    and scores them."""

    def __init__(self, spec: str, params: dict, ranker_ref):
        import ray

        self.extractor = make_extractor(spec, **params)
        self.ranker = ray.get(ranker_ref)

    def __call__(self, batch: dict) -> dict:
        X = self.extractor.fit_transform([str(t) for t in batch["text"]])
        return {"group_id": batch["group_id"], "in_pool": batch["in_pool"], "raw": self.ranker.member_scores(X)}


def _sums(batch: dict, mean: np.ndarray | None) -> dict:
    """A block's rows, rows in the pool, and per-member sums of the raw scores (or, given
    ``mean``, of their squared deviations from it)."""
    raw = batch["raw"]
    values = raw if mean is None else (raw - mean) ** 2
    return {"n": np.array([len(raw)]), "n_pool": np.array([np.count_nonzero(batch["in_pool"])]),
            "sum": values.sum(axis=0, keepdims=True)}


def _totals(raw, mean: np.ndarray | None) -> tuple[int, int, np.ndarray]:
    """:func:`_sums` over every block of the dataset ``raw``, the sums added exactly."""
    rows = raw.map_batches(_sums, fn_kwargs={"mean": mean}, batch_size=None, batch_format="numpy").take_all()
    sums = [math.fsum(float(np.asarray(row["sum"]).reshape(-1)[j]) for row in rows)
            for j in range(np.asarray(rows[0]["sum"]).size)] if rows else []
    return sum(int(row["n"]) for row in rows), sum(int(row["n_pool"]) for row in rows), np.array(sums)


def _pool_scores(batch: dict, ranker, mean, spread) -> tuple[np.ndarray, np.ndarray]:
    """The group ids and scores (:meth:`Ranker.combine <prioritiser.learning.Ranker.combine>`)
    of the block's pool rows."""
    pool = np.asarray(batch["in_pool"], dtype=bool)
    return np.asarray(batch["group_id"], dtype=np.int64)[pool], ranker.combine(batch["raw"][pool], mean, spread)


def _top_k(batch: dict, k: int, ranker, mean, spread) -> dict:
    """The block's ``k`` best rows of the pool (highest score, then smallest group id)."""
    groups, scores = _pool_scores(batch, ranker, mean, spread)
    best = np.lexsort((groups, -scores))[:k]
    return {"group_id": groups[best], "score": scores[best]}


def _found(batch: dict, wanted: np.ndarray, ranker, mean, spread) -> dict:
    """The block's pool rows among the groups ``wanted``, with their scores."""
    groups, scores = _pool_scores(batch, ranker, mean, spread)
    kept = np.isin(groups, wanted)
    return {"group_id": groups[kept], "score": scores[kept]}


def _ahead(batch: dict, groups: np.ndarray, scores: np.ndarray, ranker, mean, spread) -> dict:
    """For each (group, score), the block's pool rows ranked before it (a higher score, or an
    equal one and a smaller group id)."""
    block_groups, block_scores = _pool_scores(batch, ranker, mean, spread)
    ahead = [np.count_nonzero((block_scores > s) | ((block_scores == s) & (block_groups < g)))
             for g, s in zip(groups.tolist(), scores.tolist())]
    return {"ahead": np.array([ahead], dtype=np.int64).reshape(1, -1)}


@dataclass
class PoolRanking:
    """What comes back from scoring a pool on the cluster: the ``k`` best groups of the pool
    (best first) and their scores, the number of rows scored and of pool rows ranked, and the
    per-member mean and spread of the raw scores over every row (the standardisation).
    :meth:`locate` finds the score and place of any other group of the pool."""

    group_ids: np.ndarray
    scores: np.ndarray
    n_scored: int
    n_pool: int
    member_mean: np.ndarray
    member_spread: np.ndarray
    raw: object = field(repr=False, default=None)
    ranker: object = field(repr=False, default=None)

    def locate(self, groups) -> tuple[np.ndarray, np.ndarray]:
        """The scores and 1-based places in the whole pool's ranking of the pool's ``groups``
        (two passes over the scored blocks kept on the cluster: find the scores, then count
        the rows ranked before each)."""
        groups = np.asarray(groups, dtype=np.int64)
        statistics = {"ranker": self.ranker, "mean": self.member_mean, "spread": self.member_spread}
        found = self.raw.map_batches(_found, fn_kwargs={"wanted": groups, **statistics},
                                     batch_size=None, batch_format="numpy").take_all()
        score_of = {int(row["group_id"]): float(row["score"]) for row in found}
        scores = np.array([score_of[g] for g in groups.tolist()], dtype=np.float64)
        counts = self.raw.map_batches(_ahead, fn_kwargs={"groups": groups, "scores": scores, **statistics},
                                      batch_size=None, batch_format="numpy").take_all()
        ahead = np.sum([np.asarray(row["ahead"]).reshape(-1) for row in counts], axis=0)
        return scores, np.asarray(ahead, dtype=np.int64).reshape(-1) + 1


def rank_on_cluster(dataset, spec: str, params: dict | None, ranker, k: int) -> PoolRanking:
    """Score every row of the Ray ``dataset`` (columns ``group_id``, ``text``, ``in_pool``) with
    the fitted :class:`~prioritiser.learning.Ranker` on the connected cluster and return the
    ``k`` best rows of the pool.

    The ranker is broadcast once (``ray.put``); features come from ``spec``'s encoders through
    the shared embedding cache. Each member's raw scores are summed per block exactly
    (``math.fsum``) into their mean and standard deviation over every row, and combined with
    them by :meth:`Ranker.combine <prioritiser.learning.Ranker.combine>`, as
    ``Ranker.decision_function`` combines them; ties are broken by group id.
    """
    import ray

    check_dense(spec)
    cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
    raw = dataset.map_batches(
        _BlockScorer, fn_constructor_args=(spec, dict(params or {}), ray.put(ranker)), batch_size=SCORE_BLOCK_ROWS,
        batch_format="numpy", concurrency=(1, cpus), num_cpus=1,
    ).materialize()
    n_scored, n_pool, sums = _totals(raw, None)
    mean = sums / n_scored
    deviation = np.sqrt(_totals(raw, mean)[2] / n_scored)
    spread = np.where(deviation > 0, deviation, 1.0)
    best = raw.map_batches(_top_k, fn_kwargs={"k": k, "ranker": ranker, "mean": mean, "spread": spread},
                           batch_size=None, batch_format="numpy").take_all()
    groups = np.array([row["group_id"] for row in best], dtype=np.int64)
    scores = np.array([row["score"] for row in best], dtype=np.float64)
    order = np.lexsort((groups, -scores))[:k]
    return PoolRanking(groups[order], scores[order], n_scored, n_pool, mean, spread, raw, ranker)

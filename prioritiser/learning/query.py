"""Query strategies: which ranked records go into the next batch.

A querier orders the pool: ``max`` by highest score, ``uncertainty`` by nearness of the score to
the decision boundary (0); ties go to the earlier position. :func:`select_batch` takes the
first ``n`` of that order, then replaces the share ``random_share`` (0-1) of the batch by
records drawn uniformly at random (seeded) from the rest of the pool.
"""

from __future__ import annotations

import numpy as np


def max_score(scores: np.ndarray) -> np.ndarray:
    """Positions, highest score first."""
    return np.lexsort((np.arange(len(scores)), -scores))


def uncertainty(scores: np.ndarray) -> np.ndarray:
    """Positions, score nearest 0 first."""
    return np.lexsort((np.arange(len(scores)), np.abs(scores)))


def select_batch(order: np.ndarray, n: int, random_share: float = 0.0, seed: int = 0,
                 n_pool: int | None = None) -> np.ndarray:
    """The next ``n`` positions of a querier's ``order`` (positions into the pool, of size
    ``n_pool``: by default ``len(order)``), in the order to screen them: the first
    ``n - round(n·random_share)`` of it, then that many drawn without replacement by
    ``numpy.random.default_rng(seed)`` from the rest of the pool in position order.

    The draw reads only the first entries of ``order`` and the pool's size, so a pool ranked
    elsewhere whose first entries alone come back (:mod:`prioritiser.distributed`) gets the
    same batch from them."""
    n_pool = len(order) if n_pool is None else n_pool
    n = min(n, n_pool)
    n_random = int(round(n * random_share))
    chosen = np.asarray(order[: n - n_random])
    if n_random:
        rest = np.setdiff1d(np.arange(n_pool), chosen)
        chosen = np.concatenate([chosen, np.random.default_rng(seed).choice(rest, size=n_random, replace=False)])
    return chosen

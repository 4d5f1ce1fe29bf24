"""Query strategies: which ranked records go into the next batch.

``max`` takes the highest scores; ``uncertainty`` the scores nearest the decision boundary
(0); ``random_share`` (0-1) replaces that share of the batch by records drawn at random from
the rest of the pool (seeded).
"""

from __future__ import annotations

import numpy as np

from prioritiser.errors import UserError

QUERIERS = ("max", "uncertainty")


def select_batch(scores: np.ndarray, n: int, querier: str = "max", random_share: float = 0.0, seed: int = 0) -> np.ndarray:
    """Positions into ``scores`` of the next ``n`` records, in the order to screen them."""
    n = min(n, len(scores))
    if querier == "max":
        order = np.lexsort((np.arange(len(scores)), -scores))
    elif querier == "uncertainty":
        order = np.lexsort((np.arange(len(scores)), np.abs(scores)))
    else:
        raise UserError(f"unknown querier {querier!r}: use {', '.join(QUERIERS)}")
    n_random = int(round(n * random_share))
    chosen = order[: n - n_random]
    if n_random:
        rest = order[n - n_random:]
        chosen = np.concatenate([chosen, np.random.default_rng(seed).choice(rest, size=n_random, replace=False)])
    return chosen

"""Class balancing for the strong imbalance of screening (typically 1-10% includes).

Each balancer takes the labelled rows, their 0/1 labels and the seed, and returns the training
rows, their labels and the ``class_weight`` argument for the classifier:

- ``none``: train as labelled;
- ``balanced``: class weights that give the includes, taken together, ``include_weight`` times
  the total weight of the excludes (1 = equal totals, as scikit-learn's ``"balanced"``), with
  the mean weight per labelled record kept at 1;
- ``undersample``: keep every include and at most ``ratio`` excludes per include, drawn at
  random (seeded), then weight as ``balanced`` with equal totals.
"""

from __future__ import annotations

import numpy as np

from prioritiser.errors import UserError


def class_weights(y: np.ndarray, include_weight: float = 1.0) -> dict[int, float]:
    """``{1: w_include, 0: w_exclude}`` with ``n_inc·w_inc = include_weight · n_exc·w_exc`` and
    ``n_inc·w_inc + n_exc·w_exc = n`` (mean weight 1)."""
    if include_weight <= 0:
        raise UserError(f"balancer include_weight must be positive (got {include_weight})")
    n_inc, n_exc = int((y == 1).sum()), int((y == 0).sum())
    n = n_inc + n_exc
    inc_total = n * include_weight / (1 + include_weight)
    return {1: inc_total / max(n_inc, 1), 0: (n - inc_total) / max(n_exc, 1)}


def none(idx: np.ndarray, y: np.ndarray, seed: int):
    return idx, y, None


def balanced(idx: np.ndarray, y: np.ndarray, seed: int, include_weight: float = 1.0):
    return idx, y, class_weights(y, include_weight)


def undersample(idx: np.ndarray, y: np.ndarray, seed: int, ratio: float = 10.0):
    pos, neg = idx[y == 1], idx[y == 0]
    keep = int(max(1, ratio * len(pos)))
    if len(neg) > keep:
        neg = np.sort(np.random.default_rng(seed).choice(neg, size=keep, replace=False))
    rows = np.concatenate([pos, neg])
    labels = np.concatenate([np.ones(len(pos), int), np.zeros(len(neg), int)])
    return rows, labels, class_weights(labels)

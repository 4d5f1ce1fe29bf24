"""Class balancing for the strong imbalance of screening (typically 1-10% includes).

``none``: train as labelled; ``balanced``: class weights inversely proportional to class
frequency; ``undersample``: keep every include and at most ``ratio`` excludes per include,
drawn at random (seeded).
"""

from __future__ import annotations

import numpy as np

from prioritiser.errors import UserError

BALANCERS = ("none", "balanced", "undersample")


def balance(idx: np.ndarray, y: np.ndarray, name: str, seed: int, ratio: float = 10.0):
    """Training rows, their labels, and the ``class_weight`` argument for the classifier."""
    if name == "none":
        return idx, y, None
    if name == "balanced":
        return idx, y, "balanced"
    if name == "undersample":
        pos, neg = idx[y == 1], idx[y == 0]
        keep = int(max(1, ratio * len(pos)))
        if len(neg) > keep:
            neg = np.sort(np.random.default_rng(seed).choice(neg, size=keep, replace=False))
        rows = np.concatenate([pos, neg])
        return rows, np.concatenate([np.ones(len(pos), int), np.zeros(len(neg), int)]), "balanced"
    raise UserError(f"unknown balancer {name!r}: use {', '.join(BALANCERS)}")

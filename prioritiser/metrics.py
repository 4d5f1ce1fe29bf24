"""Screening metrics from a screening order alone (definitions in the benchmark README).

``labels_in_order`` holds the 0/1 labels of the screened records in screening order; records
never screened are irrelevant-or-not as the totals say: they come after the order, and any
relevant ones among them are found last. Positions are 1-based; N records, R relevant.
"""

from __future__ import annotations

import math

import numpy as np


def found_curve(labels_in_order, n_records: int, n_relevant: int) -> np.ndarray:
    """found(i) for i = 1..N: relevant records among the first i (unscreened relevant last)."""
    labels = np.asarray(labels_in_order, dtype=np.int64)
    missing = n_relevant - int(labels.sum())
    tail = np.zeros(n_records - len(labels), dtype=np.int64)
    if missing > 0:
        tail[-missing:] = 1
    return np.cumsum(np.concatenate([labels, tail]))


def screening_metrics(labels_in_order, n_records: int, n_relevant: int) -> dict:
    """n95, n100, wss95, wss100, rrf10, loss and atd."""
    N, R = n_records, n_relevant
    found = found_curve(labels_in_order, N, R)
    n95 = int(np.searchsorted(found, math.ceil(0.95 * R)) + 1)
    n100 = int(np.searchsorted(found, R) + 1)
    tenth = int(math.floor(0.10 * N))
    positions = np.flatnonzero(np.diff(np.concatenate([[0], found])) == 1) + 1
    return {
        "n95": n95,
        "n100": n100,
        "wss95": (1 - n95 / N) - 0.05,
        "wss100": 1 - n100 / N,
        "rrf10": float(found[tenth - 1] / R) if tenth else 0.0,
        "loss": float((R * (N - (R - 1) / 2) - found.sum()) / (R * (N - R))),
        "atd": float(positions.mean() / N),
        "n_records": N,
        "n_relevant": R,
    }

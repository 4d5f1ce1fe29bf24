"""Screening metrics computed from a screening order alone (definitions in the benchmark README).

N records, R relevant, positions 1-based in the screening order. A partial order (records
left unscreened) is completed pessimistically: the unscreened relevant records come last.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

METRIC_NAMES = ("n95", "n100", "wss95", "wss100", "rrf10", "loss", "atd")


def found_curve(labels_in_order, n_records: int, n_relevant: int) -> np.ndarray:
    """found(i) for i = 1..N: relevant records among the first i screened (int64, length N)."""
    labels = np.asarray(labels_in_order, dtype=np.int64).reshape(-1)
    if len(labels) > n_records or labels.sum() > n_relevant or n_relevant > n_records:
        raise ValueError(f"{len(labels)} screened with {int(labels.sum())} relevant does not fit "
                         f"N={n_records}, R={n_relevant}")
    tail = np.zeros(n_records - len(labels), dtype=np.int64)
    missing = n_relevant - int(labels.sum())
    if missing:
        tail[-missing:] = 1
    return np.cumsum(np.concatenate([labels, tail]))


def screening_metrics(labels_in_order, n_records: int | None = None, n_relevant: int | None = None) -> dict:
    """n95, n100, wss95, wss100, rrf10, loss and atd (plus ``n_records`` and ``n_relevant``).

    ``labels_in_order``: 0/1 labels of the screened records in screening order. ``n_records``
    and ``n_relevant`` default to those of a complete order. Needs 0 < R < N.
    """
    labels = np.asarray(labels_in_order, dtype=np.int64).reshape(-1)
    N = len(labels) if n_records is None else int(n_records)
    R = int(labels.sum()) if n_relevant is None else int(n_relevant)
    if not 0 < R < N:
        raise ValueError(f"metrics need at least one relevant and one irrelevant record (N={N}, R={R})")
    found = found_curve(labels, N, R)
    n95 = int(np.searchsorted(found, math.ceil(0.95 * R)) + 1)
    n100 = int(np.searchsorted(found, R) + 1)
    tenth = math.floor(0.10 * N)
    positions = np.flatnonzero(np.diff(found, prepend=0)) + 1
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


def order_metrics(order: Sequence, labels: Mapping) -> dict:
    """Metrics of a screening ``order`` (record ids, possibly partial) given ``labels`` (record id ->
    0/1 for every record of the dataset)."""
    unknown = [rid for rid in order if rid not in labels]
    if unknown:
        raise ValueError(f"record id {unknown[0]!r} of the order has no label")
    if len(set(order)) != len(order):
        raise ValueError("the order lists a record more than once")
    values = np.fromiter((int(v) for v in labels.values()), dtype=np.int64, count=len(labels))
    return screening_metrics([int(labels[rid]) for rid in order], len(values), int(values.sum()))

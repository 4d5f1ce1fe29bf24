"""Trailing windows of ranked records read as quasi-random samples of what was unscreened
when they began (Callaghan & Müller-Hansen's ranked quasi-sampling)."""

from __future__ import annotations

import numpy as np

from prioritiser.stopping.history import ScreeningHistory


def window_stats(history: ScreeningHistory, lengths) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For trailing windows of the last ``lengths`` ranked records (priors and random draws
    left out): relevant records in each window, the urn the window is read as a sample of
    (the window plus everything unscreened when it began: the unscreened records and the
    random draws made since) and the relevant records found outside that urn."""
    ranked_at = np.flatnonzero(~history.sampled_randomly)
    ranked_at = ranked_at[ranked_at >= history.n_prior]
    lengths = np.asarray(lengths, dtype=np.int64)
    ranked_found = np.concatenate([[0], np.cumsum(history.labels[ranked_at])])
    k = ranked_found[-1] - ranked_found[len(ranked_at) - lengths]
    drawn = np.concatenate([[0], np.cumsum(history.sampled_randomly)])
    drawn_found = np.concatenate([[0], np.cumsum(history.sampled_randomly & (history.labels == 1))])
    start = np.append(ranked_at, history.n_screened)[len(ranked_at) - lengths]
    urn = lengths + history.n_unscreened + drawn[-1] - drawn[start]
    return k, urn, history.found - k - (drawn_found[-1] - drawn_found[start])


def ranked_windows(history: ScreeningHistory) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The trailing windows worth testing: for each k, the longest one holding exactly k
    relevant records (longer windows with the same k give smaller hypergeometric p-values
    and bounds). Returns lengths, k, urn sizes and relevant found outside the urns."""
    ranked = history.ranked_labels
    lengths = len(ranked) - np.concatenate([np.flatnonzero(ranked)[::-1] + 1, [0]])
    lengths = lengths[lengths > 0]
    return (lengths, *window_stats(history, lengths))

"""Hypergeometric tests on an urn of unscreened records (Callaghan & Müller-Hansen 2020).

The urn holds ``urn`` records when a sample of ``n`` of them is drawn without replacement;
``k`` of the sample are relevant. ``found`` relevant records have been screened in all
(sample included), ``found_before`` of them before the urn was set aside. All functions
broadcast over numpy arrays.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import hypergeom

_EPS = 1e-9


def significance(confidence: float) -> float:
    """alpha = 1 - confidence, rounded so that 1 - 0.95 is exactly 0.05 and a p-value of
    0.05 does not reject at 95% (tests reject when p < alpha)."""
    return round(1.0 - confidence, 12)


def target_remaining(found, found_before, target: float) -> np.ndarray:
    """K_tar: the fewest relevant records the urn must have held for recall to fall below
    ``target``, i.e. the smallest integer K with found / (found_before + K) < target."""
    found = np.asarray(found, dtype=np.float64)
    return (np.floor(found / target - np.asarray(found_before, dtype=np.float64) + _EPS) + 1).astype(np.int64)


def recall_p_value(k, urn, n, found, found_before, target: float) -> np.ndarray:
    """p-value of H0 "recall < target": P(X <= k) for X ~ Hypergeom(urn, K_tar, n).

    The null is composite (K >= K_tar); its least favourable member is K = K_tar because the
    cdf falls as K grows. Where K_tar exceeds what the urn can hold, H0 is impossible: p = 0.
    """
    k, urn, n = (np.asarray(v, dtype=np.int64) for v in (k, urn, n))
    k_tar = target_remaining(found, found_before, target)
    possible = k_tar <= urn - (n - k)
    p = hypergeom.cdf(k, urn, np.minimum(k_tar, urn), n)
    return np.where(possible, p, 0.0)


def urn_upper_bound(k, urn, n, alpha: float) -> np.ndarray:
    """One-sided (1 - alpha) upper confidence bound on the relevant records the urn held:
    the largest K with P(X <= k | urn, K, n) > alpha (exact; bisection on the monotone cdf)."""
    k, urn, n = np.broadcast_arrays(*(np.asarray(v, dtype=np.int64) for v in (k, urn, n)))
    lo = k.copy()  # P(X <= k | K = k) = 1 > alpha: never rejected
    hi = urn - (n - k)  # the most the urn can hold given n - k irrelevant drawn
    while np.any(lo < hi):
        mid = (lo + hi + 1) // 2
        keep = hypergeom.cdf(k, urn, mid, n) > alpha
        lo = np.where(keep, mid, lo)
        hi = np.where(keep, hi, mid - 1)
    return lo


def sample_needed(k, urn, n, found, found_before, target: float, alpha: float) -> np.ndarray:
    """Further draws from the same urn that would reject H0 if none of them is relevant: the
    smallest m >= 0 with recall_p_value(k, urn, n + m, ...) < alpha. At most urn - n, since
    screening the whole urn leaves no doubt."""
    k, urn, n = np.broadcast_arrays(*(np.asarray(v, dtype=np.int64) for v in (k, urn, n)))
    found, found_before = np.broadcast_arrays(np.asarray(found), np.asarray(found_before))
    lo = np.zeros_like(n)
    hi = urn - n
    while np.any(lo < hi):
        mid = (lo + hi) // 2
        rejected = recall_p_value(k, urn, n + mid, found, found_before, target) < alpha
        hi = np.where(rejected, mid, hi)
        lo = np.where(rejected, lo, mid + 1)
    return lo

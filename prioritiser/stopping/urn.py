"""Hypergeometric tests on an urn of unscreened records (Callaghan & Müller-Hansen 2020).

The urn holds ``urn`` records when a sample of ``n`` of them is drawn without replacement;
``k`` of the sample are relevant. ``found`` relevant records have been screened in all
(sample included), ``found_before`` of them before the urn was set aside. All functions
broadcast over numpy arrays.
"""

from __future__ import annotations

import numpy as np
from scipy.special import gammaln
from scipy.stats import hypergeom

_EPS = 1e-9


def significance(confidence: float) -> float:
    """alpha = 1 - confidence, rounded so that 1 - 0.95 is exactly 0.05."""
    return round(1.0 - confidence, 12)


def rejects(p, alpha: float):
    """p < alpha, where a p-value equal to alpha up to rounding (1e-9) does not reject."""
    return np.asarray(p) < alpha - _EPS


def target_remaining(found, found_before, target: float) -> np.ndarray:
    """K_tar: the fewest relevant records the urn must have held for recall to fall below
    ``target``, i.e. the smallest integer K with found / (found_before + K) < target."""
    found = np.asarray(found, dtype=np.float64)
    return (np.floor(found / target - np.asarray(found_before, dtype=np.float64) + _EPS) + 1).astype(np.int64)


def _log_choose(a, b):
    return gammaln(a + 1.0) - gammaln(b + 1.0) - gammaln(a - b + 1.0)


def hypergeom_cdf_short_tail(k, urn, relevant, n) -> np.ndarray:
    """P(X <= k) for X ~ Hypergeom(urn, relevant, n) as 1 minus the upper tail k+1..relevant.

    Under H0 the urn holds K_tar = k + (a few) relevant records, so the tail has only a few
    terms: this is exact and several times faster than ``scipy.stats.hypergeom.cdf`` on the
    hundreds of windows a ranked test scores after every screened record.
    """
    k, urn, relevant, n = np.broadcast_arrays(*(np.asarray(v, dtype=np.int64) for v in (k, urn, relevant, n)))
    hi = np.minimum(relevant, n)
    lo = np.maximum(k + 1, n - (urn - relevant))
    width = int(np.max(hi - lo, initial=-1)) + 1
    if width <= 0:
        return np.ones(k.shape)
    x = lo[..., None] + np.arange(width)
    inside = x <= hi[..., None]
    x = np.where(inside, x, hi[..., None])
    log_pmf = (_log_choose(relevant[..., None], x) + _log_choose((urn - relevant)[..., None], n[..., None] - x)
               - _log_choose(urn, n)[..., None])
    return np.clip(1.0 - np.where(inside, np.exp(log_pmf), 0.0).sum(axis=-1), 0.0, 1.0)


def biased_cdf(k, urn, relevant, n, odds: float = 1.0) -> np.ndarray:
    """P(X <= k) for X ~ Fisher's noncentral hypergeometric(urn, relevant, n, odds): the count
    of relevant records in a set of ``n`` out of ``urn`` when each relevant record's odds of
    being in the set are ``odds`` times an irrelevant one's (odds = 1: the hypergeometric).

    The pmf is proportional to C(relevant, x) C(urn - relevant, n - x) odds**x over the
    support max(0, n - urn + relevant)..min(relevant, n); it is summed in logs, so it suits
    the small ``relevant`` counts of a stopping test (the work grows with the support).
    """
    k, urn, relevant, n = np.broadcast_arrays(*(np.asarray(v, dtype=np.int64) for v in (k, urn, relevant, n)))
    lo = np.maximum(0, n - (urn - relevant))
    hi = np.minimum(relevant, n)
    width = int(np.max(hi - lo, initial=0)) + 1
    x = lo[..., None] + np.arange(width)
    inside = x <= hi[..., None]
    x = np.where(inside, x, hi[..., None])
    log_w = (_log_choose(relevant[..., None], x) + _log_choose((urn - relevant)[..., None], n[..., None] - x)
             + x * np.log(odds))
    log_w = np.where(inside, log_w, -np.inf)
    w = np.exp(log_w - log_w.max(axis=-1, keepdims=True))
    below = np.where(x <= k[..., None], w, 0.0).sum(axis=-1)
    return np.clip(below / w.sum(axis=-1), 0.0, 1.0)


def recall_p_value(k, urn, n, found, found_before, target: float) -> np.ndarray:
    """p-value of H0 "recall < target": P(X <= k) for X ~ Hypergeom(urn, K_tar, n).

    The null is composite (K >= K_tar); its least favourable member is K = K_tar because the
    cdf falls as K grows. Where the urn cannot hold K_tar relevant records, H0 is impossible
    and p = 0.
    """
    k, urn, n = (np.asarray(v, dtype=np.int64) for v in (k, urn, n))
    k_tar = target_remaining(found, found_before, target)
    possible = k_tar <= urn - (n - k)
    return np.where(possible, hypergeom_cdf_short_tail(k, urn, np.minimum(k_tar, urn), n), 0.0)


def urn_upper_bound(k, urn, n, alpha, odds: float = 1.0) -> np.ndarray:
    """One-sided (1 - alpha) upper confidence bound on the relevant records the urn held:
    the largest K that the test of :func:`rejects` does not reject, P(X <= k | urn, K, n)
    >= alpha (exact; bisection on the cdf, which falls as K grows). With ``odds`` != 1 the
    sample is read as a biased one (:func:`biased_cdf`)."""
    k, urn, n = np.broadcast_arrays(*(np.asarray(v, dtype=np.int64) for v in (k, urn, n)))
    lo = k.copy()  # P(X <= k | K = k) = 1: never rejected
    # the most the urn can hold given n - k irrelevant drawn; with odds > 1 the cdf is smaller
    # for every K, so the odds-1 bound caps the search
    hi = urn - (n - k) if odds == 1.0 else urn_upper_bound(k, urn, n, alpha)
    while np.any(lo < hi):
        mid = (lo + hi + 1) // 2
        cdf = hypergeom.cdf(k, urn, mid, n) if odds == 1.0 else biased_cdf(k, urn, mid, n, odds)
        keep = ~rejects(cdf, alpha)
        lo = np.where(keep, mid, lo)
        hi = np.where(keep, hi, mid - 1)
    return lo


def sample_needed(k, urn, n, found, found_before, target: float, alpha: float) -> np.ndarray:
    """Further draws from the same urn that would reject H0 if none of them is relevant: the
    smallest m >= 0 with recall_p_value(k, urn, n + m, ...) < alpha. At most urn - n, since
    screening the whole urn leaves no doubt."""
    k, urn, n = np.broadcast_arrays(*(np.asarray(v, dtype=np.int64) for v in (k, urn, n)))
    lo = np.zeros_like(n)
    hi = urn - n
    while np.any(lo < hi):
        mid = (lo + hi) // 2
        rejected = rejects(recall_p_value(k, urn, n + mid, found, found_before, target), alpha)
        hi = np.where(rejected, mid, hi)
        lo = np.where(rejected, lo, mid + 1)
    return lo

"""What a quality-assurance sample of model-excluded records can detect (hypergeometric).

A reviewer screens ``n`` records drawn uniformly at random, without replacement, from the
``M`` records the model excluded unread. If ``k`` of those M are relevant (missed), the count
the sample shows is X ~ Hypergeom(M, k, n), so the chance of seeing at least one is
1 - P(X = 0) = 1 - C(M - k, n) / C(M, n). A sample that shows none is weak evidence unless
this chance is high for the k that would matter.
"""

from __future__ import annotations


from scipy.stats import hypergeom


def _check(n: int, excluded: int, missed: int) -> None:
    if excluded < 0 or not 0 <= n <= excluded or not 0 <= missed <= excluded:
        raise ValueError(f"need 0 <= sample ({n}) <= excluded ({excluded}) and 0 <= missed ({missed}) <= excluded")


def detection_power(n: int, excluded: int, missed: int) -> float:
    """P(at least one relevant record among ``n`` drawn at random from ``excluded`` records of
    which ``missed`` are relevant) = 1 - C(excluded - missed, n) / C(excluded, n)."""
    _check(n, excluded, missed)
    return float(hypergeom.sf(0, excluded, missed, n))


def qa_sample_size(excluded: int, missed: int, power: float = 0.8) -> int:
    """The smallest sample size n whose :func:`detection_power` reaches ``power`` when
    ``missed`` of ``excluded`` records are relevant (``excluded`` itself when ``missed`` is 0,
    since then no sample can show one). Bisection: the power grows with n."""
    _check(0, excluded, missed)
    if not 0 < power < 1:
        raise ValueError(f"power must lie in (0, 1), got {power}")
    if missed == 0:
        return excluded
    lo, hi = 1, excluded - missed + 1  # that many draws cannot all miss
    while lo < hi:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if detection_power(mid, excluded, missed) >= power else (mid + 1, hi)
    return lo


def qa_statement(n: int, excluded: int, missed: int) -> str:
    """A sentence a reviewer can quote about an all-irrelevant QA sample."""
    power = detection_power(n, excluded, missed)
    return (f"A random sample of {n:,} of the {excluded:,} model-excluded records had a {power:.0%} chance of showing "
            f"at least one relevant record if {missed:,} had been missed.")

"""How far the default rule is from saying stop: a forecast a reviewer can plan with.

* Ranked: the fewest further ranked records, all of them irrelevant, after which the rule
  says stop; they are taken to be the best-scored unscreened records, in score order.
  Appending an irrelevant ranked record lengthens every trailing window while its urn
  (window plus unscreened) keeps its size, so each window's evidence only grows, and it
  moves the record's expected share of an include from the unscreened side to the window:
  the verdict, once stop, stays stop (for the scores' part nearly so), and the count is
  found by bisection. An include on the way resets the count (the forecast is then
  recomputed).
* Certification sample: the uniform random sample of the records still unscreened that,
  with no relevant record in it, would show recall >= target with the rule's confidence
  whatever the ranking did (Callaghan & Müller-Hansen's hypergeometric test).
"""

from __future__ import annotations

import numpy as np

from prioritiser.stopping.history import ScreeningHistory
from prioritiser.stopping.registry import default_rule, samples_needed


def _with_excludes(history: ScreeningHistory, count: int, best_first: np.ndarray | None) -> ScreeningHistory:
    """``history`` after ``count`` more ranked excludes: the first ``count`` of the unscreened
    scores ``best_first`` (sorted, highest first; None without usable scores)."""
    labels = np.concatenate([history.labels, np.zeros(count, dtype=np.int64)])
    randomly = np.concatenate([history.sampled_randomly, np.zeros(count, dtype=bool)])
    scores = screened = None
    if best_first is not None:
        scores, screened = best_first[count:], np.concatenate([history.screened_scores, best_first[:count]])
    return ScreeningHistory(history.n_total, labels, randomly, scores, history.n_prior, screened)


def ranked_to_stop(history: ScreeningHistory, rule=None) -> int | None:
    """Further ranked records, none of them relevant, after which ``rule`` (the default rule
    when None) says stop; 0 when it already does, None when it would not before the pool is
    exhausted short of its last record."""
    rule = rule or default_rule()
    stops = rule.stops if hasattr(rule, "stops") else (lambda h: rule.evaluate(h).stop)
    if stops(history):
        return 0
    best_first = None
    if history.scores is not None and history.screened_scores is not None:  # the next are the best-scored
        best_first = np.sort(history.scores)[::-1]
    hi = history.n_unscreened - 1  # screening every record ends any rule; keep one back
    if hi < 1 or not stops(_with_excludes(history, hi, best_first)):
        return None
    lo = 1
    while lo < hi:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if stops(_with_excludes(history, mid, best_first)) else (mid + 1, hi)
    return lo


def forecast(history: ScreeningHistory, target_recall: float = 0.95, confidence: float = 0.95) -> dict:
    """JSON-ready: ``ranked_to_stop`` (see :func:`ranked_to_stop`, default rule at this target
    and confidence), ``sample_size`` (random records, all irrelevant, that would certify
    stopping) and ``sample_proves`` (what such a sample would show, in one sentence)."""
    rule = default_rule(target_recall, confidence)
    sample = samples_needed(history, target_recall, confidence)
    return {
        "ranked_to_stop": ranked_to_stop(history, rule),
        "sample_size": int(sample),
        "sample_proves": (f"If none of {sample:,} records drawn at random from the {history.n_unscreened:,} unscreened "
                          f"is relevant, recall is at least {target_recall:.0%} with {confidence:.0%} confidence, "
                          "whatever the ranking did."),
    }

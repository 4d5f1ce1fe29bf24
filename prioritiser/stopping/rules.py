"""Stopping rules: small objects with ``name``, ``parameters`` and ``evaluate(history)``.

Each verdict carries the numbers that justify it, so a reader can recompute it from the
screening history alone. Counts are screening units (duplicate groups).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from prioritiser.stopping.history import ScreeningHistory
from prioritiser.stopping.urn import recall_p_value, rejects, sample_needed, significance, target_remaining


@dataclass
class RuleVerdict:
    """``stop``: whether the rule says screening may stop; ``evidence``: plain ints/floats."""

    stop: bool
    evidence: dict = field(default_factory=dict)


def _check_target(target_recall: float, confidence: float) -> None:
    if not 0 < target_recall < 1 or not 0 < confidence < 1:
        raise ValueError(f"target_recall and confidence must lie in (0, 1), got {target_recall}, {confidence}")


def _all_screened(history: ScreeningHistory) -> RuleVerdict | None:
    if history.n_unscreened == 0:
        return RuleVerdict(True, {"screened": history.n_screened, "found": history.found, "note": "every record screened"})
    return None


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


class StatisticalRule:
    """Callaghan & Müller-Hansen (2020): stop when a uniform random sample of the records
    that were unscreened when sampling began rejects H0 "recall < target" at ``1 - confidence``.

    The sample is the trailing run of randomly drawn records (``history.sample_size``);
    the test is hypergeometric with the least favourable count K_tar of relevant records in
    the urn. Valid for any ranking, it is costly when few includes have been found: with
    found/target - found < 1 a single missed include breaks the target, and ruling that out
    needs most of the urn. Without a sample the rule says continue and reports how many
    random records would have to be screened (all of them irrelevant) to stop. In simulation
    (:func:`~prioritiser.stopping.policy.next_action`) ranked screening switches to sampling
    once the ranked quasi-sampling test rejects H0 at ``1 - switch_confidence``, i.e. once
    the ranking makes reaching the target more likely than not (0.5).
    """

    name = "statistical"

    def __init__(self, target_recall: float = 0.95, confidence: float = 0.95, switch_confidence: float = 0.5):
        _check_target(target_recall, confidence)
        _check_target(target_recall, switch_confidence)
        self.target_recall = target_recall
        self.confidence = confidence
        self.switch_confidence = switch_confidence

    @property
    def parameters(self) -> dict:
        return {"target_recall": self.target_recall, "confidence": self.confidence,
                "switch_confidence": self.switch_confidence}

    def sample(self, history: ScreeningHistory) -> dict:
        """The urn and the sample: urn size, sample size n, relevant k in it, found before it."""
        n = history.sample_size
        k = int(history.labels[history.n_screened - n:].sum())
        return {"urn": history.n_unscreened + n, "n": n, "k": k, "found_before": history.found - k}

    def p_value(self, history: ScreeningHistory) -> float:
        s = self.sample(history)
        return float(recall_p_value(s["k"], s["urn"], s["n"], history.found, s["found_before"], self.target_recall))

    def samples_needed(self, history: ScreeningHistory) -> int:
        """More random records (none relevant) that would let the rule stop; 0 when it stops."""
        s = self.sample(history)
        return int(sample_needed(s["k"], s["urn"], s["n"], history.found, s["found_before"], self.target_recall,
                                 significance(self.confidence)))

    def starts_sampling(self, history: ScreeningHistory) -> bool:
        """Whether a simulation should leave the ranking for a certification sample now."""
        return RankedStatisticalRule(self.target_recall, self.switch_confidence).evaluate(history).stop

    def evaluate(self, history: ScreeningHistory) -> RuleVerdict:
        done = _all_screened(history)
        if done:
            return done
        s = self.sample(history)
        p = self.p_value(history)
        evidence = {"p_value": p, **s, "found": history.found,
                    "k_target": int(target_remaining(history.found, s["found_before"], self.target_recall)),
                    "samples_needed": self.samples_needed(history)}
        return RuleVerdict(bool(rejects(p, significance(self.confidence))), evidence)


class RankedStatisticalRule:
    """Callaghan & Müller-Hansen's ranked quasi-sampling: the last n ranked records are
    treated as if drawn at random from themselves plus the unscreened records, and the
    smallest p-value over n is tested at ``1 - confidence``.

    Assumes the ranking puts relevant records no later than random would, so a trailing
    window over-represents them and the test errs on the safe side; taking the smallest p
    over windows is not corrected for multiplicity. Priors and random samples are left out
    of the windows.
    """

    name = "statistical-ranked"

    def __init__(self, target_recall: float = 0.95, confidence: float = 0.95):
        _check_target(target_recall, confidence)
        self.target_recall = target_recall
        self.confidence = confidence

    @property
    def parameters(self) -> dict:
        return {"target_recall": self.target_recall, "confidence": self.confidence}

    def evaluate(self, history: ScreeningHistory) -> RuleVerdict:
        done = _all_screened(history)
        if done:
            return done
        n, k, urn, found_before = ranked_windows(history)
        if not len(n):
            return RuleVerdict(False, {"p_value": 1.0, "window": 0, "k": 0, "found": history.found})
        p = recall_p_value(k, urn, n, history.found, found_before, self.target_recall)
        best = int(np.argmin(p))
        evidence = {"p_value": float(p[best]), "window": int(n[best]), "k": int(k[best]), "urn": int(urn[best]),
                    "found": history.found,
                    "k_target": int(target_remaining(history.found, found_before[best], self.target_recall))}
        return RuleVerdict(bool(rejects(p[best], significance(self.confidence))), evidence)


class HybridRule:
    """The default: stop when either the ranked quasi-sampling test or, once one has been
    screened, the random certification sample rejects H0 "recall < target" at
    ``1 - confidence``.

    Ranked screening needs nothing extra; the sample is the way to a stop whose error rate
    holds whatever the ranking did (``prioritiser stop`` draws it). Each test alone errs at
    most ``1 - confidence`` under its assumption; stopping on either can err on either.
    In simulation the rule keeps to the ranking (the trailing window is as informative as a
    random sample of the same size and also finds includes) and only finishes a sample that
    has been started.
    """

    name = "statistical-hybrid"

    def __init__(self, target_recall: float = 0.95, confidence: float = 0.95):
        self.ranked = RankedStatisticalRule(target_recall, confidence)
        self.sampled = StatisticalRule(target_recall, confidence)

    @property
    def parameters(self) -> dict:
        return self.ranked.parameters

    def samples_needed(self, history: ScreeningHistory) -> int:
        return self.sampled.samples_needed(history)

    def starts_sampling(self, history: ScreeningHistory) -> bool:
        return False

    def evaluate(self, history: ScreeningHistory) -> RuleVerdict:
        done = _all_screened(history)
        if done:
            return done
        ranked = self.ranked.evaluate(history)
        evidence = {f"ranked_{key}": value for key, value in ranked.evidence.items()}
        stop, by = ranked.stop, "ranked" if ranked.stop else ""
        if history.sample_size:
            sampled = self.sampled.evaluate(history)
            evidence.update({f"sample_{key}": value for key, value in sampled.evidence.items()})
            if sampled.stop and not stop:
                stop, by = True, "sample"
        return RuleVerdict(stop, {**evidence, "stopped_by": by})


class KneeRule:
    """Cormack & Grossman (2016) knee method on the gain curve (relevant found against
    records screened, priors left out).

    The knee is the point of the curve farthest above the chord from the origin to the
    current point; the slope ratio is rho = (rel(knee) / knee) / ((rel(s) - rel(knee) + 1) /
    (s - knee)) (the +1 keeps it finite and penalises few records after the knee). Stop when
    at least ``min_screened`` records have been screened and rho >= ``ratio_base`` -
    min(found, ``ratio_cap``); with the defaults the needed ratio is 6 once 150 includes are
    found and higher before. A heuristic calibrated on TREC collections: no stated recall.
    """

    name = "knee"

    def __init__(self, min_screened: int = 150, ratio_base: float = 156.0, ratio_cap: int = 150):
        self.min_screened = min_screened
        self.ratio_base = ratio_base
        self.ratio_cap = ratio_cap

    @property
    def parameters(self) -> dict:
        return {"min_screened": self.min_screened, "ratio_base": self.ratio_base, "ratio_cap": self.ratio_cap}

    def evaluate(self, history: ScreeningHistory) -> RuleVerdict:
        done = _all_screened(history)
        if done:
            return done
        gain = np.cumsum(history.labels[history.n_prior:])
        s, found = len(gain), int(gain[-1]) if len(gain) else 0
        needed = self.ratio_base - min(found, self.ratio_cap)
        if s < 2 or found == 0:
            return RuleVerdict(False, {"screened": s, "found": found, "slope_ratio": 0.0, "needed_ratio": needed})
        i = np.arange(1, s)  # candidate knees, 1-based; the last point cannot be its own knee
        knee = int(i[np.argmax(s * gain[:-1] - found * i)])
        rel = int(gain[knee - 1])
        rho = (rel / knee) / ((found - rel + 1) / (s - knee))
        evidence = {"screened": s, "found": found, "knee": knee, "found_at_knee": rel, "slope_ratio": float(rho),
                    "needed_ratio": float(needed)}
        return RuleVerdict(bool(s >= self.min_screened and rho >= needed), evidence)


class ConsecutiveIrrelevantRule:
    """HEURISTIC, no recall guarantee: stop once the last ``max(count, ceil(share x N))``
    screened records were all irrelevant (N the pool size)."""

    name = "consecutive-irrelevant"

    def __init__(self, count: int = 100, share: float = 0.0):
        self.count = count
        self.share = share

    @property
    def parameters(self) -> dict:
        return {"count": self.count, "share": self.share}

    def evaluate(self, history: ScreeningHistory) -> RuleVerdict:
        done = _all_screened(history)
        if done:
            return done
        needed = max(self.count, math.ceil(self.share * history.n_total))
        relevant = np.flatnonzero(history.labels)
        run = history.n_screened - (int(relevant[-1]) + 1 if len(relevant) else 0)
        return RuleVerdict(run >= needed, {"consecutive_irrelevant": run, "needed": needed})

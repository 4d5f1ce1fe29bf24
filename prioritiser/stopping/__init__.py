"""Recall estimates and stopping rules: pure functions of the screening history.

    history = ScreeningHistory(n_total=2000, labels=[1, 0, 1, 0, ...], sampled_randomly=[...])
    estimate(history)              # point estimate, interval, too_early, the bound's assumption
    evaluate_all(history)          # every rule's verdict with its evidence and assumption; the default one marked
    next_action(history)           # "ranked", ("random", k) or "stop" under the default rule
    forecast(history)              # ranked records (all irrelevant) to the default rule's stop; certification sample
    detection_power(n, M, k)       # chance a QA sample of n from M model-excluded records shows one of k missed
"""

from prioritiser.stopping.estimate import estimate
from prioritiser.stopping.forecast import forecast, ranked_to_stop
from prioritiser.stopping.history import ScreeningHistory
from prioritiser.stopping.policy import next_action
from prioritiser.stopping.qa import detection_power, qa_sample_size, qa_statement
from prioritiser.stopping.registry import (DEFAULT_RULE, RULES, default_rule, default_rules, evaluate_all,
                                           samples_needed)
from prioritiser.stopping.rules import (BiasedUrnRule, ConsecutiveIrrelevantRule, KneeRule, LowerBoundRule,
                                        RankedStatisticalRule, RuleVerdict, StatisticalRule, UrnAndScoresRule)

__all__ = [
    "DEFAULT_RULE", "RULES", "BiasedUrnRule", "ConsecutiveIrrelevantRule", "KneeRule", "LowerBoundRule",
    "RankedStatisticalRule", "RuleVerdict", "ScreeningHistory", "StatisticalRule", "default_rule", "default_rules",
    "detection_power", "estimate", "evaluate_all", "forecast", "next_action", "qa_sample_size", "qa_statement",
    "ranked_to_stop", "samples_needed", "UrnAndScoresRule",
]

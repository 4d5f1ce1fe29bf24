"""Recall estimates and stopping rules: pure functions of the screening history.

    history = ScreeningHistory(n_total=2000, labels=[1, 0, 1, 0, ...], sampled_randomly=[...])
    estimate(history)              # includes_found, estimated_remaining, estimated_recall, recall_lower_95, ...
    evaluate_all(history)          # every rule's verdict with its evidence; the default one marked
    next_action(history)           # "ranked", ("random", k) or "stop" under the default rule
"""

from prioritiser.stopping.estimate import estimate
from prioritiser.stopping.history import ScreeningHistory
from prioritiser.stopping.policy import next_action
from prioritiser.stopping.registry import (DEFAULT_RULE, RULES, default_rule, default_rules, evaluate_all,
                                           samples_needed)
from prioritiser.stopping.rules import (ConsecutiveIrrelevantRule, KneeRule, LowerBoundRule, RankedStatisticalRule,
                                        RuleVerdict, StatisticalRule)

__all__ = [
    "DEFAULT_RULE", "RULES", "ConsecutiveIrrelevantRule", "KneeRule", "LowerBoundRule", "RankedStatisticalRule",
    "RuleVerdict", "ScreeningHistory", "StatisticalRule", "default_rule", "default_rules", "estimate", "evaluate_all",
    "next_action", "samples_needed",
]

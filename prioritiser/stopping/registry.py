"""The rules by name, the default one, and every rule's verdict at once (JSON-ready)."""

from __future__ import annotations

from prioritiser.stopping.history import ScreeningHistory
from prioritiser.stopping.rules import (BiasedUrnRule, ConsecutiveIrrelevantRule, KneeRule, LowerBoundRule,
                                        RankedStatisticalRule, StatisticalRule, UrnAndScoresRule)

RULES = {cls.name: cls for cls in (UrnAndScoresRule, BiasedUrnRule, LowerBoundRule, StatisticalRule,
                                   RankedStatisticalRule, KneeRule, ConsecutiveIrrelevantRule)}
DEFAULT_RULE = UrnAndScoresRule.name


def default_rule(target_recall: float = 0.95, confidence: float = 0.95):
    """The rule ``prioritiser stop`` follows."""
    return UrnAndScoresRule(target_recall=target_recall, confidence=confidence)


def default_rules(target_recall: float = 0.95, confidence: float = 0.95) -> list:
    """Every rule, the default first, at the given target and confidence where they take one."""
    return [
        default_rule(target_recall, confidence),
        BiasedUrnRule(target_recall=target_recall, confidence=confidence),
        LowerBoundRule(target_recall=target_recall, confidence=confidence),
        StatisticalRule(target_recall=target_recall, confidence=confidence),
        RankedStatisticalRule(target_recall=target_recall, confidence=confidence),
        KneeRule(),
        ConsecutiveIrrelevantRule(),
    ]


def samples_needed(history: ScreeningHistory, target_recall: float = 0.95, confidence: float = 0.95) -> int:
    """Random records to screen next (assuming none relevant) for the sample-based test to show
    recall >= ``target_recall`` with ``confidence``: what ``prioritiser stop`` draws."""
    return StatisticalRule(target_recall=target_recall, confidence=confidence).samples_needed(history)


def evaluate_all(history: ScreeningHistory, rules=None) -> list[dict]:
    """Per rule: ``{"rule", "parameters", "assumption", "stop", "evidence", "default"}``; the first rule named
    as :data:`DEFAULT_RULE` is marked default."""
    rows, marked = [], False
    for rule in rules if rules is not None else default_rules():
        verdict = rule.evaluate(history)
        is_default = not marked and rule.name == DEFAULT_RULE
        marked = marked or is_default
        rows.append({"rule": rule.name, "parameters": dict(rule.parameters), "assumption": rule.assumption,
                     "stop": bool(verdict.stop),
                     "evidence": dict(verdict.evidence), "default": is_default})
    return rows

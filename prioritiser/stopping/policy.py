"""What to screen next under a stopping rule: more ranked records, a random certification
sample, or nothing. One call per screened record in simulation, so it stays cheap."""

from __future__ import annotations

from prioritiser.stopping.history import ScreeningHistory
from prioritiser.stopping.registry import default_rule


def needs_samples(rule) -> bool:
    """Whether ``rule`` can be certified by a random sample (it says how many records to draw)."""
    return hasattr(rule, "samples_needed")


def next_action(history: ScreeningHistory, rules=None):
    """``"stop"``, ``"ranked"`` or ``("random", k)`` for ``rules``: one rule, or a list whose
    first rule is followed (the default rule when the list comes from :func:`default_rules`).

    A sample-based rule (one with ``samples_needed``) keeps asking for random records while
    its certification sample runs (``k`` is what would reject H0 if none of them were
    relevant, so the batch is as small as the evidence allows) and starts one when its
    ``starts_sampling`` says so. Costs one evaluation of the rule (its fast ``stops`` where it has one).
    """
    rule = rules if rules is not None and not isinstance(rules, (list, tuple)) else (rules or [default_rule()])[0]
    stops = rule.stops(history) if hasattr(rule, "stops") else rule.evaluate(history).stop
    if history.n_unscreened == 0 or stops:
        return "stop"
    if needs_samples(rule) and (history.sample_size or rule.starts_sampling(history)):
        return ("random", max(1, rule.samples_needed(history)))
    return "ranked"

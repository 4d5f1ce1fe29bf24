"""What to screen next under a stopping rule: more ranked records, a random certification
sample, or nothing. One call per screened record in simulation, so it stays cheap."""

from __future__ import annotations

from prioritiser.stopping.history import ScreeningHistory


def needs_samples(rule) -> bool:
    """Whether ``rule`` stops only on a random certification sample."""
    return hasattr(rule, "samples_needed")


def next_action(history: ScreeningHistory, rules=None):
    """``"stop"``, ``"ranked"`` or ``("random", k)`` for ``rules``: one rule, or a list whose
    first rule is followed (the default rule when the list comes from :func:`default_rules`).

    A rule without samples says stop or ranked. A sample-based rule keeps asking for random
    records while its certification sample runs (``k`` is what would reject H0 if none of them
    were relevant, so the batch is as small as the evidence allows); in the ranked phase it
    starts sampling when its ``switch`` rule says stop.
    """
    from prioritiser.stopping.registry import default_rule

    rule = rules if rules is not None and not isinstance(rules, (list, tuple)) else (rules or [default_rule()])[0]
    if history.n_unscreened == 0:
        return "stop"
    if not needs_samples(rule):
        return "stop" if rule.evaluate(history).stop else "ranked"
    if not history.sample_size and not rule.switch.evaluate(history).stop:
        return "ranked"
    if rule.evaluate(history).stop:
        return "stop"
    return ("random", max(1, rule.samples_needed(history)))

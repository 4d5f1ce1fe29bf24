"""Stopping rules and recall estimates replayed along a simulated screening.

The monitor watches a ranked screening step by step. A rule that stops on the ranking alone
stops where it first says so. A sample-based rule follows :func:`next_action`: when it asks
for random records, the certification is played out on a seeded random permutation of the
labels still unscreened (the oracle), exactly as ``prioritiser stop`` would draw it, and the
rule's stop is where its test rejects; the ranked screening itself goes on for the others.
"""

from __future__ import annotations

import numpy as np

from prioritiser.stopping.estimate import estimate
from prioritiser.stopping.history import ScreeningHistory
from prioritiser.stopping.policy import next_action


def certify(history: ScreeningHistory, rule, unscreened_labels: np.ndarray, rng: np.random.Generator) -> ScreeningHistory:
    """The history after ``rule`` has drawn random records from ``unscreened_labels`` until it
    says stop (or nothing is left)."""
    pool = rng.permutation(np.asarray(unscreened_labels, dtype=np.int64))
    drawn = 0
    while True:
        action = next_action(history, rule)
        if action == "stop" or drawn == len(pool):
            return history
        k = action[1] if isinstance(action, tuple) else 1
        batch = pool[drawn:drawn + k]
        drawn += len(batch)
        history = ScreeningHistory(history.n_total, np.concatenate([history.labels, batch]),
                                   np.concatenate([history.sampled_randomly, np.ones(len(batch), dtype=bool)]),
                                   None, history.n_prior)


class StoppingMonitor:
    """Observes a simulation and records, per rule, where it stops and the recall there, and at
    checkpoints every ``checkpoint_every`` records (default N/200) the recall estimate beside
    the true recall. ``seed`` seeds the certification samples."""

    def __init__(self, n_total: int, n_prior: int = 0, rules=None, seed: int = 0, checkpoint_every: int | None = None):
        from prioritiser.stopping.registry import default_rules

        self.n_total = n_total
        self.n_prior = n_prior
        self.rules = list(rules) if rules is not None else default_rules()
        self.seed = seed
        self.checkpoint_every = checkpoint_every or max(1, n_total // 200)
        self.results: list[dict | None] = [None] * len(self.rules)
        self.checkpoints: list[dict] = []
        self._next_checkpoint = 0

    @property
    def done(self) -> bool:
        return all(r is not None for r in self.results)

    def observe(self, labels_screened, labels_unscreened, scores_unscreened=None, screened_scores=None) -> None:
        """After a ranked step: labels screened so far in order (priors first), the oracle labels
        of the unscreened records and, optionally, the latest scores of those records and the
        score each screened record had when it was chosen (NaN where none)."""
        history = ScreeningHistory(self.n_total, labels_screened, None, scores_unscreened,
                                   min(self.n_prior, len(labels_screened)), screened_scores)
        relevant = history.found + int(np.sum(labels_unscreened))
        for i, rule in enumerate(self.rules):
            if self.results[i] is not None:
                continue
            action = next_action(history, rule)
            if action == "ranked":
                continue
            final = history
            if action != "stop":
                rng = np.random.default_rng([self.seed, history.n_screened, i])
                final = certify(history, rule, labels_unscreened, rng)
            self.results[i] = {
                "rule": rule.name, "parameters": rule.parameters, "screened": final.n_screened,
                "ranked_screened": history.n_screened, "sampled": final.sample_size, "found": final.found,
                "recall": final.found / relevant if relevant else 1.0, "evidence": rule.evaluate(final).evidence,
            }
        if history.n_screened >= self._next_checkpoint or history.n_unscreened == 0:
            self._next_checkpoint = history.n_screened + self.checkpoint_every
            self.checkpoints.append({"screened": history.n_screened, "true_recall": history.found / relevant
                                     if relevant else 1.0, **estimate(history)})

    def summary(self) -> list[dict]:
        """Per rule: ``rule``, ``parameters``, ``stop_at`` (records screened, priors and random
        samples included, when it first said stop; None if never) and ``default`` (the rule
        ``prioritiser stop`` follows), with the details of the stop, JSON-ready."""
        from prioritiser.stopping.registry import DEFAULT_RULE

        out = []
        for rule, result in zip(self.rules, self.results):
            result = dict(result or {"rule": rule.name, "parameters": rule.parameters, "screened": None})
            out.append({"rule": result.pop("rule"), "parameters": result.pop("parameters"),
                        "stop_at": result.pop("screened"), "default": rule.name == DEFAULT_RULE, **result})
        return out

"""Which record a reviewer sees next, kept in memory so that the next record takes a few
milliseconds on a 100,000-record project.

The queue mirrors the label events (read incrementally: only events after the last one seen)
and the latest ranking (reloaded when a new iteration appears, e.g. after a background
retrain or a ``prioritiser rank`` from the command line). Units are duplicate groups, named by
their representative record id, as everywhere else.

Modes (:data:`prioritiser.store.team.MODES`):

- ``single``: a group needs one reviewer;
- ``dual``: every group needs two different reviewers;
- ``dual-share``: two reviewers for a random calibration share of the groups (drawn once from
  ``share_seed``) and for every group anyone included (or marked maybe), one for the rest.

A reviewer is first offered the groups another reviewer decided that still need a second
reviewer (oldest first), then the unscreened groups in rank order (groups the latest ranking
does not hold follow in record order). Groups another reviewer has on screen are passed over
while they are there. A group whose conflict an adjudicator settled needs nobody else.
"""

from __future__ import annotations

import numpy as np

from prioritiser.store import Project
from prioritiser.store.team import events_since

INCLUDE_LIKE = ("include", "maybe")


class ScreeningQueue:
    """The next group per reviewer under ``mode``; call :meth:`refresh` to see new events."""

    def __init__(self, project: Project, mode: str = "single", share: float = 0.1, share_seed: int = 0):
        self.project = project
        self.mode = mode
        self.all_groups = np.asarray(project.group_ids(), dtype=np.int64)
        draw = np.random.default_rng(share_seed).random(len(self.all_groups)) < share
        self.share = set(self.all_groups[draw].tolist()) if mode == "dual-share" else set()
        self.reviewers_of: dict[int, dict[str, str]] = {}
        self.in_force: dict[int, str] = {}
        self.adjudicated: set[int] = set()
        self.screened_order: list[int] = []
        self.awaiting: dict[int, None] = {}  # decided by someone, needing another reviewer; insertion-ordered
        self.last_event = 0
        self.iteration_id = -1
        self.ranking: list[int] = []  # the latest ranking's groups, then the groups it does not hold
        self.n_ranked = 0
        self.rank_of_shown: dict[str, int | None] = {}  # reviewer: rank of the group on their screen
        self.position: dict[str, int] = {}
        self.showing: dict[str, int] = {}
        self.refresh()

    # ------------------------------------------------------------------ state
    def refresh(self) -> None:
        """Take in label events and a ranking that appeared since the last call."""
        for event, group, reviewer, decision, adjudication in events_since(self.project.con, self.last_event):
            self.last_event = event
            if group not in self.in_force:
                self.screened_order.append(group)
            self.in_force[group] = decision
            if adjudication:
                self.adjudicated.add(group)
                self.awaiting.pop(group, None)
                continue
            self.adjudicated.discard(group)
            self.reviewers_of.setdefault(group, {})[reviewer] = decision
            if len(self.reviewers_of[group]) < self.required(group):
                self.awaiting[group] = None
            else:
                self.awaiting.pop(group, None)
        latest = self.project.latest_iteration_id()
        if latest != self.iteration_id:
            self._load_ranking(latest)

    def _load_ranking(self, iteration_id: int) -> None:
        ranked = np.zeros(0, dtype=np.int64)
        if iteration_id:
            ranked = self.project.iteration(iteration_id).group_ids
        rest = self.all_groups[~np.isin(self.all_groups, ranked)]
        self.ranking = np.concatenate([ranked, rest]).tolist()
        self.n_ranked = len(ranked)
        self.iteration_id = iteration_id
        self.position.clear()

    def required(self, group: int) -> int:
        """Reviewers the group needs under the mode."""
        if self.mode == "single":
            return 1
        if self.mode == "dual":
            return 2
        decisions = self.reviewers_of.get(group, {}).values()
        return 2 if group in self.share or any(d in INCLUDE_LIKE for d in decisions) else 1

    def complete(self, group: int) -> bool:
        """Whether the group has every reviewer it needs (or an adjudication)."""
        return group in self.adjudicated or len(self.reviewers_of.get(group, {})) >= self.required(group)

    def needs(self, group: int, reviewer: str) -> bool:
        """Whether ``reviewer`` should screen ``group`` now."""
        if group in self.adjudicated:
            return False
        reviewers = self.reviewers_of.get(group, {})
        return reviewer not in reviewers and len(reviewers) < self.required(group)

    # ------------------------------------------------------------------ next
    def next_group(self, reviewer: str) -> int | None:
        """The group ``reviewer`` should screen next (``None`` when nothing is left for them);
        it counts as on their screen until they decide or ask again."""
        self.release(reviewer)
        on_screen = set(self.showing.values())
        for group in self.awaiting:
            if group not in on_screen and self.needs(group, reviewer):
                return self._show(reviewer, group)
        start = self.position.get(reviewer, 0)
        i = start
        while i < len(self.ranking) and self.ranking[i] in self.in_force:
            i += 1
        self.position[reviewer] = i  # everything before i has a decision
        for j in range(i, len(self.ranking)):
            group = self.ranking[j]
            if group not in self.in_force and group not in on_screen:
                return self._show(reviewer, group, j + 1 if j < self.n_ranked else None)
        return None

    def release(self, reviewer: str) -> None:
        """The group on ``reviewer``'s screen is free for others again."""
        self.showing.pop(reviewer, None)

    def _show(self, reviewer: str, group: int, rank: int | None = None) -> int:
        self.showing[reviewer] = group
        self.rank_of_shown[reviewer] = rank
        return group

    def rank_of(self, group: int, reviewer: str) -> int | None:
        """The group's place in the latest ranking, when it is the one ``reviewer`` was last shown."""
        return self.rank_of_shown.get(reviewer) if self.showing.get(reviewer) == group else None

    def own_decision(self, group: int, reviewer: str) -> str | None:
        return self.reviewers_of.get(group, {}).get(reviewer)

    def remaining_for(self, reviewer: str) -> int:
        """Groups still waiting for ``reviewer`` (unscreened ones plus second reviews)."""
        unscreened = len(self.all_groups) - len(self.in_force)  # every decided group is a group of all_groups
        return unscreened + sum(self.needs(g, reviewer) for g in self.awaiting)

    # ------------------------------------------------------------------ progress
    def progress(self, reviewer: str, batch: int) -> dict:
        """Includes found against groups screened (decisions in force), includes per batch of
        ``batch`` screened groups (in order of first decision; the last ten batches), and the
        reviewer's own counts. Only groups no reviewer is still awaited on count, so that in the
        dual modes the counts never hint at a decision a reviewer has yet to make blind."""
        done = [g for g in self.screened_order if self.complete(g)]  # blind: none awaiting a reviewer
        included = [self.in_force[g] in INCLUDE_LIKE for g in done]
        batches = [
            {"from": start + 1, "to": min(start + batch, len(included)), "includes": int(sum(included[start:start + batch]))}
            for start in range(0, len(included), batch)
        ][-10:]
        own = [d for decisions in self.reviewers_of.values() for r, d in decisions.items() if r == reviewer]
        return {
            "groups": len(self.all_groups),
            "screened": len(done),
            "includes": int(sum(included)),
            "batches": batches,
            "mine": {"screened": len(own), "includes": sum(d in INCLUDE_LIKE for d in own)},
            "left_for_me": self.remaining_for(reviewer),
            "iteration_id": self.iteration_id or None,
            "mode": self.mode,
        }

"""The screening history as the audit reads it: who was screened when, and what each ranking said.

Units are duplicate groups (a group is screened once), named by ``group_id``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from prioritiser.records import INCLUDE
from prioritiser.store import Project

RANKING_COLUMNS = ["score", "rank", "iteration_id", "config_hash", "seed"]


def last_rankings(project: Project, group_ids=None) -> pd.DataFrame:
    """For each group, what the newest stored ranking holding it said: ``score``, ``rank``
    (1-based position in that ranking), ``iteration_id``, ``config_hash`` and ``seed``.

    Indexed by ``group_id``; groups no ranking holds (screened before the first ranking, or
    imported after the last one) are absent. A ranking holds only groups unscreened when it was
    made, so for a screened group this is the ranking that put it in front of the reviewer.
    """
    wanted = None if group_ids is None else {int(g) for g in group_ids}
    parts = []
    seen: set[int] = set()
    for meta in reversed(project.iterations()):
        if wanted is not None and wanted <= seen:
            break
        it = project.iteration(meta.iteration_id)
        ranks = np.arange(1, len(it.group_ids) + 1)
        new = np.array([g not in seen and (wanted is None or g in wanted) for g in it.group_ids.tolist()], dtype=bool)
        if not new.any():
            continue
        seen.update(it.group_ids[new].tolist())
        parts.append(pd.DataFrame({
            "group_id": it.group_ids[new], "score": it.scores[new], "rank": ranks[new],
            "iteration_id": it.iteration_id, "config_hash": it.config_hash, "seed": it.seed,
        }))
    if not parts:
        return pd.DataFrame(columns=["group_id", *RANKING_COLUMNS]).set_index("group_id")
    return pd.concat(parts, ignore_index=True).set_index("group_id").sort_index()


def screened_groups(project: Project) -> pd.DataFrame:
    """Screened groups in the order of their first decision, with the label batch of that
    decision (``batch``), its reviewer and the decision in force (``decision``)."""
    events = project.label_events()
    first = events.drop_duplicates("group_id")[["event_id", "group_id", "batch", "reviewer"]].reset_index(drop=True)
    decisions = project.group_decisions()
    first["decision"] = first["group_id"].map(decisions)
    return first


def recall_curve(screened: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Groups screened (1..n) and includes found among them, in screening order."""
    found = np.cumsum(screened["decision"].eq(INCLUDE).to_numpy())
    return np.arange(1, len(found) + 1), found


def batch_yields(screened: pd.DataFrame) -> pd.DataFrame:
    """Per label batch (in the order first seen): groups first screened in it and includes among them."""
    frame = screened.assign(include=screened["decision"].eq(INCLUDE))
    grouped = frame.groupby("batch", sort=False)
    return pd.DataFrame({"screened": grouped.size(), "includes": grouped["include"].sum()}).reset_index()

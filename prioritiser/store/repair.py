"""Repair of projects whose ``prioritiser stop`` drew "random" batches as a side effect.

Before schema version 2, every CONTINUE of ``prioritiser stop`` recorded a random
certification batch (often most of the unscreened records) whether or not anybody screened it,
and every record in any such batch then counted as randomly sampled. Version 2 stores the last
label event at each hand-out, so a drawn record counts only when its first decision came in
while its sample was the open batch (see :func:`prioritiser.screening.screening_history`).

For the batches made before that, the migration to version 2 (run when a command that writes
opens the project, or by ``prioritiser check --repair``):

* fills in each batch's hand-out event: a ranked batch's from the iteration stored with it; a
  random batch's from the stop decision recorded with it (same size, the first one recorded
  at or after the batch, within :data:`MATCH_SECONDS`); otherwise the last label event recorded
  no later than the batch;
* marks a legacy random batch **void** when, during its open window (from its hand-out to the
  next batch's), records outside it were newly decided (the reviewer was screening something
  else), or none of it was decided. A void batch is kept and marked, never deleted; no label
  event is touched.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime

import numpy as np

#: Seconds between a legacy random batch and the stop decision recorded with it.
MATCH_SECONDS = 5.0


def _seconds(stamp: str) -> float:
    """Seconds since the epoch of an ISO 8601 time (a time that cannot be read counts as the earliest)."""
    try:
        return datetime.fromisoformat(stamp).timestamp()
    except (TypeError, ValueError):
        return float("-inf")


def _hand_out_events(con: sqlite3.Connection) -> dict[int, int]:
    """Batch id -> last label event at its hand-out, for every batch (see the module docstring)."""
    iterations = dict(con.execute("SELECT iteration_id, last_event_id FROM iterations"))
    decisions = []
    for decision_id, created_at, last_event, payload in con.execute(
        "SELECT decision_id, created_at, last_event_id, decision FROM stop_decisions ORDER BY decision_id"
    ):
        size = json.loads(payload).get("sample_size")
        decisions.append((decision_id, _seconds(created_at), last_event, size))
    events = con.execute("SELECT event_id, recorded_at FROM label_events ORDER BY event_id").fetchall()
    event_ids = np.array([e for e, _ in events], dtype=np.int64)
    event_times = np.array([_seconds(t) for _, t in events], dtype=np.float64)
    used: set[int] = set()
    found = {}
    for batch_id, kind, iteration_id, created_at, blob in con.execute(
        "SELECT batch_id, kind, iteration_id, created_at, group_ids FROM batches ORDER BY batch_id"
    ).fetchall():
        when = _seconds(created_at)
        if kind == "ranked" and iteration_id in iterations:
            found[batch_id] = iterations[iteration_id]
            continue
        size = len(blob) // 8
        match = next((d for d in decisions if d[0] not in used and d[3] == size
                      and 0 <= d[1] - when <= MATCH_SECONDS), None) if kind == "random" else None
        if match is not None:
            used.add(match[0])
            found[batch_id] = match[2]
            continue
        before = event_ids[event_times <= when]
        found[batch_id] = int(before[-1]) if len(before) else 0
    return found


def void_reason(members: set[int], newly_decided: set[int]) -> str | None:
    """Why a legacy random batch with ``members`` (groups) is void, given the groups first
    decided during its open window; None when it stands as a sample."""
    inside = newly_decided & members
    if not inside:
        return "none of its records was screened while it was the open batch"
    outside = len(newly_decided) - len(inside)
    if outside:
        return (f"{outside:,} records outside it were screened while it was the open batch "
                f"(and {len(inside):,} of its {len(members):,}): it was not screened as a sample")
    return None


def repair_legacy_batches(con: sqlite3.Connection) -> list[str]:
    """Fill in hand-out events of batches that lack one and mark void the legacy random
    batches that were never screened as samples; inside the caller's transaction. Returns one
    line per batch marked void."""
    pending = {b for (b,) in con.execute("SELECT batch_id FROM batches WHERE last_event_id IS NULL")}
    if not pending:
        return []
    hand_out = _hand_out_events(con)
    for batch_id in sorted(pending):
        con.execute("UPDATE batches SET last_event_id=? WHERE batch_id=?", (hand_out[batch_id], batch_id))
    group_of = dict(con.execute("SELECT record_id, group_id FROM records"))
    first: dict[int, int] = {}
    for group, event_id in con.execute(
        "SELECT r.group_id, e.event_id FROM label_events e JOIN records r USING (record_id) ORDER BY e.event_id"
    ):
        first.setdefault(group, event_id)
    rows = con.execute("SELECT batch_id, kind, last_event_id, group_ids FROM batches ORDER BY batch_id").fetchall()
    lines = []
    for i, (batch_id, kind, start, blob) in enumerate(rows):
        if batch_id not in pending or kind != "random":
            continue
        end = rows[i + 1][2] if i + 1 < len(rows) else None
        newly = {g for g, e in first.items() if e > start and (end is None or e <= end)}
        members = {group_of[int(r)] for r in np.frombuffer(blob, dtype="<i8").tolist() if int(r) in group_of}
        reason = void_reason(members, newly)
        if reason is not None:
            con.execute("UPDATE batches SET void=? WHERE batch_id=?", (f"legacy random batch: {reason}", batch_id))
            lines.append(f"random batch {batch_id} ({len(members):,} records) marked void: {reason}")
    return lines

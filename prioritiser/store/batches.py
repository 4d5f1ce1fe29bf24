"""Queries on batches handed to reviewers."""

from __future__ import annotations

import sqlite3

import numpy as np

from prioritiser.store.connection import now_iso

#: ``ranked``: the front of a ranking; ``random``: a uniform sample of unscreened groups to
#: certify a stop; ``qa``: a quality-control sample of model-excluded groups.
BATCH_KINDS = ("ranked", "random", "qa")


class BatchQueries:
    """Batches of a project (mixed into :class:`~prioritiser.store.Project`)."""

    con: sqlite3.Connection

    def add_batch(self, kind: str, group_ids, seed: int, iteration_id: int | None = None) -> int:
        """Record a batch handed to reviewers (one of :data:`BATCH_KINDS`) with the last label
        event at its hand-out; returns its id. Handing it out closes the batch before it.

        Hand batches out with :func:`prioritiser.batches.hand_out`, which also writes the file."""
        with self.write() as con:
            cur = con.execute(
                "INSERT INTO batches (iteration_id, kind, created_at, seed, group_ids, last_event_id)"
                " VALUES (?, ?, ?, ?, ?, (SELECT COALESCE(MAX(event_id), 0) FROM label_events))",
                (iteration_id, kind, now_iso(), seed, np.asarray(group_ids, dtype="<i8").tobytes()),
            )
            return cur.lastrowid

    def batches(self, kind: str | None = None) -> list[dict]:
        """Stored batches, oldest first, each with its group ids (as drawn) as an array.

        ``last_event_id``: the last label event when it was handed out; ``closed_at_event``: the
        last label event when the next batch was handed out (None while it is the open batch),
        so decisions with ``last_event_id < event_id <= closed_at_event`` came in while it was
        open; ``void``: why the batch does not count (None when it does)."""
        rows = self.con.execute(
            "SELECT batch_id, iteration_id, kind, created_at, seed, group_ids, last_event_id, void"
            " FROM batches ORDER BY batch_id"
        ).fetchall()
        out = []
        for i, (b, it, k, c, s, g, last, void) in enumerate(rows):
            if kind is None or k == kind:
                out.append({"batch_id": b, "iteration_id": it, "kind": k, "created_at": c, "seed": s,
                            "group_ids": np.frombuffer(g, dtype="<i8"), "last_event_id": last,
                            "closed_at_event": rows[i + 1][6] if i + 1 < len(rows) else None, "void": void})
        return out

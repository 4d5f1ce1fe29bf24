"""Queries on batches handed to reviewers and on recorded stopping decisions."""

from __future__ import annotations

import json
import sqlite3

import numpy as np

from prioritiser.store.connection import now_iso

#: ``ranked``: the front of a ranking; ``random``: a uniform sample of unscreened groups to
#: certify a stop; ``qa``: a quality-control sample of model-excluded groups.
BATCH_KINDS = ("ranked", "random", "qa")


class BatchQueries:
    """Batches and stop decisions of a project (mixed into :class:`~prioritiser.store.Project`)."""

    con: sqlite3.Connection

    def add_batch(self, kind: str, group_ids, seed: int, iteration_id: int | None = None) -> int:
        """Record a batch handed to reviewers (one of :data:`BATCH_KINDS`); returns its id.

        Hand batches out with :func:`prioritiser.batches.hand_out`, which also writes the file."""
        with self.write() as con:
            cur = con.execute(
                "INSERT INTO batches (iteration_id, kind, created_at, seed, group_ids) VALUES (?, ?, ?, ?, ?)",
                (iteration_id, kind, now_iso(), seed, np.asarray(group_ids, dtype="<i8").tobytes()),
            )
            return cur.lastrowid

    def batches(self, kind: str | None = None) -> list[dict]:
        """Stored batches, oldest first, each with its group ids as an array."""
        sql = "SELECT batch_id, iteration_id, kind, created_at, seed, group_ids FROM batches"
        rows = self.con.execute(sql + (" WHERE kind=?" if kind else "") + " ORDER BY batch_id", (kind,) if kind else ())
        return [
            {"batch_id": b, "iteration_id": i, "kind": k, "created_at": c, "seed": s,
             "group_ids": np.frombuffer(g, dtype="<i8")}
            for b, i, k, c, s, g in rows
        ]

    def add_stop_decision(self, decision: dict) -> int:
        """Record the verdict of ``prioritiser stop`` (rule, parameters, evidence, stop)."""
        with self.write() as con:
            cur = con.execute(
                "INSERT INTO stop_decisions (created_at, last_event_id, decision) VALUES (?, ?, ?)",
                (now_iso(), self.last_event_id(), json.dumps(decision)),
            )
            return cur.lastrowid

    def latest_stop_decision(self) -> dict | None:
        row = self.con.execute(
            "SELECT created_at, last_event_id, decision FROM stop_decisions ORDER BY decision_id DESC LIMIT 1"
        ).fetchone()
        return None if row is None else {"created_at": row[0], "last_event_id": row[1], **json.loads(row[2])}

"""Stored rankings (iterations): configuration, counts, timings, estimates and the ranking (all of
it, or its first rows for a pool scored on a cluster)."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass

import numpy as np

from prioritiser.errors import UserError


def config_hash(config: dict) -> str:
    """A short stable hash of a model configuration (sorted-key JSON)."""
    blob = json.dumps(config, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


@dataclass
class Iteration:
    """One stored ranking: unlabelled groups in rank order with their scores, and ``n_ranked``,
    the number of groups it ranked (by default all those stored; more when only its first rows
    were kept: a pool scored on a cluster)."""

    iteration_id: int
    created_at: str
    kind: str
    config: dict
    config_hash: str
    seed: int
    last_event_id: int
    n_labelled: int
    n_included: int
    n_excluded: int
    timings: dict
    estimates: dict
    group_ids: np.ndarray
    scores: np.ndarray
    n_ranked: int | None = None

    def __post_init__(self):
        if self.n_ranked is None:
            self.n_ranked = len(self.group_ids)

    @property
    def stored_in_full(self) -> bool:
        """Whether every group ranked is stored (for an iteration loaded with its ranking)."""
        return len(self.group_ids) == self.n_ranked


class IterationQueries:
    """Iterations of a project (mixed into :class:`~prioritiser.store.Project`)."""

    con: sqlite3.Connection

    def add_iteration(self, it: Iteration) -> int:
        """Store a ranking; returns its iteration id."""
        with self.write() as con:
            cur = con.execute(
                "INSERT INTO iterations (created_at, kind, config, config_hash, seed, last_event_id, n_labelled,"
                " n_included, n_excluded, timings, estimates, group_ids, scores, n_ranked)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    it.created_at, it.kind, json.dumps(it.config, sort_keys=True), it.config_hash, it.seed,
                    it.last_event_id, it.n_labelled, it.n_included, it.n_excluded, json.dumps(it.timings),
                    json.dumps(it.estimates), np.asarray(it.group_ids, dtype="<i8").tobytes(),
                    np.asarray(it.scores, dtype="<f8").tobytes(), it.n_ranked,
                ),
            )
            return cur.lastrowid

    def iterations(self, with_ranking: bool = False) -> list[Iteration]:
        """Every stored iteration, oldest first; rankings are loaded only when asked for."""
        blobs = "group_ids, scores" if with_ranking else "NULL, NULL"
        rows = self.con.execute(f"SELECT {_ITERATION_COLUMNS}, {blobs}, n_ranked FROM iterations ORDER BY iteration_id")
        return [_iteration_from_row(row) for row in rows]

    def latest_iteration_id(self) -> int:
        """The newest iteration's id, 0 before the first."""
        return self.con.execute("SELECT COALESCE(MAX(iteration_id), 0) FROM iterations").fetchone()[0]

    def latest_iteration(self) -> Iteration | None:
        row = self.con.execute(f"SELECT {_ALL_COLUMNS} FROM iterations ORDER BY iteration_id DESC LIMIT 1").fetchone()
        return None if row is None else _iteration_from_row(row)

    def iteration(self, iteration_id: int) -> Iteration:
        row = self.con.execute(f"SELECT {_ALL_COLUMNS} FROM iterations WHERE iteration_id=?", (iteration_id,)).fetchone()
        if row is None:
            raise UserError(f"{self.path}: no iteration {iteration_id}")
        return _iteration_from_row(row)


_ITERATION_COLUMNS = (
    "iteration_id, created_at, kind, config, config_hash, seed, last_event_id, n_labelled, n_included,"
    " n_excluded, timings, estimates"
)
_ALL_COLUMNS = f"{_ITERATION_COLUMNS}, group_ids, scores, n_ranked"


def _iteration_from_row(row: tuple) -> Iteration:
    (iteration_id, created_at, kind, config, chash, seed, last_event, n_lab, n_inc, n_exc, timings, estimates,
     group_blob, score_blob, n_ranked) = row
    return Iteration(
        iteration_id=iteration_id, created_at=created_at, kind=kind, config=json.loads(config), config_hash=chash,
        seed=seed, last_event_id=last_event, n_labelled=n_lab, n_included=n_inc, n_excluded=n_exc,
        timings=json.loads(timings), estimates=json.loads(estimates),
        group_ids=np.frombuffer(group_blob or b"", dtype="<i8"),
        scores=np.frombuffer(score_blob or b"", dtype="<f8"), n_ranked=n_ranked,
    )

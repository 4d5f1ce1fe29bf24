"""Queries on label events: append-only reviewer decisions and the decision in force per group.

An event's ``batch`` starts with its role: ``label <file>`` for a reviewer's decision,
``adjudication <file>`` (:data:`ADJUDICATION`) for an adjudicator's, which settles a
disagreement: a group's decision in force is its latest adjudication if it has one, else its
latest event; reviewers conflict when their latest decisions since the group's latest
adjudication (the adjudicator's included) differ.
"""

from __future__ import annotations

import sqlite3

import pandas as pd

from prioritiser.store.connection import now_iso

#: The role that starts the ``batch`` of an adjudicator's event.
ADJUDICATION = "adjudication"
#: SQL: whether label event ``e`` is an adjudication.
IS_ADJUDICATION = f"(e.batch LIKE '{ADJUDICATION} %')"

#: The fields of a label event, in the order of its canonical form (see the audit's hashes).
EVENT_FIELDS = ("event_id", "record_id", "decision", "reviewer", "decided_at", "recorded_at", "batch", "origin")


class LabelQueries:
    """Label events of a project (mixed into :class:`~prioritiser.store.Project`)."""

    con: sqlite3.Connection

    def add_label_events(self, events: list[tuple[int, str, str, str, str]], batch: str) -> int:
        """Append ``(record_id, decision, reviewer, decided_at, origin)`` events in one transaction.

        An empty ``decided_at`` means now."""
        stamp = now_iso()
        with self.write() as con:
            con.executemany(
                "INSERT INTO label_events (record_id, decision, reviewer, decided_at, recorded_at, batch, origin)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(r, d, rev, at or stamp, stamp, batch, origin) for r, d, rev, at, origin in events],
            )
        return len(events)

    def label_events(self) -> pd.DataFrame:
        """Every label event in the order it was recorded, with the record's group."""
        return pd.read_sql_query(
            "SELECT e.*, r.group_id FROM label_events e JOIN records r USING (record_id) ORDER BY event_id",
            self.con,
        )

    def label_event_rows(self, up_to_event: int):
        """The :data:`EVENT_FIELDS` of every event up to ``up_to_event``, in id order (a cursor)."""
        return self.con.execute(
            f"SELECT {', '.join(EVENT_FIELDS)} FROM label_events WHERE event_id <= ? ORDER BY event_id", (up_to_event,)
        )

    def last_event_id(self) -> int:
        return self.con.execute("SELECT COALESCE(MAX(event_id), 0) FROM label_events").fetchone()[0]

    def group_decisions(self, up_to_event: int | None = None) -> dict[int, str]:
        """The decision in force per group: its latest adjudication, else its latest label event
        (up to ``up_to_event``)."""
        limit = self.last_event_id() if up_to_event is None else up_to_event
        rows = self.con.execute(
            "SELECT r.group_id, e.decision FROM label_events e JOIN records r USING (record_id)"
            f" WHERE e.event_id <= ? ORDER BY {IS_ADJUDICATION}, e.event_id",
            (limit,),
        )
        return {group: decision for group, decision in rows}

    def reviewer_decisions(self) -> dict[tuple[int, str], str]:
        """The latest decision of each reviewer on each record: ``{(record_id, reviewer): decision}``."""
        in_force: dict[tuple[int, str], str] = {}
        for record_id, reviewer, decision in self.con.execute(
            "SELECT record_id, reviewer, decision FROM label_events ORDER BY event_id"
        ):
            in_force[(record_id, reviewer)] = decision
        return in_force

    def screening_order(self, up_to_event: int) -> list[int]:
        """Groups with a decision up to ``up_to_event``, in the order of their first decision."""
        return list(self.first_decisions(up_to_event))

    def first_decisions(self, up_to_event: int) -> dict[int, int]:
        """Group -> the event id of its first decision, for groups decided up to
        ``up_to_event``, in the order of their first decision."""
        first: dict[int, int] = {}
        for group, event_id in self.con.execute(
            "SELECT r.group_id, e.event_id FROM label_events e JOIN records r USING (record_id) WHERE e.event_id <= ?"
            " ORDER BY e.event_id",
            (up_to_event,),
        ):
            first.setdefault(group, event_id)
        return first

    def label_conflicts(self) -> list[tuple[int, dict[str, str]]]:
        """See :func:`conflicting_groups`."""
        return conflicting_groups(self.con)


def conflicting_groups(con: sqlite3.Connection) -> list[tuple[int, dict[str, str]]]:
    """Groups where the latest decisions of different reviewers since the group's latest
    adjudication (the adjudicator's own included) disagree, oldest first, each with
    ``{reviewer: decision}``."""
    latest: dict[int, dict[str, str]] = {}
    for group, reviewer, decision, adjudication in con.execute(
        f"SELECT r.group_id, e.reviewer, e.decision, {IS_ADJUDICATION} FROM label_events e"
        " JOIN records r USING (record_id) ORDER BY e.event_id"
    ):
        if adjudication:
            latest[group] = {}
        latest.setdefault(group, {})[reviewer] = decision
    return [(g, d) for g, d in latest.items() if len(set(d.values())) > 1]

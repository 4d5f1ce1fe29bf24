"""The project: one SQLite file (``project.sqlite``) inside a project directory, and every
query on it. Each job's queries live in their own module and are mixed into :class:`Project`."""

from __future__ import annotations

from prioritiser.records import EXCLUDE, INCLUDE, MAYBE
from prioritiser.store.batches import BatchQueries
from prioritiser.store.connection import Connection
from prioritiser.store.iterations import IterationQueries
from prioritiser.store.labels import LabelQueries
from prioritiser.store.records import RecordQueries


class Project(Connection, RecordQueries, LabelQueries, IterationQueries, BatchQueries):
    """A screening project stored in ``DIR/project.sqlite``: open it with ``Project(path)``
    (see :class:`~prioritiser.store.connection.Connection`), make one with
    :func:`prioritiser.importing.create_project`."""

    def info(self) -> dict:
        """Counts of records: records, duplicates, labelled, included, excluded, maybe, unlabelled.

        A decision on a duplicate group counts for every record in it. ``labelled`` counts
        records with any decision (``maybe`` included).
        """
        con = self.con
        n_records, n_groups, n_without_text = con.execute(
            "SELECT COUNT(*), COUNT(DISTINCT group_id),"
            " COALESCE(SUM(trim(title) = '' AND trim(abstract) = ''), 0) FROM records"
        ).fetchone()
        decisions = self.group_decisions()
        sizes = dict(con.execute("SELECT group_id, COUNT(*) FROM records GROUP BY group_id").fetchall())
        counts = {INCLUDE: 0, EXCLUDE: 0, MAYBE: 0}
        for group, decision in decisions.items():
            counts[decision] += sizes.get(group, 0)
        labelled = sum(counts.values())
        return {
            "records": n_records,
            "duplicates": n_records - n_groups,
            "groups": n_groups,
            "labelled": labelled,
            "included": counts[INCLUDE],
            "excluded": counts[EXCLUDE],
            "maybe": counts[MAYBE],
            "unlabelled": n_records - labelled,
            "without_text": n_without_text,
            "label_events": self.last_event_id(),
            "iterations": con.execute("SELECT COUNT(*) FROM iterations").fetchone()[0],
            "sources": con.execute("SELECT COUNT(*) FROM sources").fetchone()[0],
        }

    def check(self) -> list[str]:
        """Integrity problems found (empty when the project is sound)."""
        problems = [r[0] for r in self.con.execute("PRAGMA integrity_check") if r[0] != "ok"]
        problems += [f"foreign key: {r}" for r in self.con.execute("PRAGMA foreign_key_check")]
        orphans = self.con.execute(
            "SELECT COUNT(*) FROM records WHERE group_id NOT IN (SELECT record_id FROM records)"
        ).fetchone()[0]
        if orphans:
            problems.append(f"{orphans} records point to a duplicate group that does not exist")
        for it in self.iterations(with_ranking=True):
            if len(it.group_ids) != len(it.scores):
                problems.append(f"iteration {it.iteration_id}: ranking and scores differ in length")
        return problems

"""Queries on records, their sources and their duplicate groups.

Units: a duplicate *group* is named by its ``group_id``, the smallest record id in it.
"""

from __future__ import annotations

import json
import sqlite3

import numpy as np
import pandas as pd

from prioritiser.records import Record

#: Columns of a batch file that come from the group's representative record.
BATCH_RECORD_COLUMNS = ["record_id", "title", "abstract", "authors", "year", "doi"]


def record_row(record_id: int, source_id: int, r: Record) -> tuple:
    """A ``records`` row for ``r``; it stands alone in its group until regrouped."""
    return (
        record_id, source_id, r.position, r.line, r.source_key, r.title, r.abstract, "; ".join(r.authors),
        r.year, r.doi, r.pmid, "; ".join(r.keywords), r.journal, json.dumps(r.extra) if r.extra else "{}",
        record_id,
    )


class RecordQueries:
    """Records, sources and groups of a project (mixed into :class:`~prioritiser.store.Project`)."""

    con: sqlite3.Connection

    # ----------------------------------------------------------------- writing (inside write())
    def next_record_id(self) -> int:
        return self.con.execute("SELECT COALESCE(MAX(record_id), 0) + 1 FROM records").fetchone()[0]

    def add_source(self, path: str, sha256: str, fmt: str, imported_at: str) -> int:
        """A new source file row (its record count is set by :meth:`set_source_count`)."""
        cur = self.con.execute(
            "INSERT INTO sources (path, sha256, format, n_records, imported_at) VALUES (?, ?, ?, 0, ?)",
            (path, sha256, fmt, imported_at),
        )
        return cur.lastrowid

    def set_source_count(self, source_id: int, n_records: int) -> None:
        self.con.execute("UPDATE sources SET n_records=? WHERE source_id=?", (n_records, source_id))

    def insert_records(self, rows: list[tuple], labels: list[tuple]) -> None:
        """Insert :func:`record_row` rows and the label events their files carried, given as
        ``(record_id, decision, reviewer, decided_at, recorded_at, batch, origin)``."""
        self.con.executemany("INSERT INTO records VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        self.con.executemany(
            "INSERT INTO label_events (record_id, decision, reviewer, decided_at, recorded_at, batch, origin)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            labels,
        )

    def record_ids(self) -> np.ndarray:
        return np.fromiter((r[0] for r in self.con.execute("SELECT record_id FROM records ORDER BY record_id")),
                           dtype=np.int64)

    def dedupe_fields(self) -> list[tuple]:
        """``(title, year, doi, pmid)`` of every record, in record-id order."""
        return self.con.execute("SELECT title, year, doi, pmid FROM records ORDER BY record_id").fetchall()

    def dedupe_setting(self) -> str | None:
        """``"on"`` or ``"off"``: whether the last import grouped duplicates (None before any)."""
        row = self.con.execute("SELECT value FROM meta WHERE key='dedupe'").fetchone()
        return None if row is None else row[0]

    def set_groups(self, record_ids: np.ndarray, group_ids: np.ndarray, dedupe: bool) -> None:
        """Give each record its group and remember whether duplicates were grouped."""
        con = self.con
        con.execute("CREATE TEMP TABLE IF NOT EXISTS regroup (record_id INTEGER PRIMARY KEY, group_id INTEGER)")
        con.execute("DELETE FROM regroup")
        con.executemany("INSERT INTO regroup VALUES (?, ?)", zip(record_ids.tolist(), group_ids.tolist()))
        con.execute(
            "UPDATE records SET group_id = (SELECT group_id FROM regroup WHERE regroup.record_id = records.record_id)"
        )
        con.execute("INSERT OR REPLACE INTO meta VALUES ('dedupe', ?)", ("on" if dedupe else "off",))

    def duplicate_counts(self) -> tuple[int, int]:
        """Groups with more than one record, and the records beyond the first in them."""
        return self.con.execute(
            "SELECT COUNT(*), COALESCE(SUM(n - 1), 0) FROM "
            "(SELECT COUNT(*) AS n FROM records GROUP BY group_id HAVING n > 1)"
        ).fetchone()

    # ----------------------------------------------------------------- reading
    def records_frame(self, columns: str = "*") -> pd.DataFrame:
        """All records as a frame indexed by nothing, ordered by record id."""
        return pd.read_sql_query(f"SELECT {columns} FROM records ORDER BY record_id", self.con)

    def records_with_sources(self) -> pd.DataFrame:
        """Every record with its source file's path (``source_file``) and position in it
        (``source_position``), ordered by record id."""
        return pd.read_sql_query(
            "SELECT r.*, s.path AS source_file, r.position AS source_position"
            " FROM records r JOIN sources s USING (source_id) ORDER BY record_id",
            self.con,
        )

    def sources(self) -> pd.DataFrame:
        return pd.read_sql_query("SELECT * FROM sources ORDER BY source_id", self.con)

    def group_texts(self) -> tuple[np.ndarray, list[str]]:
        """Group ids (sorted) and the text the models read for each group.

        A group's text comes from its member with the most title + abstract text (the first such
        member). One pass over the records: a query per group is several times slower.
        """
        best: dict[int, tuple[int, str, str, str]] = {}
        for group, title, abstract, keywords in self.con.execute(
            "SELECT group_id, title, abstract, keywords FROM records ORDER BY record_id"
        ):
            size = len(title) + len(abstract)
            if group not in best or size > best[group][0]:
                best[group] = (size, title, abstract, keywords)
        group_ids = np.fromiter(sorted(best), dtype=np.int64, count=len(best))
        rows = (best[group] for group in group_ids.tolist())
        texts = [Record(title=t, abstract=a, keywords=[k] if k else []).text for _, t, a, k in rows]
        return group_ids, texts

    def group_ids(self) -> list[int]:
        """Every group id, ascending."""
        return [g for (g,) in self.con.execute("SELECT DISTINCT group_id FROM records ORDER BY group_id")]

    def current_groups(self, record_ids) -> list[int]:
        """The group each record is in now (a batch stores a group's id when drawn; a later
        import may merge that group into another)."""
        ids = [int(g) for g in record_ids]
        if not ids:
            return []
        rows = dict(self.con.execute(
            f"SELECT record_id, group_id FROM records WHERE record_id IN ({','.join('?' * len(ids))})", ids
        ).fetchall())
        return [rows[g] for g in ids]

    def record_detail(self, record_id: int) -> dict | None:
        """One record's fields for display, with ``duplicates``: the other records in its group
        (None when there is no such record)."""
        keys = ["group_id", "title", "abstract", "authors", "year", "journal", "doi", "pmid", "keywords"]
        row = self.con.execute(f"SELECT record_id, {', '.join(keys[1:])} FROM records WHERE record_id=?",
                               (record_id,)).fetchone()
        if row is None:
            return None
        record = dict(zip(keys, row))
        (record["duplicates"],) = self.con.execute(
            "SELECT COUNT(*) - 1 FROM records WHERE group_id=(SELECT group_id FROM records WHERE record_id=?)",
            (record_id,)).fetchone()
        return record

    def titles(self, record_ids) -> dict[int, str]:
        ids = [int(g) for g in record_ids]
        if not ids:
            return {}
        return dict(self.con.execute(
            f"SELECT record_id, title FROM records WHERE record_id IN ({','.join('?' * len(ids))})", ids).fetchall())

    def batch_records(self, record_ids) -> pd.DataFrame:
        """:data:`BATCH_RECORD_COLUMNS` of the given records, in the order given."""
        ids = [int(g) for g in record_ids]
        if not ids:
            return pd.DataFrame(columns=BATCH_RECORD_COLUMNS)
        return pd.read_sql_query(
            f"SELECT {', '.join(BATCH_RECORD_COLUMNS)} FROM records WHERE record_id IN ({','.join('?' * len(ids))})",
            self.con, params=ids,
        ).set_index("record_id").loc[ids].reset_index()

    def record_exists(self, record_id: int) -> bool:
        return self.con.execute("SELECT 1 FROM records WHERE record_id=?", (record_id,)).fetchone() is not None

    def record_column(self, column: str) -> list[tuple[int, str]]:
        """``(record_id, value)`` of one text column (``doi``, ``pmid``, ``title`` or
        ``source_key``) for every record, in record-id order."""
        if column not in ("doi", "pmid", "title", "source_key"):
            raise ValueError(f"not a record key column: {column!r}")
        return self.con.execute(f"SELECT record_id, {column} FROM records ORDER BY record_id").fetchall()

"""The project store: one SQLite file (``project.sqlite``) inside a project directory.

Invariants:
- a record's ``record_id`` (1..N in import order) never changes;
- label events are append-only (triggers refuse UPDATE and DELETE); a changed decision is a
  new event, and the decision in force for a duplicate group is its latest event;
- rankings are stored per iteration and never overwritten;
- every command writes in one transaction, so a crash leaves the project as it was before
  the command or as after it, never in between (WAL journal, ``synchronous=FULL``).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from prioritiser.errors import UserError
from prioritiser.records import DECISIONS, EXCLUDE, INCLUDE, MAYBE, Record

DB_NAME = "project.sqlite"
SCHEMA_VERSION = 1
#: Seconds a writer waits quietly for another command's lock before saying it waits.
QUIET_WAIT_S = 1.0
#: Seconds a writer waits in all before giving up with a clear message.
LOCK_TIMEOUT_S = 600.0

_SCHEMA_V1 = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE sources (
    source_id   INTEGER PRIMARY KEY,
    path        TEXT NOT NULL,
    sha256      TEXT NOT NULL,
    format      TEXT NOT NULL,
    n_records   INTEGER NOT NULL,
    imported_at TEXT NOT NULL
);
CREATE TABLE records (
    record_id  INTEGER PRIMARY KEY,
    source_id  INTEGER NOT NULL REFERENCES sources(source_id),
    position   INTEGER NOT NULL,
    line       INTEGER NOT NULL,
    source_key TEXT NOT NULL,
    title      TEXT NOT NULL,
    abstract   TEXT NOT NULL,
    authors    TEXT NOT NULL,
    year       INTEGER,
    doi        TEXT NOT NULL,
    pmid       TEXT NOT NULL,
    keywords   TEXT NOT NULL,
    journal    TEXT NOT NULL,
    extra      TEXT NOT NULL,
    group_id   INTEGER NOT NULL
);
CREATE INDEX records_group ON records(group_id);
CREATE INDEX records_doi ON records(doi) WHERE doi != '';
CREATE INDEX records_pmid ON records(pmid) WHERE pmid != '';
CREATE TABLE label_events (
    event_id    INTEGER PRIMARY KEY AUTOINCREMENT,
    record_id   INTEGER NOT NULL REFERENCES records(record_id),
    decision    TEXT NOT NULL CHECK (decision IN ('include', 'exclude', 'maybe')),
    reviewer    TEXT NOT NULL,
    decided_at  TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    batch       TEXT NOT NULL,
    origin      TEXT NOT NULL
);
CREATE INDEX label_events_record ON label_events(record_id);
CREATE TRIGGER label_events_no_update BEFORE UPDATE ON label_events
BEGIN SELECT RAISE(ABORT, 'label events are append-only'); END;
CREATE TRIGGER label_events_no_delete BEFORE DELETE ON label_events
BEGIN SELECT RAISE(ABORT, 'label events are append-only'); END;
CREATE TABLE iterations (
    iteration_id   INTEGER PRIMARY KEY,
    created_at     TEXT NOT NULL,
    kind           TEXT NOT NULL,
    config         TEXT NOT NULL,
    config_hash    TEXT NOT NULL,
    seed           INTEGER NOT NULL,
    last_event_id  INTEGER NOT NULL,
    n_labelled     INTEGER NOT NULL,
    n_included     INTEGER NOT NULL,
    n_excluded     INTEGER NOT NULL,
    timings        TEXT NOT NULL,
    estimates      TEXT NOT NULL,
    group_ids      BLOB NOT NULL,
    scores         BLOB NOT NULL
);
CREATE TABLE stop_decisions (
    decision_id   INTEGER PRIMARY KEY,
    created_at    TEXT NOT NULL,
    last_event_id INTEGER NOT NULL,
    decision      TEXT NOT NULL
);
CREATE TABLE batches (
    batch_id     INTEGER PRIMARY KEY,
    iteration_id INTEGER REFERENCES iterations(iteration_id),
    kind         TEXT NOT NULL CHECK (kind IN ('ranked', 'random', 'qa')),
    created_at   TEXT NOT NULL,
    seed         INTEGER NOT NULL,
    group_ids    BLOB NOT NULL
);
"""

#: Migrations from version v to v+1, applied in order on open. Empty while the schema is at v1.
_MIGRATIONS: dict[int, str] = {}


def now_iso() -> str:
    """The current UTC time as an ISO 8601 string with seconds."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def file_sha256(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def config_hash(config: dict) -> str:
    """A short stable hash of a model configuration (sorted-key JSON)."""
    blob = json.dumps(config, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


@dataclass
class ImportSummary:
    """What an ``init`` or ``add`` imported; counts are of records."""

    files: list[tuple[str, int]] = field(default_factory=list)
    n_records: int = 0
    n_without_text: int = 0
    n_duplicates: int = 0
    n_duplicate_groups: int = 0
    n_labels: int = 0


@dataclass
class LabelImportSummary:
    """What ``label`` did with a decisions file."""

    n_rows: int = 0
    n_events: int = 0
    n_undecided: int = 0
    unknown: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)


@dataclass
class Iteration:
    """One stored ranking: unlabelled groups in rank order with their scores."""

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


ProgressCallback = Callable[[str], None]


#: ``create`` builds a project in a hidden sibling ``.NAME.creating-PID`` and renames it into place.
_BUILD_DIR = re.compile(r"\.(?P<name>.+)\.creating-(?P<pid>[1-9][0-9]{0,9})")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):  # another user's process (or no such pid at all)
        return True
    return True


def remove_stale_builds(parent: Path) -> list[Path]:
    """Remove build directories that ``create`` left in ``parent`` when its process was killed.

    Only directories (not links) named exactly ``.NAME.creating-PID`` whose process ``PID`` no
    longer runs and that hold nothing but the project database's files are removed; a build
    still in progress, or anything else, is left alone. Best effort: what cannot be listed or
    removed stays. Returns the directories removed."""
    removed = []
    try:
        entries = list(os.scandir(parent))
    except OSError:
        return removed
    ours = {DB_NAME, f"{DB_NAME}-wal", f"{DB_NAME}-shm", f"{DB_NAME}-journal"}
    for entry in entries:
        match = _BUILD_DIR.fullmatch(entry.name)
        try:
            if match is None or not entry.is_dir(follow_symlinks=False) or _pid_alive(int(match["pid"])):
                continue
            if not set(os.listdir(entry.path)) <= ours:
                continue
            shutil.rmtree(entry.path)
        except OSError:
            continue
        removed.append(Path(entry.path))
    return removed


def _connect(db_path: Path) -> sqlite3.Connection:
    con = sqlite3.connect(db_path, timeout=QUIET_WAIT_S, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=FULL")
    con.execute("PRAGMA foreign_keys=ON")
    return con


class Project:
    """A screening project stored in ``DIR/project.sqlite``.

    Open an existing one with ``Project(path)``; make one with :meth:`create`.
    ``on_wait`` is called with a message when a write must wait for another command.
    """

    #: Write transactions committed in this process (by any Project; a project that ``create``
    #: did not rename into place does not count), so that the CLI can tell whether an
    #: interrupted command had already saved its changes.
    commits = 0

    def __init__(self, path: str | Path, on_wait: ProgressCallback | None = None):
        self.path = Path(path)
        self.db_path = self.path / DB_NAME
        self.on_wait = on_wait
        if not self.db_path.is_file():
            raise UserError(f"{self.path}: not a prioritiser project (no {DB_NAME}); create one with 'prioritiser init'")
        try:
            self.con = _connect(self.db_path)
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise UserError(f"{self.db_path}: cannot open the project database: {exc}") from None

    # ----------------------------------------------------------------- lifecycle
    @classmethod
    def create(
        cls,
        path: str | Path,
        record_files: Iterable[str | Path],
        dedupe: bool = True,
        on_wait: ProgressCallback | None = None,
        on_progress: Callable[[int], None] | None = None,
        sheet: str | None = None,
    ) -> tuple["Project", ImportSummary]:
        """Create a project directory and import ``record_files`` into it (``sheet``: as for
        :meth:`add_records`).

        The project is built in a temporary sibling directory and renamed into place, so a
        failure or a crash leaves no half-written project behind.
        """
        path = Path(path)
        if path.exists():
            raise UserError(f"{path}: already exists; use 'prioritiser add' to add records to a project")
        files = [Path(f) for f in record_files]
        if not files:
            raise UserError("no record file given: pass --records FILE")
        remove_stale_builds(path.parent)
        tmp = path.parent / f".{path.name}.creating-{os.getpid()}"
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir(parents=True)
        commits = Project.commits
        try:
            con = _connect(tmp / DB_NAME)
            with con:
                con.executescript(_SCHEMA_V1)
                con.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
                con.execute("INSERT INTO meta VALUES ('created_at', ?)", (now_iso(),))
            con.close()
            project = cls.__new__(cls)
            project.path, project.db_path, project.on_wait = tmp, tmp / DB_NAME, on_wait
            project.con = _connect(project.db_path)
            summary = project.add_records(files, dedupe=dedupe, on_progress=on_progress, sheet=sheet)
            project.con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            project.con.close()
            try:
                os.replace(tmp, path)
            except OSError:
                if path.exists():  # another command made it meanwhile
                    raise UserError(f"{path}: already exists (made by another command meanwhile)") from None
                raise
        except BaseException:
            if tmp.exists():  # not renamed into place: nothing of it was saved
                Project.commits = commits
                shutil.rmtree(tmp, ignore_errors=True)
            raise
        return cls(path, on_wait=on_wait), summary

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> "Project":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _migrate(self) -> None:
        row = self.con.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        if row is None:
            raise UserError(f"{self.db_path}: not a prioritiser project database (no schema version)")
        version = int(row[0])
        if version > SCHEMA_VERSION:
            raise UserError(f"{self.db_path}: made by a newer prioritiser (schema {version}); upgrade prioritiser")
        while version < SCHEMA_VERSION:
            with self.write():
                self.con.executescript(_MIGRATIONS[version])
                version += 1
                self.con.execute("UPDATE meta SET value=? WHERE key='schema_version'", (str(version),))

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (``BEGIN IMMEDIATE``); waits for other writers and says so.

        Nested in another ``write()`` of the same project, it joins that transaction."""
        if self.con.in_transaction:
            yield self.con
            return
        waited = False
        start = time.monotonic()
        while True:
            try:
                self.con.execute("BEGIN IMMEDIATE")
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise
                if time.monotonic() - start > LOCK_TIMEOUT_S:
                    raise UserError(
                        f"{self.path}: another prioritiser command holds the project for over "
                        f"{LOCK_TIMEOUT_S:.0f} s; try again when it has finished"
                    ) from None
                if not waited and self.on_wait is not None:
                    self.on_wait(f"{self.path}: waiting for another prioritiser command to finish…")
                waited = True
        try:
            yield self.con
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        else:
            try:
                self.con.execute("COMMIT")
            finally:
                if self.con.in_transaction:  # interrupted before the COMMIT ran
                    self.con.execute("ROLLBACK")
                else:
                    Project.commits += 1

    # ----------------------------------------------------------------- records
    def add_records(
        self,
        files: Iterable[str | Path],
        dedupe: bool = True,
        on_progress: Callable[[int], None] | None = None,
        sheet: str | None = None,
    ) -> ImportSummary:
        """Import record files (all of them, or none on error) and regroup duplicates.

        Labels carried by the files become label events of reviewer ``"import"``.
        ``on_progress`` is called with the number of records read so far. ``sheet`` names
        the worksheet to read in XLSX files (default: the first).
        """
        from prioritiser.io import detect_format, iter_records

        summary = ImportSummary()
        stamp = now_iso()
        with self.write() as con:
            next_id = con.execute("SELECT COALESCE(MAX(record_id), 0) + 1 FROM records").fetchone()[0]
            for file in files:
                file = Path(file)
                if not file.is_file():
                    raise UserError(f"{file}: no such file")
                fmt = detect_format(file)
                cur = con.execute(
                    "INSERT INTO sources (path, sha256, format, n_records, imported_at) VALUES (?, ?, ?, 0, ?)",
                    (str(file.resolve()), file_sha256(file), fmt, stamp),
                )
                source_id = cur.lastrowid
                n_file = 0
                rows: list[tuple] = []
                labels: list[tuple] = []
                for record in iter_records(file, sheet):
                    rows.append(_record_row(next_id, source_id, record))
                    if record.label in DECISIONS:
                        origin = f"{file.name}:{record.line or record.position}"
                        labels.append((next_id, record.label, "import", stamp, stamp, f"import {file.name}", origin))
                    summary.n_without_text += not record.has_text
                    next_id += 1
                    n_file += 1
                    if len(rows) >= 10_000:
                        _insert_records(con, rows, labels)
                        rows, labels = [], []
                        if on_progress:
                            on_progress(summary.n_records + n_file)
                    summary.n_labels += record.label in DECISIONS
                _insert_records(con, rows, labels)
                if n_file == 0:
                    raise UserError(f"{file}: holds no records")
                con.execute("UPDATE sources SET n_records=? WHERE source_id=?", (n_file, source_id))
                summary.files.append((str(file), n_file))
                summary.n_records += n_file
                if on_progress:
                    on_progress(summary.n_records)
            self._regroup(con, dedupe)
            summary.n_duplicate_groups, summary.n_duplicates = con.execute(
                "SELECT COUNT(*), COALESCE(SUM(n - 1), 0) FROM "
                "(SELECT COUNT(*) AS n FROM records GROUP BY group_id HAVING n > 1)"
            ).fetchone()
        return summary

    def _regroup(self, con: sqlite3.Connection, dedupe: bool) -> None:
        """Recompute duplicate groups over all records; a group's id is its smallest record id."""
        ids = np.fromiter((r[0] for r in con.execute("SELECT record_id FROM records ORDER BY record_id")), dtype=np.int64)
        if dedupe:
            from prioritiser.dedupe import DedupeKey, find_duplicate_groups

            keys = [
                DedupeKey(title=t, year=y, doi=d, pmid=p)
                for t, y, d, p in con.execute("SELECT title, year, doi, pmid FROM records ORDER BY record_id")
            ]
            groups = ids[np.asarray(find_duplicate_groups(keys), dtype=np.int64)]
        else:
            previous = con.execute("SELECT value FROM meta WHERE key='dedupe'").fetchone()
            if previous is not None and previous[0] == "on":
                return  # keep the groups found earlier; new records stand alone
            groups = ids
        con.execute("CREATE TEMP TABLE IF NOT EXISTS regroup (record_id INTEGER PRIMARY KEY, group_id INTEGER)")
        con.execute("DELETE FROM regroup")
        con.executemany("INSERT INTO regroup VALUES (?, ?)", zip(ids.tolist(), groups.tolist()))
        con.execute(
            "UPDATE records SET group_id = (SELECT group_id FROM regroup WHERE regroup.record_id = records.record_id)"
        )
        con.execute("INSERT OR REPLACE INTO meta VALUES ('dedupe', ?)", ("on" if dedupe else "off",))

    def records_frame(self, columns: str = "*") -> pd.DataFrame:
        """All records as a frame indexed by nothing, ordered by record id."""
        return pd.read_sql_query(f"SELECT {columns} FROM records ORDER BY record_id", self.con)

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

    # ----------------------------------------------------------------- labels
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

    def import_labels(self, path: str | Path, reviewer: str = "", sheet: str | None = None) -> LabelImportSummary:
        """Import reviewer decisions from a file (its sheet ``sheet`` for an XLSX file); see
        :mod:`prioritiser.labels`."""
        from prioritiser.labels import import_label_file

        return import_label_file(self, Path(path), reviewer, sheet)

    def label_events(self) -> pd.DataFrame:
        """Every label event in the order it was recorded, with the record's group."""
        return pd.read_sql_query(
            "SELECT e.*, r.group_id FROM label_events e JOIN records r USING (record_id) ORDER BY event_id",
            self.con,
        )

    def last_event_id(self) -> int:
        return self.con.execute("SELECT COALESCE(MAX(event_id), 0) FROM label_events").fetchone()[0]

    def group_decisions(self, up_to_event: int | None = None) -> dict[int, str]:
        """The decision in force per group: its latest label event (up to ``up_to_event``)."""
        limit = self.last_event_id() if up_to_event is None else up_to_event
        rows = self.con.execute(
            "SELECT r.group_id, e.decision FROM label_events e JOIN records r USING (record_id)"
            " WHERE e.event_id <= ? ORDER BY e.event_id",
            (limit,),
        )
        return {group: decision for group, decision in rows}

    def label_conflicts(self) -> list[tuple[int, dict[str, str]]]:
        """Groups where the latest decisions of different reviewers disagree."""
        latest: dict[int, dict[str, str]] = {}
        for group, reviewer, decision in self.con.execute(
            "SELECT r.group_id, e.reviewer, e.decision FROM label_events e JOIN records r USING (record_id)"
            " ORDER BY e.event_id"
        ):
            latest.setdefault(group, {})[reviewer] = decision
        return [(g, d) for g, d in latest.items() if len(set(d.values())) > 1]

    # ----------------------------------------------------------------- iterations
    def add_iteration(self, it: Iteration) -> int:
        """Store a ranking; returns its iteration id."""
        with self.write() as con:
            cur = con.execute(
                "INSERT INTO iterations (created_at, kind, config, config_hash, seed, last_event_id, n_labelled,"
                " n_included, n_excluded, timings, estimates, group_ids, scores)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    it.created_at, it.kind, json.dumps(it.config, sort_keys=True), it.config_hash, it.seed,
                    it.last_event_id, it.n_labelled, it.n_included, it.n_excluded, json.dumps(it.timings),
                    json.dumps(it.estimates), np.asarray(it.group_ids, dtype="<i8").tobytes(),
                    np.asarray(it.scores, dtype="<f8").tobytes(),
                ),
            )
            return cur.lastrowid

    def iterations(self, with_ranking: bool = False) -> list[Iteration]:
        """Every stored iteration, oldest first; rankings are loaded only when asked for."""
        blobs = "group_ids, scores" if with_ranking else "NULL, NULL"
        rows = self.con.execute(f"SELECT {_ITERATION_COLUMNS}, {blobs} FROM iterations ORDER BY iteration_id")
        return [_iteration_from_row(row) for row in rows]

    def latest_iteration(self) -> Iteration | None:
        row = self.con.execute("SELECT * FROM iterations ORDER BY iteration_id DESC LIMIT 1").fetchone()
        return None if row is None else _iteration_from_row(row)

    def iteration(self, iteration_id: int) -> Iteration:
        row = self.con.execute("SELECT * FROM iterations WHERE iteration_id=?", (iteration_id,)).fetchone()
        if row is None:
            raise UserError(f"{self.path}: no iteration {iteration_id}")
        return _iteration_from_row(row)

    # ----------------------------------------------------------------- batches
    def add_batch(self, kind: str, group_ids, seed: int, iteration_id: int | None = None) -> int:
        """Record a batch handed to reviewers: ``ranked`` (top of a ranking), ``random``
        (a uniform sample of unscreened groups to certify a stop) or ``qa`` (a quality-control
        sample of model-excluded groups)."""
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

    # ----------------------------------------------------------------- summaries
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

    def sources(self) -> pd.DataFrame:
        return pd.read_sql_query("SELECT * FROM sources ORDER BY source_id", self.con)

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


def _record_row(record_id: int, source_id: int, r: Record) -> tuple:
    return (
        record_id, source_id, r.position, r.line, r.source_key, r.title, r.abstract, "; ".join(r.authors),
        r.year, r.doi, r.pmid, "; ".join(r.keywords), r.journal, json.dumps(r.extra) if r.extra else "{}",
        record_id,
    )


def _insert_records(con: sqlite3.Connection, rows: list[tuple], labels: list[tuple]) -> None:
    con.executemany("INSERT INTO records VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    con.executemany(
        "INSERT INTO label_events (record_id, decision, reviewer, decided_at, recorded_at, batch, origin)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        labels,
    )


_ITERATION_COLUMNS = (
    "iteration_id, created_at, kind, config, config_hash, seed, last_event_id, n_labelled, n_included,"
    " n_excluded, timings, estimates"
)


def _iteration_from_row(row: tuple) -> Iteration:
    (iteration_id, created_at, kind, config, chash, seed, last_event, n_lab, n_inc, n_exc, timings, estimates,
     group_blob, score_blob) = row
    return Iteration(
        iteration_id=iteration_id, created_at=created_at, kind=kind, config=json.loads(config), config_hash=chash,
        seed=seed, last_event_id=last_event, n_labelled=n_lab, n_included=n_inc, n_excluded=n_exc,
        timings=json.loads(timings), estimates=json.loads(estimates),
        group_ids=np.frombuffer(group_blob or b"", dtype="<i8"),
        scores=np.frombuffer(score_blob or b"", dtype="<f8"),
    )

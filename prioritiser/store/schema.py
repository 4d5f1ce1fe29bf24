"""The project database's schema and its migrations.

Invariants the schema enforces or the store keeps:
- a record's ``record_id`` (1..N in import order) never changes;
- label events are append-only (triggers refuse UPDATE and DELETE); a changed decision is a
  new event, and the decision in force for a duplicate group is its latest event;
- rankings are stored per iteration and never overwritten; an iteration stores its whole
  ranking, or (a pool scored on a cluster) its first rows, with the number of groups it
  ranked (``n_ranked``);
- a batch records the last label event at its hand-out (``last_event_id``), so which decisions
  came in while it was the open batch can be told later; a batch found void (``void``: why) is
  kept, marked, never deleted.
"""

from __future__ import annotations

import sqlite3

from collections.abc import Callable

from prioritiser.errors import UserError

DB_NAME = "project.sqlite"
SCHEMA_VERSION = 3

SCHEMA_V1 = """
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

#: Version 2: a batch's hand-out event and its void mark (see :mod:`prioritiser.store.repair`).
BATCH_COLUMNS_V2 = (
    "ALTER TABLE batches ADD COLUMN last_event_id INTEGER",
    "ALTER TABLE batches ADD COLUMN void TEXT",
)


def _migrate_v1(con: sqlite3.Connection) -> None:
    from prioritiser.store.repair import repair_legacy_batches

    for statement in BATCH_COLUMNS_V2:
        con.execute(statement)
    repair_legacy_batches(con)


#: Version 3: the number of groups an iteration ranked, of which it may store only the first.
ITERATION_COLUMNS_V3 = ("ALTER TABLE iterations ADD COLUMN n_ranked INTEGER",)


def _migrate_v2(con: sqlite3.Connection) -> None:
    for statement in ITERATION_COLUMNS_V3:
        con.execute(statement)
    con.execute("UPDATE iterations SET n_ranked = length(group_ids) / 8")  # every earlier one stored in full


#: Migrations from version v to v+1, applied in order on open, each inside the caller's
#: transaction (statements one by one: ``executescript`` would commit it).
MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {1: _migrate_v1, 2: _migrate_v2}


def create_schema(con: sqlite3.Connection, created_at: str) -> None:
    """Create the tables of the current schema in an empty database, in one transaction."""
    with con:
        con.executescript(SCHEMA_V1)
        for statement in BATCH_COLUMNS_V2 + ITERATION_COLUMNS_V3:
            con.execute(statement)
        con.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        con.execute("INSERT INTO meta VALUES ('created_at', ?)", (created_at,))


def schema_version(con: sqlite3.Connection, where: object) -> int:
    """The database's schema version; a :class:`UserError` naming ``where`` when it is not a
    prioritiser database or was made by a newer prioritiser."""
    row = con.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
    if row is None:
        raise UserError(f"{where}: not a prioritiser project database (no schema version)")
    version = int(row[0])
    if version > SCHEMA_VERSION:
        raise UserError(f"{where}: made by a newer prioritiser (schema {version}); upgrade prioritiser")
    return version


def migrate_step(con: sqlite3.Connection, version: int) -> int:
    """Apply the migration from ``version`` to ``version + 1`` inside the caller's transaction."""
    MIGRATIONS[version](con)
    con.execute("UPDATE meta SET value=? WHERE key='schema_version'", (str(version + 1),))
    return version + 1

"""Opening a project, building a new one out of sight, and the write lock.

Every command writes in one transaction (``BEGIN IMMEDIATE``), so a crash leaves the project as
it was before the command or as after it, never in between (WAL journal, ``synchronous=FULL``).
A new project is built in a hidden sibling directory and renamed into place, so a failed
``init`` leaves nothing behind.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from prioritiser.errors import UserError
from prioritiser.store.schema import DB_NAME, SCHEMA_VERSION, create_schema, migrate_step, schema_version

#: Seconds a writer waits quietly for another command's lock before saying it waits.
QUIET_WAIT_S = 1.0
#: Seconds a writer waits in all before giving up with a clear message.
LOCK_TIMEOUT_S = 600.0

ProgressCallback = Callable[[str], None]

#: ``building`` makes a project in a hidden sibling ``.NAME.creating-PID`` and renames it into place.
_BUILD_DIR = re.compile(r"\.(?P<name>.+)\.creating-(?P<pid>[1-9][0-9]{0,9})")


def now_iso() -> str:
    """The current UTC time as an ISO 8601 string with seconds."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):  # another user's process (or no such pid at all)
        return True
    return True


def remove_stale_builds(parent: Path) -> list[Path]:
    """Remove build directories that ``building`` left in ``parent`` when its process was killed.

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


def connect(db_path: Path, read_only: bool = False) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), WAL journal, full sync;
    ``read_only`` leaves the journal mode as it is."""
    con = sqlite3.connect(db_path, timeout=QUIET_WAIT_S, isolation_level=None)
    if not read_only:
        con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=FULL")
    con.execute("PRAGMA foreign_keys=ON")
    return con


class Connection:
    """An open project database: ``path`` (the project directory), ``con`` and :meth:`write`.

    Open an existing project with ``Project(path)``; make one with :func:`building`.
    ``on_wait`` is called with a message when a write must wait for another command.

    ``read_only=True`` is for commands that only report: nothing is written to the project
    (SQLite's ``query_only``), and a project made by an older prioritiser is migrated (and
    repaired) in a copy in memory, so the report reads it as a writing command would leave it;
    ``pending_migration`` then names the version on disk (None when it is current);
    ``migrated_from`` names the version an open upgraded (on disk or in memory).
    """

    #: Write transactions committed in this process (by any project; a project that
    #: :func:`building` did not rename into place does not count), so that the CLI can tell
    #: whether an interrupted command had already saved its changes.
    commits = 0

    def __init__(self, path: str | Path, on_wait: ProgressCallback | None = None, read_only: bool = False):
        self.path = Path(path)
        self.db_path = self.path / DB_NAME
        self.on_wait = on_wait
        self.read_only = False
        self.pending_migration: int | None = None
        self.migrated_from: int | None = None  # the schema version this open upgraded, if any
        if not self.db_path.is_file():
            raise UserError(f"{self.path}: not a prioritiser project (no {DB_NAME}); create one with 'prioritiser init'")
        try:
            self.con = connect(self.db_path, read_only=read_only)
            if read_only:
                self._open_read_only()
            else:
                self._migrate()
        except sqlite3.DatabaseError as exc:
            raise UserError(f"{self.db_path}: cannot open the project database: {exc}") from None

    def _open_read_only(self) -> None:
        version = schema_version(self.con, self.db_path)
        if version < SCHEMA_VERSION:
            memory = sqlite3.connect(":memory:", isolation_level=None)
            self.con.backup(memory)
            self.con.close()
            self.con = memory
            self.pending_migration = version
            commits = Connection.commits
            self._migrate()
            Connection.commits = commits  # nothing of it reaches the disk
        self.con.execute("PRAGMA query_only=ON")
        self.read_only = True

    def close(self) -> None:
        self.con.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _migrate(self) -> None:
        version = schema_version(self.con, self.db_path)
        if version < SCHEMA_VERSION:
            self.migrated_from = version
        while version < SCHEMA_VERSION:
            with self.write():
                version = migrate_step(self.con, version)

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (``BEGIN IMMEDIATE``); waits for other writers and says so.

        Nested in another ``write()`` of the same project, it joins that transaction."""
        if self.read_only:
            raise RuntimeError(f"{self.path}: opened read-only; a command that only reports never writes")
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
                    Connection.commits += 1


@contextmanager
def building(path: str | Path, project_type: type, on_wait: ProgressCallback | None = None) -> Iterator:
    """A new, empty project of ``project_type`` built in a hidden sibling of ``path`` and
    renamed into place when the block ends without an error; on an error (or a crash) nothing
    is left at ``path`` and commits made inside the block are not counted."""
    path = Path(path)
    if path.exists():
        raise UserError(f"{path}: already exists; use 'prioritiser add' to add records to a project")
    remove_stale_builds(path.parent)
    tmp = path.parent / f".{path.name}.creating-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    commits = Connection.commits
    try:
        con = connect(tmp / DB_NAME)
        create_schema(con, now_iso())
        con.close()
        project = project_type(tmp, on_wait=on_wait)
        yield project
        project.con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        project.close()
        try:
            os.replace(tmp, path)
        except OSError:
            if path.exists():  # another command made it meanwhile
                raise UserError(f"{path}: already exists (made by another command meanwhile)") from None
            raise
    except BaseException:
        if tmp.exists():  # not renamed into place: nothing of it was saved
            Connection.commits = commits
            shutil.rmtree(tmp, ignore_errors=True)
        raise

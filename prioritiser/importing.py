"""Import orchestration: read search exports → records → find duplicates → store.

The reading is :mod:`prioritiser.io`, the duplicate search :mod:`prioritiser.dedupe`, and the
database :mod:`prioritiser.store`; this module ties them together in one transaction per
command, so an import adds all of its files or none.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from prioritiser.errors import UserError
from prioritiser.files import file_sha256
from prioritiser.records import DECISIONS
from prioritiser.store import Project, building, now_iso
from prioritiser.store.connection import ProgressCallback
from prioritiser.store.records import record_row

#: Records inserted at a time (and the step of the progress count).
CHUNK = 10_000


@dataclass
class ImportSummary:
    """What an ``init`` or ``add`` imported; counts are of records."""

    files: list[tuple[str, int]] = field(default_factory=list)
    n_records: int = 0
    n_without_text: int = 0
    n_duplicates: int = 0
    n_duplicate_groups: int = 0
    n_labels: int = 0


def create_project(
    path: str | Path,
    record_files: Iterable[str | Path],
    dedupe: bool = True,
    on_wait: ProgressCallback | None = None,
    on_progress: Callable[[int], None] | None = None,
    sheet: str | None = None,
) -> tuple[Project, ImportSummary]:
    """Create a project directory and import ``record_files`` into it (``sheet``: as for
    :func:`add_records`).

    The project is built in a temporary sibling directory and renamed into place, so a
    failure or a crash leaves no half-written project behind.
    """
    files = [Path(f) for f in record_files]
    with building(path, Project, on_wait=on_wait) as project:
        if not files:
            raise UserError("no record file given: pass --records FILE")
        summary = add_records(project, files, dedupe=dedupe, on_progress=on_progress, sheet=sheet)
    return Project(path, on_wait=on_wait), summary


def add_records(
    project: Project,
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
    with project.write():
        next_id = project.next_record_id()
        for file in files:
            file = Path(file)
            if not file.is_file():
                raise UserError(f"{file}: no such file")
            fmt = detect_format(file)
            source_id = project.add_source(str(file.resolve()), file_sha256(file), fmt, stamp)
            n_file = 0
            rows: list[tuple] = []
            labels: list[tuple] = []
            for record in iter_records(file, sheet):
                rows.append(record_row(next_id, source_id, record))
                if record.label in DECISIONS:
                    origin = f"{file.name}:{record.line or record.position}"
                    labels.append((next_id, record.label, "import", stamp, stamp, f"import {file.name}", origin))
                summary.n_without_text += not record.has_text
                next_id += 1
                n_file += 1
                if len(rows) >= CHUNK:
                    project.insert_records(rows, labels)
                    rows, labels = [], []
                    if on_progress:
                        on_progress(summary.n_records + n_file)
                summary.n_labels += record.label in DECISIONS
            project.insert_records(rows, labels)
            if n_file == 0:
                raise UserError(f"{file}: holds no records")
            project.set_source_count(source_id, n_file)
            summary.files.append((str(file), n_file))
            summary.n_records += n_file
            if on_progress:
                on_progress(summary.n_records)
        regroup(project, dedupe)
        summary.n_duplicate_groups, summary.n_duplicates = project.duplicate_counts()
    return summary


def regroup(project: Project, dedupe: bool) -> None:
    """Recompute duplicate groups over all records; a group's id is its smallest record id.

    Without ``dedupe`` every record stands alone, unless an earlier import grouped
    duplicates: those groups are kept and only the new records stand alone."""
    ids = project.record_ids()
    if dedupe:
        from prioritiser.dedupe import DedupeKey, find_duplicate_groups

        keys = [DedupeKey(title=t, year=y, doi=d, pmid=p) for t, y, d, p in project.dedupe_fields()]
        groups = ids[np.asarray(find_duplicate_groups(keys), dtype=np.int64)]
    elif project.dedupe_setting() == "on":
        return
    else:
        groups = ids
    project.set_groups(ids, groups, dedupe)

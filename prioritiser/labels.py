"""Reviewer decisions from a file, matched to project records and appended as label events.

A row is matched by, in order: the project's record id, the file's own record key, DOI,
PMID, then exact normalised title. Rows that match nothing are listed, not ignored; a file
in which nothing matches is an error. A decision equal to the one the same reviewer already
has in force for that record adds no event, so importing a file twice changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from prioritiser.dedupe import normalise_doi, normalise_pmid, normalise_title
from prioritiser.errors import UserError
from prioritiser.store import Project


#: How many new conflicts ``prioritiser label`` lists, one a line; the summary keeps them all.
LISTED_CONFLICTS = 20


@dataclass
class LabelImportSummary:
    """What ``label`` did with a decisions file."""

    n_rows: int = 0
    n_events: int = 0
    n_undecided: int = 0
    unknown: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)


def conflict_lines(conflicts: list[str], limit: int = LISTED_CONFLICTS) -> list[str]:
    """Report lines for conflicting decisions: the first ``limit``, then how many more there are."""
    lines = [f"conflicting decisions: {conflict}" for conflict in conflicts[:limit]]
    if len(conflicts) > limit:
        lines.append(f"… and {len(conflicts) - limit:,} more groups with conflicting decisions "
                     "('prioritiser status' counts them)")
    return lines


class RecordMatcher:
    """Finds a project record for a label row; indexes are built on first use."""

    def __init__(self, project: Project):
        self.project = project
        self._indexes: dict[str, dict[str, int]] = {}

    def _index(self, column: str) -> dict[str, int]:
        if column not in self._indexes:
            norm = {"doi": normalise_doi, "pmid": normalise_pmid, "title": normalise_title, "source_key": str.strip}[column]
            index: dict[str, int] = {}
            for record_id, value in self.project.record_column(column):
                key = norm(value or "")
                if key:
                    index.setdefault(key, record_id)
            self._indexes[column] = index
        return self._indexes[column]

    def match(self, row) -> int | None:
        key = (row.record_id or "").strip()
        if key:
            if key.isdigit():
                if self.project.record_exists(int(key)):
                    return int(key)
            if key in self._index("source_key"):
                return self._index("source_key")[key]
        for column, value, norm in (
            ("doi", row.doi, normalise_doi),
            ("pmid", row.pmid, normalise_pmid),
            ("title", row.title, normalise_title),
        ):
            wanted = norm(value or "")
            if wanted and wanted in self._index(column):
                return self._index(column)[wanted]
        return None


def describe_row(row) -> str:
    for name in ("record_id", "doi", "pmid", "title"):
        value = getattr(row, name) or ""
        if value.strip():
            return f"line {row.line}: {name} {value.strip()[:80]!r}"
    return f"line {row.line}: no record id, DOI, PMID or title"


def import_labels(project: Project, path: str | Path, reviewer: str = "", sheet: str | None = None) -> LabelImportSummary:
    """Read ``path`` (its sheet ``sheet`` for an XLSX file) and append its decisions to
    ``project`` in one transaction."""
    from prioritiser.io import iter_label_rows

    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    summary = LabelImportSummary()
    rows = list(iter_label_rows(path, sheet))  # read the file before taking the write lock
    # Decisions in force are read in the transaction that appends to them, so that two imports
    # of one file at the same time record its decisions once.
    with project.write():
        matcher = RecordMatcher(project)
        in_force = project.reviewer_decisions()
        events = []
        matched_any = False
        for row in rows:
            summary.n_rows += 1
            record_id = matcher.match(row)
            if record_id is None:
                summary.unknown.append(describe_row(row))
                continue
            matched_any = True
            if row.decision is None:
                summary.n_undecided += 1
                continue
            who = (row.reviewer or reviewer or "").strip()
            if in_force.get((record_id, who)) == row.decision:
                continue
            in_force[(record_id, who)] = row.decision
            events.append((record_id, row.decision, who, row.timestamp or "", f"{path.name}:{row.line}"))
        if summary.n_rows == 0:
            raise UserError(f"{path}: holds no decisions")
        if not matched_any:
            raise UserError(f"{path}: none of its {summary.n_rows} rows matches a record of {project.path} "
                            f"(first: {summary.unknown[0]})")
        before = {g for g, _ in project.label_conflicts()}
        summary.n_events = project.add_label_events(events, batch=f"label {path.name}")
        summary.conflicts = [
            f"group {g}: " + ", ".join(f"{rev or 'unnamed reviewer'} says {d}" for rev, d in sorted(decisions.items()))
            for g, decisions in project.label_conflicts()
            if g not in before
        ]
    return summary

"""Reviewer decisions from a file, matched to project records and appended as label events.

A row is matched by, in order: the project's record id, the file's own record key, DOI,
PMID, then exact normalised title. Rows that match nothing are listed, not ignored; a file
in which nothing matches is an error. A decision equal to the one the same reviewer already
has in force for that record adds no event, so importing a file twice changes nothing.

A record one reviewer decides two ways in one file is flagged, and the file's last row for it
counts (as a reviewer changing their mind down the sheet would write it); the earlier rows
are counted as overridden, so importing the file again still changes nothing. Reviewers who
disagree are told at import, with the command that settles it: a decision file imported with
``adjudicator`` (an adjudication event).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from prioritiser.dedupe import normalise_doi, normalise_pmid, normalise_title
from prioritiser.errors import UserError
from prioritiser.store import ADJUDICATION, Project


#: How many lines of each kind (conflicts, changes, contradictions, unmatched rows) ``prioritiser
#: label`` lists; the summary keeps them all.
LISTED_CONFLICTS = 20


@dataclass
class LabelImportSummary:
    """What ``label`` did with a decisions file. Every row is counted once:
    ``n_rows = n_new + n_unchanged + n_changed + n_overridden + n_undecided + len(unknown)``.

    - only the file's last row for a (record, reviewer) counts: earlier ones are overridden;
    - new: the reviewer had no decision on the record; changed: the reviewer's decision in
      force differs (each change in ``changes``); unchanged: it is the same (no event);
    - ``contradictions``: records one reviewer decides two ways within this file;
    - ``conflicts``: groups where reviewers now disagree that did not before;
    - ``adjudicator``: the name under which every decision was recorded as an adjudication.
    """

    n_rows: int = 0
    n_new: int = 0
    n_unchanged: int = 0
    n_changed: int = 0
    n_overridden: int = 0
    n_undecided: int = 0
    unknown: list[str] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)
    contradictions: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    adjudicator: str = ""

    @property
    def n_events(self) -> int:
        """Label events recorded (new and changed decisions)."""
        return self.n_new + self.n_changed


def listed(lines: list[str], what: str, limit: int = LISTED_CONFLICTS) -> list[str]:
    """The first ``limit`` of ``lines``, then how many more ``what`` there are."""
    return lines[:limit] + ([f"… and {len(lines) - limit:,} more {what}"] if len(lines) > limit else [])


def conflict_lines(conflicts: list[str], limit: int = LISTED_CONFLICTS) -> list[str]:
    """Report lines for conflicting decisions: the first ``limit``, then how many more there are."""
    return listed([f"conflicting decisions: {conflict}" for conflict in conflicts],
                  "groups with conflicting decisions ('prioritiser status' counts them)", limit)


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


def import_labels(project: Project, path: str | Path, reviewer: str = "", adjudicator: str = "",
                  sheet: str | None = None) -> LabelImportSummary:
    """Read ``path`` (its sheet ``sheet`` for an XLSX file) and append its decisions to
    ``project`` in one transaction.

    With ``adjudicator``, every decision is recorded as an adjudication by that name (the
    file's reviewer column is ignored): it settles the group's conflicting decisions and stays
    in force until a later adjudication (see :mod:`prioritiser.store.labels`)."""
    from prioritiser.io import iter_label_rows

    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    adjudicator = adjudicator.strip()
    summary = LabelImportSummary(adjudicator=adjudicator)
    rows = list(iter_label_rows(path, sheet))  # read the file before taking the write lock
    # Decisions in force are read in the transaction that appends to them, so that two imports
    # of one file at the same time record its decisions once.
    with project.write():
        matcher = RecordMatcher(project)
        in_force = project.reviewer_decisions()
        matched = []
        for row in rows:
            record_id = matcher.match(row)
            if record_id is None:
                summary.unknown.append(describe_row(row))
            elif row.decision is None:
                summary.n_undecided += 1
            else:
                matched.append((row, (record_id, adjudicator or (row.reviewer or reviewer or "").strip())))
        summary.n_rows = len(rows)
        matched_any = len(summary.unknown) < summary.n_rows
        in_file: dict[tuple[int, str], list] = {}
        for row, key in matched:
            in_file.setdefault(key, []).append(row)
        for (record_id, who), said in in_file.items():
            if len({row.decision for row in said}) > 1:
                lines = ", ".join(f"line {row.line} says {row.decision}" for row in said)
                summary.contradictions.append(
                    f"record {record_id}{_by(who)}: {lines}; the last row (line {said[-1].line}) counts")
        events = []
        for row, key in matched:
            record_id, who = key
            if row is not in_file[key][-1]:  # the file's last row for a (record, reviewer) counts
                summary.n_overridden += 1
                continue
            before = in_force.get(key)
            if before == row.decision:
                summary.n_unchanged += 1
                continue
            if before is None:
                summary.n_new += 1
            else:
                summary.n_changed += 1
                summary.changes.append(f"{before} → {row.decision}, record {record_id}{_by(who)} (line {row.line})")
            events.append((record_id, row.decision, who, row.timestamp or "", f"{path.name}:{row.line}"))
        if summary.n_rows == 0:
            raise UserError(f"{path}: holds no decisions")
        if not matched_any:
            raise UserError(f"{path}: none of its {summary.n_rows} rows matches a record of {project.path} "
                            f"(first: {summary.unknown[0]})")
        before_conflicts = {g for g, _ in project.label_conflicts()}
        project.add_label_events(events, batch=f"{ADJUDICATION if adjudicator else 'label'} {path.name}")
        summary.conflicts = [
            f"group {g}: " + ", ".join(f"{rev or 'unnamed reviewer'} says {d}" for rev, d in sorted(decisions.items()))
            for g, decisions in project.label_conflicts()
            if g not in before_conflicts
        ]
    return summary


def _by(reviewer: str) -> str:
    return f" by {reviewer}" if reviewer else ""

"""Rows of a reviewer-decisions file (CSV/TSV/XLSX, or any records format whose records carry
labels, such as an ASReview RIS export), not yet matched to records."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from itertools import chain
from pathlib import Path

from prioritiser.errors import InputError
from prioritiser.io.fields import parse_doi, parse_pmid

LABEL_FIELDS = ["label", "record_id", "doi", "pmid", "title", "reviewer", "timestamp"]


@dataclass
class LabelRow:
    """One decision row. ``decision`` is 'include'/'exclude'/'maybe', or None where the
    reviewer left the cell empty (not decided yet); ``line`` is the 1-based file line or sheet
    row; ``timestamp`` is the cell as written ('' if none)."""

    record_id: str = ""
    doi: str = ""
    pmid: str = ""
    title: str = ""
    decision: str | None = None
    reviewer: str = ""
    timestamp: str = ""
    line: int = 0


def iter_label_rows(path: str | Path, sheet: str | None = None) -> Iterator[LabelRow]:
    """Every decision row of ``path`` (of its sheet ``sheet`` for an XLSX file, default the
    first), in file order.

    A table needs a decision column (label, decision, included, label_included, include) and a
    column naming the record (record_id, doi, pmid or title); a batch file written by ``rank``
    reads back as it is.
    """
    from prioritiser.io.readers import detect_format, iter_records
    from prioritiser.io.tabular import Table, columns_found, decided_rows, find_columns

    path = Path(path)
    fmt = detect_format(path)
    if fmt not in ("csv", "tsv", "xlsx"):
        for record in iter_records(path):
            yield LabelRow(record.source_key, record.doi, record.pmid, record.title, record.label,
                           line=record.line or record.position)
        return
    table = Table(path, fmt, anchors=["label"], sheet=sheet)
    rows = table.rows()
    first = next(rows, None)
    columns = find_columns(table.header, LABEL_FIELDS)
    if "label" not in columns:
        raise table.missing_columns("decision column such as 'label', 'decision' or 'included'", "a decision column")
    if not {"record_id", "doi", "pmid", "title"} & columns.keys():
        raise InputError(path, "has no column naming the record: record_id, doi, pmid or title "
                               f"(columns found: {columns_found(table.header)})")
    for line, _, values, decision in decided_rows(path, chain([first] if first else [], rows), columns):
        yield LabelRow(
            record_id=values["record_id"], doi=parse_doi(values["doi"]), pmid=parse_pmid(values["pmid"]),
            title=values["title"], decision=decision, reviewer=values["reviewer"], timestamp=values["timestamp"], line=line,
        )

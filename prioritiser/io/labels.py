"""Rows of a reviewer-decisions file (CSV/TSV/XLSX or RIS), not yet matched to records."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from prioritiser.errors import InputError
from prioritiser.io.fields import parse_decision, parse_doi, parse_pmid


@dataclass
class LabelRow:
    """One decision row; ``decision`` is None where the reviewer left the cell empty."""

    record_id: str = ""
    doi: str = ""
    pmid: str = ""
    title: str = ""
    decision: str | None = None
    reviewer: str = ""
    timestamp: str = ""
    line: int = 0


def iter_label_rows(path: Path) -> Iterator[LabelRow]:
    from prioritiser.io import detect_format, iter_records
    from prioritiser.io.tabular import find_columns, iter_table_chunks

    path = Path(path)
    fmt = detect_format(path)
    if fmt not in ("csv", "tsv", "xlsx"):
        for record in iter_records(path):
            yield LabelRow(record.source_key, record.doi, record.pmid, record.title, record.label, line=record.line or record.position)
        return
    columns = None
    row_number = 1
    for chunk in iter_table_chunks(path, fmt):
        if columns is None:
            columns = find_columns(list(chunk.columns), ["label", "record_id", "doi", "pmid", "title", "reviewer", "timestamp"])
            if "label" not in columns:
                raise InputError(path, f"has no decision column such as 'label' or 'included' (columns found: {', '.join(chunk.columns)})")
            if not {"record_id", "doi", "pmid", "title"} & set(columns):
                raise InputError(path, f"has no column naming the record (record_id, doi, pmid or title; columns found: {', '.join(chunk.columns)})")
        cells = {f: chunk[c].tolist() for f, c in columns.items()}
        for i in range(len(chunk)):
            row_number += 1
            try:
                decision = parse_decision(cells["label"][i])
            except ValueError as exc:
                raise InputError(path, str(exc), line=row_number) from None

            def cell(name: str) -> str:
                return cells[name][i].strip() if name in cells else ""

            yield LabelRow(
                record_id=cell("record_id"), doi=parse_doi(cell("doi")), pmid=parse_pmid(cell("pmid")),
                title=cell("title"), decision=decision, reviewer=cell("reviewer"), timestamp=cell("timestamp"),
                line=row_number,
            )

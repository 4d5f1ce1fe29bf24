"""CSV, TSV (delimiter sniffed; gzip allowed) and XLSX tables, streamed row by row.

CSV/TSV go through the csv module, which reports the physical line each row starts on even
when quoted cells span lines (pandas' chunked reader does not). XLSX goes through openpyxl's
read-only mode, which streams rows (pandas.read_excel loads the whole sheet).

Column names match case- and punctuation-insensitively against :data:`SYNONYMS`, first
synonym first. The header row is the first row, or, for exports that put a search summary
above the table (Embase), the first of the top rows that names the columns a caller needs.
Excel's ``="..."`` cell wrappers and our writers' formula-neutralising apostrophe are removed;
the ``NAME (continued N)`` columns our XLSX writer uses for text over a cell's limit are joined
back onto column NAME.
"""

from __future__ import annotations

import csv
import io
import re
import sys
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, time
from itertools import chain
from pathlib import Path

from prioritiser.errors import InputError
from prioritiser.io.encoding import READ_ERRORS, detect_encoding, head_bytes, open_text
from prioritiser.io.fields import (
    choose_abstract, clean_cell, normalise_header, parse_decision, parse_doi, parse_pmid, parse_year,
    split_authors, split_keywords,
)
from prioritiser.records import Record

SYNONYMS = {
    "title": ["title", "primary title", "title primary", "article title", "document title", "ti"],
    "abstract": ["abstract", "abstract note", "notes abstract", "ab", "abstract text"],
    "authors": ["authors", "author", "author full names", "author names", "author s", "authors primary", "au",
                "creators"],
    "year": ["year", "publication year", "published year", "pub year", "py", "publication year", "date",
             "publication date", "date published"],
    "doi": ["doi", "di"],
    "pmid": ["pmid", "pubmed id", "pubmedid", "pubmed", "medline pmid", "pm"],
    "keywords": ["keywords", "author keywords", "kw", "manual tags", "de"],
    "journal": ["journal", "source title", "secondary title", "journal book", "journal title", "publication title",
                "periodical full", "publication", "so", "jo"],
    "label": ["label included", "included", "label", "included label", "final included", "decision", "include"],
    "record_id": ["record id", "id", "key", "recordid", "reference id"],
    "reviewer": ["reviewer", "screener", "user", "rater"],
    "timestamp": ["timestamp", "time", "decided at", "date"],
}
# Web of Science tab-delimited exports use two-letter tags; their "ID" is Keywords Plus.
WOS_COLUMNS = {"record_id": "ut", "keywords": "de"}
HEADER_SEARCH_ROWS = 30
DELIMITERS = (",", ";", "\t", "|")
RECORD_FIELDS = ["title", "abstract", "authors", "year", "doi", "pmid", "keywords", "journal", "label", "record_id"]

_CONTINUED = re.compile(r"(.+) \(continued (\d+)\)")

csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


class Table:
    """A table file's header and its data rows as ``(line, cells)``, cells as stripped text.

    ``anchors`` are the fields whose columns identify the header row (e.g. title and abstract
    for records, the decision for labels). ``sheet`` names the worksheet of an XLSX file
    (default: the first); other formats ignore it.
    """

    def __init__(self, path: Path, fmt: str, anchors: Iterable[str], sheet: str | None = None):
        self.path = Path(path)
        self.fmt = fmt
        self.anchors = list(anchors)
        self.sheet = sheet
        self.header: list[str] = []
        self.header_line = 0
        self.delimiter = "\t" if fmt == "tsv" else ","
        self.terminated = True  # whether the text ended with a line end (set while reading a CSV/TSV)

    def _is_header(self, row: list[str]) -> bool:
        return bool(set(find_columns(row, self.anchors)))

    def _anchor_column(self, index: int) -> bool:
        return index in find_columns(self.header, self.anchors).values()

    def _find_header(self, rows: Iterable[tuple[int, list[str]]]) -> tuple[int, list[str]] | None:
        """The header among the top rows: the first row that names an anchor column and is
        wider than every row above it (a preamble is narrower than the table), else the first
        non-empty row."""
        first, widest = None, 0
        for index, (line, cells) in enumerate(rows):
            if index >= HEADER_SEARCH_ROWS:
                break
            filled = sum(1 for c in cells if c)
            if not filled:
                continue
            first = first or (line, cells)
            if filled > widest and self._is_header(cells):
                return line, cells
            widest = max(widest, filled)
        return first

    def _sniff(self) -> None:
        """Choose the delimiter whose parse of the file's start finds the widest header."""
        sample_bytes = head_bytes(self.path, 1 << 18)
        encoding = detect_encoding(self.path, sample_bytes)
        sample = sample_bytes.decode(encoding, errors="replace").replace("\r\n", "\n").replace("\r", "\n")
        best = None
        for delimiter in ["\t"] if self.fmt == "tsv" else DELIMITERS:
            try:
                found = self._find_header(_numbered(csv.reader(io.StringIO(sample), delimiter=delimiter)))
            except csv.Error:
                continue
            if found and self._is_header(found[1]) and (best is None or len(found[1]) > len(best[1][1])):
                best = (delimiter, found)
        if best is None:
            first_line = next((line for line in sample.split("\n") if line.strip()), "")
            self.delimiter = "\t" if self.fmt == "tsv" else max(DELIMITERS, key=first_line.count)
        else:
            self.delimiter = best[0]

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        """The data rows after the header; sets ``header`` and ``header_line`` first.
        Rows whose cells are all empty are skipped, and so is a last row with fewer cells than
        the header when the text ends without a line end: a download cut off there (or stray
        bytes after the last line end) leaves no made-up record."""
        if self.fmt == "xlsx":
            source = self._xlsx_rows()
        else:
            self._sniff()
            source = self._csv_rows()
        peek = _Peek(source)
        header = self._find_header(peek)
        if header is None:
            raise InputError(self.path, "is empty")
        self.header_line, full_header = header
        width = len(full_header)
        continued = continuation_columns(full_header)
        self.header = [h for i, h in enumerate(full_header) if i not in continued]
        pending = None  # the row before, held back until it is known not to be a cut-off last row
        for line, cells in peek.rest_after(self.header_line):
            if not any(cells) or (len(cells) == 1 and width >= 3 and not self._anchor_column(0)):
                continue  # blank, or a one-cell section line such as Abstrackr's "citations not yet labeled"
            if len(cells) > width:
                if any(cells[width:]):
                    raise InputError(self.path, f"row has {len(cells)} cells but the header has {width} "
                                                f"(is the delimiter {self.delimiter!r} right?)", line=line)
                cells = cells[:width]
            short = len(cells) < width
            cells = cells + [""] * (width - len(cells))
            for index, base in continued.items():
                cells[base] += cells[index]
            if pending is not None:
                yield pending[:2]
            pending = (line, [c for i, c in enumerate(cells) if i not in continued], short)
        if pending is not None and not (pending[2] and not self.terminated):
            yield pending[:2]

    def _csv_rows(self) -> Iterator[tuple[int, list[str]]]:
        def lines(handle) -> Iterator[str]:
            for text in handle:
                self.terminated = text.endswith("\n")
                yield text

        with open_text(self.path) as handle:
            reader = csv.reader(lines(handle), delimiter=self.delimiter)
            try:
                yield from _numbered(reader)
            except csv.Error as exc:
                raise InputError(self.path, f"malformed {self.fmt.upper()} ({exc})", line=reader.line_num) from None
            except READ_ERRORS as exc:
                raise InputError(self.path, f"cannot be read ({exc.__class__.__name__}: {exc})",
                                 line=reader.line_num + 1) from None

    def _xlsx_rows(self) -> Iterator[tuple[int, list[str]]]:
        with open_workbook(self.path) as workbook:
            try:
                if self.sheet is not None and self.sheet not in workbook.sheetnames:
                    raise InputError(self.path, f"has no sheet {self.sheet!r} (its sheets: {_names(workbook.sheetnames)})")
                sheet = workbook[self.sheet] if self.sheet is not None else workbook.worksheets[0]
                sheet.reset_dimensions()  # some writers store a wrong sheet size; read every row
                for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
                    yield number, [clean_cell(_xlsx_text(v)) for v in values]
            except InputError:
                raise
            except Exception as exc:  # as in open_workbook, for damage found while streaming the sheet
                raise InputError(self.path, f"cannot be read as an Excel workbook ({exc.__class__.__name__}: {exc})") from None

    def missing_columns(self, what: str, columns_needed: str) -> InputError:
        """The error for a table without the columns a reader needs; for an XLSX first sheet it
        names the sheets and the ``--sheet`` that picks one holding them."""
        message = f"has no {what} (columns found: {columns_found(self.header)})"
        names = xlsx_sheet_names(self.path) if self.fmt == "xlsx" and self.sheet is None else []
        if len(names) > 1:
            holding = [name for name in names[1:] if _sheet_has(self, name)]
            hint = f"; pass --sheet {holding[0]!r}" if holding else f"; none holds {columns_needed}"
            message = (f"has no {what} on its first sheet {names[0]!r} (columns found: {columns_found(self.header)});"
                       f" its sheets: {_names(names)}{hint}")
        return InputError(self.path, message)


def continuation_columns(header: list[str]) -> dict[int, int]:
    """``{index: index of the column it continues}`` for the ``NAME (continued N)`` columns our
    XLSX writer adds for text over a cell's limit, in the order their text joins on."""
    index = {name: i for i, name in reversed(list(enumerate(header)))}
    found = []
    for i, name in enumerate(header):
        match = _CONTINUED.fullmatch(name)
        if match and match.group(1) in index:
            found.append((index[match.group(1)], int(match.group(2)), i))
    return {i: base for base, _, i in sorted(found)}


def _sheet_has(table: Table, name: str) -> bool:
    """Whether sheet ``name`` has a header naming one of the table's anchor columns."""
    other = Table(table.path, table.fmt, table.anchors, sheet=name)
    try:
        next(other.rows(), None)
    except InputError:
        return False
    return bool(find_columns(other.header, other.anchors))


@contextmanager
def open_workbook(path: Path):
    """The workbook at ``path``, read-only.

    openpyxl is given the open file rather than the path: given a path, it refuses any name
    not ending in .xlsx, and an XLSX workbook saved under a .xls name is still one."""
    from openpyxl import load_workbook

    with open(path, "rb") as handle:
        try:
            workbook = load_workbook(handle, read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many kinds of errors on damaged workbooks
            raise InputError(path, f"cannot be read as an Excel workbook ({exc.__class__.__name__}: {exc})") from None
        try:
            yield workbook
        finally:
            workbook.close()


def xlsx_sheet_names(path: Path) -> list[str]:
    with open_workbook(path) as workbook:
        return list(workbook.sheetnames)


def _names(names: list[str]) -> str:
    return ", ".join(repr(n) for n in names)


class _Peek:
    """Rows already read while looking for the header, then the rest of the stream."""

    def __init__(self, source: Iterator[tuple[int, list[str]]]):
        self.source = source
        self.seen: list[tuple[int, list[str]]] = []

    def __iter__(self):
        for row in self.source:
            self.seen.append(row)
            yield row

    def rest_after(self, line: int) -> Iterator[tuple[int, list[str]]]:
        yield from (row for row in self.seen if row[0] > line)
        self.seen = []
        yield from self.source


def _numbered(reader) -> Iterator[tuple[int, list[str]]]:
    """(starting line, cleaned cells) for each row of a csv reader; quoted cells may span lines."""
    line = 0
    for cells in reader:
        yield line + 1, [clean_cell(c) for c in cells]
        line = reader.line_num


def _xlsx_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time() else value.isoformat()
    if isinstance(value, (date, time)):
        return value.isoformat()
    return str(value)


def find_columns(columns: list[str], wanted: Iterable[str]) -> dict[str, int]:
    """Map each wanted field to the index of the first column named by one of its synonyms
    (a column serves one field only)."""
    names = [normalise_header(c) for c in columns]
    index = {}
    for i, name in enumerate(names):
        index.setdefault(name, i)
    overrides = WOS_COLUMNS if {"pt", "ut"} <= index.keys() else {}
    found: dict[str, int] = {}
    for field in wanted:
        candidates = [overrides[field]] if field in overrides else SYNONYMS[field]
        for synonym in candidates:
            if synonym in index and index[synonym] not in found.values():
                found[field] = index[synonym]
                break
    return found


def columns_found(header: list[str]) -> str:
    return ", ".join(repr(h) for h in header if h) or "none"


def decided_rows(path: Path, rows, columns: dict[str, int]) -> Iterator[tuple[int, list[str], dict[str, str], str | None]]:
    """``(line, cells, values by field, decision)`` per row; a field without a column reads
    as "", and a decision cell no spelling matches is an InputError naming its line."""
    for line, cells in rows:
        values = defaultdict(str, {field: cells[index] for field, index in columns.items()})
        try:
            decision = parse_decision(values["label"])
        except ValueError as exc:
            raise InputError(path, str(exc), line=line) from None
        yield line, cells, values, decision


def read_table(path: Path, fmt: str, sheet: str | None = None) -> Iterator[Record]:
    """Every non-empty row of a CSV/TSV/XLSX file (of its sheet ``sheet``, default the first)
    as a record; ``line`` is the file line (CSV) or sheet row (XLSX) it starts on. Columns no
    Record field takes are kept in ``extra``."""
    table = Table(path, fmt, anchors=["title", "abstract"], sheet=sheet)
    rows = table.rows()
    first = next(rows, None)
    columns = find_columns(table.header, RECORD_FIELDS)
    if "title" not in columns and "abstract" not in columns:
        raise table.missing_columns("title or abstract column", "a title or abstract column")
    rest = [(i, h) for i, h in enumerate(table.header) if i not in columns.values() and h]
    rows = decided_rows(path, chain([first] if first else [], rows), columns)
    for position, (line, cells, values, label) in enumerate(rows, start=1):
        yield Record(
            title=values["title"],
            abstract=choose_abstract([values["abstract"]]),
            authors=split_authors(values["authors"]),
            year=parse_year(values["year"]),
            doi=parse_doi(values["doi"]),
            pmid=parse_pmid(values["pmid"]),
            keywords=split_keywords(values["keywords"], commas=True),
            journal=values["journal"],
            label=label,
            source_key=values["record_id"],
            position=position,
            line=line,
            extra={h: cells[i] for i, h in rest if cells[i]},
        )

"""CSV, TSV (delimiter sniffed; gzip allowed) and XLSX tables, read in chunks so a
million-row file streams in bounded memory.

Column names are matched case- and punctuation-insensitively against the synonyms below.
Row numbers in messages are file lines for files without multi-line cells.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from prioritiser.errors import InputError
from prioritiser.io.encoding import SAMPLE_BYTES, detect_encoding, open_bytes
from prioritiser.io.fields import (
    normalise_header, parse_decision, parse_doi, parse_pmid, parse_year, split_authors, split_keywords,
)
from prioritiser.records import Record

SYNONYMS = {
    "title": ["title", "primary title", "article title", "ti", "document title", "paper title"],
    "abstract": ["abstract", "ab", "abstract note", "notes abstract", "abstract text"],
    "authors": ["authors", "author", "au", "author full names", "author names", "creators"],
    "year": ["year", "publication year", "py", "publication year", "pub year", "date", "publication date"],
    "doi": ["doi", "di", "digital object identifier"],
    "pmid": ["pmid", "pubmed id", "pubmedid", "pubmed", "pm"],
    "keywords": ["keywords", "author keywords", "kw", "manual tags", "index keywords", "mesh terms"],
    "journal": ["journal", "source title", "secondary title", "journal book", "publication title", "so", "jo"],
    "label": ["label included", "included", "label", "included label", "final included", "decision", "include"],
    "record_id": ["record id", "id", "key", "record", "recordid"],
    "reviewer": ["reviewer", "screener", "user", "rater"],
    "timestamp": ["timestamp", "time", "decided at", "decision date", "date decided"],
}
CHUNK_ROWS = 50_000


def find_columns(columns: list[str], wanted: list[str]) -> dict[str, str]:
    """Map each wanted field to the first column whose normalised name is a synonym of it."""
    normalised = {normalise_header(c): c for c in reversed(columns)}
    found = {}
    for field in wanted:
        for synonym in SYNONYMS[field]:
            if synonym in normalised and normalised[synonym] not in found.values():
                found[field] = normalised[synonym]
                break
    return found


def iter_table_chunks(path: Path, fmt: str) -> Iterator[pd.DataFrame]:
    """The table as string frames of at most CHUNK_ROWS rows ('' for empty cells)."""
    if fmt == "xlsx":
        try:
            frame = pd.read_excel(path, dtype=str, keep_default_na=False, engine="openpyxl")
        except Exception as exc:  # openpyxl raises many kinds of errors on damaged workbooks
            raise InputError(path, f"cannot be read as an Excel workbook ({exc.__class__.__name__}: {exc})") from None
        frame.columns = [str(c) for c in frame.columns]
        for start in range(0, max(len(frame), 1), CHUNK_ROWS):
            yield frame.iloc[start:start + CHUNK_ROWS]
        return
    data = open_bytes(path)
    encoding = detect_encoding(path, data[:SAMPLE_BYTES])
    sample = data[:65536].decode(encoding, errors="ignore")
    if fmt == "tsv":
        delimiter = "\t"
    else:
        try:
            delimiter = csv.Sniffer().sniff(sample.split("\n", 20)[0] if sample else ",", delimiters=",;\t|").delimiter
        except csv.Error:
            delimiter = ","
    try:
        reader = pd.read_csv(
            io.BytesIO(data), sep=delimiter, dtype=str, keep_default_na=False, encoding=encoding,
            chunksize=CHUNK_ROWS, on_bad_lines="error", encoding_errors="strict",
        )
        for chunk in reader:
            chunk.columns = [str(c) for c in chunk.columns]
            yield chunk
    except pd.errors.EmptyDataError:
        raise InputError(path, "is empty") from None
    except pd.errors.ParserError as exc:
        raise InputError(path, f"malformed table ({str(exc).strip().splitlines()[-1]})") from None
    except UnicodeDecodeError as exc:
        raise InputError(path, f"cannot be decoded as {encoding} ({exc.reason})") from None


def read_table(path: Path, fmt: str) -> Iterator[Record]:
    columns: dict[str, str] | None = None
    position = 0
    for chunk in iter_table_chunks(path, fmt):
        if columns is None:
            columns = find_columns(list(chunk.columns), list(SYNONYMS))
            if "title" not in columns and "abstract" not in columns:
                raise InputError(path, f"has no title or abstract column (columns found: {', '.join(map(str, chunk.columns)) or 'none'})")
        get = {f: chunk[c].tolist() for f, c in columns.items()}
        empty = [""] * len(chunk)
        for i in range(len(chunk)):
            position += 1
            line = position + 1
            try:
                label = parse_decision(get["label"][i]) if "label" in get else None
            except ValueError as exc:
                raise InputError(path, str(exc), line=line) from None
            yield Record(
                title=get.get("title", empty)[i].strip(),
                abstract=get.get("abstract", empty)[i].strip(),
                authors=split_authors(get.get("authors", empty)[i]),
                year=parse_year(get.get("year", empty)[i]),
                doi=parse_doi(get.get("doi", empty)[i]),
                pmid=parse_pmid(get.get("pmid", empty)[i]),
                keywords=split_keywords(get.get("keywords", empty)[i]),
                journal=get.get("journal", empty)[i].strip(),
                label=label,
                source_key=get.get("record_id", empty)[i].strip(),
                position=position,
                line=line,
            )

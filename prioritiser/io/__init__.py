"""Reading search exports and decision files, writing tables.

Readers yield plain :class:`~prioritiser.records.Record` objects and know nothing of projects.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from prioritiser.errors import InputError
from prioritiser.io.encoding import decode_file, open_bytes
from prioritiser.io.labels import LabelRow, iter_label_rows
from prioritiser.io.writers import write_table
from prioritiser.records import Record

__all__ = ["LabelRow", "Record", "detect_format", "iter_label_rows", "iter_records", "write_table"]

_BY_SUFFIX = {".ris": "ris", ".txt": None, ".nbib": "medline", ".medline": "medline", ".bib": "bibtex",
              ".xml": "endnote_xml", ".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".xlsx": "xlsx"}


def detect_format(path: str | Path) -> str:
    """One of 'ris', 'medline', 'bibtex', 'endnote_xml', 'csv', 'tsv', 'xlsx'.

    Content decides where it is clear (a .txt may hold RIS or MEDLINE); the extension
    decides for tables.
    """
    from prioritiser.io.bibtex import looks_like_bibtex
    from prioritiser.io.endnote_xml import looks_like_endnote_xml
    from prioritiser.io.medline import looks_like_medline
    from prioritiser.io.ris import looks_like_ris

    path = Path(path)
    if not path.is_file():
        raise InputError(path, "no such file")
    head = open_bytes(path)[:4]
    if head[:2] == b"PK":
        return "xlsx"
    suffixes = [s.lower() for s in path.suffixes]
    suffix = suffixes[-2] if suffixes[-1:] == [".gz"] and len(suffixes) > 1 else (suffixes[-1] if suffixes else "")
    if suffix in (".csv", ".tsv", ".tab"):
        return _BY_SUFFIX[suffix]
    text = decode_file(path)[:20000]
    if not text.strip():
        raise InputError(path, "is empty")
    for fmt, looks in (("ris", looks_like_ris), ("medline", looks_like_medline),
                       ("endnote_xml", looks_like_endnote_xml), ("bibtex", looks_like_bibtex)):
        if looks(text):
            return fmt
    if _BY_SUFFIX.get(suffix):
        return _BY_SUFFIX[suffix]
    if "," in text.split("\n", 1)[0] or "\t" in text.split("\n", 1)[0] or ";" in text.split("\n", 1)[0]:
        return "csv"
    raise InputError(path, "unknown format: not RIS, MEDLINE/nbib, BibTeX, EndNote XML, CSV, TSV or XLSX")


def iter_records(path: str | Path) -> Iterator[Record]:
    """Every record of the file, in order; ``position`` is 1-based."""
    from prioritiser.io.bibtex import read_bibtex
    from prioritiser.io.endnote_xml import read_endnote_xml
    from prioritiser.io.medline import read_medline
    from prioritiser.io.ris import read_ris
    from prioritiser.io.tabular import read_table

    path = Path(path)
    fmt = detect_format(path)
    if fmt in ("csv", "tsv", "xlsx"):
        yield from read_table(path, fmt)
        return
    text = decode_file(path)
    reader = {"ris": read_ris, "medline": read_medline, "bibtex": read_bibtex, "endnote_xml": read_endnote_xml}[fmt]
    yield from reader(path, text)

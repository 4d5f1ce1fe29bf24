"""Which format a file holds, and its records: the one entry point to every reader."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path

from prioritiser.errors import InputError
from prioritiser.io.encoding import OLE_MAGIC, ZIP_MAGIC, detect_encoding, head_bytes
from prioritiser.records import Record

FORMATS = ("ris", "medline", "bibtex", "endnote_xml", "csv", "tsv", "xlsx")
_TABLE_SUFFIXES = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv"}
_TEXT_SUFFIXES = {".ris": "ris", ".nbib": "medline", ".medline": "medline", ".bib": "bibtex", ".xml": "endnote_xml"}
SNIFF_CHARS = 65536


def _suffix(path: Path) -> str:
    """The extension that names the format, looking through a trailing .gz."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes[-1:] == [".gz"]:
        suffixes.pop()
    return suffixes[-1] if suffixes else ""


def detect_format(path: str | Path) -> str:
    """One of :data:`FORMATS`.

    Content decides for text files (a .txt or .ris may hold RIS or MEDLINE); the extension
    decides for .csv/.tsv; a ZIP workbook is xlsx; a text file whose first line has tabs,
    commas or semicolons is a table.
    """
    from prioritiser.io.bibtex import looks_like_bibtex
    from prioritiser.io.endnote_xml import looks_like_endnote_xml
    from prioritiser.io.medline import looks_like_medline
    from prioritiser.io.ris import looks_like_ris

    path = Path(path)
    head = head_bytes(path)
    if not head.strip():
        raise InputError(path, "is empty")
    suffix = _suffix(path)
    if head.startswith(ZIP_MAGIC):
        try:
            with zipfile.ZipFile(path) as archive:
                is_workbook = any(name.startswith("xl/") for name in archive.namelist())
        except (zipfile.BadZipFile, OSError, EOFError):
            is_workbook = False
        if is_workbook:
            return "xlsx"
        raise InputError(path, "is a ZIP archive, not an export: unzip it and import the file inside")
    if head.startswith(OLE_MAGIC):
        raise InputError(path, "is an old-style Excel (.xls) or other Office file: save it as .xlsx or CSV")
    if suffix == ".xls":  # HTML or XML tables some databases save as .xls
        raise InputError(path, "is an .xls file (old Excel, or a web page saved as Excel): save it as .xlsx or CSV")
    if suffix == ".xlsx":
        raise InputError(path, "is not an Excel workbook (.xlsx files are ZIP archives)")
    if suffix in _TABLE_SUFFIXES:
        detect_encoding(path, head)
        return _TABLE_SUFFIXES[suffix]
    text = head.decode(detect_encoding(path, head), errors="replace")[:SNIFF_CHARS].lstrip("\ufeff")
    if not text.strip():
        raise InputError(path, "is empty")
    for fmt, looks in (("ris", looks_like_ris), ("medline", looks_like_medline),
                       ("endnote_xml", looks_like_endnote_xml), ("bibtex", looks_like_bibtex)):
        if looks(text):
            return fmt
    if text.lstrip().startswith("<"):
        raise InputError(path, "is XML or HTML but not an EndNote XML export (<xml><records><record>)")
    if suffix in _TEXT_SUFFIXES:
        expected = _TEXT_SUFFIXES[suffix]
        raise InputError(path, f"has the extension {suffix} but does not look like {expected} "
                               f"(first line: {text.strip().splitlines()[0][:60]!r})")
    first_line = text.strip().splitlines()[0]
    if "\t" in first_line:
        return "tsv"
    if "," in first_line or ";" in first_line:
        return "csv"
    raise InputError(path, "unknown format: not RIS, MEDLINE/nbib, BibTeX, EndNote XML, CSV, TSV or XLSX "
                           f"(first line: {first_line[:60]!r})")


def iter_records(path: str | Path, sheet: str | None = None) -> Iterator[Record]:
    """Every record of the file, in file order, with ``position`` (1-based) and ``line`` set.

    Records without title or abstract are yielded too; labels the file carries are in
    ``Record.label``. ``sheet`` names the worksheet of an XLSX file (default: the first);
    other formats ignore it.
    """
    from prioritiser.io.bibtex import read_bibtex
    from prioritiser.io.endnote_xml import read_endnote_xml
    from prioritiser.io.medline import read_medline
    from prioritiser.io.ris import read_ris
    from prioritiser.io.tabular import read_table

    path = Path(path)
    fmt = detect_format(path)
    if fmt in ("csv", "tsv", "xlsx"):
        yield from read_table(path, fmt, sheet)
    else:
        yield from {"ris": read_ris, "medline": read_medline, "bibtex": read_bibtex,
                    "endnote_xml": read_endnote_xml}[fmt](path)

"""Tables out: CSV, TSV, XLSX and RIS, chosen by the file's extension.

Spreadsheet safety: a text cell starting with '=', '+', '-', '@', a tab or a carriage return
gets a leading apostrophe, so a spreadsheet shows it instead of running it; numbers (numeric
columns, and text that is just a number such as '-0.5') are left as they are. The tabular
readers remove the apostrophe again. CSV and TSV are written as UTF-8 with a byte-order mark,
which Excel needs to show accented letters right.

An XLSX cell holds at most 32,767 characters. Longer text is split over continuation columns
(``abstract``, ``abstract (continued 2)``, ...) added at the end of the sheet, which the tabular
reader joins back; no text is lost.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from prioritiser.errors import UserError
from prioritiser.io.fields import FORMULA_STARTS

FORMATS = (".csv", ".tsv", ".xlsx", ".ris")
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_XLSX_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
XLSX_CELL_LIMIT = 32767
CONTINUED = "{} (continued {})"


def neutralise(value):
    """``value`` with an apostrophe in front when it is text a spreadsheet would run."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def text_chunks(text: str, size: int) -> list[str]:
    """``text`` in pieces of at most ``size`` characters, each cut between two non-blank
    characters where one lies in the second half of the piece (readers trim cell text, so a cut
    next to a blank would lose it)."""
    pieces = []
    while len(text) > size:
        cut = next((i for i in range(size, size // 2, -1) if not (text[i - 1].isspace() or text[i].isspace())), size)
        pieces.append(text[:cut])
        text = text[cut:]
    return [*pieces, text]


def split_long_cells(frame: pd.DataFrame, size: int = XLSX_CELL_LIMIT - 1) -> pd.DataFrame:
    """``frame`` with text longer than ``size`` spread over continuation columns
    ``NAME (continued 2)``, ``NAME (continued 3)``, ... at the end (the default leaves room for
    the formula-neutralising apostrophe)."""
    out = frame.copy()
    for column in frame.columns:
        if not _is_text(frame[column]) or max(frame[column].map(lambda v: len(v) if isinstance(v, str) else 0),
                                               default=0) <= size:
            continue
        pieces = frame[column].map(lambda v: text_chunks(v, size) if isinstance(v, str) else [v])
        out[column] = pieces.map(lambda p: p[0])
        for k in range(1, max(pieces.map(len))):
            out[CONTINUED.format(column, k + 1)] = pieces.map(lambda p, k=k: p[k] if k < len(p) else "")
    return out


def _is_text(values: pd.Series) -> bool:
    return values.dtype == object or pd.api.types.is_string_dtype(values)


def _spreadsheet_safe(frame: pd.DataFrame, xlsx: bool) -> pd.DataFrame:
    out = frame.copy()
    for column in out.columns:
        if _is_text(out[column]):
            out[column] = out[column].map(neutralise)
            if xlsx:  # openpyxl refuses control characters in cells
                out[column] = out[column].map(lambda v: _XLSX_ILLEGAL.sub("", v) if isinstance(v, str) else v)
    return out


def write_table(frame: pd.DataFrame, path: str | Path) -> None:
    """Write ``frame`` to ``path``; the extension picks the format (.csv, .tsv, .xlsx, .ris)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise UserError(f"{path}: unknown output format {suffix or '(no extension)'}; use one of {', '.join(FORMATS)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".ris":
        from prioritiser.io.ris import write_ris

        write_ris(frame, path)
    elif suffix == ".xlsx":
        _spreadsheet_safe(split_long_cells(frame), xlsx=True).to_excel(path, index=False, engine="openpyxl")
    else:
        _spreadsheet_safe(frame, xlsx=False).to_csv(
            path, index=False, sep="\t" if suffix == ".tsv" else ",", encoding="utf-8-sig", lineterminator="\n")

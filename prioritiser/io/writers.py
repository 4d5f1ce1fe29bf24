"""Tables out: CSV, TSV, XLSX and RIS, chosen by the file's extension.

Spreadsheet safety: a text cell starting with '=', '+', '-', '@', a tab or a carriage return
gets a leading apostrophe, so a spreadsheet shows it instead of running it. Numeric columns
stay numeric.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from prioritiser.errors import UserError

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
FORMATS = (".csv", ".tsv", ".xlsx", ".ris")


def neutralise(value):
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def neutralised(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object or pd.api.types.is_string_dtype(out[column]):
            out[column] = out[column].map(neutralise)
    return out


def write_table(frame: pd.DataFrame, path: str | Path) -> None:
    """Write ``frame`` to ``path``; the extension picks the format (.csv, .tsv, .xlsx, .ris)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise UserError(f"{path}: unknown output format {suffix or '(no extension)'}; use one of {', '.join(FORMATS)}")
    if path.parent and not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".ris":
        from prioritiser.io.ris import write_ris

        write_ris(frame, path)
    elif suffix == ".xlsx":
        neutralised(frame).to_excel(path, index=False, engine="openpyxl")
    else:
        neutralised(frame).to_csv(path, index=False, sep="\t" if suffix == ".tsv" else ",")

"""Reading search exports and decision files, writing tables.

Readers yield plain :class:`~prioritiser.records.Record` objects, one at a time (a million-row
file streams in bounded memory), and know nothing of projects. Any file content a reader cannot
use ends in an :class:`~prioritiser.errors.InputError` naming the file (and line where known).
"""

from __future__ import annotations

from prioritiser.io.encoding import decode_file
from prioritiser.io.labels import LabelRow, iter_label_rows
from prioritiser.io.readers import FORMATS, detect_format, iter_records
from prioritiser.io.writers import write_table
from prioritiser.records import Record

__all__ = ["FORMATS", "LabelRow", "Record", "decode_file", "detect_format", "iter_label_rows", "iter_records",
           "write_table"]

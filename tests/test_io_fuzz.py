"""Any file content ends in records or in an InputError, never in another exception."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prioritiser.errors import InputError
from prioritiser.io import iter_label_rows, iter_records

SUFFIXES = [".ris", ".txt", ".nbib", ".bib", ".xml", ".csv", ".tsv", ".xlsx", ".csv.gz"]
# Fragments of real formats, so that generated files get past format detection and into the parsers.
FRAGMENTS = [
    "TY  - JOUR\n", "ER  - \n", "TI  - ", "AB  - ", "PY  - 2019///\n", "N1  - ASReview_relevant\n",
    'N1  - RAYYAN-INCLUSION: {"a"=>"Included", "b"=>"x"}\n', "PMID- 1\n", "AB  - x\n      y\n", "@article{k,\n",
    "title={", "}", "author = {A and B},\n", "<?xml version=\"1.0\"?><xml><records><record><titles><title>",
    "</title></titles></record>", "title,abstract,label\n", "a,b,1\n", "x;\"y\n", "\t", "\"", ",", "\r\n", "\n",
    "included\n", "maybe", "2", "\x00", "é", "\ufeff", "=cmd", "1.\n", "Record #1 of 2\n",
]


def _outcome(path: Path) -> None:
    for read in (iter_records, iter_label_rows):
        try:
            for _ in read(path):
                pass
        except InputError as exc:
            assert "\n" not in str(exc) and path.name in str(exc)


def _write_and_read(content: bytes, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"input{suffix}"
        path.write_bytes(content)
        _outcome(path)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(content=st.binary(max_size=600), suffix=st.sampled_from(SUFFIXES))
def test_arbitrary_bytes(content, suffix):
    _write_and_read(content, suffix)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(parts=st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=12)), max_size=40),
       suffix=st.sampled_from(SUFFIXES), encoding=st.sampled_from(["utf-8", "utf-16", "cp1252"]))
def test_format_like_text(parts, suffix, encoding):
    _write_and_read("".join(parts).encode(encoding, errors="replace"), suffix)

"""PubMed MEDLINE / .nbib text: ``TAG - value`` lines with the tag padded to four characters,
long values wrapped onto lines indented by six spaces, records separated by blank lines and
each starting with ``PMID-``."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from prioritiser.io.encoding import iter_lines
from prioritiser.io.fields import choose_abstract, parse_doi, parse_pmid, parse_year
from prioritiser.records import Record

TAG_LINE = re.compile(r"([A-Z][A-Z0-9]{1,3}) {0,3}- ?(.*)")
RECORD_START_TAGS = frozenset({"PMID", "TI", "BTI", "AB"})
KNOWN_TAGS = frozenset({"PMID", "TI", "BTI", "AB", "FAU", "AU", "DP", "LID", "AID", "MH", "OT", "JT", "TA"})


def looks_like_medline(text: str) -> bool:
    return bool(re.search(r"^PMID ?- ?\d", text, re.MULTILINE))


def _blocks(path: Path) -> Iterator[tuple[int, list[tuple[str, str]]]]:
    """(start line, [(tag, value), ...]) per run of tag lines, a run ending at a blank line or
    before a PMID line; wrapped lines are joined to their value with a space."""
    fields: list[tuple[str, str]] = []
    start = 0
    for number, line in iter_lines(path):
        match = TAG_LINE.fullmatch(line.rstrip()) if line[:1].strip() else None
        if match:
            tag, value = match.group(1), match.group(2).strip()
            if tag == "PMID" and fields:
                yield start, fields
                fields = []
            if not fields:
                start = number
            fields.append((tag, value))
        elif not line.strip():
            if fields:
                yield start, fields
            fields = []
        elif fields:
            tag, value = fields[-1]
            fields[-1] = (tag, f"{value} {line.strip()}".strip())
    if fields:
        yield start, fields


def _raw_records(path: Path) -> Iterator[tuple[int, list[tuple[str, str]]]]:
    """(start line, [(tag, value), ...]) per record.

    A record starts at a PMID line, or at a block of tag lines after a blank line that holds a
    title or an abstract (a record without PMID). Any other block after a blank line (stray
    tag or link lines) belongs to the record before it; before the first record it is a file
    header and is dropped.
    """
    record: list[tuple[str, str]] = []
    start = 0
    for block_start, block in _blocks(path):
        if block[0][0] == "PMID" or any(tag in RECORD_START_TAGS for tag, _ in block):
            if record:
                yield start, record
            record, start = block, block_start
        elif record:
            record += block
    if record:
        yield start, record


def read_medline(path: Path) -> Iterator[Record]:
    """Every record of a MEDLINE/nbib file; tags without a Record field are kept in ``extra``."""
    for position, (line, fields) in enumerate(_raw_records(path), start=1):
        values: dict[str, list[str]] = {}
        for tag, value in fields:
            values.setdefault(tag, []).append(value)

        def first(*tags: str) -> str:
            return next((v for t in tags for v in values.get(t, []) if v), "")

        ids = values.get("LID", []) + values.get("AID", [])
        yield Record(
            title=first("TI", "BTI"),
            abstract=choose_abstract(values.get("AB", [])),
            authors=values.get("FAU") or values.get("AU", []),
            year=parse_year(first("DP", "DEP", "EDAT")),
            doi=next((parse_doi(v) for v in ids if v.endswith("[doi]")), ""),
            pmid=parse_pmid(first("PMID")),
            keywords=values.get("MH", []) + values.get("OT", []),
            journal=first("JT", "TA"),
            source_key=first("PMID"),
            position=position,
            line=line,
            extra={t: "\n".join(v) for t, v in values.items() if t not in KNOWN_TAGS},
        )

"""PubMed MEDLINE / .nbib text: ``TAG - value`` lines (tags padded to four characters),
continuation lines indented by six spaces, records separated by blank lines."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from prioritiser.io.fields import parse_doi, parse_pmid, parse_year
from prioritiser.records import Record

TAG_LINE = re.compile(r"^([A-Z][A-Z0-9]{1,3})\s*- ?(.*)$")


def looks_like_medline(text: str) -> bool:
    return bool(re.search(r"^PMID\s*- ?\d", text[:20000], re.MULTILINE))


def _raw_records(text: str) -> Iterator[tuple[int, list[tuple[str, str]]]]:
    fields: list[tuple[str, str]] = []
    start = 0
    for number, line in enumerate(text.split("\n"), start=1):
        match = TAG_LINE.match(line) if not line.startswith(" ") else None
        if match:
            tag, value = match.group(1), match.group(2).strip()
            if tag == "PMID" and fields:
                yield start, fields
                fields = []
            if not fields:
                start = number
            fields.append((tag, value))
        elif fields and line.strip():
            tag, value = fields[-1]
            fields[-1] = (tag, f"{value} {line.strip()}")
    if fields:
        yield start, fields


def read_medline(path: Path, text: str) -> Iterator[Record]:
    for position, (line, fields) in enumerate(_raw_records(text), start=1):
        values: dict[str, list[str]] = {}
        for tag, value in fields:
            values.setdefault(tag, []).append(value)

        def first(*tags: str) -> str:
            return next((v for t in tags for v in values.get(t, []) if v), "")

        doi = next((parse_doi(v) for v in values.get("LID", []) + values.get("AID", []) if "[doi]" in v), "")
        known = {"PMID", "TI", "BTI", "AB", "FAU", "AU", "DP", "LID", "AID", "MH", "OT", "JT", "TA"}
        yield Record(
            title=first("TI", "BTI"),
            abstract=" ".join(values.get("AB", [])),
            authors=values.get("FAU") or values.get("AU", []),
            year=parse_year(first("DP", "DEP", "EDAT")),
            doi=doi,
            pmid=parse_pmid(first("PMID")),
            keywords=values.get("MH", []) + values.get("OT", []),
            journal=first("JT", "TA"),
            source_key=first("PMID"),
            position=position,
            line=line,
            extra={t: "\n".join(v) for t, v in values.items() if t not in known},
        )

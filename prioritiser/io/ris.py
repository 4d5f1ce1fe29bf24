"""RIS reading and writing.

Reading is a tolerant line parser rather than rispy's: real exports break rispy's strict
grammar (Ovid numbers its records with "1." lines, EndNote and ProQuest write tags with one
space before the dash, Web of Science repeats abstracts, files end without a final ER), and
error messages must name the line a record starts on. Writing uses rispy.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from prioritiser.io.fields import parse_decision, parse_doi, parse_pmid, parse_year, split_keywords
from prioritiser.records import Record

TAG_LINE = re.compile(r"^([A-Z][A-Z0-9])\s{1,2}-(?:\s(.*))?$")
TITLE_TAGS = ("TI", "T1", "CT", "BT", "ST", "TT")
ABSTRACT_TAGS = ("AB", "N2")
AUTHOR_TAGS = ("AU", "A1")
YEAR_TAGS = ("PY", "Y1", "DA", "Y2")
JOURNAL_TAGS = ("JO", "JF", "T2", "J2", "JA")
KNOWN_TAGS = set(TITLE_TAGS + ABSTRACT_TAGS + AUTHOR_TAGS + YEAR_TAGS + JOURNAL_TAGS) | {"TY", "ER", "ID", "DO", "KW", "AN", "N1"}
NOTE_PREFIX = "prioritiser_"
_ASREVIEW_NOTES = {"asreview_relevant", "asreview_irrelevant", "asreview_not_seen"}


def looks_like_ris(text: str) -> bool:
    return bool(re.search(r"^TY\s{1,2}-", text[:20000], re.MULTILINE))


def _raw_records(text: str) -> Iterator[tuple[int, list[tuple[str, str]]]]:
    """(start line, [(tag, value), ...]) per record; continuation lines extend the last value."""
    fields: list[tuple[str, str]] = []
    start = 0
    for number, line in enumerate(text.split("\n"), start=1):
        match = TAG_LINE.match(line.rstrip())
        if match:
            tag, value = match.group(1), (match.group(2) or "").strip()
            if tag == "ER":
                if fields:
                    yield start, fields
                fields = []
                continue
            if tag == "TY" and fields:
                yield start, fields
                fields = []
            if not fields:
                start = number
            fields.append((tag, value))
        elif fields and line.strip():
            tag, value = fields[-1]
            fields[-1] = (tag, f"{value} {line.strip()}".strip())
    if fields:
        yield start, fields


def _first(values: dict[str, list[str]], tags: tuple[str, ...]) -> str:
    for tag in tags:
        for value in values.get(tag, []):
            if value.strip():
                return value.strip()
    return ""


def _record(fields: list[tuple[str, str]], position: int, line: int) -> Record:
    values: dict[str, list[str]] = {}
    for tag, value in fields:
        values.setdefault(tag, []).append(value)
    record = Record(
        title=_first(values, TITLE_TAGS),
        abstract=_first(values, ABSTRACT_TAGS),
        authors=[a for tag in AUTHOR_TAGS for a in values.get(tag, []) if a],
        journal=_first(values, JOURNAL_TAGS),
        source_key=_first(values, ("ID",)),
        position=position,
        line=line,
    )
    for tag in YEAR_TAGS:
        record.year = parse_year(" ".join(values.get(tag, [])))
        if record.year:
            break
    record.doi = parse_doi(" ".join(values.get("DO", []))) or parse_doi(" ".join(values.get("UR", []) + values.get("L2", [])))
    record.pmid = parse_pmid(_first(values, ("AN",))) or parse_pmid(" ".join(values.get("N1", []) + values.get("M1", []) + values.get("C2", [])))
    record.keywords = [k for v in values.get("KW", []) for k in split_keywords(v)]
    notes = []
    for note in values.get("N1", []):
        key = note.strip().lower()
        if key in _ASREVIEW_NOTES:
            record.label = parse_decision(key)
        elif key.startswith(NOTE_PREFIX) and ":" in key:
            name, _, value = note.strip().partition(":")
            name = name[len(NOTE_PREFIX):]
            if name == "label":
                record.label = parse_decision(value)
            else:
                record.extra[name] = value.strip()
        else:
            notes.append(note)
    if notes:
        record.extra["N1"] = "\n".join(notes)
    for tag, items in values.items():
        if tag not in KNOWN_TAGS:
            record.extra[tag] = "\n".join(items)
    return record


def read_ris(path: Path, text: str) -> Iterator[Record]:
    from prioritiser.errors import InputError

    for position, (line, fields) in enumerate(_raw_records(text), start=1):
        try:
            yield _record(fields, position, line)
        except ValueError as exc:
            raise InputError(path, str(exc), line=line) from None


def write_ris(frame, path: Path) -> None:
    """Write a records table (see :mod:`prioritiser.export`) as RIS; labels as ASReview notes,
    score and rank as ``prioritiser_*`` notes, so the file re-imports to the same records."""
    import pandas as pd
    import rispy

    entries = []
    for row in frame.to_dict("records"):
        entry = {"type_of_reference": "JOUR", "id": str(row.get("record_id", ""))}

        def text(name):
            value = row.get(name)
            return "" if value is None or pd.isna(value) else str(value)

        for key, column in (("title", "title"), ("abstract", "abstract"), ("doi", "doi"),
                            ("journal_name", "journal"), ("accession_number", "pmid"), ("year", "year")):
            if text(column):
                entry[key] = text(column)
        if text("authors"):
            entry["authors"] = [a.strip() for a in text("authors").split(";") if a.strip()]
        if text("keywords"):
            entry["keywords"] = [k.strip() for k in text("keywords").split(";") if k.strip()]
        notes = []
        label = text("label")
        if label:
            notes.append({"include": "ASReview_relevant", "exclude": "ASReview_irrelevant"}.get(label, f"{NOTE_PREFIX}label: {label}"))
        for column in ("score", "rank", "group_id"):
            if text(column):
                notes.append(f"{NOTE_PREFIX}{column}: {text(column)}")
        if notes:
            entry["notes"] = notes
        entries.append(entry)
    with open(path, "w", encoding="utf-8") as handle:
        rispy.dump(entries, handle)

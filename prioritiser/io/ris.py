"""RIS reading and writing.

Reading is a tolerant line parser rather than rispy's: real exports break rispy's strict
grammar (Ovid numbers its records with "1." lines and Cochrane prefixes "Record #3 of 18"
blocks; EndNote writes multi-valued fields as untagged continuation lines; ProQuest and
EndNote write tags with one space before the dash; Cochrane puts two spaces after it; files
end without a final ER), and error messages must name the line a record starts on. Writing
uses rispy.

Labels come from notes: ASReview's ``ASReview_relevant``/``ASReview_irrelevant``/
``ASReview_not_seen`` (also inside Zotero's HTML notes), Rayyan's
``RAYYAN-INCLUSION: {"name"=>"Included"}`` (a label only when the reviewers agree), and the
``prioritiser_label: maybe`` note our writer emits. Our writer's other ``prioritiser_NAME: value``
notes (score, rank, ...) come back in ``Record.extra[NAME]``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from prioritiser.errors import InputError
from prioritiser.io.encoding import iter_lines
from prioritiser.io.fields import (
    choose_abstract, doi_from_url, parse_decision, parse_doi, parse_pmid, parse_year, pmid_from_accession,
    pmid_from_url, pmid_mention, split_keywords,
)
from prioritiser.records import EXCLUDE, INCLUDE, Record

TAG_LINE = re.compile(r"([A-Z][A-Z0-9])[ \t]{1,2}-(?:[ \t]+(.*))?")
RECORD_NUMBER = re.compile(r"\s*\d+\.\s*")
TITLE_TAGS = ("TI", "T1", "CT", "BT")
ABSTRACT_TAGS = ("AB", "N2")
AUTHOR_TAGS = ("AU", "A1")
YEAR_TAGS = ("PY", "Y1", "DA")
JOURNAL_TAGS = ("JF", "JO", "T2", "J2", "JA")
URL_TAGS = ("UR", "L1", "L2", "L3", "L4")
PMID_NOTE_TAGS = ("AN", "M2", "N1", "C1", "C2", "C3", "C4", "C5", "C6", "C7", "C8")
KNOWN_TAGS = frozenset(TITLE_TAGS + ABSTRACT_TAGS + AUTHOR_TAGS + YEAR_TAGS + JOURNAL_TAGS + ("TY", "ID", "DO", "KW", "N1"))
NOTE_PREFIX = "prioritiser_"
_ASREVIEW = re.compile(r"\bASReview_(relevant|irrelevant|not_seen)\b")
_RAYYAN = re.compile(r"RAYYAN-INCLUSION:\s*\{(.*?)\}")
_RAYYAN_PAIR = re.compile(r'"([^"]*)"\s*=>\s*"([^"]*)"')
_ASREVIEW_DECISION = {"relevant": INCLUDE, "irrelevant": EXCLUDE, "not_seen": None}


def looks_like_ris(text: str) -> bool:
    return bool(re.search(r"^TY[ \t]{1,2}-", text, re.MULTILINE))


def _raw_records(path: Path) -> Iterator[tuple[int, list[tuple[str, str]]]]:
    """(start line, [(tag, value), ...]) per record.

    Untagged lines continue the previous value on a new line (a wrapped abstract, or one more
    keyword in EndNote's multi-value style); blank or "12." lines between two continuation
    lines are kept as part of the value, elsewhere they are separators and dropped.
    """
    fields: list[tuple[str, str]] = []
    pending: list[str] = []
    start = 0
    for number, line in iter_lines(path):
        match = TAG_LINE.fullmatch(line.rstrip())
        if match:
            pending = []
            tag, value = match.group(1), (match.group(2) or "").strip()
            if tag == "ER" or (tag == "TY" and fields):
                if fields:
                    yield start, fields
                fields = []
                if tag == "ER":
                    continue
            if not fields:
                start = number
            fields.append((tag, value))
        elif not fields:
            continue
        elif not line.strip() or RECORD_NUMBER.fullmatch(line):
            pending.append(line.strip())
        else:
            tag, value = fields[-1]
            fields[-1] = (tag, "\n".join([value, *pending, line.strip()]) if value else line.strip())
            pending = []
    if fields:
        yield start, fields


def _notes_label(notes: list[str]) -> str | None:
    """The decision carried by a record's N1 notes, None when there is none.

    Raises ValueError when the notes contradict each other.
    """
    found = set()
    for note in notes:
        found.update(_ASREVIEW_DECISION[m] for m in _ASREVIEW.findall(note))
        for block in _RAYYAN.findall(note):
            decisions = {parse_decision(value) for _, value in _RAYYAN_PAIR.findall(block)} - {None}
            if len(decisions) == 1:
                found |= decisions
        if note.startswith(NOTE_PREFIX + "label:"):
            found.add(parse_decision(note.partition(":")[2]))
    found.discard(None)
    if len(found) > 1:
        raise ValueError(f"record carries contradicting labels ({', '.join(sorted(found))})")
    return found.pop() if found else None


def _record(fields: list[tuple[str, str]], position: int, line: int) -> Record:
    values: dict[str, list[str]] = {}
    for tag, value in fields:
        values.setdefault(tag, []).append(value)

    def first(tags: tuple[str, ...]) -> str:
        return next((v for t in tags for v in values.get(t, []) if v), "")

    def joined(tags: tuple[str, ...]) -> str:
        return "\n".join(v for t in tags for v in values.get(t, []))

    record = Record(
        title=first(TITLE_TAGS),
        abstract=choose_abstract([v for t, v in fields if t in ABSTRACT_TAGS]),
        authors=[a.strip() for t in AUTHOR_TAGS for v in values.get(t, []) for a in v.split("\n") if a.strip()],
        year=next((y for t in YEAR_TAGS for y in [parse_year(joined((t,)))] if y), None),
        keywords=[k for v in values.get("KW", []) for k in split_keywords(v)],
        journal=first(JOURNAL_TAGS),
        source_key=first(("ID",)),
        position=position,
        line=line,
    )
    record.doi = (
        parse_doi(joined(("DO",)))
        or parse_doi("\n".join(v for v in values.get("L3", []) if v.startswith("10.")))  # CINAHL
        or doi_from_url(joined(URL_TAGS))
    )
    databases = joined(("DB", "DP"))
    record.pmid = (
        pmid_from_accession(first(("AN",)), databases)
        or next((p for t in ("C2", "C5") for v in values.get(t, []) if v.isdigit() for p in [parse_pmid(v)] if p), "")
        or next((p for t in PMID_NOTE_TAGS for v in values.get(t, []) for p in [pmid_mention(v)] if p), "")
        or pmid_from_url(joined(URL_TAGS))
    )
    notes = values.get("N1", [])
    record.label = _notes_label(notes)
    kept = []
    for note in notes:
        name, sep, value = note.partition(":")
        if note.startswith(NOTE_PREFIX) and sep and name[len(NOTE_PREFIX):] != "label":
            record.extra[name[len(NOTE_PREFIX):]] = value.strip()
        elif note and not note.startswith(NOTE_PREFIX):
            kept.append(note)
    if kept:
        record.extra["N1"] = "\n".join(kept)
    for tag, items in values.items():
        if tag not in KNOWN_TAGS and any(items):
            record.extra[tag] = "\n".join(i for i in items if i)
    return record


def read_ris(path: Path) -> Iterator[Record]:
    """Every record of a RIS file, including those without title or abstract."""
    for position, (line, fields) in enumerate(_raw_records(path), start=1):
        try:
            yield _record(fields, position, line)
        except ValueError as exc:
            raise InputError(path, str(exc), line=line) from None


def _cell(row: dict, name: str) -> str:
    """The text of ``row[name]``: '' for missing/NaN, integral floats without '.0'."""
    import pandas as pd

    value = row.get(name)
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


STANDARD_COLUMNS = ("record_id", "title", "abstract", "authors", "year", "doi", "pmid", "keywords", "journal", "label")


def write_ris(frame, path: Path) -> None:
    """Write a records table as RIS that :func:`read_ris` reads back to the same records.

    ``record_id`` becomes ID, ``pmid`` AN, ``journal`` JO; ``authors`` and ``keywords``
    ("; "-joined) one AU/KW line each; the label an ASReview note (``prioritiser_label: maybe``
    for maybe); every other non-empty column (score, rank, ...) a ``prioritiser_NAME: value`` note.
    """
    import rispy

    entries = []
    for row in frame.to_dict("records"):
        entry = {"type_of_reference": "JOUR"}
        for key, column in (("id", "record_id"), ("title", "title"), ("abstract", "abstract"), ("year", "year"),
                            ("doi", "doi"), ("accession_number", "pmid"), ("journal_name", "journal")):
            if _cell(row, column):
                entry[key] = _cell(row, column)
        for key, column in (("authors", "authors"), ("keywords", "keywords")):
            items = [a.strip() for a in _cell(row, column).split(";") if a.strip()]
            if items:
                entry[key] = items
        notes = []
        label = _cell(row, "label")
        if label:
            notes.append({INCLUDE: "ASReview_relevant", EXCLUDE: "ASReview_irrelevant"}.get(label, f"{NOTE_PREFIX}label: {label}"))
        for column in frame.columns:
            if column not in STANDARD_COLUMNS and _cell(row, column):
                notes.append(f"{NOTE_PREFIX}{column}: {' '.join(_cell(row, column).split())}")
        if notes:
            entry["notes"] = notes
        entries.append(entry)
    with open(path, "w", encoding="utf-8", newline="\n") as handle:
        rispy.dump(entries, handle)


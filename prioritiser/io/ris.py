"""RIS reading and writing.

Reading is a tolerant line parser rather than rispy's: real exports break rispy's strict
grammar (Ovid numbers its records with "1." lines and Cochrane prefixes "Record #3 of 18"
blocks; EndNote writes multi-valued fields as untagged continuation lines; ProQuest and
EndNote write tags with one space before the dash; Cochrane puts two spaces after it; files
end without a final ER; Ovid writes an NL line after each ER), and error messages must name
the line a record starts on. Writing is plain RIS, as rispy and ASReview read it.

Labels come from notes: ASReview's ``ASReview_relevant``/``ASReview_irrelevant``/
``ASReview_not_seen`` (also inside Zotero's HTML notes) and Rayyan's
``RAYYAN-INCLUSION: {"name"=>"Included"}`` (a label only when the reviewers agree); and from
the ``screening decision: include`` keyword our writer emits. Our writer's
``prioritiser_NAME: value`` notes (score, rank, ...) come back in ``Record.extra[NAME]``.
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
DECISION_KEYWORD = "screening decision: "
ASREVIEW_NOTE = {INCLUDE: "ASReview_relevant", EXCLUDE: "ASReview_irrelevant"}
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

    A record starts at a TY line (or at the first tag line of a file that leaves TY out). Tag
    lines between ER and the next TY (Ovid writes an ``NL`` link line after each ER) belong to
    the record ER closed, unless they hold a title or an abstract: then they are a record whose
    TY line is missing. Link or note lines never make a record of their own.
    """
    fields: list[tuple[str, str]] = []  # the open record
    closed: list[tuple[str, str]] = []  # the record the last ER closed, while tag lines may follow
    trailer: list[tuple[str, str]] = []  # tag lines after that ER
    pending: list[str] = []
    start = closed_start = trailer_start = 0
    for number, line in iter_lines(path):
        match = TAG_LINE.fullmatch(line.rstrip())
        if match:
            pending = []
            tag, value = match.group(1), (match.group(2) or "").strip()
            if tag == "ER":
                if _is_record(trailer):  # tag lines after the last ER with an ER of their own
                    yield closed_start, closed
                    closed, closed_start = trailer, trailer_start
                elif fields:
                    closed, closed_start = fields, start
                else:
                    closed += trailer
                fields, trailer = [], []
                continue
            if tag == "TY":
                yield from _closed_records(closed_start, closed, trailer_start, trailer)
                if fields:
                    yield start, fields
                closed, trailer, fields = [], [], []
            if fields or not closed:
                start = start if fields else number
                fields.append((tag, value))
            else:
                trailer_start = trailer_start if trailer else number
                trailer.append((tag, value))
        elif not line.strip() or RECORD_NUMBER.fullmatch(line):
            if fields or trailer:
                pending.append(line.strip())
        elif fields or (trailer and not pending):  # after a blank line, text is no part of a trailer
            target = fields or trailer
            tag, value = target[-1]
            target[-1] = (tag, "\n".join([value, *pending, line.strip()]) if value else line.strip())
            pending = []
    yield from _closed_records(closed_start, closed, trailer_start, trailer)
    if fields:
        yield start, fields


def _is_record(fields: list[tuple[str, str]]) -> bool:
    """Whether tag lines found after an ER are a record whose TY line is missing: they hold a
    title or an abstract (link and note lines do not)."""
    return any(tag in TITLE_TAGS + ABSTRACT_TAGS for tag, _ in fields)


def _closed_records(start: int, closed: list, trailer_start: int, trailer: list):
    """The record an ER closed, with the tag lines that followed it (see :func:`_raw_records`)."""
    if not closed:
        return
    if _is_record(trailer):
        yield start, closed
        yield trailer_start, trailer
    else:
        yield start, closed + trailer


def _file_label(notes: list[str], keywords: list[str]) -> str | None:
    """The decision carried by a record's N1 notes and ``screening decision:`` keywords, None
    when there is none.

    Raises ValueError when they contradict each other.
    """
    found = set()
    for note in notes:
        found.update(_ASREVIEW_DECISION[m] for m in _ASREVIEW.findall(note))
        for block in _RAYYAN.findall(note):
            decisions = {parse_decision(value) for _, value in _RAYYAN_PAIR.findall(block)} - {None}
            if len(decisions) == 1:
                found |= decisions
    found.update(parse_decision(k[len(DECISION_KEYWORD):]) for k in keywords if k.startswith(DECISION_KEYWORD))
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

    keywords = [k for v in values.get("KW", []) for k in split_keywords(v)]
    record = Record(
        title=first(TITLE_TAGS),
        abstract=choose_abstract([v for t, v in fields if t in ABSTRACT_TAGS]),
        authors=[a.strip() for t in AUTHOR_TAGS for v in values.get(t, []) for a in v.split("\n") if a.strip()],
        year=next((y for t in YEAR_TAGS for y in [parse_year(joined((t,)))] if y), None),
        keywords=[k for k in keywords if not k.startswith(DECISION_KEYWORD)],
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
    record.label = _file_label(notes, keywords)
    kept = []
    for note in notes:
        name, sep, value = note.partition(":")
        if note.startswith(NOTE_PREFIX) and sep:
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


def _ris_lines(tag: str, value: str) -> list[str]:
    """``TAG  - value``; a value's further lines follow untagged, as continuation lines."""
    first, *rest = value.split("\n")
    return [f"{tag}  - {first}", *rest]


def write_ris(frame, path: Path) -> None:
    """Write a records table as plain RIS (TY first, ER last, a blank line between records;
    no numbering lines) that :func:`read_ris` reads back to the same records.

    ``record_id`` becomes ID, ``pmid`` AN, ``journal`` JO; ``authors`` and ``keywords``
    ("; "-joined) one AU/KW line each. The label is written twice: as the keyword
    ``screening decision: include`` (exclude, maybe), which every reference manager shows and
    can filter on, and for include/exclude as ASReview's ``ASReview_relevant`` /
    ``ASReview_irrelevant`` note. Every other non-empty column (score, rank, ...) becomes a
    ``prioritiser_NAME: value`` note.
    """
    lines: list[str] = []
    for row in frame.to_dict("records"):
        lines += _ris_lines("TY", "JOUR")
        for tag, column in (("ID", "record_id"), ("TI", "title"), ("PY", "year"), ("DO", "doi"), ("AN", "pmid"),
                            ("JO", "journal")):
            if _cell(row, column):
                lines += _ris_lines(tag, _cell(row, column))
        for tag, column in (("AU", "authors"), ("KW", "keywords")):
            for item in _cell(row, column).split(";"):
                if item.strip():
                    lines += _ris_lines(tag, item.strip())
        label = _cell(row, "label")
        if label:
            lines += _ris_lines("KW", DECISION_KEYWORD + label)
        if _cell(row, "abstract"):
            lines += _ris_lines("AB", _cell(row, "abstract"))
        if label in ASREVIEW_NOTE:
            lines += _ris_lines("N1", ASREVIEW_NOTE[label])
        for column in frame.columns:
            if column not in STANDARD_COLUMNS and _cell(row, column):
                lines += _ris_lines("N1", f"{NOTE_PREFIX}{column}: {' '.join(_cell(row, column).split())}")
        lines += ["ER  - ", ""]
    with open(path, "w", encoding="utf-8", newline="\n") as handle:
        handle.write("\n".join(lines))

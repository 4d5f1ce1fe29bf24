"""Parsing of field values shared by the readers: years, DOIs, PMIDs, decisions, names."""

from __future__ import annotations

import re

from prioritiser.records import EXCLUDE, INCLUDE, MAYBE

_YEAR = re.compile(r"(?<!\d)(1[5-9]\d\d|20\d\d|2100)(?!\d)")
_DOI = re.compile(r"10\.\d{4,9}/[^\s\"<>]+", re.IGNORECASE)
_PMID_NOTE = re.compile(r"\bPMID:?\s*(\d{1,9})\b", re.IGNORECASE)

_DECISIONS = {
    "1": INCLUDE, "1.0": INCLUDE, "yes": INCLUDE, "y": INCLUDE, "include": INCLUDE, "included": INCLUDE,
    "true": INCLUDE, "relevant": INCLUDE, "asreview_relevant": INCLUDE,
    "0": EXCLUDE, "0.0": EXCLUDE, "no": EXCLUDE, "n": EXCLUDE, "exclude": EXCLUDE, "excluded": EXCLUDE,
    "false": EXCLUDE, "irrelevant": EXCLUDE, "asreview_irrelevant": EXCLUDE,
    "maybe": MAYBE, "unsure": MAYBE, "?": MAYBE,
}
_UNDECIDED = {"", "nan", "none", "na", "n/a", "-1", "-1.0", "asreview_not_seen", "not seen", "unlabelled", "unlabeled"}


def parse_year(value: str) -> int | None:
    """The first plausible four-digit year in ``value`` ('2019///', '2019 Jan 5', 'Spring 2020')."""
    match = _YEAR.search(value or "")
    return int(match.group(1)) if match else None


def parse_doi(value: str) -> str:
    """The DOI inside ``value`` ('https://doi.org/10.1/x', 'doi:10.1/x'), or ''."""
    match = _DOI.search(value or "")
    return match.group(0).rstrip(".,;)]") if match else ""


def parse_pmid(value: str) -> str:
    value = (value or "").strip()
    if value.isdigit() and len(value) <= 9:
        return value.lstrip("0") or ""
    match = _PMID_NOTE.search(value)
    return match.group(1) if match else ""


def parse_decision(value) -> str | None:
    """'include'/'exclude'/'maybe' for a decision cell, None when undecided.

    Raises ValueError for a value that is none of the known spellings.
    """
    text = str(value).strip().lower() if value is not None else ""
    if text in _UNDECIDED:
        return None
    if text in _DECISIONS:
        return _DECISIONS[text]
    raise ValueError(f"unknown decision {str(value).strip()!r} (use 1/0, yes/no, include/exclude, true/false or maybe)")


def split_authors(value: str) -> list[str]:
    """Authors from one cell: ';'-separated, or BibTeX-style ' and '."""
    value = (value or "").strip()
    if not value:
        return []
    parts = value.split(";") if ";" in value else re.split(r"\s+and\s+", value)
    return [p.strip() for p in parts if p.strip()]


def split_keywords(value: str) -> list[str]:
    return [k.strip() for k in re.split(r"[;\n]", value or "") if k.strip()]


def normalise_header(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", str(name).strip().lower()).strip()

"""Field values as exports write them, turned into :class:`~prioritiser.records.Record` values:
years, DOIs, PMIDs, decisions, author and keyword lists, abstracts, table cells."""

from __future__ import annotations

import re
from urllib.parse import unquote

from prioritiser.records import EXCLUDE, INCLUDE, MAYBE

_YEAR = re.compile(r"(?<!\d)(1[5-9]\d\d|20\d\d|2100)(?!\d)")
_DOI = re.compile(r"10\.\d{4,9}/[^\s\"<>]+", re.IGNORECASE)
_DOI_URL = re.compile(r"doi\.org/(10\.\d{4,9}/[^\s\"<>]+)", re.IGNORECASE)
_PMID_NOTE = re.compile(r"\b(?:PMID|PUBMED(?:[ _-]?ID)?)\s*[:=]?\s*(\d{1,9})\b", re.IGNORECASE)
_PUBMED_URL = re.compile(r"(?:pubmed\.ncbi\.nlm\.nih\.gov/|ncbi\.nlm\.nih\.gov/pubmed/)(\d{1,9})\b", re.IGNORECASE)
_PUBMED_DATABASE = re.compile(r"pubmed|medline|\bnlm\b", re.IGNORECASE)
_OTHER_DATABASE = re.compile(r"\b(embase|psyc\w*|cinahl|eric|scopus|web of science|proquest|cochrane)\b", re.IGNORECASE)
_NO_ABSTRACT = re.compile(
    r"\W*(no abstracts?( available| provided)?|abstracts? (is )?(not |un)available|not available|n/?a|none)\W*",
    re.IGNORECASE,
)
_PLACEHOLDER_NAME = re.compile(r"\[no author.*\]|anonymous", re.IGNORECASE)
_BOILERPLATE = re.compile(r"\s*(copyright\b|©|\(c\)\s)", re.IGNORECASE)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

_DECISIONS = {
    INCLUDE: ("1", "1.0", "yes", "y", "include", "included", "true", "relevant", "asreview_relevant", "i"),
    EXCLUDE: ("0", "0.0", "no", "n", "exclude", "excluded", "false", "irrelevant", "asreview_irrelevant", "e"),
    MAYBE: ("maybe", "unsure", "?"),
}
_DECISION_OF = {spelling: decision for decision, spellings in _DECISIONS.items() for spelling in spellings}
_UNDECIDED = {"", "nan", "none", "na", "n/a", "-1", "-1.0", "asreview_not_seen", "not seen", "unlabelled",
              "unlabeled", "undecided", "unscreened", "not screened"}


def parse_year(value: str) -> int | None:
    """The first plausible four-digit year in ``value`` ('2019///', '2019 Jan 5', 'Spring 2020');
    None when there is none ('in press')."""
    match = _YEAR.search(value or "")
    return int(match.group(1)) if match else None


def _trim_doi(doi: str) -> str:
    doi = doi.rstrip(".,;]")
    while doi.endswith(")") and doi.count(")") > doi.count("("):
        doi = doi[:-1].rstrip(".,;]")
    return doi


def parse_doi(value: str) -> str:
    """The DOI inside ``value`` ('https://doi.org/10.1/x', 'doi:10.1/x', '10.1/x [doi]'), or ''."""
    match = _DOI.search(value or "")
    return _trim_doi(match.group(0)) if match else ""


def doi_from_url(value: str) -> str:
    """The DOI of a doi.org link inside ``value`` (percent-decoded), or ''; other links are
    ignored because they often carry an encoded DOI among other query parameters."""
    match = _DOI_URL.search(value or "")
    return _trim_doi(unquote(match.group(1))) if match else ""


def parse_pmid(value: str) -> str:
    """A PubMed id: the value itself when it is all digits, else a 'PMID: 123' or 'PUBMED 123'
    mention inside it; '' when there is none."""
    value = (value or "").strip()
    if value.isdigit() and len(value) <= 9:
        return value.lstrip("0")
    return pmid_mention(value)


def pmid_mention(value: str) -> str:
    """The id of a 'PMID: 123', 'PubMed ID: 123' or 'PUBMED 123' mention in free text, or ''."""
    match = _PMID_NOTE.search(value or "")
    return match.group(1).lstrip("0") if match else ""


def pmid_from_url(value: str) -> str:
    """The PMID of a PubMed link inside ``value`` ('https://pubmed.ncbi.nlm.nih.gov/123/'), or ''."""
    match = _PUBMED_URL.search(value or "")
    return match.group(1).lstrip("0") if match else ""


def pmid_from_accession(value: str, databases: str) -> str:
    """The PMID in an accession-number field, which only some databases fill with one.

    An explicit 'PMID: 123' counts anywhere; a bare number of at most 8 digits counts when the
    record names PubMed/MEDLINE/NLM as its database (and not Embase and the like, whose
    accession numbers are their own) or names no database at all.
    """
    value = (value or "").strip()
    if pmid_mention(value):
        return pmid_mention(value)
    if not (value.isdigit() and len(value) <= 8):
        return ""
    if not databases.strip() or (_PUBMED_DATABASE.search(databases) and not _OTHER_DATABASE.search(databases)):
        return value.lstrip("0")
    return ""


def parse_decision(value) -> str | None:
    """'include'/'exclude'/'maybe' for a decision cell, None when it is empty (undecided).

    Raises ValueError for a value that is none of the known spellings.
    """
    text = str(value).strip().lower() if value is not None else ""
    if text in _UNDECIDED:
        return None
    if text in _DECISION_OF:
        return _DECISION_OF[text]
    raise ValueError(f"unknown decision {str(value).strip()[:40]!r} "
                     "(use 1/0, yes/no, include/exclude, true/false, relevant/irrelevant or maybe; empty = not decided)")


def split_authors(value: str) -> list[str]:
    """Authors from one cell: ';'-separated, ' and '-separated (BibTeX, Rayyan), or
    ','-separated when every part is a 'Surname Initials' name (PubMed, Embase, Scopus).
    Placeholders such as Scopus' '[No author name available]' are dropped."""
    value = (value or "").strip()
    if not value:
        return []
    if ";" in value:
        parts = value.split(";")
    elif re.search(r"\s+and\s+", value):
        parts = re.split(r"\s+and\s+", value)
    elif "," in value and all(" " in p.strip() for p in value.split(",") if p.strip()):
        parts = value.split(",")
    else:
        parts = [value]
    return [p.strip() for p in parts if p.strip() and not _PLACEHOLDER_NAME.fullmatch(p.strip())]


def split_keywords(value: str, commas: bool = False) -> list[str]:
    """Keywords separated by ';' or line breaks; by ',' too when ``commas`` and neither is present."""
    value = value or ""
    separators = r"[;\n]" if (not commas or re.search(r"[;\n]", value)) else ","
    return [k.strip() for k in re.split(separators, value) if k.strip()]


def choose_abstract(candidates: list[str]) -> str:
    """The first real abstract among ``candidates`` (in file order): placeholders such as
    '[No abstract available]' are skipped, and so is a copyright line when another text exists."""
    texts = [c.strip() for c in candidates if c and c.strip() and not _NO_ABSTRACT.fullmatch(c.strip())]
    prose = [t for t in texts if not _BOILERPLATE.match(t)]
    return (prose or texts or [""])[0]


def clean_cell(value: str) -> str:
    """A table cell as text: Excel's ``="..."`` wrapper and the apostrophe our writers put in
    front of formula-like text are removed, outer whitespace is trimmed."""
    if len(value) > 1 and value[0] == "'" and value.startswith(FORMULA_STARTS, 1):
        value = value[1:]
    value = value.strip()
    if len(value) >= 3 and value.startswith('="') and value.endswith('"'):
        value = value[2:-1].strip()
    return value


def normalise_header(name: str) -> str:
    """'Author(s)' -> 'author s', 'label_included' -> 'label included'."""
    return re.sub(r"[^a-z0-9]+", " ", str(name).strip().lower()).strip()

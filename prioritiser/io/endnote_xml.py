"""EndNote XML (``<xml><records><record>…``), parsed with defusedxml (no entity expansion)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from prioritiser.errors import InputError
from prioritiser.io.fields import parse_doi, parse_pmid, parse_year
from prioritiser.records import Record


def looks_like_endnote_xml(text: str) -> bool:
    head = text[:5000].lstrip().lower()
    return head.startswith(("<?xml", "<xml")) and "<record" in text[:20000].lower()


def _text(element) -> str:
    return " ".join("".join(element.itertext()).split()) if element is not None else ""


def read_endnote_xml(path: Path, text: str) -> Iterator[Record]:
    from defusedxml import ElementTree
    from defusedxml.common import DefusedXmlException

    try:
        root = ElementTree.fromstring(text.encode("utf-8"))
    except (ElementTree.ParseError, DefusedXmlException) as exc:
        line = getattr(exc, "position", (None,))[0]
        raise InputError(path, f"not well-formed EndNote XML ({exc})", line=line) from None
    records = root.iter("record")
    for position, rec in enumerate(records, start=1):
        urls = " ".join(_text(u) for u in rec.iter("url"))
        yield Record(
            title=_text(rec.find("titles/title")),
            abstract=_text(rec.find("abstract")),
            authors=[_text(a) for a in rec.findall("contributors/authors/author")],
            year=parse_year(_text(rec.find("dates/year")) or _text(rec.find("dates/pub-dates/date"))),
            doi=parse_doi(_text(rec.find("electronic-resource-num"))) or parse_doi(urls),
            pmid=parse_pmid(_text(rec.find("accession-num"))),
            keywords=[_text(k) for k in rec.findall("keywords/keyword")],
            journal=_text(rec.find("periodical/full-title")) or _text(rec.find("titles/secondary-title")),
            source_key=_text(rec.find("rec-number")),
            position=position,
        )

"""EndNote XML (``<xml><records><record>…``, values wrapped in ``<style>`` runs), parsed
incrementally with defusedxml (no entity expansion, no external references) so a large
library streams in bounded memory. XML has no useful line numbers here: ``Record.line`` is 0."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from prioritiser.errors import InputError
from prioritiser.io.encoding import READ_ERRORS, open_text
from prioritiser.io.fields import (
    choose_abstract, doi_from_url, parse_doi, parse_year, pmid_from_accession, pmid_from_url, pmid_mention,
    split_keywords,
)
from prioritiser.records import Record


def looks_like_endnote_xml(text: str) -> bool:
    head = text.lstrip().lower()
    return head.startswith(("<?xml", "<xml")) and "<record>" in head and bool(
        re.search(r"<(titles|ref-type|rec-number)\b", head))


def _text(element) -> str:
    """The element's text with its style runs joined and white space collapsed ('' if absent)."""
    return " ".join("".join(element.itertext()).split()) if element is not None else ""


def _record(rec, position: int) -> Record:
    def text(path: str) -> str:
        return _text(rec.find(path))

    databases = f"{text('remote-database-name')} {text('remote-database-provider')}"
    urls = " ".join(_text(u) for u in rec.iter("url"))
    notes = text("notes")
    keywords = [k for el in rec.findall("keywords/keyword") for k in split_keywords("".join(el.itertext()))]
    return Record(
        title=text("titles/title"),
        abstract=choose_abstract([text("abstract")]),
        authors=[_text(a) for a in rec.findall("contributors/authors/author") if _text(a)],
        year=parse_year(text("dates/year")) or parse_year(text("dates/pub-dates/date")),
        doi=parse_doi(text("electronic-resource-num")) or doi_from_url(urls),
        pmid=pmid_from_accession(text("accession-num"), databases) or pmid_mention(notes) or pmid_from_url(urls),
        keywords=keywords,
        journal=text("periodical/full-title") or text("titles/secondary-title") or text("periodical/abbr-1"),
        source_key=text("rec-number"),
        position=position,
        extra={k: v for k, v in (("notes", notes), ("accession-num", text("accession-num")),
                                 ("database", databases.strip())) if v},
    )


def read_endnote_xml(path: Path) -> Iterator[Record]:
    """Every ``<record>`` of an EndNote XML export, in file order."""
    from defusedxml import ElementTree
    from defusedxml.common import DefusedXmlException

    position = 0
    with open_text(path) as handle:
        try:
            parent = None
            for event, element in ElementTree.iterparse(handle, events=("start", "end")):
                if event == "start":
                    if element.tag == "records":
                        parent = element
                    continue
                if element.tag == "record":
                    position += 1
                    yield _record(element, position)
                    if parent is not None and element in parent:
                        parent.remove(element)
        except ElementTree.ParseError as exc:
            raise InputError(path, f"not well-formed XML ({exc})", line=exc.position[0]) from None
        except DefusedXmlException as exc:
            raise InputError(path, f"refused: the XML declares entities or external references ({exc})") from None
        except READ_ERRORS as exc:
            raise InputError(path, f"cannot be read ({exc.__class__.__name__}: {exc})") from None

"""BibTeX through bibtexparser (v2), with LaTeX accents decoded and braces removed."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from prioritiser.errors import InputError
from prioritiser.io.fields import parse_doi, parse_pmid, parse_year, split_authors, split_keywords
from prioritiser.records import Record


def looks_like_bibtex(text: str) -> bool:
    return bool(re.search(r"^\s*@\w+\s*[{(]", text[:20000], re.MULTILINE))


def read_bibtex(path: Path, text: str) -> Iterator[Record]:
    import bibtexparser
    from bibtexparser.middlewares import LatexDecodingMiddleware

    try:
        library = bibtexparser.parse_string(text, append_middleware=[LatexDecodingMiddleware()])
    except Exception as exc:  # bibtexparser raises assorted errors on broken input
        raise InputError(path, f"cannot be read as BibTeX ({exc})") from None
    if library.failed_blocks and not library.entries:
        block = library.failed_blocks[0]
        raise InputError(path, "cannot be read as BibTeX", line=getattr(block, "start_line", 0) + 1)
    for position, entry in enumerate(library.entries, start=1):
        fields = {f.key.lower(): re.sub(r"[{}]", "", str(f.value)).strip() for f in entry.fields}
        yield Record(
            title=fields.pop("title", ""),
            abstract=fields.pop("abstract", ""),
            authors=split_authors(fields.pop("author", "")),
            year=parse_year(fields.pop("year", "") or fields.get("date", "")),
            doi=parse_doi(fields.pop("doi", "")),
            pmid=parse_pmid(fields.pop("pmid", "")),
            keywords=split_keywords(fields.pop("keywords", "").replace(",", ";")),
            journal=fields.pop("journal", "") or fields.pop("booktitle", ""),
            source_key=entry.key,
            position=position,
            line=entry.start_line + 1,
            extra=fields,
        )

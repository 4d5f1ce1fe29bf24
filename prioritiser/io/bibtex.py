"""BibTeX through bibtexparser (v2): @string references resolved, enclosing braces removed,
LaTeX accents decoded. An entry whose key repeats an earlier one is still a record; an entry
bibtexparser cannot parse is an error naming its line, never a silently lost record."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from prioritiser.errors import InputError
from prioritiser.io.encoding import decode_file
from prioritiser.io.fields import (
    choose_abstract, doi_from_url, parse_doi, parse_pmid, parse_year, pmid_mention, split_keywords,
)
from prioritiser.records import Record


def looks_like_bibtex(text: str) -> bool:
    return bool(re.search(r"^\s*@[A-Za-z]+\s*[{(]", text, re.MULTILINE))


def _entries(path: Path, text: str):
    """The entries in file order with their fields decoded."""
    import bibtexparser
    from bibtexparser import model
    from bibtexparser.library import Library
    from bibtexparser.middlewares import LatexDecodingMiddleware
    from bibtexparser.middlewares.parsestack import default_parse_stack

    raw = bibtexparser.parse_string(text, parse_stack=[])
    for block in raw.failed_blocks:
        if not isinstance(block, model.DuplicateBlockKeyBlock):
            error = getattr(block, "error", None)
            reason = " ".join(str(getattr(error, "abort_reason", "") or error or "").split()) or "syntax error"
            raise InputError(path, f"cannot be read as BibTeX ({reason})", line=block.start_line + 1)
    strings = [b for b in raw.blocks if isinstance(b, model.String)]

    def decoded(blocks):
        library = Library([*strings, *blocks])
        for middleware in [*default_parse_stack(), LatexDecodingMiddleware()]:
            library = middleware.transform(library)
        return library.entries

    entries = iter(decoded([b for b in raw.blocks if isinstance(b, model.Entry)]))
    for block in raw.blocks:
        if isinstance(block, model.Entry):
            yield next(entries)
        elif isinstance(block, model.DuplicateBlockKeyBlock):
            yield from decoded([block.ignore_error_block])


def read_bibtex(path: Path) -> Iterator[Record]:
    """Every entry of a BibTeX file; fields without a Record field are kept in ``extra``."""
    from bibtexparser.middlewares.names import split_multiple_persons_names

    text = decode_file(path)
    try:
        entries = list(_entries(path, text))
    except InputError:
        raise
    except Exception as exc:  # bibtexparser raises assorted errors on malformed input
        raise InputError(path, f"cannot be read as BibTeX ({exc.__class__.__name__}: {exc})") from None
    for position, entry in enumerate(entries, start=1):
        raw = {f.key.lower(): str(f.value) for f in entry.fields}
        fields = {k: " ".join(re.sub(r"[{}]", "", v).split()) for k, v in raw.items()}
        authors = [re.sub(r"[{}]", "", a).strip() for a in split_multiple_persons_names(raw.pop("author", ""))]
        fields.pop("author", None)
        yield Record(
            title=fields.pop("title", ""),
            abstract=choose_abstract([fields.pop("abstract", "")]),
            authors=[a for a in authors if a],
            year=parse_year(fields.pop("year", "") or fields.get("date", "")),
            doi=parse_doi(fields.pop("doi", "")) or doi_from_url(fields.get("url", "")),
            pmid=parse_pmid(fields.pop("pmid", "")) or pmid_mention(fields.get("note", "")),
            keywords=split_keywords(fields.pop("keywords", ""), commas=True),
            journal=fields.pop("journal", "") or fields.pop("journaltitle", "") or fields.pop("booktitle", ""),
            source_key=entry.key,
            position=position,
            line=entry.start_line + 1,
            extra=fields,
        )

"""BibTeX libraries (bibtexparser v2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from prioritiser.errors import InputError
from prioritiser.io import detect_format, iter_records

FIXTURES = Path(__file__).parent / "fixtures" / "io"


def test_latex_accents_braces_strings_and_author_lists():
    first, second, duplicate, bare = iter_records(FIXTURES / "library.bib")
    assert first.title == "Salt reduction and blood pressure: a meta-analysis of naïve cohorts"
    assert first.authors == ["Müller, Jörg", "François, Amélie", "World Health Organization"]
    assert first.journal == "BMJ"  # @string reference resolved
    assert first.abstract == "We pooled 30 trials of salt reduction. Blood pressure fell by 4 mmHg."
    assert (first.doi, first.pmid, first.year) == ("10.1136/bmj.l1234", "30912345", 2019)
    assert first.keywords == ["salt", "hypertension", "meta-analysis"]
    assert first.source_key == "Mueller2019" and first.line == 4 and first.extra == {"volume": "364"}
    assert second.journal == "Proceedings of the Conference on Food Informatics" and second.year == 2020
    # a repeated key is still a record of the file
    assert duplicate.source_key == "Mueller2019" and duplicate.pmid == "29999999" and duplicate.position == 3
    assert not bare.has_text and bare.authors == ["Doe, Jane"]


def test_broken_entry_is_an_error_naming_its_line(tmp_path):
    path = tmp_path / "broken.bib"
    path.write_text("@article{ok, title={Fine}}\n\n@article{bad,\n  title={Unclosed\n@misc{next, title={X}}\n")
    assert detect_format(path) == "bibtex"
    with pytest.raises(InputError, match=r"broken\.bib, line 3: cannot be read as BibTeX"):
        list(iter_records(path))


def test_preamble_comments_and_stray_link_lines_make_no_records(tmp_path):
    path = tmp_path / "jabref.bib"
    path.write_text('% Encoding: UTF-8\n@Preamble{"\\newcommand{\\noop}[1]{}"}\n\n@Article{a1,\n  title = {One},\n'
                    '  url = {https://example.org/1},\n}\nhttps://example.org/1\n\n'
                    '@Comment{jabref-meta: databaseType:bibtex;}\n', encoding="utf-8")
    (record,) = iter_records(path)
    assert (record.title, record.source_key, record.line) == ("One", "a1", 4)

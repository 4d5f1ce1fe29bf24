"""EndNote XML exports."""

from __future__ import annotations

from pathlib import Path

import pytest

from prioritiser.errors import InputError
from prioritiser.io import detect_format, iter_records

FIXTURES = Path(__file__).parent / "fixtures" / "io"


def test_style_runs_pubmed_accession_and_record_without_text():
    first, second, bare = iter_records(FIXTURES / "endnote.xml")
    assert first.title == "Early mobilisation after hip fracture: a randomised trial"  # three <style> runs
    assert first.authors == ["Andersson, Karin", "Obi, Chinedu"]
    assert (first.year, first.doi, first.pmid) == (2020, "10.1093/ageing/afz123", "31701234")
    assert first.journal == "Age and Ageing" and first.source_key == "12"
    assert first.keywords == ["Hip Fractures/rehabilitation", "Early Ambulation"]
    assert first.abstract.startswith("BACKGROUND: Early mobilisation")
    assert second.pmid == "" and second.extra["accession-num"] == "627263823"  # an Embase number
    assert not bare.has_text and bare.year == 2021 and bare.position == 3


def test_utf16_export_with_declaration(tmp_path):
    text = (FIXTURES / "endnote.xml").read_text(encoding="utf-8").replace('encoding="UTF-8"', 'encoding="UTF-16"')
    path = tmp_path / "library.xml"
    path.write_bytes(text.encode("utf-16"))
    assert detect_format(path) == "endnote_xml"
    assert [r.source_key for r in iter_records(path)] == ["12", "13", "14"]


def test_malformed_xml_names_the_line(tmp_path):
    path = tmp_path / "cut.xml"
    path.write_text('<?xml version="1.0"?>\n<xml><records><record><rec-number>1</rec-number>\n<titles><title>A</titles>\n')
    with pytest.raises(InputError, match=r"cut\.xml, line 3: not well-formed XML"):
        list(iter_records(path))


def test_entity_expansion_is_refused(tmp_path):
    path = tmp_path / "bomb.xml"
    path.write_text('<?xml version="1.0"?>\n<!DOCTYPE xml [<!ENTITY a "aaaaaaaa">]>\n'
                    "<xml><records><record><rec-number>1</rec-number><titles><title>&a;</title></titles>"
                    "</record></records></xml>\n")
    with pytest.raises(InputError, match="entities"):
        list(iter_records(path))


def test_other_xml_is_refused_with_a_clear_message(tmp_path):
    path = tmp_path / "pubmed.xml"
    path.write_text('<?xml version="1.0"?>\n<PubmedArticleSet><PubmedArticle/></PubmedArticleSet>\n')
    with pytest.raises(InputError, match="not an EndNote XML export"):
        detect_format(path)

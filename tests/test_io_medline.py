"""PubMed MEDLINE / .nbib exports."""

from __future__ import annotations

from pathlib import Path

from prioritiser.io import detect_format, iter_records

FIXTURES = Path(__file__).parent / "fixtures" / "io"


def test_nbib_fields_wrapped_lines_and_doi_from_lid():
    first, second = iter_records(FIXTURES / "pubmed.nbib")
    assert first.title == ("Polypill for cardiovascular prevention in people without cardiovascular disease: "
                           "a randomised trial.")
    assert first.abstract.startswith("BACKGROUND: A fixed-dose") and first.abstract.endswith("polypill group.")
    assert "  " not in first.abstract  # six-space continuation indents are joined with one space
    assert first.authors == ["Yusuf, Salma", "Gómez-Ríos, Tomás"]  # FAU preferred over AU
    assert (first.year, first.pmid, first.source_key) == (2021, "34567890", "34567890")
    assert first.doi == "10.1016/S0140-6736(21)01234-5"  # the [doi] LID, not the [pii] one
    assert first.keywords == ["Aged", "Cardiovascular Diseases/*prevention & control", "Humans", "polypill"]
    assert first.journal == "Lancet (London, England)"
    assert first.extra["PT"] == "Journal Article\nRandomized Controlled Trial"
    assert (first.line, second.line, second.position) == (2, 44, 2)
    assert second.abstract == "" and second.doi == "" and second.year == 2020


def test_records_separated_only_by_blank_lines_and_txt_extension(tmp_path):
    path = tmp_path / "pubmed-export.txt"
    path.write_text("PMID- 1\nTI  - One\n\nTI  - Two without PMID\nAU  - Roe J\n", encoding="utf-8")
    assert detect_format(path) == "medline"
    records = list(iter_records(path))
    assert [(r.title, r.pmid, r.line) for r in records] == [("One", "1", 1), ("Two without PMID", "", 4)]


def test_stray_tag_and_link_blocks_after_a_blank_line_belong_to_the_record_before(tmp_path):
    path = tmp_path / "pubmed.nbib"
    path.write_text("SO  - exported 2024-07-01\n\nPMID- 1\nTI  - One\n\nLID - 10.1000/one [doi]\n"
                    "UR  - https://pubmed.ncbi.nlm.nih.gov/1/\n\n\nPMID- 2\nTI  - Two\n", encoding="utf-8")
    one, two = iter_records(path)  # two records: the header block and the link block make none
    assert (one.pmid, one.doi, one.extra["UR"]) == ("1", "10.1000/one", "https://pubmed.ncbi.nlm.nih.gov/1/")
    assert "SO" not in one.extra and (two.pmid, two.line) == ("2", 10)

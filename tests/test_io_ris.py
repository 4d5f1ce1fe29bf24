"""RIS exports of the databases and reference managers reviewers use, with their quirks."""

from __future__ import annotations

from pathlib import Path

import pytest

from prioritiser.errors import InputError
from prioritiser.io import detect_format, iter_records

FIXTURES = Path(__file__).parent / "fixtures" / "io"


def records(name: str):
    return list(iter_records(FIXTURES / name))


def test_scopus_bom_encoded_doi_link_pubmed_id_in_c2_and_placeholder_abstract():
    first, erratum = records("scopus.ris")
    assert first.title.startswith("Statin discontinuation and cardiovascular events")
    assert first.authors == ["Okafor, C.N.", "Lindqvist, A.", "Moreau, P."]
    assert (first.year, first.doi, first.pmid) == (2021, "10.1016/j.jgc.2021.02.007", "33612345")
    assert first.journal == "Journal of Geriatric Cardiology"
    assert first.keywords == ["statins", "deprescribing", "Aged"]
    assert first.extra["DB"] == "Scopus" and first.extra["N1"].startswith("Export Date")
    assert erratum.abstract == "" and erratum.title.startswith("Erratum")
    assert (first.line, erratum.line) == (1, 29)


def test_embase_pmid_from_c5_and_abstract_from_n2():
    (record,) = records("embase.ris")
    assert record.title.startswith("High-intensity statin therapy")
    assert record.abstract.startswith("Aims: To compare")
    assert record.pmid == "31987654" and record.doi == "10.1093/eurheartj/ehz999"
    assert record.journal == "European Heart Journal" and record.year == 2020
    assert record.authors == ["Haddad, R.", "Kowalski, M."]
    assert record.extra["DB"] == "Embase\nMedline"


def test_ovid_numbered_records_trailing_links_and_references_are_not_the_records_pmid():
    first, second = records("ovid_psycinfo.ris")
    assert first.doi == "10.1037/hea0001111"  # written as https://dx.doi.org/...
    assert first.year == 2021 and first.source_key == "2021-54321-001"
    assert first.pmid == ""  # the PMID in M1 belongs to a cited reference
    assert first.abstract.endswith("all rights reserved)")
    assert "ovidweb" not in " ".join(first.extra.values())  # the link block after ER is not part of a record
    assert second.title == "Sleep hygiene education in schools." and (second.line, second.position) == (27, 2)


def test_zotero_pubmed_items_with_asreview_labels_in_html_notes():
    relevant, irrelevant, unseen = records("pubmed_zotero.ris")
    assert [r.label for r in (relevant, irrelevant, unseen)] == ["include", "exclude", None]
    assert relevant.pmid == "30876543" and irrelevant.pmid == "31122334"  # 'PMID: ...' in M2 (Zotero's extra)
    assert relevant.year == 2019 and irrelevant.year is None  # 'in press'
    assert relevant.abstract == "Exercise may reduce depressive symptoms.\nWe pooled 14 trials."
    assert relevant.journal == "Journal of Adolescent Health"


def test_endnote_multivalue_continuations_and_accession_numbers_by_database():
    pubmed, embase = records("pubmed_endnote.ris")
    assert pubmed.keywords == ["Accidental Falls/*prevention & control", "Aged", "Female", "Humans",
                               "*Vitamin D/administration & dosage"]
    assert pubmed.abstract.splitlines() == ["BACKGROUND: Vitamin D may prevent falls.",
                                            "METHODS: Randomised trial in 2000 older women.", "RESULTS: No effect on falls."]
    assert pubmed.pmid == "29876543"  # AN of an NLM record
    assert pubmed.source_key == "17" and pubmed.year == 2018
    assert embase.pmid == ""  # AN of an Embase record is Embase's own number
    assert embase.extra["AN"] == "627263823"


def test_web_of_science_indented_continuations_and_wos_accession():
    first, second = records("wos.ris")
    assert first.abstract.splitlines() == ["Background: Nurses report high stress.", "Methods: We randomised 40 wards.",
                                           "Results: Burnout scores fell."]
    assert first.extra["N1"].splitlines()[-1] == "Cited Reference Count:  41"
    assert first.pmid == "" and first.extra["AN"] == "WOS:000560123400011"
    assert first.year == 2020 and first.doi == "10.1016/j.ijnurstu.2020.103655"
    assert second.title == "Burnout among midwives" and second.abstract == ""


def test_proquest_single_space_tags_duplicate_abstracts_and_doi_link():
    article, thesis = records("proquest.ris")
    assert article.title.startswith("Nurse-led follow-up") and article.year == 2019
    assert article.abstract == "Nurse-led clinics may improve secondary prevention. We piloted one in two hospitals."
    assert article.doi == "10.1097/JCN.0000000000000555" and article.pmid == ""
    assert thesis.title.startswith("Adherence") and thesis.abstract == "" and thesis.year == 2020


def test_cochrane_record_headers_double_space_after_dash_and_pubmed_in_c3():
    first, second = records("cochrane.ris")
    assert first.pmid == "26912345" and first.journal == "BMJ" and first.line == 5
    assert first.authors == ["Mbeki, T", "Lopez, R"]
    assert second.title == "Active lessons and attention" and second.line == 25


def test_cinahl_copyright_second_abstract_and_doi_in_l3():
    (record,) = records("cinahl.ris")
    assert record.abstract.startswith("We observed 3000") and "Copyright" not in record.abstract
    assert record.doi == "10.1016/j.ajic.2021.09.012" and record.pmid == "" and record.year == 2022


def test_every_record_is_kept_even_without_title_or_abstract(tmp_path):
    path = tmp_path / "bare.ris"
    path.write_text("TY  - JOUR\nPY  - 2020\nER  - \nTY  - JOUR\nID  - x2\nER  - \nTY  - JOUR\nTI  - Last, no ER\n")
    found = list(iter_records(path))
    assert [r.has_text for r in found] == [False, False, True]
    assert [r.position for r in found] == [1, 2, 3] and [r.line for r in found] == [1, 4, 7]


def test_unknown_tags_repeated_tags_and_crlf(tmp_path):
    text = "TY  - JOUR\r\nTI  - A\r\nZZ  - custom one\r\nZZ  - custom two\r\nAU  - X\r\nAU  - Y\r\nAB  - \r\nN2  - The abstract\r\nER  - \r\n"
    path = tmp_path / "crlf.ris"
    path.write_bytes(text.encode("utf-8"))
    (record,) = iter_records(path)
    assert record.extra["ZZ"] == "custom one\ncustom two"
    assert record.authors == ["X", "Y"] and record.abstract == "The abstract"


def test_rayyan_decisions_count_only_when_reviewers_agree(tmp_path):
    path = tmp_path / "rayyan.ris"
    path.write_text(
        'TY  - JOUR\nTI  - a\nN1  - RAYYAN-INCLUSION: {"Ana"=>"Included", "Bo"=>"Included"}\nER  - \n'
        'TY  - JOUR\nTI  - b\nN1  - RAYYAN-INCLUSION: {"Ana"=>"Excluded", "Bo"=>"Maybe"}\nER  - \n'
        'TY  - JOUR\nTI  - c\nN1  - RAYYAN-INCLUSION: {"Ana"=>"Excluded"} | RAYYAN-LABELS: rct\nER  - \n'
    )
    assert [r.label for r in iter_records(path)] == ["include", None, "exclude"]


def test_contradicting_labels_name_file_and_line(tmp_path):
    path = tmp_path / "conflict.ris"
    path.write_text("TY  - JOUR\nTI  - fine\nER  - \n\nTY  - JOUR\nTI  - x\nN1  - ASReview_relevant\nN1  - ASReview_irrelevant\nER  - \n")
    with pytest.raises(InputError, match=r"conflict\.ris, line 5: record carries contradicting labels"):
        list(iter_records(path))


def test_medline_text_saved_as_ris_is_read_as_medline(tmp_path):
    path = tmp_path / "pubmed.ris"
    path.write_bytes((FIXTURES / "pubmed.nbib").read_bytes())
    assert detect_format(path) == "medline"
    assert [r.pmid for r in iter_records(path)] == ["34567890", "33445566"]


def test_ovid_nl_link_line_after_er_belongs_to_the_record_it_follows():
    found = records("ovid_psycinfo_nl.ris")
    assert len(found) == 6  # not 12: the NL line after each ER starts no record
    assert all(r.has_text for r in found)
    assert [r.position for r in found] == [1, 2, 3, 4, 5, 6]
    assert [r.source_key for r in found] == ["2022-11111-001", "2021-22222-002", "2020-33333-003",
                                             "2023-44444-004", "2019-55555-005", "2024-66666-006"]
    assert all(r.extra["NL"].endswith("AN=" + r.source_key) for r in found)
    assert found[0].doi == "10.1037/ccp0000701" and found[0].pmid == ""
    assert found[1].line == 19  # the TY line after the "2." numbering line


def test_tag_lines_between_er_and_ty_never_make_records(tmp_path):
    path = tmp_path / "stray.ris"
    path.write_text("TY  - JOUR\nTI  - One\nER  - \nNL  - http://example.org/1\nL2  - http://example.org/1.pdf\n\n"
                    "Link to full text:\nhttp://example.org/more\n\n"
                    "TY  - JOUR\nTI  - Two\nER  - \nER  - \nNL  - http://example.org/2\n", encoding="utf-8")
    one, two = iter_records(path)
    assert (one.title, one.extra["NL"], one.extra["L2"]) == ("One", "http://example.org/1", "http://example.org/1.pdf")
    assert "more" not in " ".join(one.extra.values())  # untagged text after a blank line is not a value
    assert (two.title, two.extra["NL"], two.position) == ("Two", "http://example.org/2", 2)


def test_a_tagged_block_closed_by_its_own_er_is_a_record_without_ty(tmp_path):
    path = tmp_path / "no_ty.ris"
    path.write_text("TY  - JOUR\nTI  - One\nER  - \nTI  - Two has no TY line\nAU  - Roe, J\nER  - \n"
                    "TY  - JOUR\nTI  - Three\nER  - \n", encoding="utf-8")
    assert [(r.title, r.line) for r in iter_records(path)] == [
        ("One", 1), ("Two has no TY line", 4), ("Three", 7)]


def test_a_titled_block_after_er_is_a_record_even_without_ty_or_er(tmp_path):
    path = tmp_path / "no_ty_no_er.ris"
    path.write_text("TY  - JOUR\nTI  - One\nER  - \nT1  - Two\nAU  - Roe, J\nTY  - JOUR\nTI  - Three\n",
                    encoding="utf-8")
    assert [r.title for r in iter_records(path)] == ["One", "Two", "Three"]


def test_link_lines_closed_by_an_er_of_their_own_make_no_blank_record(tmp_path):
    path = tmp_path / "double_er.ris"
    path.write_text("TY  - JOUR\nTI  - One\nER  - \nNL  - http://example.org/1\nER  - \n"
                    "UR  - http://example.org/1b\nTY  - JOUR\nTI  - Two\nER  - \n", encoding="utf-8")
    one, two = iter_records(path)
    assert one.extra["NL"] == "http://example.org/1" and one.extra["UR"] == "http://example.org/1b"
    assert (two.title, two.position) == ("Two", 2)

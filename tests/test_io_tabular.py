"""CSV, TSV and XLSX record tables: delimiters, column names, labels, preambles, streaming."""

from __future__ import annotations

import csv
import gzip
import tracemalloc
from pathlib import Path

import pandas as pd
import pytest

from prioritiser.errors import InputError
from prioritiser.io import detect_format, iter_records

FIXTURES = Path(__file__).parent / "fixtures" / "io"


def test_scopus_csv_bom_multiline_cell_and_comma_separated_authors():
    first, erratum, editorial = iter_records(FIXTURES / "scopus.csv")
    assert first.authors == ["Okafor C.N.", "Lindqvist A.", "Moreau P."]
    assert first.abstract.count("\n") == 1 and first.pmid == "33612345"
    assert first.keywords == ["statins", "deprescribing"] and first.journal == "Journal of Geriatric Cardiology"
    assert first.extra["EID"] == "2-s2.0-85101234567"
    assert erratum.line == 4  # the quoted abstract above spans lines 2-3
    assert erratum.abstract == ""  # '[No abstract available]'
    assert not editorial.has_text and editorial.authors == [] and editorial.position == 3


def test_embase_semicolon_csv_with_search_preamble():
    first, second = iter_records(FIXTURES / "embase_excel.csv")
    assert first.title.startswith("High-intensity") and first.pmid == "31987654" and first.line == 5
    assert first.authors == ["Haddad R.", "Kowalski M."] and first.year == 2020
    assert second.abstract == "" and second.line == 6


@pytest.mark.parametrize("junk", [b"\xff", b"Statins in nonagen"])
def test_a_cut_off_last_row_makes_no_record(tmp_path, junk):
    """Stray bytes after the last line end, or a download cut inside the last row, add no
    made-up record; a complete last row without a line end is kept."""
    whole = (FIXTURES / "embase_excel.csv").read_bytes()
    n = len(list(iter_records(FIXTURES / "embase_excel.csv")))
    (tmp_path / "cut.csv").write_bytes(whole + junk)
    assert len(list(iter_records(tmp_path / "cut.csv"))) == n
    (tmp_path / "unterminated.csv").write_bytes(whole.rstrip(b"\r\n"))
    assert len(list(iter_records(tmp_path / "unterminated.csv"))) == n


def test_web_of_science_tab_delimited_uses_ut_as_id_not_keywords_plus():
    first, second = iter_records(FIXTURES / "wos_tab.txt")
    assert detect_format(FIXTURES / "wos_tab.txt") == "tsv"
    assert first.source_key == "WOS:000560123400011" and first.keywords == ["burnout", "mindfulness"]
    assert (first.doi, first.pmid, first.year) == ("10.1016/j.ijnurstu.2020.103655", "32712345", 2020)
    assert second.title == "Burnout among midwives"


@pytest.mark.parametrize("delimiter,suffix", [(",", ".csv"), (";", ".csv"), ("\t", ".tsv"), ("\t", ".csv"), ("|", ".csv")])
def test_delimiter_is_sniffed(tmp_path, delimiter, suffix):
    rows = [["Record_ID", " Title ", "Abstract", "Authors", "Publication Year", "label_included"],
            ["r1", "Statins, lipids; and risk", "Text", "Smith J; Doe A", "2019", "1"],
            ["r2", "Second", "", "", "in press", ""]]
    path = tmp_path / f"records{suffix}"
    with open(path, "w", encoding="utf-8", newline="") as handle:
        csv.writer(handle, delimiter=delimiter).writerows(rows)
    first, second = iter_records(path)
    assert first.title == "Statins, lipids; and risk" and first.source_key == "r1"
    assert first.authors == ["Smith J", "Doe A"] and first.year == 2019 and first.label == "include"
    assert second.year is None and second.label is None and second.line == 3


@pytest.mark.parametrize("value,expected", [
    ("1", "include"), ("0", "exclude"), ("yes", "include"), ("No", "exclude"), ("Include", "include"),
    ("excluded", "exclude"), ("TRUE", "include"), ("false", "exclude"), ("y", "include"), ("n", "exclude"),
    ("relevant", "include"), ("irrelevant", "exclude"), ("maybe", "maybe"), ("", None), (" 1.0 ", "include"),
])
def test_label_spellings(tmp_path, value, expected):
    path = tmp_path / "l.csv"
    path.write_text(f'title,included\nA,"{value}"\n', encoding="utf-8")
    assert next(iter_records(path)).label == expected


def test_unknown_label_names_file_line_and_value(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text('title,abstract,decision\nA,"two\nlines",1\nB,b,probably\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"labels\.csv, line 4: unknown decision 'probably'"):
        list(iter_records(path))


def test_table_without_title_or_abstract_lists_its_columns(tmp_path):
    path = tmp_path / "ids.csv"
    path.write_text("id,doi,year\n1,10.1/x,2020\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"ids\.csv: has no title or abstract column \(columns found: 'id', 'doi', 'year'\)"):
        list(iter_records(path))


def test_ragged_row_is_an_error_with_line_but_trailing_empty_cells_are_not(tmp_path):
    path = tmp_path / "ragged.csv"
    path.write_text("title,abstract\nA,a,\nB\nC,c,extra\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"ragged\.csv, line 4: row has 3 cells but the header has 2"):
        list(iter_records(path))
    path.write_text("title,abstract\nA,a,\nB\n", encoding="utf-8")
    assert [(r.title, r.abstract) for r in iter_records(path)] == [("A", "a"), ("B", "")]


def test_gzipped_csv(tmp_path):
    path = tmp_path / "records.csv.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write("record_id,title,pubmed_id,label_included\n7,Gzipped,123,0\n")
    assert detect_format(path) == "csv"
    (record,) = iter_records(path)
    assert (record.source_key, record.title, record.pmid, record.label) == ("7", "Gzipped", "123", "exclude")


def test_excel_wrappers_and_neutralised_cells_are_unwrapped(tmp_path):
    path = tmp_path / "cinahl.csv"
    path.write_text('Article Title,ISSN,Publication Date\n"\'=cmd title",="19326203",="4/3/2024"\n', encoding="utf-8")
    (record,) = iter_records(path)
    assert record.title == "=cmd title" and record.extra["ISSN"] == "19326203" and record.year == 2024


def test_xlsx_with_title_row_numbers_and_dates(tmp_path):
    path = tmp_path / "export.xlsx"
    frame = pd.DataFrame({
        "ID": [101, 102, 103], "Title": ["First", None, "Third"], "Abstract": ["a", None, None],
        "Year": [2019, 2020, None], "Included": ["I", "E", None], "Added": pd.to_datetime(["2024-01-02"] * 3),
    })
    with pd.ExcelWriter(path) as writer:
        pd.DataFrame([["Saved search export"]]).to_excel(writer, index=False, header=False)
        frame.to_excel(writer, index=False, startrow=2)
    assert detect_format(path) == "xlsx"
    records = list(iter_records(path))
    assert [r.source_key for r in records] == ["101", "102", "103"]  # integers, not '101.0'
    assert [r.label for r in records] == ["include", "exclude", None]  # EPPI-Reviewer's I/E
    assert [r.line for r in records] == [4, 5, 6] and records[0].year == 2019
    assert records[1].has_text is False and records[0].extra["Added"] == "2024-01-02"


def _peak_while_reading(path: Path, n_rows: int) -> int:
    abstract = "word " * 35
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("record_id,title,abstract,authors,year,doi,label_included\n")
        handle.writelines(f"{i},Title {i},{abstract},Smith J; Doe A,2001,10.1000/x{i},0\n" for i in range(n_rows))
    tracemalloc.start()
    count = sum(1 for _ in iter_records(path))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert count == n_rows
    return peak


def test_csv_streams_in_bounded_memory(tmp_path):
    """Four times the rows (1 MB -> 4 MB) do not raise the peak of live Python memory."""
    small = _peak_while_reading(tmp_path / "small.csv", 4_000)
    large = _peak_while_reading(tmp_path / "large.csv", 16_000)
    assert large < 1.25 * small, f"peak {small / 1e6:.2f} MB -> {large / 1e6:.2f} MB"

"""Writing tables: spreadsheet safety, and exports that re-import to the same records."""

from __future__ import annotations

import csv
import re

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

from prioritiser.errors import InputError, UserError
from prioritiser.io import iter_records, write_table


def records_frame() -> pd.DataFrame:
    return pd.DataFrame({
        "record_id": [1, 2, 3, 4, 5],
        "group_id": [1, 2, 2, 4, 5],
        "title": ["Statins and falls", "=HYPERLINK(\"http://x\")", "@risk: a title", "", "Café – “naïve” trial"],
        "abstract": ["One line.", "Two\nlines.", "Para one.\n\nPara two.", "", "-5 mmHg was the difference"],
        "authors": ["Smith, J; Doe, A", "", "+Plus, P", "", "Müller, Jörg"],
        "year": pd.array([2019, None, 2021, 2020, 1999], dtype="Int64"),
        "doi": ["10.1000/abc", "", "10.1000/xyz(2)", "", ""],
        "pmid": ["31234567", "", "", "", "9990397"],
        "keywords": ["statins; falls", "", "", "", "trial"],
        "journal": ["BMJ", "", "Lancet", "", ""],
        "label": ["include", "exclude", "maybe", "", ""],
        "score": [np.nan, np.nan, np.nan, -0.75, 0.5],
        "rank": pd.array([None, None, None, 2, 1], dtype="Int64"),
        "source_file": ["a.ris", "a.ris", "b.csv", "b.csv", "b.csv"],
    })


def test_ris_export_reimports_to_the_same_records(tmp_path):
    frame = records_frame()
    path = tmp_path / "export.ris"
    write_table(frame, path)
    back = list(iter_records(path))
    assert len(back) == len(frame)
    for row, record in zip(frame.to_dict("records"), back):
        assert record.source_key == str(row["record_id"])
        assert (record.title, record.abstract) == (row["title"], row["abstract"])
        assert record.authors == [a.strip() for a in row["authors"].split(";") if a.strip()]
        assert record.year == (None if pd.isna(row["year"]) else row["year"])
        assert (record.doi, record.pmid, record.journal) == (row["doi"], row["pmid"], row["journal"])
        assert "; ".join(record.keywords) == row["keywords"]
        assert record.label == (row["label"] or None)
        assert record.extra["group_id"] == str(row["group_id"]) and record.extra["source_file"] == row["source_file"]
    assert back[3].extra["score"] == "-0.75" and back[3].extra["rank"] == "2" and "score" not in back[0].extra


def test_csv_export_reimports_with_formulas_neutralised_but_text_intact(tmp_path):
    frame = records_frame()
    path = tmp_path / "export.csv"
    write_table(frame, path)
    with open(path, encoding="utf-8-sig", newline="") as handle:
        cells = list(csv.DictReader(handle))
    assert cells[1]["title"] == "'=HYPERLINK(\"http://x\")" and cells[2]["title"] == "'@risk: a title"
    assert cells[2]["authors"] == "'+Plus, P" and cells[4]["abstract"] == "'-5 mmHg was the difference"
    assert cells[3]["score"] == "-0.75" and cells[3]["rank"] == "2"  # numbers stay numbers
    back = list(iter_records(path))
    assert [r.title for r in back] == frame["title"].tolist()
    assert back[4].abstract == "-5 mmHg was the difference" and [r.label for r in back][:3] == ["include", "exclude", "maybe"]


def test_xlsx_export_has_no_formulas_and_numeric_cells(tmp_path):
    path = tmp_path / "export.xlsx"
    frame = records_frame()
    frame.loc[0, "abstract"] = "Bad \x0b control character"
    write_table(frame, path)
    sheet = load_workbook(path).worksheets[0]
    header = [c.value for c in sheet[1]]
    cells = {name: [row[i] for row in sheet.iter_rows(min_row=2)] for i, name in enumerate(header)}
    assert all(c.data_type != "f" for column in cells.values() for c in column)
    assert cells["title"][1].value == "'=HYPERLINK(\"http://x\")"
    assert cells["score"][3].value == -0.75 and cells["rank"][4].value == 1 and cells["record_id"][0].value == 1
    assert [r.title for r in iter_records(path)] == frame["title"].tolist()


def test_text_that_is_just_a_number_is_not_prefixed(tmp_path):
    path = tmp_path / "ids.tsv"
    write_table(pd.DataFrame({"record_id": ["-1", "+44 20 7946", "1e-5"], "title": ["a", "b", "c"]}), path)
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    assert lines[1:] == ["-1\ta", "'+44 20 7946\tb", "1e-5\tc"]


def test_unknown_extension_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match=r"out\.json: unknown output format \.json"):
        write_table(records_frame(), tmp_path / "out.json")


def test_ris_export_is_plain_ris_that_rispy_and_asreview_read(tmp_path):
    import rispy

    path = tmp_path / "export.ris"
    write_table(records_frame(), path)
    text = path.read_text(encoding="utf-8")
    assert text.startswith("TY  - JOUR\n") and text.count("\nER  - \n\nTY  - JOUR\n") == 4
    assert text.endswith("\nER  - \n") and text.count("TY  - ") == 5
    assert not re.search(r"^\d+\.", text, re.MULTILINE)  # no numbering lines
    entries = rispy.load(path)  # the reader ASReview uses
    assert [e["id"] for e in entries] == ["1", "2", "3", "4", "5"]
    asreview = [next((n for n in e.get("notes", []) if n.startswith("ASReview_")), None) for e in entries]
    assert asreview == ["ASReview_relevant", "ASReview_irrelevant", None, None, None]
    decisions = [[k for k in e.get("keywords", []) if k.startswith("screening decision:")] for e in entries]
    assert decisions == [["screening decision: include"], ["screening decision: exclude"],
                         ["screening decision: maybe"], [], []]


def test_ris_decision_keyword_alone_carries_the_label_and_contradictions_are_errors(tmp_path):
    path = tmp_path / "zotero.ris"
    path.write_text("TY  - JOUR\nTI  - A\nKW  - falls\nKW  - screening decision: maybe\nER  - \n\n"
                    "TY  - JOUR\nTI  - B\nKW  - screening decision: include\nN1  - ASReview_irrelevant\nER  - \n",
                    encoding="utf-8")
    records = iter_records(path)
    first = next(records)
    assert (first.label, first.keywords) == ("maybe", ["falls"])
    with pytest.raises(InputError, match=r"line 7.*contradicting labels \(exclude, include\)"):
        next(records)


def test_xlsx_keeps_text_over_the_cell_limit_in_continuation_columns_the_reader_joins(tmp_path):
    import warnings

    frame = records_frame()
    words = " ".join(f"word{i}" for i in range(8000))  # 70,889 characters: three cells
    frame.loc[0, "abstract"] = words
    frame.loc[1, "title"] = "=" + "x" * 40000  # a formula-like start and no blank to cut at
    path = tmp_path / "long.xlsx"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "Cell contents too long, truncated" warning
        write_table(frame, path)
    sheet = load_workbook(path, read_only=True).worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    header = list(rows[0])
    assert header[-3:] == ["title (continued 2)", "abstract (continued 2)", "abstract (continued 3)"]
    assert all(len(c) <= 32767 for row in rows for c in row if isinstance(c, str))
    back = list(iter_records(path))
    assert back[0].abstract == words and back[1].title == frame.loc[1, "title"]
    assert [r.title for r in back[2:]] == frame["title"].tolist()[2:]
    assert not any(k.startswith(("title", "abstract")) for r in back for k in r.extra)


def test_text_chunks_cut_between_non_blank_characters():
    from prioritiser.io.writers import text_chunks

    text = "ab cd ef gh"
    pieces = text_chunks(text, 4)
    assert "".join(pieces) == text and all(len(p) <= 4 and p == p.strip() for p in pieces)

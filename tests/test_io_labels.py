"""Reviewer decision files: batch files filled in by reviewers, exports of other tools."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from prioritiser.errors import InputError
from prioritiser.io import LabelRow, iter_label_rows, write_table

FIXTURES = Path(__file__).parent / "fixtures" / "io"
BATCH_COLUMNS = ["record_id", "title", "abstract", "authors", "year", "doi", "score", "rank", "label"]


def batch_frame() -> pd.DataFrame:
    return pd.DataFrame({
        "record_id": [12, 7, 30], "title": ["-Lactam allergy", "Statins", "=Formula? no, a title"],
        "abstract": ["a", "b", ""], "authors": ["Smith J", "", "Doe A; Roe B"],
        "year": pd.array([2019, None, 2021], dtype="Int64"), "doi": ["10.1000/a", "", "10.1000/c"],
        "score": [0.91, -0.25, -1.5], "rank": [1, 2, 3], "label": ["", "", ""],
    })[BATCH_COLUMNS]


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".xlsx"])
def test_batch_file_reads_back_undecided(tmp_path, suffix):
    path = tmp_path / f"batch{suffix}"
    write_table(batch_frame(), path)
    rows = list(iter_label_rows(path))
    assert [(r.record_id, r.decision) for r in rows] == [("12", None), ("7", None), ("30", None)]
    assert rows[0].title == "-Lactam allergy" and rows[2].title == "=Formula? no, a title"
    assert rows[0].doi == "10.1000/a" and [r.line for r in rows] == [2, 3, 4]


def test_batch_filled_in_and_resaved_by_excel_with_semicolons_and_cp1252(tmp_path):
    path = tmp_path / "batch.csv"
    write_table(batch_frame(), path)
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame["label"] = ["1", "0", "maybe"]
    frame["title"] = frame["title"] + " é"
    path.write_bytes(frame.to_csv(index=False, sep=";", lineterminator="\r\n").encode("cp1252"))
    rows = list(iter_label_rows(path))
    assert [(r.record_id, r.decision) for r in rows] == [("12", "include"), ("7", "exclude"), ("30", "maybe")]
    assert rows[0].title == "-Lactam allergy é"


def test_reviewer_timestamp_and_identifier_columns(tmp_path):
    path = tmp_path / "decisions.tsv"
    path.write_text("Screener\tDecided_At\tPMID\tDOI\tDecision\n"
                    "ana\t2024-05-01T10:00:00\t123\thttps://doi.org/10.1000/X\tInclude\n"
                    "bo\t\t456\t\t\n", encoding="utf-8")
    assert list(iter_label_rows(path)) == [
        LabelRow(pmid="123", doi="10.1000/X", decision="include", reviewer="ana", timestamp="2024-05-01T10:00:00", line=2),
        LabelRow(pmid="456", decision=None, reviewer="bo", line=3),
    ]


def test_label_file_without_decision_column_lists_columns(tmp_path):
    path = tmp_path / "no_decision.csv"
    path.write_text("record_id,title,score\n1,A,0.5\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"no_decision\.csv: has no decision column .*columns found: 'record_id', 'title', 'score'"):
        list(iter_label_rows(path))


def test_label_file_without_record_column(tmp_path):
    path = tmp_path / "only.csv"
    path.write_text("label,reviewer\n1,ana\n", encoding="utf-8")
    with pytest.raises(InputError, match="no column naming the record"):
        list(iter_label_rows(path))


def test_bad_decision_names_line_and_value(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("record_id,label\n1,1\n2,0\n3,2\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"bad\.csv, line 4: unknown decision '2'"):
        list(iter_label_rows(path))


def test_ris_label_file_from_asreview(tmp_path):
    rows = list(iter_label_rows(FIXTURES / "pubmed_zotero.ris"))
    assert [(r.pmid, r.decision, r.line) for r in rows] == [
        ("30876543", "include", 1), ("31122334", "exclude", 26), ("", None, 37)]
    assert rows[0].title == "Effect of exercise on depressive symptoms in adolescents"

"""The project store, label import, export and the CLI around them, on small real files."""

from __future__ import annotations

import json
import sqlite3

import pandas as pd
import pytest
from typer.testing import CliRunner

from prioritiser.cli import app
from prioritiser.errors import UserError
from prioritiser.export import records_table
from prioritiser.importing import create_project, add_records
from prioritiser.labels import import_labels

runner = CliRunner()

RECORDS_CSV = """record_id,title,abstract,authors,year,doi
a1,Statins for primary prevention,A randomised trial of statins.,Smith J; Doe A,2019,10.1000/abc
a2,Statins for primary prevention.,A randomised trial of statins.,Smith J,2019,https://doi.org/10.1000/ABC
a3,Exercise and mood in adolescents,A cohort of adolescents.,Roe B,2020,
a4,,,,2021,
a5,Software testing in agile teams,A survey of practitioners.,Lee C,2018,10.1000/xyz
"""


@pytest.fixture
def records_file(tmp_path):
    path = tmp_path / "search.csv"
    path.write_text(RECORDS_CSV, encoding="utf-8")
    return path


@pytest.fixture
def project(tmp_path, records_file):
    project, _ = create_project(tmp_path / "proj", [records_file])
    yield project
    project.close()


def test_create_keeps_every_record_and_groups_duplicates(tmp_path, records_file):
    project, summary = create_project(tmp_path / "p", [records_file])
    with project:
        assert summary.n_records == 5
        assert summary.n_without_text == 1
        assert summary.n_duplicates == 1
        info = project.info()
    assert info["records"] == 5 and info["duplicates"] == 1 and info["groups"] == 4
    assert info["unlabelled"] == 5


def test_no_dedupe_keeps_duplicates_apart(tmp_path, records_file):
    project, summary = create_project(tmp_path / "p", [records_file], dedupe=False)
    with project:
        assert summary.n_duplicates == 0
        assert project.info()["groups"] == 5


def test_create_refuses_existing_directory_and_leaves_nothing_on_error(tmp_path, records_file):
    (tmp_path / "exists").mkdir()
    with pytest.raises(UserError, match="already exists"):
        create_project(tmp_path / "exists", [records_file])
    bad = tmp_path / "bad.csv"
    bad.write_text("foo,bar\n1,2\n", encoding="utf-8")
    with pytest.raises(UserError, match="bad.csv"):
        create_project(tmp_path / "new", [records_file, bad])
    assert not (tmp_path / "new").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_label_decision_counts_for_whole_duplicate_group(project, tmp_path):
    labels = tmp_path / "labels.csv"
    labels.write_text("record_id,label\n1,yes\n3,no\n", encoding="utf-8")
    summary = import_labels(project, labels)
    assert summary.n_events == 2
    info = project.info()
    assert info["included"] == 2  # records 1 and 2 form one group
    assert info["excluded"] == 1
    assert info["labelled"] == 3 and info["unlabelled"] == 2


def test_labels_match_by_doi_and_title_and_list_unknown_rows(project, tmp_path):
    labels = tmp_path / "labels.csv"
    labels.write_text(
        "doi,title,decision\n10.1000/XYZ,,include\n,exercise and mood in adolescents,exclude\n10.9/none,Unknown paper,include\n",
        encoding="utf-8",
    )
    summary = import_labels(project, labels)
    assert summary.n_events == 2
    assert len(summary.unknown) == 1 and "line 4" in summary.unknown[0]
    assert project.group_decisions() == {5: "include", 3: "exclude"}


def test_changed_decision_is_a_new_event_and_reimport_adds_nothing(project, tmp_path):
    first = tmp_path / "first.csv"
    first.write_text("record_id,label\n3,include\n", encoding="utf-8")
    second = tmp_path / "second.csv"
    second.write_text("record_id,label\n3,exclude\n", encoding="utf-8")
    import_labels(project, first)
    assert import_labels(project, first).n_events == 0
    import_labels(project, second)
    events = project.label_events()
    assert events["decision"].tolist() == ["include", "exclude"]
    assert project.group_decisions()[3] == "exclude"


def test_conflicting_reviewers_are_reported(project, tmp_path):
    labels = tmp_path / "two.csv"
    labels.write_text("record_id,label,reviewer\n3,include,ann\n3,exclude,bob\n", encoding="utf-8")
    summary = import_labels(project, labels)
    assert len(summary.conflicts) == 1
    assert "ann says include" in summary.conflicts[0] and "bob says exclude" in summary.conflicts[0]


def test_label_file_matching_nothing_is_an_error_and_writes_nothing(project, tmp_path):
    labels = tmp_path / "nothing.csv"
    labels.write_text("record_id,label\n999,yes\n", encoding="utf-8")
    with pytest.raises(UserError, match="nothing.csv"):
        import_labels(project, labels)
    assert project.last_event_id() == 0


def test_label_events_are_append_only(project, tmp_path):
    labels = tmp_path / "l.csv"
    labels.write_text("record_id,label\n3,yes\n", encoding="utf-8")
    import_labels(project, labels)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        project.con.execute("UPDATE label_events SET decision='exclude'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        project.con.execute("DELETE FROM label_events")


def test_add_keeps_labels_and_groups_new_duplicates(project, tmp_path):
    labels = tmp_path / "l.csv"
    labels.write_text("record_id,label\n1,include\n", encoding="utf-8")
    import_labels(project, labels)
    update = tmp_path / "update.csv"
    update.write_text("title,year,doi\nStatins for primary prevention,2019,\nA new trial,2022,\n", encoding="utf-8")
    summary = add_records(project, [update])
    assert summary.n_records == 2
    info = project.info()
    assert info["records"] == 7 and info["included"] == 3  # the new copy joins the included group


def test_export_round_trips_through_ris(project, tmp_path):
    labels = tmp_path / "l.csv"
    labels.write_text("record_id,label\n1,include\n3,exclude\n", encoding="utf-8")
    import_labels(project, labels)
    out = tmp_path / "all.ris"
    runner_result = runner.invoke(app, ["export", str(project.path), "--out", str(out)])
    assert runner_result.exit_code == 0, runner_result.output
    again, summary = create_project(tmp_path / "again", [out], dedupe=False)
    with again:
        assert summary.n_records == 5
        original = records_table(project)
        copy = records_table(again)
        for column in ("title", "abstract", "authors", "year", "label"):
            assert original[column].tolist() == copy[column].tolist(), column
        assert again.info()["included"] == 2 and again.info()["excluded"] == 1


def test_cli_info_json_and_errors(tmp_path, records_file):
    result = runner.invoke(app, ["init", str(tmp_path / "p"), "--records", str(records_file)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["info", str(tmp_path / "p"), "--json"])
    info = json.loads(result.output)
    assert {"records", "duplicates", "labelled", "included", "excluded", "unlabelled"} <= set(info)
    result = runner.invoke(app, ["init", str(tmp_path / "p"), "--records", str(records_file)])
    assert result.exit_code != 0
    assert "already exists" in result.output and "Traceback" not in result.output
    result = runner.invoke(app, ["info", str(tmp_path / "missing")])
    assert result.exit_code != 0 and "not a prioritiser project" in result.output
    result = runner.invoke(app, ["init", str(tmp_path / "q"), "--records", str(tmp_path / "nope.ris")])
    assert result.exit_code != 0 and "nope.ris" in result.output


def test_export_neutralises_formulas(project, tmp_path):
    project.con.execute("UPDATE records SET title='=HYPERLINK(\"http://x\")' WHERE record_id=3")
    out = tmp_path / "all.csv"
    result = runner.invoke(app, ["export", str(project.path), "--out", str(out)])
    assert result.exit_code == 0
    frame = pd.read_csv(out)
    assert not frame.loc[frame.record_id == 3, "title"].iloc[0].startswith("=")

"""Files in and out through the command line: workbook sheets, old Excel files, exports."""

from __future__ import annotations

import pytest
from openpyxl import Workbook
from typer.testing import CliRunner

from prioritiser.cli import app
from prioritiser.importing import create_project
from prioritiser.store import Project

runner = CliRunner()

RECORDS = [("a1", "Statins for primary prevention", "A randomised trial of statins."),
           ("a2", "Exercise and mood in adolescents", "A cohort of adolescents."),
           ("a3", "Software testing in agile teams", "A survey of practitioners.")]


def workbook(path, sheets: dict[str, list[list]]):
    book = Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
    book.save(path)
    return path


@pytest.fixture
def project_dir(tmp_path):
    search = workbook(tmp_path / "search.xlsx", {"Records": [["record_id", "title", "abstract"], *map(list, RECORDS)]})
    project, _ = create_project(tmp_path / "proj", [search])
    project.close()
    return tmp_path / "proj"


def test_label_names_the_sheets_and_offers_sheet_when_decisions_are_not_on_the_first(tmp_path, project_dir):
    book = workbook(tmp_path / "decisions.xlsx", {
        "Read me": [["Screening of the statin review"], ["Reviewer: AB"]],
        "Decisions": [["record_id", "title", "label"], ["a1", RECORDS[0][1], "include"], ["a3", RECORDS[2][1], "exclude"]],
    })
    result = runner.invoke(app, ["label", str(project_dir), str(book)])
    assert result.exit_code != 0 and "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert "first sheet 'Read me'" in lines[0] and "its sheets: 'Read me', 'Decisions'" in lines[0]
    assert "--sheet 'Decisions'" in lines[0]
    result = runner.invoke(app, ["label", str(project_dir), str(book), "--sheet", "Decisions"])
    assert result.exit_code == 0, result.output
    with Project(project_dir) as project:
        assert (project.info()["included"], project.info()["excluded"]) == (1, 1)
    result = runner.invoke(app, ["label", str(project_dir), str(book), "--sheet", "Sheet9"])
    assert result.exit_code != 0 and "has no sheet 'Sheet9' (its sheets: 'Read me', 'Decisions')" in result.output


def test_init_and_add_read_the_named_sheet(tmp_path):
    book = workbook(tmp_path / "search.xlsx", {
        "Search strategy": [["#1 statin*"], ["#2 #1 AND trial"]],
        "Results": [["title", "abstract"], *[[t, a] for _, t, a in RECORDS]],
    })
    result = runner.invoke(app, ["init", str(tmp_path / "p"), "--records", str(book)])
    assert result.exit_code != 0 and "--sheet 'Results'" in result.output
    assert not (tmp_path / "p").exists()
    result = runner.invoke(app, ["init", str(tmp_path / "p"), "--records", str(book), "--sheet", "Results"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["add", str(tmp_path / "p"), "--records", str(book), "--sheet", "Results", "--no-dedupe"])
    assert result.exit_code == 0, result.output
    with Project(tmp_path / "p") as project:
        assert project.info()["records"] == 6


@pytest.mark.parametrize("content", [
    bytes.fromhex("d0cf11e0a1b11ae1") + bytes(1024),  # a real .xls (OLE2 compound file)
    b"<html><body><table><tr><td>title</td></tr></table></body></html>",  # a web page saved as .xls
    b"title\tabstract\nA\tB\n",  # tab-separated text saved as .xls
])
def test_xls_is_refused_in_one_line_saying_save_as_xlsx_or_csv(tmp_path, project_dir, content):
    path = tmp_path / "decisions.xls"
    path.write_bytes(content)
    for args in (["label", str(project_dir), str(path)], ["add", str(project_dir), "--records", str(path)]):
        result = runner.invoke(app, args)
        assert result.exit_code != 0
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and "save it as .xlsx or CSV" in lines[0] and "xlrd" not in lines[0]


def test_an_xlsx_workbook_saved_under_a_xls_name_is_read(tmp_path, project_dir):
    book = workbook(tmp_path / "decisions.xls", {"Sheet1": [["record_id", "title", "label"], ["a2", RECORDS[1][1], "1"]]})
    result = runner.invoke(app, ["label", str(project_dir), str(book)])
    assert result.exit_code == 0, result.output
    with Project(project_dir) as project:
        assert project.info()["included"] == 1


def test_ovid_psycinfo_export_imports_as_its_six_records(tmp_path):
    from pathlib import Path

    ovid = Path(__file__).parent / "fixtures" / "io" / "ovid_psycinfo_nl.ris"
    result = runner.invoke(app, ["init", str(tmp_path / "p"), "--records", str(ovid)])
    assert result.exit_code == 0, result.output
    assert "Imported 6 records (0 without title or abstract" in result.output

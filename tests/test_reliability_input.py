"""Hostile and broken input through the project API (``Project.create``, ``add_records``,
``import_labels``): arbitrary bytes, truncated exports, other encodings, formula-like cells,
enormous fields, broken decision files.

Every attempt ends in a correct import or in a ``UserError`` with a one-line message. After a
failed ``create`` no project directory (and no build directory) exists; after a failed
``add_records`` or ``import_labels`` the project is exactly as before.
"""

from __future__ import annotations

import csv
import functools
import tempfile
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context
from typer.testing import CliRunner

from helpers_reliability import REPO, copy_project, scale, state_of, write_labels
from prioritiser.cli import app
from prioritiser.errors import UserError
from prioritiser.export import export_records
from prioritiser.importing import create_project, add_records
from prioritiser.labels import import_labels
from prioritiser.labels import LISTED_CONFLICTS
from prioritiser.package_data import data_dir
from prioritiser.store import Project

FIXTURES = REPO / "tests" / "fixtures" / "io"
EXPORTS = sorted(p for p in FIXTURES.iterdir() if p.is_file()) + [data_dir() / "example_search.ris"]
SUFFIXES = [".ris", ".nbib", ".txt", ".csv", ".tsv", ".bib", ".xml", ".xlsx", ".csv.gz"]
SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TEN_MB = 10 * 1024 * 1024


@contextmanager
def folder():
    with tempfile.TemporaryDirectory() as name:
        yield Path(name)


def outcome(name: str) -> None:
    """Count an outcome in hypothesis' statistics (``--hypothesis-show-statistics``)."""
    if currently_in_test_context():
        event(name)


def assert_one_line(error: UserError) -> None:
    message = str(error)
    assert message.strip() and "\n" not in message and "\r" not in message, repr(message)


def create_outcome(where: Path, files: list[Path]):
    """``Project.create`` in ``where/p``: the summary on success (project sound and counts
    consistent), None on a UserError (nothing left behind). Any other exception fails the test."""
    target = where / "p"
    try:
        project, summary = create_project(target, files)
    except UserError as error:
        outcome("refused")
        assert_one_line(error)
        assert not target.exists(), "a failed init left a project directory"
        assert not list(where.glob(".p.creating-*")), "a failed init left its build directory"
        return None
    outcome("imported")
    with project:
        assert project.check() == []
        info = project.info()
    assert info["records"] == summary.n_records == sum(n for _, n in summary.files) > 0
    assert info["label_events"] == summary.n_labels
    return summary


def titles_of(directory: Path) -> list[str]:
    with Project(directory) as project:
        return [t for (t,) in project.con.execute("SELECT title FROM records ORDER BY record_id")]


def squash(text: str) -> str:
    return " ".join(text.split())


def write_csv(path: Path, rows: list[dict], encoding: str = "utf-8") -> Path:
    with open(path, "w", encoding=encoding, newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


# ----------------------------------------------------------------------------- records files
@SETTINGS
@given(content=st.binary(max_size=3000), suffix=st.sampled_from(SUFFIXES))
def test_init_from_arbitrary_bytes(content, suffix):
    with folder() as where:
        path = where / f"search{suffix}"
        path.write_bytes(content)
        create_outcome(where, [path])


@functools.cache
def n_records(export: Path) -> int:
    with folder() as where:
        return create_outcome(where, [export]).n_records


@SETTINGS
@given(export=st.sampled_from(EXPORTS), cut=st.floats(0, 1), junk=st.sampled_from([b"", b"\xff", b"\xc3", b"\x00"]))
def test_init_from_truncated_export(export, cut, junk):
    """A download cut off at any byte (possibly mid-character, possibly with a stray byte)
    imports at most the records of the whole file, or fails with one line."""
    data = export.read_bytes()
    with folder() as where:
        path = where / export.name
        path.write_bytes(data[: int(len(data) * cut)] + junk)
        summary = create_outcome(where, [path])
        assert summary is None or summary.n_records <= n_records(export)


def _encodable(encoding: str):
    alphabet = st.characters(codec=encoding if encoding != "utf-16" else "utf-8",
                             exclude_categories=("Cc", "Cs", "Co", "Cn", "Zl", "Zp"))
    return st.text(alphabet, min_size=1, max_size=40).filter(lambda t: t.strip() and not t.strip().startswith("'"))


@SETTINGS
@given(data=st.data(), encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "cp1252", "latin-1"]))
def test_init_reads_supported_encodings_exactly(data, encoding):
    """UTF-8 (with or without BOM), UTF-16 and cp1252/latin-1 CSVs import with the exact titles.

    (cp1252 bytes that are also valid UTF-8, such as 'Ã©', are read as UTF-8: that ambiguity
    is left out.)"""
    titles = data.draw(st.lists(_encodable(encoding), min_size=1, max_size=5))
    if encoding in ("cp1252", "latin-1"):
        assume(all(0xA0 <= ord(c) or c.isascii() for t in titles for c in t))
        raw = "".join(titles).encode(encoding)
        assume(raw.isascii() or not _is_utf8(raw))
    with folder() as where:
        path = write_csv(where / "search.csv", [{"title": t, "abstract": "x"} for t in titles], encoding)
        summary = create_outcome(where, [path])
        assert summary is not None
        assert [squash(t) for t in titles_of(where / "p")] == [squash(t) for t in titles]


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


@SETTINGS
@given(text=st.text(min_size=1, max_size=200), encoding=st.sampled_from(["koi8_r", "shift_jis", "utf-32", "gb18030",
                                                                           "utf-16-be", "mac_roman"]))
def test_init_from_unsupported_encoding_never_crashes(text, encoding):
    raw = f"title,abstract\n\"{text}\",x\n".encode(encoding, errors="replace")
    with folder() as where:
        path = where / "search.csv"
        path.write_bytes(raw)
        create_outcome(where, [path])


FORMULAS = ["=1+2", "=HYPERLINK(\"http://x\")", "+SUM(A1:A9)", "-5 mg/kg dose", "@import", "=cmd|' /C calc'!A0",
            "-0.5", "+44 20 7946", "- minus a dash"]


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".xlsx"])
def test_formula_like_cells_survive_import_and_export(tmp_path, suffix):
    """Titles a spreadsheet would run are stored as written, and an export read back gives
    them again (the writer's neutralising apostrophe is removed on reading)."""
    source = write_csv(tmp_path / "search.csv", [{"title": t, "abstract": f"abstract {i}"} for i, t in enumerate(FORMULAS)])
    project, _ = create_project(tmp_path / "p", [source], dedupe=False)
    with project:
        assert titles_of(tmp_path / "p") == FORMULAS
        out = tmp_path / f"export{suffix}"
        export_records(project, out)
    create_project(tmp_path / "again", [out], dedupe=False)[0].close()
    assert titles_of(tmp_path / "again") == FORMULAS


@pytest.mark.parametrize("fmt", ["csv", "ris", "nbib"])
def test_ten_megabyte_abstract(tmp_path, fmt):
    abstract = ("Long abstract sentence with words. " * (TEN_MB // 35 + 1))[:TEN_MB].strip()
    path = tmp_path / f"search.{fmt}"
    if fmt == "csv":
        write_csv(path, [{"title": "Huge", "abstract": abstract}, {"title": "Small", "abstract": "short"}])
    elif fmt == "ris":
        path.write_text(f"TY  - JOUR\nTI  - Huge\nAB  - {abstract}\nER  - \n\nTY  - JOUR\nTI  - Small\nER  - \n",
                        encoding="utf-8")
    else:
        path.write_text(f"PMID- 1\nTI  - Huge\nAB  - {abstract}\n\nPMID- 2\nTI  - Small\n", encoding="utf-8")
    project, summary = create_project(tmp_path / "p", [path])
    with project:
        stored = project.con.execute("SELECT title, length(abstract) FROM records ORDER BY record_id").fetchall()
    assert stored[0] == ("Huge", len(abstract)) and stored[1][0] == "Small"


# ----------------------------------------------------------------------------- add and label
@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    where = tmp_path_factory.mktemp("input")
    create_project(where / "p", [data_dir() / "example_search.ris"])[0].close()
    return where / "p"


def assert_unchanged_on_error(directory: Path, action):
    """Run ``action(project)``; on UserError the project must equal its state before."""
    before = state_of(directory)
    with Project(directory) as project:
        try:
            result = action(project)
            outcome("imported")
            return result, before
        except UserError as error:
            outcome("refused")
            assert_one_line(error)
    assert state_of(directory) == before
    return None, before


@pytest.mark.slow
def test_error_deep_in_a_large_file_imports_nothing(tmp_path, base):
    """A broken row after two full 10,000-record insert batches: add and init keep nothing."""
    export = tmp_path / "big.csv"
    scale.write_search_export(export, 21_000, seed=9)
    lines = export.read_bytes().split(b"\n")
    broken = tmp_path / "broken.csv"
    broken.write_bytes(b"\n".join(lines[:20_500] + [b'0,"an unterminated quote'] + lines[20_500:]))
    assert create_outcome(tmp_path, [broken]) is None
    summary, _ = assert_unchanged_on_error(base, lambda p: add_records(p, [broken]))
    assert summary is None


@SETTINGS
@given(content=st.binary(max_size=2000), suffix=st.sampled_from(SUFFIXES))
def test_add_broken_file_changes_nothing(base, content, suffix):
    """``add`` of a good file and a broken one imports neither."""
    with folder() as where:
        good = write_csv(where / "good.csv", [{"title": "An update record", "abstract": "text"}])
        bad = where / f"bad{suffix}"
        bad.write_bytes(content)
        assert_unchanged_on_error(base, lambda p: add_records(p, [good, bad]))


LABEL_VALUES = ["1", "0", "yes", "no", "include", "exclude", "maybe", "", "Included", " y ", "2", "perhaps", "=1"]
ROW = st.fixed_dictionaries({
    "record_id": st.one_of(st.integers(1, 500).map(str), st.integers(501, 10_000).map(str), st.text(max_size=8)),
    "label": st.sampled_from(LABEL_VALUES),
    "reviewer": st.sampled_from(["", "ann", "bob", "ann "]),
})


@SETTINGS
@given(rows=st.lists(ROW, min_size=0, max_size=30))
def test_label_file_is_all_or_nothing(base, rows):
    """A decisions file is recorded whole — the decision in force for each (record, reviewer)
    is the file's last one — or, on error, not at all."""
    with folder() as where:
        path = where / "decisions.csv"
        if rows:
            write_csv(path, rows)
        else:
            path.write_text("record_id,label,reviewer\n", encoding="utf-8")
        summary, before = assert_unchanged_on_error(base, lambda p: import_labels(p, path, reviewer="default"))
        if summary is None:
            return
        after = state_of(base)
        assert after.events[: len(before.events)] == before.events
        assert len(after.events) - len(before.events) == summary.n_events
        in_force = {(e[1], e[3]): e[2] for e in after.events}
        expected = {}
        for row in rows:
            decision = {"1": "include", "yes": "include", "include": "include", "included": "include", "y": "include",
                        "0": "exclude", "no": "exclude", "exclude": "exclude", "maybe": "maybe"}.get(
                row["label"].strip().lower())
            key = row["record_id"].strip()
            if decision and key.isdigit() and 1 <= int(key) <= 500:
                expected[(int(key), row["reviewer"].strip() or "default")] = decision
        assert {k: in_force[k] for k in expected} == expected


@SETTINGS
@given(content=st.binary(max_size=2000), suffix=st.sampled_from([".csv", ".tsv", ".xlsx", ".ris", ".txt"]))
def test_label_from_arbitrary_bytes(base, content, suffix):
    with folder() as where:
        path = where / f"decisions{suffix}"
        path.write_bytes(content)
        assert_unchanged_on_error(base, lambda p: import_labels(p, path))


def test_cli_failures_leave_nothing_behind(tmp_path, base):
    """Through the CLI: a failed init leaves no directory, a failed add or label no change;
    each says what is wrong on one line."""
    good = write_csv(tmp_path / "good.csv", [{"title": "A record", "abstract": "text"}])
    wrong_labels = write_labels(tmp_path / "labels.csv", {1: "perhaps"})
    runner = CliRunner()
    before = state_of(base)
    for args in (["init", str(tmp_path / "new"), "--records", str(good), "--records", str(tmp_path / "missing.csv")],
                 ["add", str(base), "--records", str(good), "--records", str(tmp_path / "missing.ris")],
                 ["label", str(base), str(wrong_labels)]):
        result = runner.invoke(app, args)
        assert result.exit_code == 2, result.output
        lines = [line for line in result.output.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert not (tmp_path / "new").exists()
    assert state_of(base) == before


XML_BOMB = ('<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
            '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>'
            '<xml><records><record><titles><title>&d;&d;&d;&d;</title></titles></record></records></xml>')
HOSTILE = {
    "bomb.xml": XML_BOMB.encode(),
    "external.xml": b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
                    b"<xml><records><record><titles><title>&e;</title></titles></record></records></xml>",
    "nested.bib": b"@article{k, title={" + b"{" * 20000 + b"x" + b"}" * 20000 + b"}}\n",
    "nul.csv": b"title,abstract\nab\x00c,d\n",
    "zip.csv": b"PK\x03\x04" + bytes(200),
    "old.xlsx": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(200),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_files_are_refused_in_one_line(tmp_path, name):
    """Entity expansion, external entities, deep nesting, binary content: refused, nothing made."""
    path = tmp_path / name
    path.write_bytes(HOSTILE[name])
    assert create_outcome(tmp_path, [path]) is None


def test_many_conflicts_are_listed_up_to_a_limit(tmp_path, base):
    """A decisions file that contradicts another reviewer on 45 records: ``label`` lists the
    first LISTED_CONFLICTS conflicts and how many more there are; the summary keeps all 45."""
    with Project(base) as project:
        groups = [g for (g,) in project.con.execute("SELECT DISTINCT group_id FROM records ORDER BY group_id LIMIT 45")]
    ann = write_labels(tmp_path / "ann.csv", {g: "include" for g in groups}, reviewer="ann")
    bob = write_labels(tmp_path / "bob.csv", {g: "exclude" for g in groups}, reviewer="bob")
    runner = CliRunner()
    through_cli, through_api = copy_project(base, tmp_path / "cli"), copy_project(base, tmp_path / "api")
    for directory in (through_cli, through_api):
        assert runner.invoke(app, ["label", str(directory), str(ann)]).exit_code == 0
    result = runner.invoke(app, ["label", str(through_cli), str(bob)])
    assert result.exit_code == 0, result.output
    listed = [line for line in result.stderr.splitlines() if line.startswith("  conflicting decisions: group ")]
    assert len(listed) == LISTED_CONFLICTS == 20
    assert result.stderr.splitlines()[-1].startswith(f"  … and {45 - LISTED_CONFLICTS} more groups with conflicting")
    assert f"'prioritiser label {through_cli} FILE --adjudicator NAME'." in result.stdout
    with Project(through_api) as project:
        summary = import_labels(project, bob)
    assert len(summary.conflicts) == 45 and all("ann says include, bob says exclude" in c for c in summary.conflicts)
    assert [f"  conflicting decisions: {c}" for c in summary.conflicts[:LISTED_CONFLICTS]] == listed
    assert state_of(through_cli).events_without_times() == state_of(through_api).events_without_times()

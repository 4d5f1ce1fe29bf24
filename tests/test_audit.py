"""The audit pack end to end on the bundled example: init, label, rank, screen, audit, reproduce, QA."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
from html import escape
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from prioritiser.audit import draw_qa_sample, qa_findings, reproduce, write_audit
from prioritiser.batches import BATCH_COLUMNS
from prioritiser.errors import UserError
from prioritiser.files import file_sha256
from prioritiser.importing import create_project
from prioritiser.labels import import_labels
from prioritiser.package_data import data_dir
from prioritiser.screening import rank_project
from prioritiser.store import Project

DATA = data_dir()
XSS = "<script>alert(1)</script>"
FORMULA = '=HYPERLINK("http://example.org","click")'


def _extra_records(path: Path) -> Path:
    """A second search export: a duplicate of example record 1, a record titled with a script
    tag whose abstract reads like the example's includes (so it ranks high), and a record whose
    title is a spreadsheet formula."""
    example = pd.read_csv(DATA / "example.csv")
    includes = example[example["label_included"] == 1]["abstract"].dropna().head(6)
    first = example.iloc[0]
    rows = [
        {"title": first["title"], "abstract": first["abstract"], "year": ""},
        {"title": XSS, "abstract": " ".join(includes), "year": 2020},
        {"title": FORMULA, "abstract": "Cattle faeces sampled for enteric viruses.", "year": 2019},
    ]
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def _truth() -> dict[int, int]:
    example = pd.read_csv(DATA / "example.csv")
    return dict(zip(example["record_id"], example["label_included"]))


def _screen(project: Project, tmp: Path, rounds: int) -> None:
    """``rounds`` cycles of rank → the top 20 decided from the example's true labels; the added
    records (not in the example) are left undecided, so they stay unscreened."""
    truth = _truth()
    for i in range(rounds):
        result = rank_project(project, batch=20, progress=False)
        ids = [r for r in result.batch["record_id"].tolist() if r in truth]
        labels = tmp / f"batch{i}.csv"
        pd.DataFrame({"record_id": ids, "label": [truth[r] for r in ids]}).to_csv(labels, index=False)
        import_labels(project, labels, reviewer="ana")
    rank_project(project, batch=20, progress=False)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A project after the first decisions and two ranked batches, closed, to be copied per test."""
    tmp = tmp_path_factory.mktemp("built")
    search = shutil.copy(DATA / "example_search.ris", tmp / "search.ris")
    extra = _extra_records(tmp / "update.csv")
    project, _ = create_project(tmp / "proj", [search, extra])
    with project:
        import_labels(project, DATA / "example_first_decisions.csv", reviewer="ana")
        _screen(project, tmp, rounds=2)
    return tmp / "proj"


@pytest.fixture
def screened(built, tmp_path):
    shutil.copytree(built, tmp_path / "proj")
    project = Project(tmp_path / "proj")
    yield project
    project.close()


def _unscreened_records(project: Project) -> set[int]:
    decisions = project.group_decisions()
    records = project.records_frame("record_id, group_id")
    return {r for r, g in zip(records["record_id"], records["group_id"]) if g not in decisions}


def test_pack_accounts_for_every_record(screened, tmp_path):
    summary = write_audit(screened, tmp_path / "audit")
    out = tmp_path / "audit"
    info = screened.info()
    assert info["records"] == 503 and info["duplicates"] == 1

    excluded = pd.read_csv(out / "excluded_by_model.csv", keep_default_na=False)
    assert excluded["record_id"].is_unique
    assert set(excluded["record_id"]) == _unscreened_records(screened)
    assert len(excluded) == summary.n_excluded_by_model == info["unlabelled"]
    latest = screened.latest_iteration()
    assert set(excluded["iteration_id"]) == {latest.iteration_id}
    assert set(excluded["config_hash"]) == {latest.config_hash} and set(excluded["seed"]) == {latest.seed}
    position = {g: i + 1 for i, g in enumerate(latest.group_ids.tolist())}
    assert [position[g] for g in excluded["group_id"]] == excluded["rank"].tolist()
    duplicate = screened.con.execute("SELECT record_id, group_id FROM records WHERE record_id = 501").fetchone()
    assert duplicate == (501, 1)
    assert (501 in set(excluded["record_id"])) == (1 in set(excluded["record_id"]))
    assert (out / "excluded_by_model.ris").read_text(encoding="utf-8").count("ER  -") == len(excluded)

    prisma = json.loads((out / "prisma.json").read_text())
    rec, grp = prisma["records"], prisma["groups"]
    assert rec["identified"] == prisma["identified"]["total"] == 503
    assert [s["records"] for s in prisma["identified"]["per_source"]] == [500, 3]
    assert prisma["duplicates_removed"] == 1
    for counts, total in ((rec, 503), (grp, 502)):
        assert counts["screened_by_humans"] + counts["excluded_by_model"] == total
        assert counts["included"] + counts["excluded_by_humans"] + counts["maybe"] == counts["screened_by_humans"]
    assert grp["after_duplicates_removed"] == 502
    assert (rec["screened_by_humans"], rec["included"], rec["excluded_by_humans"]) == (
        info["labelled"], info["included"], info["excluded"])
    assert rec["excluded_by_model"] == len(excluded)

    history = pd.read_csv(out / "labels_history.csv", keep_default_na=False)
    assert history["event_id"].tolist() == list(range(1, info["label_events"] + 1))
    assert set(history["reviewer"]) == {"ana"}

    stopping = json.loads((out / "stopping.json").read_text())
    assert stopping["latest_iteration_id"] == latest.iteration_id and stopping["last_event_id"] == info["label_events"]
    assert stopping["rule"] and "evidence" in stopping and stopping["stop"] in (True, False)


def test_manifest_hashes_and_reproduce(screened, tmp_path):
    write_audit(screened, tmp_path / "audit")
    manifest = json.loads((tmp_path / "audit" / "manifest.json").read_text())
    latest = screened.latest_iteration()
    assert manifest["iteration"]["iteration_id"] == latest.iteration_id
    assert manifest["parameters"]["seed"] == manifest["seeds"]["iteration"] == latest.seed
    assert manifest["dependencies"]["numpy"] == np.__version__
    stored = hashlib.sha256(latest.group_ids.astype("<i8").tobytes() + latest.scores.astype("<f8").tobytes())
    assert manifest["iteration"]["ranking_sha256"] == stored.hexdigest()
    for source in manifest["sources"]:
        assert source["sha256"] == file_sha256(screened.path / source["path"])
    for name, sha in manifest["files"].items():
        assert file_sha256(tmp_path / "audit" / name) == sha
    events = screened.label_events()
    canonical = "\n".join(
        json.dumps([int(e.event_id), int(e.record_id), e.decision, e.reviewer, e.decided_at, e.recorded_at, e.batch,
                    e.origin], separators=(",", ":"), ensure_ascii=False)
        for e in events.itertuples() if e.event_id <= latest.last_event_id
    )
    assert manifest["label_history"]["sha256"] == hashlib.sha256(canonical.encode()).hexdigest()

    # labels added after the audited iteration do not change what it reproduces
    later = screened.latest_iteration().group_ids[:5].tolist()
    screened.add_label_events([(g, "exclude", "ben", "", "test") for g in later], batch="later")
    result = reproduce(tmp_path / "audit")
    assert result.identical and result.ok
    assert result.positions_differ == 0 and result.max_score_difference == 0.0
    assert all(status == "match" for _, status in result.sources + result.models)

    source = screened.path / manifest["sources"][0]["path"]
    original = source.read_bytes()
    try:
        source.write_bytes(original + b"\r\n")
        tampered = reproduce(tmp_path / "audit", screened.path)
    finally:
        source.write_bytes(original)
    assert tampered.identical and not tampered.ok
    assert tampered.sources[0][1] == "differs"
    assert f"DIFFERS: source {manifest['sources'][0]['path']}" in tampered.lines()
    assert "identical to" in tampered.lines()[0]


def test_pack_names_no_absolute_path_and_reproduces_after_project_and_pack_move(screened, tmp_path):
    write_audit(screened, tmp_path / "audit")
    sources = [Path(p) for p in screened.sources()["path"]]
    screened.close()
    pack = tmp_path / "audit"
    for file in pack.iterdir():
        if file.suffix in (".json", ".html", ".csv", ".ris"):
            text = file.read_text(encoding="utf-8")
            assert str(tmp_path) not in text and str(sources[0].parent) not in text, file.name
    manifest = json.loads((pack / "manifest.json").read_text())
    assert manifest["project"] == "../proj" and "platform" not in manifest
    assert [s["path"] for s in manifest["sources"]] == [
        Path(os.path.relpath(p, tmp_path / "proj")).as_posix() for p in sources]

    # shared: project and pack copied to another place, the search files put beside the pack
    elsewhere = tmp_path / "colleague" / "review"
    shutil.copytree(tmp_path / "proj", elsewhere / "proj")
    shutil.copytree(pack, elsewhere / "audit")
    for source in sources:
        shutil.copy(source, elsewhere / "audit" / source.name)
    shutil.rmtree(tmp_path / "proj")
    shutil.rmtree(pack)
    result = reproduce(elsewhere / "audit")
    assert result.ok and result.identical
    assert [status for _, status in result.sources] == ["match", "match"]
    assert all(str(tmp_path) not in line for line in result.lines())
    (elsewhere / "audit" / sources[0].name).write_bytes(b"changed")
    assert ("differs" in [status for _, status in reproduce(elsewhere / "audit").sources])


def test_reproduce_detects_a_ranking_it_cannot_recompute(screened, tmp_path):
    latest = screened.latest_iteration()
    altered = latest.group_ids.copy()
    altered[[0, 1]] = altered[[1, 0]]
    with screened.write() as con:
        con.execute("UPDATE iterations SET group_ids=? WHERE iteration_id=?",
                    (altered.astype("<i8").tobytes(), latest.iteration_id))
    write_audit(screened, tmp_path / "audit")
    result = reproduce(tmp_path / "audit")
    assert result.stored_matches_manifest and not result.identical and not result.ok
    assert result.positions_differ == 2
    assert "DIFFERENT from the audited one (2 positions differ" in result.lines()[0]


def test_reproduce_detects_a_changed_embedding_model(screened, tmp_path):
    rank_project(screened, overrides={"features": "tfidf+static"}, batch=20, progress=False)
    write_audit(screened, tmp_path / "audit")
    path = tmp_path / "audit" / "manifest.json"
    manifest = json.loads(path.read_text())
    assert set(manifest["models"]) == {"static"}
    assert reproduce(tmp_path / "audit").models == [("static", "match")]
    manifest["models"]["static"] = "static:another-model"
    path.write_text(json.dumps(manifest))
    assert ("static", "differs") in reproduce(tmp_path / "audit").models


def test_report_escapes_record_text_and_is_self_contained(screened, tmp_path):
    write_audit(screened, tmp_path / "audit")
    page = (tmp_path / "audit" / "report.html").read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script" not in page.lower()
    assert page.count("data:image/png;base64,") == 3
    assert 'src="http' not in page and "<link" not in page
    assert 'class="alert"' not in page


def test_csv_outputs_neutralise_formulas(screened, tmp_path):
    write_audit(screened, tmp_path / "audit")
    with open(tmp_path / "audit" / "excluded_by_model.csv", newline="", encoding="utf-8-sig") as handle:
        titles = [row["title"] for row in csv.DictReader(handle)]
    assert "'" + FORMULA in titles and FORMULA not in titles


def test_qa_sample_feeds_back_and_reopens_screening(screened, tmp_path):
    out = tmp_path / "audit"
    summary = write_audit(screened, out, qa_sample=10, seed=7)
    sample = pd.read_csv(out / "qa_sample.csv", keep_default_na=False)
    assert list(sample.columns) == BATCH_COLUMNS and len(sample) == summary.qa_sample_size == 10
    assert set(sample["label"]) == {""}
    assert set(sample["record_id"]) <= _unscreened_records(screened)
    assert [b["seed"] for b in screened.batches("qa")] == [7]
    assert qa_findings(screened) == []
    with pytest.raises(UserError, match="without a decision"):
        draw_qa_sample(screened, 5)

    found = int(sample["record_id"].iloc[0])
    sample["label"] = ["include"] + ["exclude"] * (len(sample) - 1)
    sample.to_csv(tmp_path / "qa_labelled.csv", index=False)
    import_labels(screened, tmp_path / "qa_labelled.csv", reviewer="ana")
    assert qa_findings(screened) == [found]
    with pytest.raises(UserError, match="screen further ranked batches"):
        draw_qa_sample(screened, 5)

    summary = write_audit(screened, out, target_recall=0.01)  # a target the rule reaches at once
    assert summary.qa_includes == [found] and summary.stop is False
    stopping = json.loads((out / "stopping.json").read_text())
    assert stopping["rule_stop"] is True and stopping["decision"] == "CONTINUE"
    assert stopping["stop"] is False and stopping["reopened_by_qa"] == [found]
    assert 'class="alert"' in (out / "report.html").read_text(encoding="utf-8")
    assert json.loads((out / "prisma.json").read_text())["quality_control"]["open_findings"] == [found]

    _screen(screened, tmp_path, rounds=1)
    assert len(draw_qa_sample(screened, 5, seed=8)) == 5
    assert qa_findings(screened) == []


def test_audit_of_a_ranking_by_query_before_any_decision(tmp_path):
    project, _ = create_project(tmp_path / "proj", [DATA / "example_search.ris"])
    with project:
        rank_project(project, batch=10, query="virus metagenomics in farm animals", progress=False)
        summary = write_audit(project, tmp_path / "audit")
    assert summary.n_excluded_by_model == 500 and summary.prisma["records"]["screened_by_humans"] == 0
    assert (tmp_path / "audit" / "report.html").read_text(encoding="utf-8").count("data:image/png;base64,") == 2
    assert reproduce(tmp_path / "audit").ok


def test_report_has_a_methods_paragraph_with_the_flow_counts(screened, tmp_path):
    summary = write_audit(screened, tmp_path / "audit")
    page = (tmp_path / "audit" / "report.html").read_text(encoding="utf-8")
    methods = page[page.index("<h2>Methods paragraph</h2>"):page.index("<h2>", page.index("<h2>Methods paragraph</h2>") + 4)]
    records = summary.prisma["records"]
    assert "PRISMA 2020 item 8" in methods and "1 reviewer(s) (ana)" in methods
    assert f"screened {records['screened_by_humans']:,} of {records['identified']:,} records" in methods
    assert f"The remaining {records['excluded_by_model']:,} records were excluded by the model" in methods
    rule = json.loads((tmp_path / "audit" / "stopping.json").read_text())
    assert escape(rule["assumption"]) in methods and f"{rule['rule']} rule" in methods


def test_research_question_is_in_the_manifest_and_the_report(tmp_path):
    question = "virus metagenomics in farm animals"
    project, _ = create_project(tmp_path / "proj", [DATA / "example_search.ris"])
    with project:
        rank_project(project, batch=10, query=question, progress=False)
        write_audit(project, tmp_path / "audit")
    assert json.loads((tmp_path / "audit" / "manifest.json").read_text())["research_question"] == question
    page = (tmp_path / "audit" / "report.html").read_text(encoding="utf-8")
    assert f"<b>Research question</b> (ranked by similarity before the first include): {question}" in page
    assert f"\u201c{question}\u201d" in page


def test_audit_needs_a_ranking(tmp_path):
    project, _ = create_project(tmp_path / "proj", [DATA / "example_search.ris"])
    with project, pytest.raises(UserError, match="no ranking yet"):
        write_audit(project, tmp_path / "audit")
    with pytest.raises(UserError, match="no manifest.json"):
        reproduce(tmp_path)



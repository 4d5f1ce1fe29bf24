"""``status`` and ``stop`` are checks: they never change the project, say STOP/CONTINUE by exit
status and JSON, and agree with the audit; certification samples count only what was screened
while they were open; projects of the old ``stop`` (phantom random batches) are repaired."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from prioritiser.audit import write_audit
from prioritiser.audit.qa import qa_detection
from prioritiser.cli import app
from prioritiser.importing import create_project
from prioritiser.labels import import_labels
from prioritiser.package_data import data_dir
from prioritiser.screening import rank_project, screening_history
from prioritiser.status import decide_stop, draw_certification_sample, percent, project_status
from prioritiser.store import DB_NAME, Project

DATA = data_dir()
runner = CliRunner()
TRUTH = dict(pd.read_csv(DATA / "example.csv")[["record_id", "label_included"]].itertuples(index=False))


def cli(*args, code: int | None = 0):
    result = runner.invoke(app, [str(a) for a in args])
    if code is not None:
        assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    return result


def tree_hash(directory: Path) -> dict[str, str]:
    """SHA-256 of every file under ``directory`` (relative path -> digest)."""
    return {str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(directory.rglob("*")) if p.is_file()}


def label_file(tmp: Path, name: str, record_ids) -> Path:
    path = tmp / name
    ids = [int(r) for r in record_ids]
    pd.DataFrame({"record_id": ids, "label": [TRUTH[r] for r in ids]}).to_csv(path, index=False)
    return path


def screen_round(project: Project, tmp: Path, i: int, batch: int = 25) -> list[int]:
    """rank -> the batch decided from the example's true labels; returns the batch's ids."""
    ids = rank_project(project, batch=batch, progress=False).batch["record_id"].tolist()
    import_labels(project, label_file(tmp, f"batch{i}.csv", ids), reviewer="ana")
    return ids


@pytest.fixture(scope="module")
def started(tmp_path_factory):
    """The example after its first decisions and three ranked batches of 25 (closed)."""
    tmp = tmp_path_factory.mktemp("started")
    project, _ = create_project(tmp / "review", [DATA / "example_search.ris"])
    with project:
        import_labels(project, DATA / "example_first_decisions.csv", reviewer="ana")
        for i in range(3):
            screen_round(project, tmp, i)
    return tmp / "review"


@pytest.fixture
def review(started, tmp_path):
    shutil.copytree(started, tmp_path / "review")
    return tmp_path / "review"


def test_status_and_stop_change_nothing_and_write_no_file(review, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    before, listing = tree_hash(review), sorted(p.name for p in tmp_path.iterdir())
    status = json.loads(cli("status", review, "--json").output)
    text = cli("status", review).output.splitlines()
    verbose = cli("status", review, "--verbose").output
    stop = json.loads(cli("stop", review, "--json", code=1).output)
    stop_text = cli("stop", review, code=1).output
    assert tree_hash(review) == before and sorted(p.name for p in tmp_path.iterdir()) == listing

    # the two-line summary leads; the rule table only behind --verbose
    assert text[0].startswith("Screened 95 of 500 records") and "includes in the last 3 batches" in text[0]
    assert text[1].startswith("CONTINUE: ") and "Next: rank" in text[1]
    assert "consecutive-irrelevant" in verbose and "consecutive-irrelevant" not in "\n".join(text)
    assert "Assumption: " in "\n".join(text) and status["stopping"]["assumption"] in " ".join(text).replace("\n", " ")
    assert stop["evidence_text"].startswith("Evidence: at most") and "scaled scores expect" in stop["evidence_text"]
    assert stop["evidence_text"] in " ".join(stop_text.splitlines())

    # the same numbers in status, stop and the audit
    assert stop["decision"] == "CONTINUE" and stop["exit_status"] == 1 and stop["stop"] is False
    for key in ("estimate", "evidence", "forecast", "rule", "assumption", "target_recall", "confidence"):
        assert status["stopping"][key] == stop[key]
    assert stop["summary"][0] in stop_text and stop["estimate_text"] in stop_text
    assert {"summary", "next_steps", "counts", "recent_batches", "stopping", "rules", "warnings"} <= set(status)
    assert len(status["summary"]) == 2 and [b["screened"] for b in status["recent_batches"]] == [25, 25, 25]
    with Project(review, read_only=True) as project:
        audit = write_audit(project, tmp_path / "audit").stopping
    assert tree_hash(review) == before
    for key in ("estimate", "evidence", "forecast", "rule", "assumption", "decision"):
        assert audit[key] == stop[key]
    fc = stop["forecast"]
    assert fc["ranked_to_stop"] is None or fc["ranked_to_stop"] > 0
    if fc["ranked_to_stop"]:
        assert f"about {fc['ranked_to_stop']:,} more records without an include" in stop_text


def test_stop_exit_statuses_and_argument_errors(review, tmp_path):
    assert cli("stop", review, code=1).exit_code == 1
    for args in (["--draw-sample"], ["--out", tmp_path / "c.csv"], ["--target-recall", "1.5"]):
        result = cli("stop", review, *args, code=2)
        assert result.output.startswith("error: ")
    assert cli("stop", tmp_path / "nothing", code=None).exit_code >= 2
    assert not (tmp_path / "c.csv").exists()
    help_text = runner.invoke(app, ["stop", "--help"], env={"COLUMNS": "200"}).output
    assert "0 STOP" in help_text and "1 CONTINUE" in help_text

    # every record screened: STOP, exit 0, next steps audit and export
    with Project(review) as project:
        rest = [g for g in project.group_ids() if g not in project.group_decisions()]
        import_labels(project, label_file(tmp_path, "rest.csv", rest), reviewer="ana")
    result = json.loads(cli("stop", review, "--json", code=0).output)
    assert result["decision"] == "STOP" and result["exit_status"] == 0
    assert any("audit" in c for c in result["next_steps"]) and any("export" in c for c in result["next_steps"])


def test_percent_never_reads_100_while_short_of_it():
    assert percent(0.99996) == "99.9%" and percent(1.0) == "100.0%" and percent(0.4567) == "45.6%"


def test_certification_sample_counts_only_what_was_screened_while_open(review, tmp_path):
    out = tmp_path / "certify.csv"
    result = cli("stop", review, "--draw-sample", "--out", out, "--json", code=1)
    sample = json.loads(result.output)["sample"]
    drawn = pd.read_csv(out, encoding="utf-8-sig")
    assert len(drawn) == sample["records"] > 0
    with Project(review) as project:
        assert [b["kind"] for b in project.batches()][-1] == "random"
        with pytest.raises(Exception, match="still has"):
            draw_certification_sample(project, tmp_path / "again.csv")
        # a ranked record decided while the sample is open is not part of it
        ranked = [g for g in project.latest_iteration().group_ids.tolist() if g not in set(drawn.record_id)][:1]
        half = drawn.record_id.tolist()[: len(drawn) // 2]
        import_labels(project, label_file(tmp_path, "mixed.csv", ranked + half), reviewer="ana")
        history = screening_history(project)
        assert history.sampled_randomly.sum() == len(half)
        status = project_status(project)
        assert "certification sample is open" in status["summary"][1]
        # ranking closes the sample: what of it is decided afterwards does not count
        screen_round(project, tmp_path, 9, batch=5)
        import_labels(project, label_file(tmp_path, "late.csv", drawn.record_id.tolist()[len(drawn) // 2:]),
                      reviewer="ana")
        assert screening_history(project).sampled_randomly.sum() == len(half)
        samples = decide_stop(project)["certification_samples"]
        assert samples[-1]["screened"] == len(half) and samples[-1]["open"] is False


def make_legacy(review: Path, tmp: Path) -> dict:
    """Rebuild what the old ``stop`` left: a random batch drawn on each CONTINUE, recorded with
    its stop decision, then screening went on from ranked batches. Returns what to expect."""
    with Project(review) as project:
        def old_stop(groups) -> int:
            batch_id = project.add_batch("random", np.sort(groups), seed=0)
            with project.write() as con:
                con.execute("INSERT INTO stop_decisions (created_at, last_event_id, decision) VALUES (?, ?, ?)",
                            (project.batches()[-1]["created_at"], project.last_event_id(),
                             json.dumps({"rule": "lower-bound", "stop": False, "sample_size": len(groups)})))
            return batch_id

        unscreened = lambda: [g for g in project.group_ids() if g not in project.group_decisions()]  # noqa: E731
        events = project.last_event_id()
        # 1. a phantom: most of the unscreened records, while a ranked batch was screened
        ranked = rank_project(project, batch=25, progress=False).batch["record_id"].tolist()
        phantom = old_stop(unscreened()[:300])
        import_labels(project, label_file(tmp, "b1.csv", ranked), reviewer="ana")
        # 2. never screened: the next command was rank
        ignored = old_stop(unscreened()[:40])
        ranked = rank_project(project, batch=10, progress=False).batch["record_id"].tolist()
        import_labels(project, label_file(tmp, "b2.csv", ranked), reviewer="ana")
        # 3. a real sample, screened while it was open and nothing else
        real_groups = unscreened()[::7][:30]
        real = old_stop(real_groups)
        import_labels(project, label_file(tmp, "sample.csv", real_groups), reviewer="ana")
        n_events, n_batches = project.last_event_id(), len(project.batches())
        assert n_events > events
    con = sqlite3.connect(review / DB_NAME)
    con.execute("ALTER TABLE batches DROP COLUMN last_event_id")
    con.execute("ALTER TABLE batches DROP COLUMN void")
    con.execute("ALTER TABLE iterations DROP COLUMN n_ranked")
    con.execute("UPDATE meta SET value='1' WHERE key='schema_version'")
    con.commit()
    con.close()
    return {"phantom": phantom, "ignored": ignored, "real": real, "real_size": len(real_groups),
            "events": n_events, "batches": n_batches}


def test_legacy_phantom_batches_are_repaired_without_losing_a_label(review, tmp_path):
    legacy = make_legacy(review, tmp_path)
    before = tree_hash(review)

    # checks read the repaired view from a copy in memory and leave the old project as it was
    status = json.loads(cli("status", review, "--json").output)
    assert status["pending_migration"] == 1 and any("older prioritiser" in w for w in status["warnings"])
    samples = {s["batch_id"]: s for s in status["stopping"]["certification_samples"]}
    assert samples[legacy["phantom"]]["void"] and "outside it" in samples[legacy["phantom"]]["void"]
    assert samples[legacy["ignored"]]["void"] and "none of its records" in samples[legacy["ignored"]]["void"]
    assert samples[legacy["real"]]["void"] is None and samples[legacy["real"]]["screened"] == legacy["real_size"]
    recent = {b["batch_id"]: b["screened"] for b in status["recent_batches"]}
    assert legacy["phantom"] not in recent and recent[legacy["real"]] == legacy["real_size"]
    checked = cli("check", review).output
    assert "--repair" in checked and "would be marked void" in checked
    assert tree_hash(review) == before

    repaired = cli("check", review, "--repair").output
    assert "marked void" in repaired and f"random batch {legacy['phantom']}" in repaired
    with Project(review, read_only=True) as project:
        assert project.pending_migration is None and project.last_event_id() == legacy["events"]
        batches = {b["batch_id"]: b for b in project.batches()}
        assert len(batches) == legacy["batches"]
        assert batches[legacy["phantom"]]["void"] and batches[legacy["ignored"]]["void"]
        assert batches[legacy["real"]]["void"] is None
        history = screening_history(project)
        assert history.sampled_randomly.sum() == legacy["real_size"] == history.sample_size
        assert decide_stop(project)["estimate"] == status["stopping"]["estimate"]
    assert "marked void" not in cli("check", review).output  # a repaired project needs nothing more


def test_qa_sample_states_what_it_can_detect(review, tmp_path):
    weak = qa_detection(20, 557)
    assert weak["weak"] and "weak evidence" in weak["statement"]
    assert weak["power"]["2"] == pytest.approx(1 - (537 * 536) / (557 * 556), abs=1e-9)
    assert qa_detection(400, 557)["weak"] is False

    result = cli("audit", review, "--out", tmp_path / "audit", "--qa-power", 0.8, "--qa-missed", 2).output
    assert "80% chance of showing at least one include if 2 were missed" in result and "--qa-sample" in result
    size = int(result.split("--qa-sample ")[1].split()[0])
    assert 100 < size < 405
    result = cli("audit", review, "--out", tmp_path / "audit", "--qa-sample", 20).output
    assert "weak evidence" in result
    prisma = json.loads((tmp_path / "audit" / "prisma.json").read_text())
    detection = prisma["quality_control"]["samples"][0]["detection"]
    assert detection["sample"] == 20 and set(detection["power"]) == {"1", "2", "5"}


def test_audit_report_names_rule_target_assumption_and_the_samples_screened(review, tmp_path):
    legacy = make_legacy(review, tmp_path)
    with Project(review) as project:  # a command that writes repairs on open
        assert project.migrated_from == 1 and sum(bool(b["void"]) for b in project.batches()) == 2
    with Project(review, read_only=True) as project:
        summary = write_audit(project, tmp_path / "audit", target_recall=0.9)
    stopping = json.loads((tmp_path / "audit" / "stopping.json").read_text())
    assert stopping["rule"] == "urn-and-scores" and stopping["target_recall"] == 0.9 and stopping["assumption"]
    assert stopping["decision"] == summary.stopping["decision"]
    default_now = next(r for r in stopping["rules"] if r["default"])
    assert default_now["stop"] == stopping["rule_stop"]
    assert [h["iteration_id"] for h in stopping["by_iteration"]] == list(range(1, len(stopping["by_iteration"]) + 1))
    page = (tmp_path / "audit" / "report.html").read_text(encoding="utf-8")
    assert "urn-and-scores" in page and "target recall 90%" in page and "Assumption." in page
    assert f"label event {stopping['last_event_id']:,}" in page
    assert page.count("void: legacy random batch") == 2 and "counted" in page
    assert "phantom" not in page
    counted = [s for s in stopping["certification_samples"] if not s["void"]]
    assert [s["batch_id"] for s in counted] == [legacy["real"]]


def _loop(tmp: Path, checks: bool) -> tuple[list[list[int]], int | None]:
    """The example screened in ranked batches of 25 from its true labels until ``stop`` says
    STOP. With ``checks``, ``status`` and ``stop`` run on the project itself after every batch
    (through the CLI every third round, else the Python API) and must leave it byte for byte;
    without, ``stop`` runs on a copy. Returns the batches and the records screened at the stop."""
    directory = tmp / "review"
    project, _ = create_project(directory, [DATA / "example_search.ris"])
    with project:
        import_labels(project, DATA / "example_first_decisions.csv", reviewer="ana")
    batches = []
    for i in range(30):
        with Project(directory) as project:
            batches.append(screen_round(project, tmp, i))
        if checks:
            before = tree_hash(directory)
            if i % 3 == 0:
                assert "100.0%" not in cli("status", directory).output  # records are still unscreened
                cli("status", directory, "--json")
                decision = json.loads(cli("stop", directory, "--json", code=None).output)
            else:
                with Project(directory, read_only=True) as project:
                    project_status(project)
                    decision = decide_stop(project)
            assert tree_hash(directory) == before, f"round {i}: a check changed the project"
        else:
            copy = tmp / "copy"
            shutil.rmtree(copy, ignore_errors=True)
            shutil.copytree(directory, copy)
            with Project(copy, read_only=True) as project:
                decision = decide_stop(project)
        if decision["stop"]:
            return batches, decision["counts"]["labelled"]
    return batches, None


def test_checks_after_every_batch_do_not_change_where_screening_stops(tmp_path):
    with_checks = _loop(tmp_path / "checked", checks=True)
    without = _loop(tmp_path / "unchecked", checks=False)
    assert with_checks[1] is not None and with_checks[1] < 500
    assert with_checks == without

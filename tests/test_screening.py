"""The screening loop on the bundled example, through the CLI: init → label → rank → label →
rank → status → stop, with the real engine (no stubs)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from prioritiser.cli import app
from prioritiser.learning import Ranker
from prioritiser.package_data import data_dir
from prioritiser.screening import compute_ranking, rank_project, screening_state
from prioritiser.store import Project

DATA = data_dir()
runner = CliRunner()


def invoke(*args: str):
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result


def oracle() -> dict[int, int]:
    truth = pd.read_csv(DATA / "example.csv")
    return dict(zip(truth.record_id, truth.label_included))


def fill_batch(batch_file: Path) -> int:
    """Answer a batch file as the reviewer would, from the example's true labels."""
    batch = pd.read_csv(batch_file, encoding="utf-8-sig")
    truth = oracle()
    batch["label"] = [truth[r] for r in batch.record_id]
    batch.to_csv(batch_file, index=False)
    return int(batch.label.sum())


def test_loop_ranks_includes_first_and_records_iterations(example_project, tmp_path):
    batch_file = tmp_path / "next.csv"
    result = invoke("rank", example_project, "--batch", 40, "--out", batch_file)
    assert "Iteration 1" in result.output
    batch = pd.read_csv(batch_file, encoding="utf-8-sig")
    assert list(batch.columns)[:8] == ["record_id", "title", "abstract", "authors", "year", "doi", "score", "rank"]
    assert batch["label"].isna().all() and batch["rank"].tolist() == list(range(1, 41))
    assert batch["score"].is_monotonic_decreasing
    found = fill_batch(batch_file)
    # 37 includes remain among 480 unscreened records: random screening would find ~3 in 40.
    assert found >= 10
    invoke("label", example_project, batch_file)
    invoke("rank", example_project, "--batch", 40, "--out", batch_file)
    with Project(example_project) as project:
        iterations = project.iterations()
        assert [it.n_labelled for it in iterations] == [20, 60]
        assert iterations[1].n_included == 3 + found
        latest = project.latest_iteration()
        assert len(latest.group_ids) == 500 - 60
        est = latest.estimates["estimate"]
        assert est["includes_found"] == 3 + found
        assert 0 <= est["recall_lower_95"] <= est["estimated_recall"] <= 1


def test_same_labels_config_and_seed_give_identical_ranking(example_project):
    with Project(example_project) as project:
        first = rank_project(project, batch=10, seed=7)
        second = rank_project(project, batch=10, seed=7)
        a, b = project.iteration(first.iteration_id), project.iteration(second.iteration_id)
        assert np.array_equal(a.group_ids, b.group_ids) and np.array_equal(a.scores, b.scores)
        assert a.config_hash == b.config_hash
        state = screening_state(project)
        ranking = compute_ranking(project, Ranker.from_config(a.config), state=state, progress=False)
        assert np.array_equal(ranking.group_ids, a.group_ids)


def test_query_ranks_before_any_include(tmp_path):
    directory = tmp_path / "fresh"
    invoke("init", directory, "--records", DATA / "example_search.ris")
    result = runner.invoke(app, ["rank", str(directory)])
    assert result.exit_code != 0 and "--query" in result.output and "Traceback" not in result.output
    out = tmp_path / "first.csv"
    invoke("rank", directory, "--batch", 50, "--out", out, "--query", "metagenomics discovery of viruses in farm animals")
    truth = oracle()
    batch = pd.read_csv(out, encoding="utf-8-sig")
    # 40 of 500 records are includes (8%); similarity to the question should beat that clearly.
    assert sum(truth[r] for r in batch.record_id) >= 8


def test_status_and_stop(example_project, tmp_path):
    invoke("rank", example_project, "--batch", 20, "--out", tmp_path / "next.csv")
    result = invoke("status", example_project, "--json")
    status = json.loads(result.output)
    assert status["counts"]["records"] == 500
    rules = {r["rule"] for r in status["rules"]}
    assert len(rules) >= 4 and sum(r["default"] for r in status["rules"]) == 1
    result = runner.invoke(app, ["stop", str(example_project), "--target-recall", "0.95", "--confidence", "0.95"])
    assert result.exit_code == 1 and "CONTINUE" in result.output
    sample = tmp_path / "certify.csv"
    result = runner.invoke(app, ["stop", str(example_project), "--draw-sample", "--out", str(sample)])
    assert result.exit_code == 1 and "Certification sample of" in result.output
    drawn = pd.read_csv(sample, encoding="utf-8-sig")
    assert len(drawn) > 0 and drawn.record_id.is_unique
    with Project(example_project) as project:
        screened = set(project.group_decisions())
        assert not screened & set(drawn.record_id)
        assert project.batches()[-1]["kind"] == "random"


def test_simulate_with_stopping_writes_order_metrics_plot_and_rules(tmp_path):
    out = tmp_path / "sim"
    invoke("simulate", DATA / "example.csv", "--out", out, "--seed", 3, "--stopping")
    order = pd.read_csv(out / "order.csv")
    truth = oracle()
    assert order.record_id.is_unique and set(order.record_id) <= set(truth)
    metrics = json.loads((out / "metrics.json").read_text())
    assert {"n95", "n100", "wss95", "wss100", "rrf10", "loss", "atd"} <= set(metrics)
    assert metrics["wss95"] > 0.3  # random screening gives about -0.05 on average
    assert (out / "recall.png").stat().st_size > 10_000
    rules = json.loads((out / "stopping.json").read_text())
    assert sum(r["default"] for r in rules) == 1
    for rule in rules:
        assert set(rule) >= {"rule", "parameters", "stop_at", "default"}
        assert rule["stop_at"] is None or 2 <= rule["stop_at"] <= len(truth)
    assert len(order) >= max(r["stop_at"] or 0 for r in rules)

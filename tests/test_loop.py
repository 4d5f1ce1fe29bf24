"""The reviewer's loop without surprises (issue 13): every rank hands out its batch, bad
arguments change nothing, label says what it did with every row, reviewers' conflicts come
with the command that settles them, rankings are explained, and the README's Python example
runs as written."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from typer.testing import CliRunner

import prioritiser
from prioritiser.cli import app
from prioritiser.labels import import_labels
from prioritiser.package_data import data_dir
from prioritiser.store import Project

DATA = data_dir()
README = Path(__file__).parents[1] / "README.md"
runner = CliRunner()


def invoke(*args, code: int = 0):
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == code, result.output
    return result


def snapshot(directory: Path):
    """Every row of every table, and the files in the project directory."""
    con = sqlite3.connect(directory / "project.sqlite")
    try:
        tables = [t for (t,) in con.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
        rows = {t: con.execute(f"SELECT * FROM {t}").fetchall() for t in tables}
    finally:
        con.close()
    files = sorted(str(p.relative_to(directory)) for p in directory.rglob("*") if "cache" not in p.parts)
    return rows, files


def write_decisions(path: Path, rows: list[tuple]) -> Path:
    pd.DataFrame(rows, columns=["record_id", "label", "reviewer"][: len(rows[0])]).to_csv(path, index=False)
    return path


# ---------------------------------------------------------------- 1. every rank hands out its batch
def test_rank_without_out_writes_a_numbered_batch_and_names_the_next_command(example_project):
    first = invoke("rank", example_project, "--batch", 5)
    path = example_project / "batches" / "batch-0001.csv"
    assert path.is_file()
    assert f"prioritiser label {example_project} {path}" in " ".join(first.output.split())
    batch = pd.read_csv(path, encoding="utf-8-sig")
    assert len(batch) == 5 and batch["label"].isna().all()
    batch["label"] = 0
    batch.to_csv(path, index=False)
    assert "5 new decisions" in " ".join(invoke("label", example_project, path).output.split())
    invoke("rank", example_project, "--batch", 5)
    assert (example_project / "batches" / "batch-0002.csv").is_file()
    with Project(example_project) as project:
        assert [b["batch_id"] for b in project.batches("ranked")] == [1, 2]


# ---------------------------------------------------------------- 2. bad arguments change nothing
@pytest.mark.parametrize("args, message", [
    (["--out", "z.docx"], "unknown output format .docx"),
    (["--out", "."], "is a folder"),
    (["--batch", "0"], "--batch must be at least 1"),
    (["--model", "nosuch"], "nosuch"),
    (["--set", "classifier=forest"], "unknown classifier 'forest'"),
    (["--set", "classifier"], "expected KEY=VALUE"),
    (["--set", "classifier_params.svm.C=big"], "must be a number"),
    (["--query", "  "], "--query is empty"),
])
def test_a_bad_rank_argument_leaves_the_project_unchanged(example_project, args, message):
    invoke("rank", example_project, "--batch", 5)  # a project with a ranking and a batch
    before = snapshot(example_project)
    result = invoke("rank", example_project, *args, code=2)
    assert message in " ".join(result.output.split())
    assert snapshot(example_project) == before


def test_rank_without_decisions_or_question_stores_nothing(tmp_path):
    directory = tmp_path / "fresh"
    invoke("init", directory, "--records", DATA / "example_search.ris")
    before = snapshot(directory)
    assert "--query" in invoke("rank", directory, code=2).output
    assert snapshot(directory) == before


# ---------------------------------------------------------------- 3. label says what it did
def test_label_counts_add_up_and_say_changes_and_contradictions(example_project, tmp_path):
    first = write_decisions(tmp_path / "a.csv", [(100, 1), (101, 0), (102, 1)])
    invoke("label", example_project, first)
    second = write_decisions(tmp_path / "b.csv", [
        (100, 1),          # unchanged
        (101, 1),          # changed: exclude → include
        (103, 1), (103, 0),  # decided two ways in this file: the last row counts (new), the first is overridden
        (104, ""),         # without a decision
        (99999, 1),        # matches no record
    ])
    result = invoke("label", example_project, second, code=1)
    out = " ".join(result.output.split())
    assert "6 rows: 1 new decisions recorded, 1 unchanged, 1 changed, 1 overridden by a later row, 1 without a decision, 1 matching no record" in out
    assert "exclude → include, record 101" in out
    assert "record 103: line 4 says include, line 5 says exclude; the last row (line 5) counts" in out
    assert "1 of 6 rows match no record" in out and "the other rows were recorded" in out
    with Project(example_project) as project:
        decisions = project.group_decisions()
        assert decisions[101] == "include" and decisions[103] == "exclude"
    again = invoke("label", example_project, second, code=1)  # nothing new the second time
    assert "0 new decisions recorded, 3 unchanged, 0 changed, 1 overridden" in " ".join(again.output.split())


def test_counts_add_up_on_the_summary(example_project, tmp_path):
    path = write_decisions(tmp_path / "c.csv", [(5, 1), (5, 0), (6, ""), (7, 0), (424242, 1)])
    with Project(example_project) as project:
        s = import_labels(project, path)
    assert s.n_rows == s.n_new + s.n_unchanged + s.n_changed + s.n_overridden + s.n_undecided + len(s.unknown) == 5
    assert s.n_events == 2 and s.n_overridden == 1 and len(s.contradictions) == 1


# ---------------------------------------------------------------- 4. reviewer conflicts and adjudication
def test_conflicts_are_said_at_label_time_and_an_adjudicator_settles_them(example_project, tmp_path):
    invoke("label", example_project, write_decisions(tmp_path / "ann.csv", [(200, 1, "ann"), (201, 0, "ann")]))
    result = invoke("label", example_project, write_decisions(tmp_path / "bob.csv", [(200, 0, "bob"), (201, 0, "bob")]))
    out = " ".join(result.output.split())
    assert "1 group(s) now have conflicting decisions" in out and "ann says include, bob says exclude" in out
    assert f"prioritiser label {example_project} FILE --adjudicator NAME" in out
    settled = invoke("label", example_project, write_decisions(tmp_path / "final.csv", [(200, 1)]), "--adjudicator", "cat")
    assert "as adjudications by cat" in " ".join(settled.output.split())
    with Project(example_project) as project:
        assert project.label_conflicts() == []
        assert project.group_decisions()[200] == "include"
        events = project.label_events()
        assert events.iloc[-1]["reviewer"] == "cat" and events.iloc[-1]["batch"].startswith("adjudication ")
    # a reviewer's later decision does not override the adjudication; it is a new conflict
    invoke("label", example_project, write_decisions(tmp_path / "bob2.csv", [(200, "maybe", "bob")]))
    with Project(example_project) as project:
        assert project.group_decisions()[200] == "include"
        assert [g for g, _ in project.label_conflicts()] == [200]


# ---------------------------------------------------------------- 5. explanations
def test_batch_rows_explain_their_rank(example_project):
    invoke("rank", example_project, "--batch", 10)
    batch = pd.read_csv(example_project / "batches" / "batch-0001.csv", encoding="utf-8-sig")
    for column in ("percentile", "top_terms", "similar_include_id", "similar_include_title"):
        assert column in batch.columns
    assert list(batch.columns)[-1] == "label"
    with Project(example_project) as project:
        n = project.info()["unlabelled"]
        includes = {g for g, d in project.group_decisions().items() if d == "include"}
        titles = project.titles(list(includes))
    assert np.allclose(batch["percentile"], np.round(100 * (n - batch["rank"]) / n, 1))
    assert set(batch["similar_include_id"]) <= includes
    assert all(titles[i] == t for i, t in zip(batch["similar_include_id"], batch["similar_include_title"]))
    for text, terms in zip(batch["title"] + " " + batch["abstract"].fillna(""), batch["top_terms"].fillna("")):
        named = [t.rsplit(" (", 1)[0] for t in terms.split("; ") if t]
        assert named, "every record of the batch names terms that pushed it up"
        words = set(re.findall(r"\w\w+", text.lower()))
        assert all(set(term.split()) <= words for term in named)


def test_top_terms_are_the_largest_tfidf_times_coefficient(example_project):
    from prioritiser.learning import Ranker
    from prioritiser.screening import screening_state

    ranker = Ranker.from_preset("fast")
    with Project(example_project) as project:
        state = screening_state(project)
    idx, y = state.training
    X = ranker.extract(state.texts)
    ranker.fit(X, idx, y)
    row = int(state.unscreened[0])
    reasons = ranker.explain(X, [row], [state.texts[row]], idx, y, n_terms=3)
    coef = ranker.models_[0][0].coef_.ravel()
    contributions = sp.csr_matrix(X[row]).multiply(coef).toarray().ravel()
    expected = np.sort(contributions[contributions > 0])[::-1][:3]
    shown = [float(t.rsplit("(", 1)[1].rstrip(")")) for t in reasons["top_terms"][0].split("; ")]
    assert np.allclose(shown, expected, rtol=0.05)
    similar = reasons["similar_include"][0]
    assert similar in idx[y == 1]
    assert np.isclose(reasons["similarity"][0], (X[row] @ X[idx[y == 1]].T).max())


def test_export_explains_the_front_of_the_latest_ranking(example_project, tmp_path):
    invoke("rank", example_project, "--batch", 5)
    out = tmp_path / "all.csv"
    invoke("export", example_project, "--out", out)
    table = pd.read_csv(out, encoding="utf-8-sig")
    unscreened = table[table["label"].isna()].sort_values("rank")
    assert unscreened["percentile"].notna().all() and unscreened["percentile"].is_monotonic_decreasing
    assert unscreened["top_terms"].notna().all() and unscreened["similar_include_id"].notna().all()
    assert table.loc[table["label"].notna(), "percentile"].isna().all()
    before = snapshot(example_project)
    assert "unknown output format" in invoke("export", example_project, "--out", tmp_path / "all.docx", code=2).output
    assert snapshot(example_project) == before


def test_the_audit_says_why_the_model_excluded_records(example_project, tmp_path):
    invoke("rank", example_project, "--batch", 5)
    invoke("audit", example_project, "--out", tmp_path / "audit")
    excluded = pd.read_csv(tmp_path / "audit" / "excluded_by_model.csv", encoding="utf-8-sig")
    assert excluded["percentile"].notna().all() and excluded["percentile"].is_monotonic_decreasing
    assert excluded["top_terms"].notna().all() and excluded["similar_include_id"].notna().all()


# ---------------------------------------------------------------- 7. progress
def stderr_on_a_terminal(*args) -> str:
    """What ``prioritiser ARGS`` writes to stderr when stderr is a terminal (a pseudo-terminal)."""
    import os
    import pty
    import subprocess
    import sys

    master, slave = pty.openpty()
    child = subprocess.Popen([sys.executable, "-m", "prioritiser.cli", *map(str, args)],
                             stdout=subprocess.DEVNULL, stderr=slave)
    os.close(slave)
    written = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        written += chunk
    os.close(master)
    assert child.wait() == 0
    return written.decode("utf-8", errors="replace")


def test_rank_and_export_show_their_steps_on_a_terminal(example_project, tmp_path):
    shown = stderr_on_a_terminal("rank", example_project, "--batch", 5)
    for step in ("Reading the project", "Extracting features (tfidf) of 500 records",
                 "Fitting on 20 decisions and scoring 480 records", "Estimating recall"):
        assert step in shown
    assert "Refitting iteration 1's model" in stderr_on_a_terminal("export", example_project, "--out", tmp_path / "a.csv")


def test_simulation_reports_progress(tmp_path):
    from prioritiser.learning import Ranker
    from prioritiser.simulate import load_dataset, simulate

    frame = load_dataset(prioritiser.example_dataset())
    ranker = Ranker.from_preset("fast")
    X = ranker.extract(frame["text"].tolist())
    seen = []
    labels = frame["label"].to_numpy()
    priors = [int(np.flatnonzero(labels == 1)[0]), int(np.flatnonzero(labels == 0)[0])]
    order, _, _ = simulate(X, labels, priors, ranker, batch=25, report=lambda done, total: seen.append((done, total)))
    assert seen and seen[-1] == (len(order), len(labels))
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


# ---------------------------------------------------------------- 15. the Python API
def test_api_names_are_the_functions_the_commands_call():
    import prioritiser.export
    import prioritiser.simulate
    import prioritiser.status
    from prioritiser.export import export_records
    from prioritiser.screening import rank_project
    from prioritiser.status import decide_stop, project_status

    assert prioritiser.rank is rank_project and prioritiser.export is export_records
    assert prioritiser.status is project_status and prioritiser.stop is decide_stop
    assert callable(prioritiser.simulate) and callable(prioritiser.audit)


def readme_python_example() -> str:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Python API"):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_readme_python_example_runs_as_written(tmp_path, monkeypatch):
    code = readme_python_example()
    assert len([line for line in code.splitlines() if line.strip()]) <= 12
    monkeypatch.chdir(tmp_path)
    exec(compile(code, str(README), "exec"), {})
    assert (tmp_path / "api-review" / "batches" / "batch-0001.csv").is_file()
    assert (tmp_path / "api-all.csv").is_file() and (tmp_path / "api-audit" / "manifest.json").is_file()


def readme_loop() -> list[list[str]]:
    """The commands of the README's screening loop, ``$P`` and ``$D`` filled in."""
    import shlex

    text = README.read_text(encoding="utf-8")
    block = re.search(r"```bash\n(.*?)```", text[text.index("## The screening loop"):], re.S).group(1)
    commands = []
    for line in block.splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("$P "):
            commands.append([a.replace("$D", str(DATA)) for a in shlex.split(line)[1:]])
    return commands


def test_the_readme_loop_runs_as_written(tmp_path, monkeypatch):
    commands = readme_loop()
    assert [c[0] for c in commands] == ["init", "label", "rank", "label", "status", "stop", "rank", "audit", "export"]
    monkeypatch.chdir(tmp_path)
    outputs = [invoke(*command, code=1 if command[0] == "stop" else 0).output for command in commands]  # stop: CONTINUE
    last_batch = re.search(r"prioritiser label myreview (\S+)", outputs[-3]).group(1)
    assert (tmp_path / last_batch).is_file() and last_batch != "myreview/batches/batch-0001.csv"
    assert (tmp_path / "all.ris").is_file() and (tmp_path / "audit" / "report.html").is_file()

"""Handing out batches (ranked, certification sample, QA sample) through the one routine:
the batch, what it comes with and its file are saved together or not at all."""

from __future__ import annotations

import pandas as pd
import pytest

from prioritiser.audit import draw_qa_sample
from prioritiser.errors import UserError
import prioritiser.io
from prioritiser.screening import rank_project
from prioritiser.status import draw_certification_sample
from prioritiser.store import Project


def saved(project: Project) -> tuple:
    return (len(project.iterations()), len(project.batches()))


def leftovers(folder) -> list[str]:
    return [p.name for p in folder.iterdir() if ".writing-" in p.name]


def failing_writer(monkeypatch):
    """A writer that writes part of the file, then fails (as a full disk would)."""
    def write_table(frame, path):
        path.write_text("record_id\n1\n")
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr(prioritiser.io, "write_table", write_table)


def test_rank_replaces_the_batch_file_whole_and_leaves_no_temporary_file(example_project, tmp_path):
    out = tmp_path / "next.csv"
    out.write_text("an older, longer batch\n" * 100)
    with Project(example_project) as project:
        result = rank_project(project, batch=5, out=out, progress=False)
        assert project.batches()[-1]["iteration_id"] == result.iteration_id
    batch = pd.read_csv(out, encoding="utf-8-sig")
    assert batch["record_id"].tolist() == result.batch["record_id"].tolist() and len(batch) == 5
    assert leftovers(tmp_path) == []


def test_a_failed_batch_write_stores_neither_iteration_nor_batch(example_project, tmp_path, monkeypatch):
    out = tmp_path / "next.csv"
    out.write_text("the previous batch\n")
    failing_writer(monkeypatch)
    with Project(example_project) as project:
        with pytest.raises(OSError):
            rank_project(project, batch=5, out=out, progress=False)
        assert saved(project) == (0, 0)
    assert out.read_text() == "the previous batch\n" and leftovers(tmp_path) == []


@pytest.mark.parametrize("name", ["next.txt", "next"])
def test_an_unknown_batch_format_is_refused_naming_the_file(example_project, tmp_path, name):
    with Project(example_project) as project:
        with pytest.raises(UserError, match=f"{name}: unknown output format"):
            rank_project(project, batch=5, out=tmp_path / name, progress=False)
        assert saved(project) == (0, 0)


def test_a_failed_certification_sample_records_no_batch(example_project, tmp_path, monkeypatch):
    with Project(example_project) as project:
        rank_project(project, batch=5, progress=False)
        failing_writer(monkeypatch)
        with pytest.raises(OSError):
            draw_certification_sample(project, tmp_path / "certify.csv")
        assert saved(project) == (1, 1)
        monkeypatch.undo()
        drawn = draw_certification_sample(project, tmp_path / "certify.csv")
        random = project.batches("random")
        assert drawn["records"] > 0 and len(random) == 1 and len(random[0]["group_ids"]) == drawn["records"]
    assert len(pd.read_csv(tmp_path / "certify.csv", encoding="utf-8-sig")) == drawn["records"]


def test_a_failed_qa_sample_records_no_batch(example_project, tmp_path, monkeypatch):
    with Project(example_project) as project:
        rank_project(project, batch=5, progress=False)
        failing_writer(monkeypatch)
        with pytest.raises(OSError):
            draw_qa_sample(project, 10, seed=1, out=tmp_path / "qa.csv")
        assert project.batches("qa") == [] and not (tmp_path / "qa.csv").exists()
        monkeypatch.undo()
        frame = draw_qa_sample(project, 10, seed=1, out=tmp_path / "qa.csv")
        qa = project.batches("qa")
        assert len(qa) == 1 and qa[0]["group_ids"].tolist() == frame["record_id"].tolist()

"""Commands that run at the same time on one project: no write is lost, the state stays
consistent, and a command that has to wait says so (or gives up with a clear message)."""

from __future__ import annotations

import random
import sqlite3
import time

import pytest

from helpers_reliability import Child, Corpus, N_RECORDS, copy_project, one_error_line, state_of, write_labels
from prioritiser.errors import UserError
from prioritiser.labels import import_labels
from prioritiser.store import connection as project_module
from prioritiser.store import DB_NAME, Project

WAITING = "waiting for another prioritiser command"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Corpus:
    return Corpus.shared(tmp_path_factory)


@pytest.fixture
def project_dir(corpus, tmp_path):
    return copy_project(corpus.base, tmp_path / "project")


def decisions(seed: int, ids: list[int]) -> dict[int, str]:
    rng = random.Random(seed)
    return {i: rng.choice(["include", "exclude", "maybe"]) for i in ids}


class WriteLock:
    """Holds the project's write lock (BEGIN IMMEDIATE) as another command's transaction would."""

    def __init__(self, directory):
        self.con = sqlite3.connect(directory / DB_NAME, isolation_level=None)
        self.con.execute("BEGIN IMMEDIATE")

    def release(self):
        self.con.execute("COMMIT")
        self.con.close()


def wait_for_text(child: Child, text: str, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and child.proc.poll() is None:
        if text in child.stderr_text():
            return True
        time.sleep(0.02)
    return text in child.stderr_text()


def test_two_label_commands_at_once_keep_every_decision(corpus, project_dir, tmp_path):
    """Two reviewers import at the same moment; the second waits for the first and says so."""
    before = state_of(project_dir)
    ids = random.Random(1).sample(range(1, N_RECORDS + 1), 600)
    files = [write_labels(tmp_path / "carla.csv", decisions(2, ids[:300]), reviewer="carla"),
             write_labels(tmp_path / "dev.csv", decisions(3, ids[300:]), reviewer="dev")]
    lock = WriteLock(project_dir)  # both start and block at their write, then race for the lock
    children = [Child(["label", str(project_dir), str(f)], tmp_path) for f in files]
    assert all(wait_for_text(c, WAITING) for c in children)
    lock.release()
    outcomes = [c.wait() for c in children]
    assert [o.returncode for o in outcomes] == [0, 0], [o.stderr for o in outcomes]
    after = state_of(project_dir)
    assert after.events[: len(before.events)] == before.events
    new = after.events[len(before.events):]
    assert sorted((e[1], e[2], e[3]) for e in new) == sorted(
        (rid, d, reviewer) for reviewer, seed, part in (("carla", 2, ids[:300]), ("dev", 3, ids[300:]))
        for rid, d in decisions(seed, part).items())


def test_same_file_imported_twice_at_once_is_recorded_once(corpus, project_dir, tmp_path):
    """Importing a file twice changes nothing, also when both imports run at the same time."""
    before = state_of(project_dir)
    ids = random.Random(4).sample(range(1, N_RECORDS + 1), 200)
    labels = write_labels(tmp_path / "erin.csv", decisions(5, ids), reviewer="erin")
    lock = WriteLock(project_dir)
    children = [Child(["label", str(project_dir), str(labels)], tmp_path) for _ in range(2)]
    assert all(wait_for_text(c, WAITING) for c in children)
    lock.release()
    outcomes = [c.wait() for c in children]
    assert [o.returncode for o in outcomes] == [0, 0], [o.stderr for o in outcomes]
    assert state_of(project_dir).info["label_events"] == before.info["label_events"] + len(ids)
    assert sorted("200 new decisions" in o.stdout or "0 new decisions" in o.stdout for o in outcomes) == [True, True]


@pytest.mark.slow
def test_add_and_label_at_once(corpus, project_dir, tmp_path):
    before = state_of(project_dir)
    ids = random.Random(6).sample(range(1, N_RECORDS + 1), 300)
    labels = write_labels(tmp_path / "fay.csv", decisions(7, ids), reviewer="fay")
    lock = WriteLock(project_dir)
    add = Child(["add", str(project_dir), "--records", str(corpus.update)], tmp_path)
    label = Child(["label", str(project_dir), str(labels)], tmp_path)
    assert wait_for_text(add, WAITING) and wait_for_text(label, WAITING)
    lock.release()
    assert add.wait().returncode == 0 and label.wait().returncode == 0
    after = state_of(project_dir)
    assert after.records == corpus.reference("add").after.records
    assert after.info["label_events"] == before.info["label_events"] + len(ids)
    assert after.events[: len(before.events)] == before.events


@pytest.mark.slow
def test_label_while_rank_runs(corpus, project_dir, tmp_path):
    """A decision imported while rank trains is kept; rank's iteration records the decisions
    it trained on (those before the import), so the ranking stays reproducible."""
    before = state_of(project_dir)
    ids = random.Random(8).sample(range(1, N_RECORDS + 1), 300)
    labels = write_labels(tmp_path / "gus.csv", decisions(9, ids), reviewer="gus")
    rank = Child(["rank", str(project_dir), "--batch", "10", "--out", str(tmp_path / "batch.csv")], tmp_path)
    assert rank.wait_for_open() is not None
    label = Child(["label", str(project_dir), str(labels)], tmp_path).wait()
    assert label.returncode == 0, label.stderr
    ranked = rank.wait()
    assert ranked.returncode == 0, ranked.stderr
    after = state_of(project_dir)
    assert after.events[: len(before.events)] == before.events
    assert after.info["label_events"] == before.info["label_events"] + len(ids)
    (iteration,) = [it for it in after.iterations if it not in before.iterations]
    assert iteration[2] in (before.info["label_events"], after.info["label_events"])


@pytest.mark.slow
def test_two_inits_of_one_directory(corpus, tmp_path):
    """Exactly one wins; the other fails with one line; the project is complete; no build
    directory is left behind."""
    target = tmp_path / "new"
    children = [Child(["init", str(target), "--records", str(corpus.search)], tmp_path) for _ in range(2)]
    outcomes = sorted((c.wait() for c in children), key=lambda o: o.returncode)
    assert [o.returncode == 0 for o in outcomes] == [True, False], [o.stderr for o in outcomes]
    assert "already exists" in one_error_line(outcomes[1].stderr)
    assert state_of(target).records == corpus.reference("init").after.records
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_writer_gives_up_with_a_clear_message(corpus, project_dir, tmp_path, monkeypatch):
    """When another command holds the project too long, the wait ends in a UserError that
    says so, after one waiting message; nothing is written."""
    monkeypatch.setattr(project_module, "LOCK_TIMEOUT_S", 1.5)
    before = state_of(project_dir)
    labels = write_labels(tmp_path / "hal.csv", decisions(10, [1, 2, 3]), reviewer="hal")
    lock = WriteLock(project_dir)
    messages: list[str] = []
    try:
        with Project(project_dir, on_wait=messages.append) as project:
            with pytest.raises(UserError, match="another prioritiser command holds the project") as error:
                import_labels(project, labels)
            assert "\n" not in str(error.value)
    finally:
        lock.release()
    assert len(messages) == 1 and WAITING in messages[0]
    assert state_of(project_dir) == before

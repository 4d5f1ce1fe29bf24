"""SIGKILL during ``init``, ``add``, ``label`` and ``rank`` (the real CLI in a child process)
never loses a committed label event and never leaves a half-done command behind.

Faults: a kill after a seeded random delay counted from the moment the child opened the
project (or, where such delays missed the commit, from the moment it printed its report); a
kill just before a chosen SQL statement (a COMMIT, the statement after it, the command's last
statement, seeded random statements, rank's INSERT of its batch); a kill as soon as the COMMIT
returned. After each, the project must open, pass
``prioritiser check``, hold every event committed before the command byte for byte, and equal
either the state before the command or the state an uninterrupted run leaves. ``init`` must
leave no project directory or a complete one; the build directory a killed ``init`` leaves is
removed by the next ``init`` in that folder.
"""

from __future__ import annotations

import os
import random
import subprocess

import pytest

from helpers_reliability import (
    REPORTS, Corpus, commit_points, kill_after_report, kill_at_statement, run, signal_after_call, state_of, stop_after,
)
from prioritiser.importing import create_project
from prioritiser.store import DB_NAME, remove_stale_builds


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Corpus:
    return Corpus.shared(tmp_path_factory)


def kill_trial(corpus: Corpus, command: str, tag: str, delay: float, after_report: bool = False) -> tuple[str, bool]:
    """Kill one run ``delay`` seconds after it opened the project (``after_report``: after it
    printed its report). Returns which state it left and whether the kill hit the running
    command (False: it had finished first)."""
    target = corpus.target(command, tag)
    args = corpus.args(command, target)
    if after_report:
        outcome = kill_after_report(args, corpus.root, REPORTS[command], delay)
    else:
        outcome = stop_after(args, corpus.root, delay)
    assert outcome.returncode in (0, -9), outcome.stderr
    return corpus.survived(command, target), outcome.returncode == -9


def random_delay_trials(corpus: Corpus, command: str, seed: int, n: int) -> list[str]:
    """Kill ``n`` runs after seeded random delays within the command's work; which state each left."""
    rng = random.Random(seed)
    window = corpus.reference(command).window
    return [kill_trial(corpus, command, f"kill-{seed}-{k}", rng.uniform(0, window))[0] for k in range(n)]


def statement_trials(corpus: Corpus, command: str, numbers: list[int]) -> dict[int, str]:
    """Kill just before each of the statements ``numbers`` (1-based); which state each left.
    A kill before a COMMIT must leave the project as it was before the command."""
    trace = corpus.trace(command)
    seen = {}
    for number in sorted(set(numbers)):
        target = corpus.target(command, f"statement-{number}")
        outcome = kill_at_statement(corpus.args(command, target), corpus.root, number)
        assert outcome.returncode == -9, f"statement {number} ({trace[number - 1]}): {outcome.stderr}"
        seen[number] = corpus.survived(command, target)
        if number == commit_points(trace)[0]:
            assert seen[number] == "before", f"killed before its first COMMIT, {command} still changed the project"
    return seen


# ----------------------------------------------------------------------------- default run
@pytest.mark.parametrize("command,seed", [("init", 1), ("add", 2), ("label", 3)])
def test_kill_after_random_delay_leaves_before_or_after(corpus, command, seed):
    random_delay_trials(corpus, command, seed=seed, n=1)


@pytest.mark.parametrize("command", [
    "label", pytest.param("add", marks=pytest.mark.slow), pytest.param("init", marks=pytest.mark.slow)])
def test_kill_just_before_and_after_commit(corpus, command):
    """Killed just before the command's last COMMIT runs: nothing of it is there. Killed as
    soon as that COMMIT returned: all of it is (for init, once the project was renamed into
    place: its last statement)."""
    trace = corpus.trace(command)
    last_commit = commit_points(trace)[-1]
    assert statement_trials(corpus, command, [last_commit]) == {last_commit: "before"}
    if command == "init":
        assert statement_trials(corpus, command, [len(trace)]) == {len(trace): "after"}
        return
    calls = corpus.trace(command, fault="kill-call")
    target = corpus.target(command, "after-commit")
    outcome = signal_after_call(corpus.args(command, target), corpus.root, commit_points(calls)[-1], fault="kill-call")
    assert outcome.returncode == -9
    assert corpus.survived(command, target) == "after"


@pytest.mark.slow
def test_kill_during_rank_keeps_labels(corpus):
    """Killed at a seeded random moment of its work, rank leaves every label event and either
    no new iteration or a complete one."""
    assert random_delay_trials(corpus, "rank", seed=7, n=1)


def assert_iterations_have_batches(state) -> None:
    """Every stored iteration has the batch it handed out, and every batch its iteration."""
    assert {b[1] for b in state.batches} == {i[0] for i in state.iterations}, (state.iterations, state.batches)


@pytest.mark.slow
def test_kill_around_rank_commit_stores_iteration_and_batch_together(corpus):
    """rank stores its iteration and the batch it hands out in one transaction. Killed just
    before the INSERT of the batch (the iteration's INSERT has run) or just before the COMMIT,
    neither is there; killed as soon as the COMMIT returned, both are. Either way every label
    event is kept and the project passes ``check``."""
    trace = corpus.trace("rank")
    commits = commit_points(trace)
    number = {kind: next(i + 1 for i, sql in enumerate(trace) if sql.startswith(f"INSERT INTO {kind}"))
              for kind in ("iterations", "batches")}
    begin = max(i + 1 for i, sql in enumerate(trace[: commits[-1]]) if sql.upper().startswith("BEGIN"))
    assert len(commits) == 1 and begin < number["iterations"] < number["batches"] < commits[0], (
        f"rank no longer stores its iteration and its batch in one transaction: {trace}")
    seen = statement_trials(corpus, "rank", [number["batches"], commits[0]])
    assert seen == {number["batches"]: "before", commits[0]: "before"}
    for kill_at in seen:
        assert_iterations_have_batches(state_of(corpus.root / f"rank-statement-{kill_at}"))
    calls = corpus.trace("rank", fault="kill-call")
    target = corpus.target("rank", "after-commit")
    outcome = signal_after_call(corpus.args("rank", target), corpus.root, commit_points(calls)[-1], fault="kill-call")
    assert outcome.returncode == -9
    assert corpus.survived("rank", target) == "after"
    after = state_of(target)
    assert_iterations_have_batches(after)
    assert len(after.iterations) == len(corpus.reference("rank").before.iterations) + 1


# ----------------------------------------------------------------------------- sweeps
EXTRA_TRIES = 4


@pytest.mark.slow
@pytest.mark.parametrize("command", ["init", "add", "label", "rank"])
def test_kill_sweep_random_delays(corpus, command):
    """12 kills at seeded random delays within the command's work, each leaving the project as
    before or as after the command. The kills must span the command's commit: at least one
    must hit the running command before it and one after it (a run that ended before its kill
    counts for neither). How many land after the commit depends on the machine's load (rank
    commits at the very end of its work, so its random kills almost never land after the commit);
    when the random delays missed a side,
    up to EXTRA_TRIES more kills aim at it: early in the work for 'before'; for 'after', a
    seeded random 0-20 ms after the command printed its report, which it does only once its
    changes are committed."""
    rng = random.Random(1234)
    window = corpus.reference(command).window
    trials = [(*kill_trial(corpus, command, f"sweep-{k}", delay), delay)
              for k, delay in enumerate(rng.uniform(0, window) for _ in range(12))]
    for k in range(EXTRA_TRIES):
        hit = {state for state, killed, _ in trials if killed}
        if hit >= {"before", "after"}:
            break
        if "before" not in hit:
            delay = rng.uniform(0, window / 4)
            trials.append((*kill_trial(corpus, command, f"sweep-extra-{k}", delay), delay))
        else:
            delay = rng.uniform(0, 0.02)
            trials.append((*kill_trial(corpus, command, f"sweep-extra-{k}", delay, after_report=True), f"report+{delay}"))
    hit = {state for state, killed, _ in trials if killed}
    assert hit >= {"before", "after"}, f"the kills did not span the commit (state, killed, delay): {trials}"


@pytest.mark.slow
@pytest.mark.parametrize("command", ["init", "add", "label", "rank"])
def test_kill_sweep_statements(corpus, command):
    """Kill before every COMMIT, the statement after each, 12 seeded random statements and the last."""
    trace = corpus.trace(command)
    numbers = [n for c in commit_points(trace) for n in (c, c + 1) if n <= len(trace)] + [len(trace)]
    numbers += random.Random(99).sample(range(1, len(trace) + 1), min(12, len(trace)))
    seen = statement_trials(corpus, command, numbers)
    if not trace[-1].upper().startswith("COMMIT"):  # the last statement runs after the command's COMMIT
        assert seen[len(trace)] == "after"


# ----------------------------------------------------------------------------- init's build directory
def dead_pid() -> int:
    """The id of a process that has ended."""
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_init_removes_stale_build_directories_only(tmp_path):
    """``init`` removes the ``.NAME.creating-PID`` folders of killed inits in its parent folder,
    and nothing else: not a build whose process still runs, not a folder holding other files,
    not a link, a file or a name that only looks alike."""
    dead, alive = dead_pid(), os.getpid()
    stale = [tmp_path / f".old.creating-{dead}", tmp_path / f".other.creating-{dead}"]
    stale[0].mkdir()
    for name in (DB_NAME, f"{DB_NAME}-wal", f"{DB_NAME}-shm"):
        (stale[0] / name).write_bytes(b"half a project")
    stale[1].mkdir()  # killed just after making its folder
    kept = {
        f".busy.creating-{alive}": "dir",  # a build in progress
        f".mine.creating-{dead}": "foreign",  # holds a file that no init writes
        f".link.creating-{dead}": "link",
        f".file.creating-{dead}": "file",
        f"plain.creating-{dead}": "dir",  # no leading dot
        f".name.creating-{dead}x": "dir",
        ".name.creating-": "dir",
        f".name.creating-0{dead}": "dir",
    }
    for name, kind in kept.items():
        path = tmp_path / name
        if kind == "file":
            path.write_text("data")
        elif kind == "link":
            path.symlink_to(stale[0])
        else:
            path.mkdir()
            if kind == "foreign":
                (path / DB_NAME).write_text("")
                (path / "notes.txt").write_text("mine")
    records = tmp_path / "search.csv"
    records.write_text("title,abstract\nA record,text\n", encoding="utf-8")
    create_project(tmp_path / "review", [records])[0].close()
    assert not any(path.exists() for path in stale)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*kept, "review", "search.csv"])
    assert remove_stale_builds(tmp_path) == []
    assert remove_stale_builds(tmp_path / "missing") == []


def test_init_after_a_killed_init_cleans_up(corpus):
    """SIGKILL an init halfway through its import: it leaves its build folder (a killed process
    cannot clean up) and no project; the next init of the same project succeeds and removes it."""
    trace = corpus.trace("init")
    target = corpus.target("init", "killed-then-again")
    outcome = kill_at_statement(corpus.args("init", target), corpus.root, commit_points(trace)[-1])
    assert outcome.returncode == -9
    leftovers = list(target.parent.glob(f".{target.name}.creating-*"))
    assert len(leftovers) == 1 and (leftovers[0] / DB_NAME).is_file() and not target.exists()
    again = run(corpus.args("init", target), corpus.root)
    assert again.returncode == 0, again.stderr
    assert not leftovers[0].exists()
    assert corpus.survived("init", target, build_dir_allowed=False) == "after"

"""SIGKILL during ``init``, ``add``, ``label`` and ``rank`` (the real CLI in a child process)
never loses a committed label event and never leaves a half-done command behind.

Faults: a kill after a seeded random delay counted from the moment the child opened the
project; a kill just before a chosen SQL statement (a COMMIT, the statement after it, the
command's last statement, seeded random statements); a kill as soon as the COMMIT returned.
After each, the project must open, pass
``prioritiser check``, hold every event committed before the command byte for byte, and equal
either the state before the command or the state an uninterrupted run leaves. ``init`` must
leave no project directory or a complete one.
"""

from __future__ import annotations

import random

import pytest

from helpers_reliability import Corpus, commit_points, kill_at_statement, signal_after_call, stop_after


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Corpus:
    return Corpus.shared(tmp_path_factory)


def random_delay_trials(corpus: Corpus, command: str, seed: int, n: int) -> list[str]:
    """Kill ``n`` runs after seeded random delays within the command's work; which state each left."""
    rng = random.Random(seed)
    window = corpus.reference(command).window
    seen = []
    for k in range(n):
        target = corpus.target(command, f"kill-{seed}-{k}")
        outcome = stop_after(corpus.args(command, target), corpus.root, rng.uniform(0, window))
        assert outcome.returncode in (0, -9), outcome.stderr
        seen.append(corpus.survived(command, target))
    return seen


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


@pytest.mark.slow
def test_kill_between_rank_iteration_and_batch(corpus):
    """rank stores an iteration and the batch it hands out: killed after the first COMMIT, both
    or neither must be there."""
    first = commit_points(corpus.trace("rank"))[0]
    assert statement_trials(corpus, "rank", [first + 1]) == {first + 1: "after"}


# ----------------------------------------------------------------------------- sweeps
@pytest.mark.slow
@pytest.mark.parametrize("command", ["init", "add", "label", "rank"])
def test_kill_sweep_random_delays(corpus, command):
    seen = random_delay_trials(corpus, command, seed=1234, n=12)
    assert "before" in seen and "after" in seen, seen  # the delays spanned the command's commit


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

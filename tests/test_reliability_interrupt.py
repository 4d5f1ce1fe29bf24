"""Ctrl-C (SIGINT to the process group) during ``init``, ``add``, ``label`` and ``rank``.

The command must end with exit status 130, one ``error:`` line on stderr, no traceback, and
the project as it was before the command. A Ctrl-C that lands after the command committed
(while it prints its summary) leaves the project as after the command, and then the message
must not claim that nothing was written: a user who believes an ``add`` was undone and runs it
again would import every record twice.
"""

from __future__ import annotations

import random
import signal

import pytest

from helpers_reliability import Corpus, commit_points, signal_after_call, one_error_line, stop_after

NOTHING_WRITTEN = "nothing was written"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Corpus:
    return Corpus.shared(tmp_path_factory)


def interrupt_trials(corpus: Corpus, command: str, delays: list[float]) -> list[str]:
    """Send SIGINT ``delay`` seconds after the command opened the project; which state each left."""
    seen = []
    for k, delay in enumerate(delays):
        target = corpus.target(command, f"sigint-{k}")
        outcome = stop_after(corpus.args(command, target), corpus.root, delay, sig=signal.SIGINT)
        state = corpus.survived(command, target, build_dir_allowed=False)
        if not outcome.signalled:
            continue  # it had finished: nothing to interrupt
        assert outcome.returncode in (130, -signal.SIGINT) and "Traceback" not in outcome.stderr, outcome
        if _without_report(outcome.stderr).strip():
            message = one_error_line(_without_report(outcome.stderr))
            assert "interrupted" in message
            assert (NOTHING_WRITTEN in message) == (state == "before"), f"{state}: {message}"
        else:  # interrupted while Python shut down, after the command had done its work and said so
            assert outcome.returncode == -signal.SIGINT and state == "after" and outcome.stdout.strip(), outcome
        seen.append(state)
    return seen


def _without_report(stderr: str) -> str:
    """Drop the indented report lines (label's unmatched rows and conflicts) from stderr."""
    return "\n".join(line for line in stderr.splitlines() if not line.startswith("  "))


@pytest.mark.parametrize("command,seed", [
    ("label", 13), pytest.param("init", 11, marks=pytest.mark.slow), pytest.param("add", 12, marks=pytest.mark.slow)])
def test_ctrl_c_leaves_project_as_before_with_one_line(corpus, command, seed):
    window = corpus.reference(command).window
    rng = random.Random(seed)
    seen = interrupt_trials(corpus, command, [rng.uniform(0, 0.6 * window), rng.uniform(0.6 * window, window)])
    assert seen, "no interrupt landed while the command ran"


@pytest.mark.parametrize("command", ["add", pytest.param("label", marks=pytest.mark.slow)])
def test_ctrl_c_just_before_or_after_commit(corpus, command):
    """Ctrl-C right after the last call before the COMMIT: nothing is written and the message
    says so; right after the COMMIT returned (while the summary is made): all is written and
    the message says the project was updated, so that nobody runs ``add`` twice."""
    calls = corpus.trace(command, fault="sigint-call")
    commit = commit_points(calls)[-1]
    for number, expected in ((commit - 1, "before"), (commit, "after")):
        target = corpus.target(command, f"sigint-call-{number}")
        outcome = signal_after_call(corpus.args(command, target), corpus.root, number)
        assert outcome.returncode == 130, outcome
        message = one_error_line(_without_report(outcome.stderr))
        assert corpus.survived(command, target) == expected
        assert ("updated" in message) == (expected == "after") and (NOTHING_WRITTEN in message) == (expected == "before")


@pytest.mark.slow
def test_ctrl_c_during_rank(corpus):
    window = corpus.reference("rank").window
    rng = random.Random(14)
    assert interrupt_trials(corpus, "rank", [rng.uniform(0, window)])


@pytest.mark.slow
@pytest.mark.parametrize("command", ["init", "add", "label", "rank"])
def test_ctrl_c_sweep(corpus, command):
    window = corpus.reference(command).window
    rng = random.Random(4321)
    seen = interrupt_trials(corpus, command, [rng.uniform(0, window) for _ in range(10)])
    assert "before" in seen

"""Ctrl-C (SIGINT to the process group) during ``init``, ``add``, ``label`` and ``rank``.

The command must end with exit status 130, one ``error:`` line on stderr, no traceback, and
the project as it was before the command. A Ctrl-C that lands after the command committed
(while it prints its summary) leaves the project as after the command, and then the message
must not claim that nothing was written: a user who believes an ``add`` was undone and runs it
again would import every record twice. A Ctrl-C while Python still loads the command line's
modules ends the same way (one line, status 130), not in a ``KeyboardInterrupt`` traceback.
"""

from __future__ import annotations

import random
import signal
import sys

import pytest

from helpers_reliability import (
    CLI, REPO, Child, Corpus, commit_points, signal_after_call, one_error_line, state_of, stop_after,
)
from prioritiser import cli
from prioritiser.store.connection import Connection

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


# ----------------------------------------------------------------------------- Ctrl-C while starting
#: Loaded by Python's ``site`` (through PYTHONPATH) into the real console script: sends the
#: process SIGINT, as a terminal's Ctrl-C does, as soon as the module named in
#: RELIABILITY_INTERRUPT_IMPORT starts to load, inside a weakref callback (where Python cannot
#: raise it) when the module named in RELIABILITY_INTERRUPT_IN_CALLBACK starts to load, or
#: (RELIABILITY_INTERRUPT_AT_EXIT) in the last exit handler Python runs as it shuts down.
SITECUSTOMIZE = """
import atexit, os, signal, sys, time, weakref
class InterruptImport:
    def find_spec(self, name, path=None, target=None):
        if name == os.environ.get("RELIABILITY_INTERRUPT_IMPORT"):
            sys.meta_path.remove(self)
            os.kill(os.getpid(), signal.SIGINT)
        if name == os.environ.get("RELIABILITY_INTERRUPT_IN_CALLBACK"):
            sys.meta_path.remove(self)
            class Referent:
                pass
            def callback(_):
                os.kill(os.getpid(), signal.SIGINT)
                for _ in range(10000):  # the handler runs here, inside the callback
                    pass
            referent = Referent()
            ref = weakref.ref(referent, callback)
            del referent
        return None
sys.meta_path.insert(0, InterruptImport())
def interrupt_at_exit():
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(0.5)
    sys.stderr.write("still running after SIGINT\\n")
if os.environ.get("RELIABILITY_INTERRUPT_AT_EXIT"):
    atexit.register(interrupt_at_exit)
"""


def run_with_sitecustomize(corpus: Corpus, tmp_path, target, **env: str):
    """Run ``prioritiser label`` (the installed console script) on ``target`` with SITECUSTOMIZE."""
    assert CLI[0].endswith("prioritiser"), "the test needs the installed console script"
    (tmp_path / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
    return Child(corpus.args("label", target), corpus.root, env={"PYTHONPATH": f"{tmp_path}:{REPO}", **env}).wait()


@pytest.mark.parametrize("module", [
    "prioritiser.cli",  # the console script's first import of the command line
    "typer", "rich.console",  # imported by prioritiser.cli
    "prioritiser.store.project",  # imported by the command itself, once it runs
])
def test_ctrl_c_while_loading_modules(corpus, tmp_path, module):
    """Ctrl-C while ``prioritiser label`` loads its modules (the first ~0.3 s of a command):
    exit status 130, one error line saying nothing was written, no traceback, no change."""
    target = corpus.target("label", f"sigint-loading-{module}")
    before = state_of(target)
    outcome = run_with_sitecustomize(corpus, tmp_path, target, RELIABILITY_INTERRUPT_IMPORT=module)
    assert outcome.returncode == 130, outcome
    message = one_error_line(outcome.stderr)
    assert "interrupted" in message and NOTHING_WRITTEN in message, message
    assert outcome.stdout == ""
    assert state_of(target) == before


def test_ctrl_c_that_python_would_swallow_in_a_callback(corpus, tmp_path):
    """A Ctrl-C that lands in a weakref callback (as in the import system's module-lock
    cleanup) is not printed as an ignored exception and lost: the command ends as interrupted
    (status 130, one line saying nothing was written, no traceback, no change)."""
    target = corpus.target("label", "sigint-in-callback")
    before = state_of(target)
    outcome = run_with_sitecustomize(corpus, tmp_path, target, RELIABILITY_INTERRUPT_IN_CALLBACK="prioritiser.store.project")
    assert outcome.returncode == 130 and "Traceback" not in outcome.stderr and "ignored" not in outcome.stderr, outcome
    message = one_error_line(outcome.stderr)
    assert "interrupted" in message and NOTHING_WRITTEN in message, message
    assert state_of(target) == before


def test_ctrl_c_while_python_shuts_down(corpus, tmp_path):
    """Ctrl-C after the command finished and reported, while Python runs its exit handlers:
    the process ends silently, killed by SIGINT (no traceback from the shutdown code), with
    its report complete and the project as after the command."""
    target = corpus.target("label", "sigint-at-exit")
    outcome = run_with_sitecustomize(corpus, tmp_path, target, RELIABILITY_INTERRUPT_AT_EXIT="1")
    assert outcome.returncode == -signal.SIGINT and _without_report(outcome.stderr).strip() == "", outcome
    assert "new decisions recorded" in outcome.stdout
    assert corpus.survived("label", target) == "after"


@pytest.fixture
def sigint_handler():
    """Restore this process's SIGINT handler, which ``cli.main`` resets once it has finished."""
    previous = signal.getsignal(signal.SIGINT)
    yield
    signal.signal(signal.SIGINT, previous)


def test_ctrl_c_outside_a_command_after_a_commit(monkeypatch, capsys, sigint_handler):
    """The entry point turns a Ctrl-C outside a command's own handling (here: just after a
    commit) into status 130 and one line that says the project was updated; from then on a
    Ctrl-C ends the process silently (the default SIGINT action)."""
    def interrupted_app():
        Connection.commits += 1
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "app", interrupted_app)
    monkeypatch.setattr(Connection, "commits", Connection.commits)
    assert cli.main() == 130
    message = one_error_line(capsys.readouterr().err)
    assert "interrupted after the project was updated" in message
    assert signal.getsignal(signal.SIGINT) == signal.SIG_DFL


def test_ctrl_c_that_typer_turned_into_exit_130_is_reported(monkeypatch, capsys, sigint_handler):
    """typer turns a KeyboardInterrupt outside a command function (while it parses the
    arguments, or after the command returned) into a silent exit 130; the entry point adds the
    one line."""
    @cli.app.command("interrupt-for-test", hidden=True)
    def interrupted() -> None:
        raise KeyboardInterrupt  # not wrapped by cli.command: as if it landed in typer's own code

    monkeypatch.setattr(sys, "argv", ["prioritiser", "interrupt-for-test"])
    monkeypatch.setattr(Connection, "commits", 0)
    try:
        assert cli.main() == 130
    finally:
        cli.app.registered_commands.pop()
    assert "interrupted; nothing was written" in one_error_line(capsys.readouterr().err)

"""Shared tools of the reliability tests: run the real CLI in a child process, stop it with a
signal at a chosen moment or SQL statement, and compare a project's stored state before and after.

Ways to stop a child:

- after a delay counted from the moment it opens the project database (seen in
  ``/proc/PID/fd``), so that delays fall in the command's own work, not in Python's start-up;
- after a delay counted from the moment its report appears on stdout, which each command
  prints only once its changes are committed (``REPORTS``);
- at its N-th SQL statement (``FAULT_PROGRAM``, mode ``kill-statement``): ``sqlite3.connect``
  is wrapped to install a trace callback that SIGKILLs the process just before statement N
  runs (each row of an ``executemany`` is a statement);
- right after its N-th ``execute``/``executemany`` call on a connection returns (modes
  ``kill-call``, ``sigint-call``): the connection is of a subclass that then sends the
  process SIGKILL or SIGINT.
Numbers come from a first run with N = 0, which lists statements or calls in ``RELIABILITY_TRACE``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from typer.testing import CliRunner

from prioritiser.cli import app
from prioritiser.importing import create_project
from prioritiser.store import DB_NAME, Project

REPO = Path(__file__).resolve().parents[1]
_SCRIPT = Path(sys.executable).with_name("prioritiser")
#: The installed console script, as users run it (``python -m prioritiser.cli`` where it is missing).
CLI = [str(_SCRIPT)] if _SCRIPT.is_file() else [sys.executable, "-m", "prioritiser.cli"]
ENV = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}

FAULT_PROGRAM = """
import os, signal, sqlite3, sys
mode, at, count = os.environ["RELIABILITY_FAULT"], int(os.environ["RELIABILITY_AT"]), 0
log = open(os.environ["RELIABILITY_TRACE"], "w", encoding="utf-8") if "RELIABILITY_TRACE" in os.environ else None
def reached(sql):
    global count
    count += 1
    if log is not None:
        log.write(" ".join(sql.split())[:60] + "\\n")
    return count == at
def trace(statement):
    if reached(statement):
        os.kill(os.getpid(), signal.SIGKILL)
after_call = signal.SIGINT if mode == "sigint-call" else signal.SIGKILL
class Signalling(sqlite3.Connection):
    def execute(self, sql, *args):
        cursor = super().execute(sql, *args)
        if reached(sql):
            os.kill(os.getpid(), after_call)
        return cursor
    def executemany(self, sql, *args):
        cursor = super().executemany(sql, *args)
        if reached(sql):
            os.kill(os.getpid(), after_call)
        return cursor
connect = sqlite3.connect
def faulty_connect(*args, **kwargs):
    if mode != "kill-statement":
        return connect(*args, factory=Signalling, **kwargs)
    con = connect(*args, **kwargs)
    con.set_trace_callback(trace)
    return con
sqlite3.connect = faulty_connect
sys.argv[0] = "prioritiser"
from prioritiser.__main__ import main
sys.exit(main())
"""


def _load_scale_script():
    spec = importlib.util.spec_from_file_location("import_scale_benchmark", REPO / "scripts" / "import_scale_benchmark.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


scale = _load_scale_script()

_MEASURE_INIT = """
import importlib.util, json, sys
from pathlib import Path
spec = importlib.util.spec_from_file_location("import_scale_benchmark", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
result = module.run_init(Path(sys.argv[2]), Path(sys.argv[3]), float(sys.argv[4]))
print(json.dumps({"wall_s": result["wall_s"], "peak_rss": result["peak_rss"], "stdout": result["stdout"]}))
"""


def measure_init(project: Path, records: Path, sample_s: float = 0.5) -> dict:
    """``scale.run_init`` (wall seconds and peak RSS of ``prioritiser init``) run from a fresh,
    small Python process. Linux carries a process's peak RSS across fork/vfork and exec, so
    ``init`` started straight from the test process, which may hold hundreds of MiB (torch,
    hypothesis, earlier tests), would report at least that process's peak, not its own."""
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE_INIT, str(REPO / "scripts" / "import_scale_benchmark.py"), str(project),
         str(records), str(sample_s)], capture_output=True, text=True, env=ENV, cwd=REPO,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


# ----------------------------------------------------------------------------- running the CLI
@dataclass
class Outcome:
    """How a child ended: exit status (negative: killed by that signal), output, and whether
    the signal was sent while it still ran."""

    returncode: int
    stdout: str
    stderr: str
    signalled: bool
    seconds: float


def _default_sigint() -> None:
    """In the child, before exec: Ctrl-C acts as in a terminal even when the tests themselves run
    in the background (``cmd &`` starts them with SIGINT ignored, and children inherit that)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class Child:
    """A ``prioritiser`` command running in its own process group, output going to files."""

    def __init__(self, args: list[str], workdir: Path, fault: str | None = None, at: int = 0,
                 trace: Path | None = None, env: dict[str, str] | None = None):
        workdir.mkdir(parents=True, exist_ok=True)
        stamp = f"{time.monotonic_ns()}"
        self.out_path, self.err_path = workdir / f"out-{stamp}.txt", workdir / f"err-{stamp}.txt"
        env = {**ENV, **(env or {})}
        if fault is None:
            command = [*CLI, *args]
        else:
            command = [sys.executable, "-c", FAULT_PROGRAM, *args]
            env["RELIABILITY_FAULT"], env["RELIABILITY_AT"] = fault, str(at)
            if trace is not None:
                env["RELIABILITY_TRACE"] = str(trace)
        self.start = time.monotonic()
        with open(self.out_path, "w") as out, open(self.err_path, "w") as err:
            self.proc = subprocess.Popen(command, stdout=out, stderr=err, env=env, cwd=workdir, start_new_session=True,
                                         preexec_fn=_default_sigint)
        self.signalled = False

    def has_open(self, fragment: str) -> bool:
        """Whether the child has a file whose path contains ``fragment`` open."""
        folder = f"/proc/{self.proc.pid}/fd"
        try:
            names = os.listdir(folder)
        except OSError:
            return False
        for name in names:
            try:
                if fragment in os.readlink(f"{folder}/{name}"):
                    return True
            except OSError:
                continue
        return False

    def wait_for_open(self, fragment: str = DB_NAME, timeout: float = 60.0) -> float | None:
        """Seconds since start when the child first had ``fragment`` open; None if it ended first."""
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            if self.has_open(fragment):
                return time.monotonic() - self.start
            time.sleep(0.002)
        return None

    def open_span(self, fragment: str = DB_NAME, timeout: float = 300.0) -> tuple[float, float] | None:
        """Wait for the child to end; seconds since start when it first and last had ``fragment``
        open (None if never seen): the span in which the command works on the project."""
        first = self.wait_for_open(fragment, timeout)
        last = first
        while first is not None and self.proc.poll() is None:
            if self.has_open(fragment):
                last = time.monotonic() - self.start
            time.sleep(0.002)
        return None if first is None else (first, last)

    def stderr_text(self) -> str:
        return self.err_path.read_text(encoding="utf-8", errors="replace")

    def wait_for_output(self, text: str, timeout: float = 300.0) -> bool:
        """Wait until ``text`` appears on the child's stdout; False if it ended (or timed out) first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            running = self.proc.poll() is None
            if text in self.out_path.read_text(encoding="utf-8", errors="replace"):
                return running
            if not running:
                return False
            time.sleep(0.002)
        return False

    def send(self, sig: int) -> None:
        """Send ``sig`` to the child's process group (as a terminal's Ctrl-C does) if it still runs."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, sig)
                self.signalled = True
            except ProcessLookupError:
                pass

    def wait(self, timeout: float = 300.0) -> Outcome:
        self.proc.wait(timeout=timeout)
        seconds = time.monotonic() - self.start
        return Outcome(self.proc.returncode, self.out_path.read_text(encoding="utf-8", errors="replace"),
                       self.stderr_text(), self.signalled, seconds)


def run(args: list[str], workdir: Path, timeout: float = 300.0) -> Outcome:
    """Run a command to its end."""
    return Child(args, workdir).wait(timeout)


def stop_after(args: list[str], workdir: Path, delay: float, sig: int = signal.SIGKILL) -> Outcome:
    """Run a command and send it ``sig`` ``delay`` seconds after it first opened a project database."""
    child = Child(args, workdir)
    if child.wait_for_open() is not None:
        time.sleep(delay)
        child.send(sig)
    return child.wait()


def kill_after_report(args: list[str], workdir: Path, report: str, delay: float) -> Outcome:
    """Run a command and SIGKILL it ``delay`` seconds after ``report`` appeared on its stdout
    (each command prints its report only once its changes are committed; see ``REPORTS``)."""
    child = Child(args, workdir)
    if child.wait_for_output(report):
        time.sleep(delay)
        child.send(signal.SIGKILL)
    return child.wait()


def statements(args: list[str], workdir: Path, fault: str = "kill-statement") -> tuple[list[str], Outcome]:
    """The SQL statements (``fault="kill-statement"``) or execute calls (``"kill-call"``,
    ``"sigint-call"``) a command runs, in order (number N is list index N - 1), and how it ended."""
    trace = workdir / f"trace-{time.monotonic_ns()}.txt"
    outcome = Child(args, workdir, fault=fault, at=0, trace=trace).wait()
    return trace.read_text(encoding="utf-8").splitlines(), outcome


def kill_at_statement(args: list[str], workdir: Path, number: int) -> Outcome:
    """Run a command and SIGKILL it just before its ``number``-th SQL statement runs."""
    return Child(args, workdir, fault="kill-statement", at=number).wait()


def signal_after_call(args: list[str], workdir: Path, number: int, fault: str = "sigint-call") -> Outcome:
    """Run a command and send it SIGINT (``fault="sigint-call"``) or SIGKILL (``"kill-call"``)
    right after its ``number``-th execute call returned."""
    child = Child(args, workdir, fault=fault, at=number)
    child.signalled = True
    return child.wait()


def commit_points(trace: list[str]) -> list[int]:
    """Statement numbers (1-based) of every COMMIT in a trace."""
    return [i + 1 for i, sql in enumerate(trace) if sql.upper().startswith("COMMIT")]


def cli_check(directory: Path) -> str:
    """Run ``prioritiser check DIR`` (in this process); fail unless it reports the project sound."""
    result = CliRunner().invoke(app, ["check", str(directory)])
    assert result.exit_code == 0, f"check failed: {result.output}"
    return result.output


# ----------------------------------------------------------------------------- project state
@dataclass
class State:
    """A project's stored state, as far as the reliability tests compare it."""

    info: dict
    events: list[tuple]
    records: list[tuple]
    sources: list[tuple]
    iterations: list[tuple]
    batches: list[tuple]

    def events_without_times(self) -> list[tuple]:
        """Events as (event_id, record_id, decision, reviewer, batch, origin): what a rerun repeats."""
        return [(e[0], e[1], e[2], e[3], e[6], e[7]) for e in self.events]


def state_of(directory: Path) -> State:
    """Open the project (as any command would) and read its state; it must open and pass ``check``."""
    with Project(directory) as project:
        problems = project.check()
        assert problems == [], problems
        con = project.con
        return State(
            info=project.info(),
            events=con.execute("SELECT * FROM label_events ORDER BY event_id").fetchall(),
            records=con.execute("SELECT record_id, source_id, title, abstract, doi, group_id FROM records"
                                " ORDER BY record_id").fetchall(),
            sources=con.execute("SELECT source_id, path, sha256, format, n_records FROM sources ORDER BY source_id").fetchall(),
            iterations=con.execute("SELECT iteration_id, kind, last_event_id, n_labelled, length(group_ids)"
                                   " FROM iterations ORDER BY iteration_id").fetchall(),
            batches=con.execute("SELECT batch_id, iteration_id, kind FROM batches ORDER BY batch_id").fetchall(),
        )


def same_as_after(state: State, after: State) -> bool:
    """``state`` equals the state an uninterrupted run left (timestamps aside)."""
    return (state.events_without_times() == after.events_without_times() and state.records == after.records
            and state.sources == after.sources and state.iterations == after.iterations
            and state.batches == after.batches)


def assert_before_or_after(state: State, before: State, after: State) -> str:
    """The command's changes are all there or none: ``state`` equals ``before`` exactly (every
    event byte for byte) or equals ``after``, which itself extends ``before``'s events. Returns
    which ('before' or 'after')."""
    if state == before:
        return "before"
    assert state.events[: len(before.events)] == before.events, "an event committed before the command changed"
    assert same_as_after(state, after), (
        f"half-done command: info {state.info} is neither before {before.info} nor after {after.info}")
    return "after"


def copy_project(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    return target


def one_error_line(stderr: str) -> str:
    """The single non-empty stderr line of a failed command; fails on tracebacks or several lines."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert "Traceback" not in stderr, stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    return lines[0]


def write_labels(path: Path, decisions: dict[int, str], reviewer: str | None = None) -> Path:
    """A decisions CSV: ``record_id,label[,reviewer]`` rows."""
    header = "record_id,label" + (",reviewer" if reviewer else "")
    rows = [f"{rid},{label}" + (f",{reviewer}" if reviewer else "") for rid, label in decisions.items()]
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


# ----------------------------------------------------------------------------- a test corpus
_CORPORA: dict[Path, "Corpus"] = {}
N_RECORDS, N_UPDATE, N_LABELS_A, N_LABELS_B = 3000, 2000, 300, 2000
COMMANDS = ("init", "add", "label", "rank")
#: The start of each command's report on stdout, which it prints only after its commit (init:
#: after renaming the project into place).
REPORTS = {"init": "Created project", "add": "Imported ", "label": " new decisions recorded", "rank": "Iteration "}


@dataclass
class Reference:
    """An uninterrupted run of a command on a copy of the corpus' base project."""

    before: State | None  # None for init: no project before
    after: State
    window: float  # seconds from first opening a project database to last closing it
    trace: list[str]  # its SQL statements in order (statement N is trace[N - 1])


@dataclass
class Corpus:
    """Files and a base project the fault tests start each command from.

    ``search`` (N_RECORDS rows) and ``update`` (N_UPDATE rows) are CSV search exports built from
    the benchmark records; ``base`` is a project of ``search`` into which the CLI imported
    reviewer ana's decisions on N_LABELS_A records; ``labels_b`` holds reviewer ben's decisions
    on N_LABELS_B other records.
    """

    root: Path
    search: Path
    update: Path
    base: Path
    labels_b: Path
    cache: dict = field(default_factory=dict)

    @classmethod
    def shared(cls, tmp_path_factory) -> "Corpus":
        """One corpus per test session, shared by the reliability modules (with its cached
        reference runs)."""
        root = tmp_path_factory.getbasetemp() / "reliability-corpus"
        if root not in _CORPORA:
            root.mkdir()
            _CORPORA[root] = cls.build(root)
        return _CORPORA[root]

    @classmethod
    def build(cls, root: Path) -> "Corpus":
        search, update = root / "search.csv", root / "update.csv"
        scale.write_search_export(search, N_RECORDS, seed=1)
        scale.write_search_export(update, N_UPDATE, seed=2)
        base = root / "base"
        create_project(base, [search])[0].close()
        rng = random.Random(0)
        ids = rng.sample(range(1, N_RECORDS + 1), N_LABELS_A + N_LABELS_B)
        labels_a = write_labels(root / "labels_a.csv", {i: "yes" if rng.random() < 0.2 else "no" for i in ids[:N_LABELS_A]})
        labels_b = write_labels(root / "labels_b.csv", {i: "include" if rng.random() < 0.2 else "exclude"
                                                        for i in ids[N_LABELS_A:]}, reviewer="ben")
        done = run(["label", str(base), str(labels_a), "--reviewer", "ana"], root)
        assert done.returncode == 0, done.stderr
        assert state_of(base).info["label_events"] == N_LABELS_A
        return cls(root, search, update, base, labels_b)

    def args(self, command: str, project: Path) -> list[str]:
        return {
            "init": ["init", str(project), "--records", str(self.search)],
            "add": ["add", str(project), "--records", str(self.update)],
            "label": ["label", str(project), str(self.labels_b)],
            "rank": ["rank", str(project), "--batch", "20", "--out", str(project.parent / f"{project.name}-batch.csv")],
        }[command]

    def target(self, command: str, tag: str) -> Path:
        """A fresh project directory for one run: a copy of ``base`` (nothing for init)."""
        target = self.root / f"{command}-{tag}"
        shutil.rmtree(target, ignore_errors=True)
        if command != "init":
            copy_project(self.base, target)
        return target

    def reference(self, command: str) -> Reference:
        """Before and after an uninterrupted (traced) run of ``command``; run once, then cached."""
        key = ("reference", command)
        if key not in self.cache:
            target = self.target(command, "reference")
            before = None if command == "init" else state_of(target)
            trace = self.root / f"trace-{command}.txt"
            child = Child(self.args(command, target), self.root, fault="kill-statement", at=0, trace=trace)
            span = child.open_span()
            outcome = child.wait()
            assert outcome.returncode == 0 and span is not None, outcome.stderr
            after = state_of(target)
            assert before is None or after.events[: len(before.events)] == before.events
            self.cache[key] = Reference(before, after, span[1] - span[0], trace.read_text(encoding="utf-8").splitlines())
        return self.cache[key]

    def trace(self, command: str, fault: str = "kill-statement") -> list[str]:
        """The statements (or execute calls) of an uninterrupted run of ``command`` (cached)."""
        if fault == "kill-statement":
            return self.reference(command).trace
        key = ("trace", command, fault)
        if key not in self.cache:
            trace, outcome = statements(self.args(command, self.target(command, "trace")), self.root, fault)
            assert outcome.returncode == 0, outcome.stderr
            self.cache[key] = trace
        return self.cache[key]

    def survived(self, command: str, target: Path, build_dir_allowed: bool = True) -> str:
        """Check a project after a fault: it opens, passes ``check`` and is as before the command
        or as after it (for init: absent, or complete). Returns 'before' or 'after'.

        ``build_dir_allowed``: whether init's hidden build directory may be left (a killed
        process cannot clean up; an interrupted one must)."""
        ref = self.reference(command)
        if command == "init":
            leftovers = list(target.parent.glob(f".{target.name}.creating-*"))
            assert build_dir_allowed or not leftovers, f"init left its build directory {leftovers}"
            for leftover in leftovers:
                shutil.rmtree(leftover)
            if not target.exists():
                return "before"
            cli_check(target)
            assert same_as_after(state_of(target), ref.after), "init left an incomplete project"
            return "after"
        cli_check(target)
        return assert_before_or_after(state_of(target), ref.before, ref.after)

"""The ``prioritiser`` command line: thin typer commands over the library API.

Every user mistake ends in a one-line ``error:`` message on stderr and a non-zero exit code,
with the project as it was before the command.
"""

from __future__ import annotations

import functools
import json
import sqlite3
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from prioritiser import __version__
from prioritiser.errors import UserError

app = typer.Typer(
    help="Machine-learning assisted prioritisation of title/abstract screening for systematic reviews.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console()
err_console = Console(stderr=True, soft_wrap=True)


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print one error line on stderr and return the exit to raise."""
    err_console.print(f"error: {message}", markup=False, highlight=False)
    return typer.Exit(code)


def command(*args, **kwargs):
    """Register a command whose user errors end in one line, not a traceback."""

    def decorate(fn):
        @functools.wraps(fn)
        def wrapper(*a, **k):
            try:
                return fn(*a, **k)
            except UserError as exc:
                raise fail(str(exc), exc.exit_code) from None
            except KeyboardInterrupt:
                raise fail("interrupted; nothing was written by the unfinished step", 130) from None
            except sqlite3.DatabaseError as exc:
                raise fail(f"the project database cannot be used: {exc}; run 'prioritiser check'", 3) from None
            except OSError as exc:
                where = f"{exc.filename}: " if exc.filename else ""
                raise fail(f"{where}{exc.strerror or exc}", 3) from None

        return app.command(*args, **kwargs)(wrapper)

    return decorate


def on_wait(message: str) -> None:
    err_console.print(message, markup=False, highlight=False)


def open_project(directory: Path):
    from prioritiser.project import Project

    return Project(directory, on_wait=on_wait)


def counting_progress(description: str) -> Progress:
    return Progress(
        SpinnerColumn(), TextColumn("[progress.description]{task.description}"),
        TextColumn("{task.completed:,} records"), TimeElapsedColumn(),
        console=err_console, transient=True, disable=not err_console.is_terminal,
    )


def bar_progress() -> Progress:
    return Progress(
        TextColumn("[progress.description]{task.description}"), BarColumn(),
        TextColumn("{task.completed:,}/{task.total:,}"), TimeElapsedColumn(),
        console=err_console, transient=True, disable=not err_console.is_terminal,
    )


def print_import_summary(summary, project) -> None:
    for name, n in summary.files:
        console.print(f"  {name}: {n:,} records", markup=False, highlight=False)
    console.print(
        f"Imported {summary.n_records:,} records ({summary.n_without_text:,} without title or abstract"
        f"{', ' + format(summary.n_labels, ',') + ' with labels' if summary.n_labels else ''}). "
        f"Duplicates: {summary.n_duplicates:,} records in {summary.n_duplicate_groups:,} groups; "
        f"{project.info()['groups']:,} records to screen.",
        markup=False, highlight=False,
    )


def version_callback(value: bool) -> None:
    if value:
        console.print(f"prioritiser {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: bool = typer.Option(False, "--version", callback=version_callback, is_eager=True, help="Print the version."),
) -> None:
    """Import search results, learn from your decisions, rank what is left, decide when to stop, audit."""


@command("init")
def init_cmd(
    directory: Path = typer.Argument(..., help="Project directory to create (must not exist)."),
    records: list[Path] = typer.Option(..., "--records", "-r", help="Search export: RIS, MEDLINE/nbib, BibTeX, EndNote XML, CSV, TSV or XLSX. Repeat for several files."),
    no_dedupe: bool = typer.Option(False, "--no-dedupe", help="Keep duplicates as separate records."),
) -> None:
    """Create a project from one or more search exports, finding duplicates."""
    from prioritiser.project import Project

    with counting_progress("Importing") as progress:
        task = progress.add_task("Importing", total=None)
        project, summary = Project.create(
            directory, records, dedupe=not no_dedupe, on_wait=on_wait,
            on_progress=lambda n: progress.update(task, completed=n),
        )
    with project:
        console.print(f"Created project {directory}", markup=False, highlight=False)
        print_import_summary(summary, project)


@command("add")
def add_cmd(
    directory: Path = typer.Argument(..., help="Existing project directory."),
    records: list[Path] = typer.Option(..., "--records", "-r", help="Search export to add (e.g. an update search). Repeatable."),
    no_dedupe: bool = typer.Option(False, "--no-dedupe", help="Do not group the new records with duplicates."),
) -> None:
    """Add records from an update search; every label is kept."""
    with open_project(directory) as project, counting_progress("Importing") as progress:
        task = progress.add_task("Importing", total=None)
        summary = project.add_records(records, dedupe=not no_dedupe, on_progress=lambda n: progress.update(task, completed=n))
        progress.stop()
        print_import_summary(summary, project)


@command("label")
def label_cmd(
    directory: Path = typer.Argument(..., help="Project directory."),
    file: Path = typer.Argument(..., help="Decisions: CSV/TSV/XLSX with a label column (1/0, yes/no, include/exclude, true/false, maybe) or RIS."),
    reviewer: str = typer.Option("", "--reviewer", help="Reviewer name for rows without a reviewer column."),
) -> None:
    """Import reviewer decisions (append-only: a changed decision is a new event)."""
    with open_project(directory) as project:
        summary = project.import_labels(file, reviewer=reviewer)
        console.print(
            f"{file}: {summary.n_rows:,} rows, {summary.n_events:,} new decisions recorded, "
            f"{summary.n_undecided:,} rows without a decision, {len(summary.unknown):,} rows matching no record.",
            markup=False, highlight=False,
        )
        for line in summary.unknown[:50]:
            err_console.print(f"  no such record: {line}", markup=False, highlight=False)
        if len(summary.unknown) > 50:
            err_console.print(f"  … and {len(summary.unknown) - 50:,} more", markup=False, highlight=False)
        for line in summary.conflicts:
            err_console.print(f"  conflicting decisions: {line}", markup=False, highlight=False)


@command("export")
def export_cmd(
    directory: Path = typer.Argument(..., help="Project directory."),
    out: Path = typer.Option(..., "--out", "-o", help="Output file: .csv, .tsv, .xlsx or .ris."),
) -> None:
    """Export every record with its decision, latest score and rank."""
    from prioritiser.export import export_records

    with open_project(directory) as project:
        n = export_records(project, out)
    console.print(f"Wrote {n:,} records to {out}", markup=False, highlight=False)


@command("info")
def info_cmd(
    directory: Path = typer.Argument(..., help="Project directory."),
    as_json: bool = typer.Option(False, "--json", help="Print the counts as one JSON object."),
) -> None:
    """Counts of records, duplicates and decisions (a group's decision counts for each record in it)."""
    with open_project(directory) as project:
        info = project.info()
    if as_json:
        typer.echo(json.dumps(info))
        return
    table = Table(title=str(directory), show_header=False)
    for key, value in info.items():
        table.add_row(key.replace("_", " "), f"{value:,}")
    console.print(table)


@command("check")
def check_cmd(directory: Path = typer.Argument(..., help="Project directory.")) -> None:
    """Check the project's integrity (database, groups, rankings)."""
    with open_project(directory) as project:
        problems = project.check()
        info = project.info()
    if problems:
        for problem in problems:
            err_console.print(f"problem: {problem}", markup=False, highlight=False)
        raise fail(f"{directory}: {len(problems)} integrity problems", 3)
    console.print(f"{directory}: ok ({info['records']:,} records, {info['label_events']:,} label events, "
                  f"{info['iterations']:,} iterations)", markup=False, highlight=False)


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

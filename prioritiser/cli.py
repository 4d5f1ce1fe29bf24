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
            commits = project_commits()
            try:
                return fn(*a, **k)
            except UserError as exc:
                raise fail(str(exc), exc.exit_code) from None
            except KeyboardInterrupt:
                raise fail(interrupted_message(commits), 130) from None
            except sqlite3.DatabaseError as exc:
                raise fail(f"the project database cannot be used: {exc}; run 'prioritiser check'", 3) from None
            except OSError as exc:
                where = f"{exc.filename}: " if exc.filename else ""
                raise fail(f"{where}{exc.strerror or exc}", 3) from None

        return app.command(*args, **kwargs)(wrapper)

    return decorate


def interrupted_message(commits_before: int = 0) -> str:
    """What a Ctrl-C did: whether the project was updated since ``commits_before`` commits."""
    if project_commits() > commits_before:
        return "interrupted after the project was updated; see 'prioritiser info'"
    return "interrupted; nothing was written by the unfinished step"


def project_commits() -> int:
    """Write transactions committed so far in this process (0 before the store is imported)."""
    project = sys.modules.get("prioritiser.project")
    return project.Project.commits if project else 0


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
    from prioritiser.labels import conflict_lines

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
        for line in conflict_lines(summary.conflicts):  # the first 20; summary.conflicts holds all
            err_console.print(f"  {line}", markup=False, highlight=False)


def parse_overrides(pairs: list[str]) -> dict:
    """``key=value`` pairs (values parsed as JSON where they can be) into a dict."""
    overrides = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UserError(f"--set {pair!r}: expected KEY=VALUE, e.g. --set classifier=svm")
        try:
            overrides[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            overrides[key.strip()] = value
    return overrides


@command("rank")
def rank_cmd(
    directory: Path = typer.Argument(..., help="Project directory."),
    batch: int = typer.Option(50, "--batch", "-b", help="Number of records in the next batch."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Write the next batch here (.csv, .tsv, .xlsx or .ris); its empty 'label' column goes back to 'prioritiser label'."),
    model: str = typer.Option("default", "--model", "-m", help="Preset name (models/*.toml: default, fast, minilm) or path to a preset TOML file."),
    set_: list[str] = typer.Option([], "--set", help="Override a preset option, KEY=VALUE (repeatable), e.g. --set classifier=svm."),
    query: Optional[str] = typer.Option(None, "--query", "-q", help="Research question: ranks by similarity to it while no include/exclude pair exists yet."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Random seed (default: the preset's)."),
) -> None:
    """Retrain on the latest decisions, rank every unscreened record and write the next batch."""
    from prioritiser.screening import rank_project

    with open_project(directory) as project:
        result = rank_project(project, model=model, overrides=parse_overrides(set_), batch=batch, out=out,
                              query=query, seed=seed, progress=err_console.is_terminal)
    how = "similarity to the research question" if result.used_query else f"model '{model}'"
    console.print(
        f"Iteration {result.iteration_id}: ranked {result.n_ranked:,} unscreened records by {how} "
        f"in {result.timings['total_s']:.1f} s.", markup=False, highlight=False,
    )
    print_estimates(result.estimates)
    if out is not None:
        console.print(f"Next batch of {len(result.batch):,} records written to {out}; fill in its 'label' column "
                      f"and run: prioritiser label {directory} {out}", markup=False, highlight=False)


def print_estimates(estimates: dict) -> None:
    est = estimates["estimate"]
    console.print(
        f"Includes found {est['includes_found']:,}; estimated remaining {est['estimated_remaining']:.1f}; "
        f"estimated recall {est['estimated_recall']:.1%} (95% lower bound {est['recall_lower_95']:.1%}).",
        markup=False, highlight=False,
    )
    table = Table("rule", "verdict", "evidence")
    for rule in estimates["rules"]:
        name = rule["rule"] + (" (default)" if rule.get("default") else "")
        verdict = "[green]stop[/green]" if rule["stop"] else "continue"
        evidence = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in rule["evidence"].items())
        table.add_row(name, verdict, evidence)
    console.print(table)


@command("status")
def status_cmd(
    directory: Path = typer.Argument(..., help="Project directory."),
    as_json: bool = typer.Option(False, "--json", help="Print counts, estimates and verdicts as one JSON object."),
) -> None:
    """Counts, recall estimates with intervals, and each stopping rule's verdict with its evidence."""
    from prioritiser.status import project_status

    with open_project(directory) as project:
        status = project_status(project)
    if as_json:
        typer.echo(json.dumps(status, default=str))
        return
    for warning in status["warnings"]:
        console.print(f"[bold red]WARNING:[/bold red] {warning}")
    counts = status["counts"]
    console.print(
        f"{counts['records']:,} records ({counts['duplicates']:,} duplicates): {counts['included']:,} included, "
        f"{counts['excluded']:,} excluded, {counts['maybe']:,} maybe, {counts['unlabelled']:,} unscreened.",
        markup=False, highlight=False,
    )
    if status["estimates"] is not None:
        console.print(f"Estimates as of iteration {status['iteration_id']} "
                      f"({status['labels_since_iteration']} decisions since):", markup=False, highlight=False)
        print_estimates(status["estimates"])
    else:
        console.print("No ranking yet: run 'prioritiser rank'.")


@command("stop")
def stop_cmd(
    directory: Path = typer.Argument(..., help="Project directory."),
    target_recall: float = typer.Option(0.95, "--target-recall", help="Recall the review must reach (0-1)."),
    confidence: float = typer.Option(0.95, "--confidence", help="Confidence with which the target must be shown (0-1)."),
    out: Path = typer.Option(Path("certify.csv"), "--out", "-o", help="Where to write the random sample to screen when stopping cannot be certified yet."),
    seed: int = typer.Option(0, "--seed", help="Seed of the random sample."),
) -> None:
    """Decide whether screening can stop; otherwise write the random sample that would certify it."""
    from prioritiser.status import decide_stop

    with open_project(directory) as project:
        decision = decide_stop(project, target_recall, confidence, out, seed=seed)
    evidence = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in decision["evidence"].items())
    if decision["stop"]:
        console.print(f"[bold green]STOP[/bold green]: {decision['rule']} shows recall >= {target_recall:.0%} "
                      f"with {confidence:.0%} confidence ({evidence}).")
        return
    if decision.get("reopened_by_qa"):
        console.print("[bold red]Screening is reopened[/bold red]: the quality-control sample found includes "
                      f"(record ids {decision['reopened_by_qa']}).")
    console.print(f"[bold]CONTINUE[/bold]: {decision['rule']} cannot yet show recall >= {target_recall:.0%} "
                  f"with {confidence:.0%} confidence ({evidence}).")
    if decision.get("sample_file"):
        console.print(f"Screen the {decision['sample_size']:,} randomly drawn unscreened records in "
                      f"{decision['sample_file']}, import them with 'prioritiser label', then run 'stop' again.",
                      markup=False, highlight=False)


@command("simulate")
def simulate_cmd(
    dataset: Path = typer.Argument(..., help="Fully labelled dataset (CSV/TSV/XLSX/RIS with an included/label_included column)."),
    out: Path = typer.Option(..., "--out", "-o", help="Output directory: order.csv, metrics.json, recall.png (and stopping.json)."),
    prior_record_ids: str = typer.Option("", "--prior-record-ids", help="Space-separated record ids screened first (prior knowledge), e.g. \"95 742\"; default: one random include and one random exclude."),
    seed: int = typer.Option(0, "--seed", help="Random seed."),
    model: str = typer.Option("default", "--model", "-m", help="Preset name or TOML path."),
    set_: list[str] = typer.Option([], "--set", help="Override a preset option, KEY=VALUE (repeatable)."),
    batch: int = typer.Option(1, "--batch", "-b", help="Records screened between two rankings."),
    screen_all: bool = typer.Option(False, "--all", help="Screen every record instead of stopping when all includes are found."),
    stopping: bool = typer.Option(False, "--stopping", help="Go on until every stopping rule has said stop; write stopping.json."),
) -> None:
    """Simulate screening of a labelled dataset with the engine 'rank' uses; the labels act as the reviewer."""
    from prioritiser.simulate import run_simulation

    priors = [p for p in prior_record_ids.replace(",", " ").split() if p]
    result = run_simulation(dataset, out, priors, seed=seed, model=model, overrides=parse_overrides(set_),
                            batch=batch, screen_all=screen_all, stopping=stopping, progress=err_console.is_terminal)
    metrics = result.metrics
    console.print(
        f"Screened {len(result.order):,} of {result.n_records:,} records; "
        f"WSS@95 {metrics['wss95']:.3f}, n95 {metrics['n95']:,}, n100 {metrics['n100']:,}, "
        f"RRF@10 {metrics['rrf10']:.3f}, loss {metrics['loss']:.4f}, ATD {metrics['atd']:.4f} "
        f"({result.seconds:.1f} s). Results in {out}/", markup=False, highlight=False,
    )


@command("demo")
def demo_cmd(
    out: Path = typer.Option(Path("demo-output"), "--out", "-o", help="Output directory."),
    seed: int = typer.Option(1, "--seed", help="Random seed (also picks the prior include and exclude)."),
) -> None:
    """Simulate screening of the bundled example (data/example.csv) and plot its recall curve."""
    from prioritiser.simulate import example_dataset

    simulate_cmd(example_dataset(), out, "", seed, "default", [], 1, False, True)


@command("audit")
def audit_cmd(
    directory: Path = typer.Argument(..., help="Project directory."),
    out: Path = typer.Option(..., "--out", "-o", help="Directory for the audit pack (created when missing)."),
    qa_sample: int = typer.Option(0, "--qa-sample", help="Also draw N model-excluded records at random for a quality-control check, written to qa_sample.csv (label it like any batch)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the quality-control sample."),
) -> None:
    """Write the audit pack: model exclusions, label history, stopping evidence, PRISMA counts, manifest and report.html."""
    from prioritiser.audit import write_audit

    with open_project(directory) as project:
        summary = write_audit(project, out, qa_sample=qa_sample, seed=seed)
    if summary.qa_includes:
        console.print(f"[bold red]WARNING:[/bold red] the quality-control sample holds {len(summary.qa_includes)} "
                      f"include(s) (record ids {', '.join(map(str, summary.qa_includes[:10]))}): screening is reopened.")
    console.print(f"Audit of iteration {summary.iteration_id} written to {out}/: {', '.join(summary.files)}. "
                  f"{summary.n_excluded_by_model:,} records were excluded by the model (never screened by a human).",
                  markup=False, highlight=False)
    if summary.qa_sample_size:
        console.print(f"Screen the {summary.qa_sample_size:,} records in {out / 'qa_sample.csv'} and import them with "
                      f"'prioritiser label {directory} {out / 'qa_sample.csv'}'.", markup=False, highlight=False)


@command("reproduce")
def reproduce_cmd(
    audit_dir: Path = typer.Argument(..., help="Audit pack directory (holds manifest.json)."),
    project: Optional[Path] = typer.Option(None, "--project", "-p", help="Project directory, when it has moved since the audit."),
) -> None:
    """Recompute the audited ranking from the stored labels and check the manifest's hashes."""
    from prioritiser.audit import reproduce

    result = reproduce(audit_dir, project)
    for line in result.lines():
        console.print(line, markup=False, highlight=False)
    if not result.ok:
        raise fail(f"{audit_dir}: the audit does not reproduce (see above)", 1)


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


def main() -> int | str | None:
    """Run the command line; returns the exit status (the console script reaches this through
    ``prioritiser.__main__``, which also covers a Ctrl-C while this module loads).

    A Ctrl-C that lands outside a command's own handling (while typer sets up, or after the
    command returned) ends in the same one-line message and exit status 130 as one inside it;
    one that lands after that, while Python shuts down, ends the process silently."""
    from prioritiser.__main__ import end_quietly_on_ctrl_c

    try:
        try:
            app()  # in standalone mode it always ends by raising SystemExit
            code: int | str | None = 0
        except SystemExit as done:
            code = done.code
            if _typer_swallowed_ctrl_c(done):
                raise KeyboardInterrupt from None
    except KeyboardInterrupt:
        try:
            err_console.print(f"error: {interrupted_message()}", markup=False, highlight=False)
        except KeyboardInterrupt:
            pass
        code = 130
    end_quietly_on_ctrl_c()
    return code


def _typer_swallowed_ctrl_c(done: SystemExit) -> bool:
    """Whether typer turned a Ctrl-C outside our command wrapper into a silent exit 130
    (``raise Exit(130) from KeyboardInterrupt``); ours print their message first."""
    exit_ = done.__context__
    return done.code == 130 and isinstance(exit_, typer.Exit) and isinstance(exit_.__cause__, KeyboardInterrupt)


@command("embed")
def embed_cmd(
    directory: Path = typer.Argument(..., help="Project directory."),
    model: str = typer.Option("default", "--model", "-m", help="Preset whose sentence encoder to run (name or TOML path)."),
    set_: list[str] = typer.Option([], "--set", help="Override a preset option, KEY=VALUE (repeatable)."),
    ray: Optional[str] = typer.Option(None, "--ray", help="Embed on the Ray cluster at this address ('auto': the one running here); needs prioritiser[ray]."),
) -> None:
    """Embed the project's texts with the preset's sentence encoder into the machine-wide cache,
    on a GPU when present. Ctrl-C keeps every finished shard; running it again continues."""
    from prioritiser.features import embed_missing
    from prioritiser.learning import load_preset

    config = load_preset(model, parse_overrides(set_))
    with open_project(directory) as project:
        _, texts = project.group_texts()
    if ray:
        from prioritiser.distributed import connect, embed_on_cluster

        connect(ray)
        embed_missing = embed_on_cluster
    runs = embed_missing(config["features"], texts, config.get("feature_params"), progress=err_console.is_terminal)
    if not runs:
        console.print(f"Preset '{model}' uses no sentence encoder ({config['features']}); nothing to embed.",
                      markup=False, highlight=False)
    for run in runs:
        rate = f" ({run.to_embed / run.seconds:.1f} records/s)" if run.to_embed and run.seconds else ""
        console.print(f"{run.name}: {run.to_embed:,} of {len(texts):,} texts embedded in {run.seconds:.1f} s{rate}; "
                      f"the rest were cached. Encoder: {run.identity}", markup=False, highlight=False)


@command("cache")
def cache_cmd(
    action: str = typer.Argument("info", help="'info': each encoder's cached texts and size; 'clear': delete them."),
) -> None:
    """The machine-wide embedding cache ($XDG_CACHE_HOME/prioritiser, by default ~/.cache/prioritiser)."""
    from prioritiser.features.cache import cache_folders, clear_cache, machine_cache_dir

    if action == "clear":
        console.print(f"Freed {clear_cache() / 2**20:,.1f} MiB in {machine_cache_dir()}.", markup=False, highlight=False)
        return
    if action != "info":
        raise UserError(f"unknown cache action {action!r}: use info or clear")
    folders = cache_folders()
    table = Table("encoder identity", "texts", "MiB", title=f"Embedding cache {machine_cache_dir()}")
    for folder in folders:
        table.add_row(folder.identity or folder.path.name, f"{folder.texts:,}", f"{folder.bytes / 2**20:,.1f}")
    console.print(table)
    console.print(f"Total {sum(f.bytes for f in folders) / 2**20:,.1f} MiB; 'prioritiser cache clear' deletes it.",
                  markup=False, highlight=False)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

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
from typer.core import TyperArgument, TyperCommand, TyperGroup
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from prioritiser import __version__
from prioritiser.errors import UserError

class PlainHelp:
    """Help screens that name each value in words (``--batch N``, ``--out PATH``) instead of
    typer's type tags (``<int>``, ``<list[Path]>``): an option's metavar; nothing for flags and
    arguments (the argument's name says it)."""

    def get_params(self, ctx):
        params = super().get_params(ctx)
        for param in params:
            shown = None if isinstance(param, TyperArgument) or param.is_flag else param.metavar or "VALUE"
            param.display_type_rich = lambda ctx, shown=shown: shown
        return params


class PlainHelpCommand(PlainHelp, TyperCommand):
    pass


class PlainHelpGroup(PlainHelp, TyperGroup):
    pass


app = typer.Typer(
    help="Machine-learning assisted prioritisation of title/abstract screening for systematic reviews.",
    epilog="Example: prioritiser init review --records search.ris, then rank, label, status, stop, audit, export "
           "(each command's --help shows an example).",
    cls=PlainHelpGroup,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print one error line on stderr and return the exit to raise."""
    err_console.print(f"error: {message}", markup=False, highlight=False)
    return typer.Exit(code)


def command(name: str, example: str):
    """Register a command whose user errors end in one line, not a traceback, and whose help
    ends with ``example``."""

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

        return app.command(name, cls=PlainHelpCommand, epilog=f"Example: {example}")(wrapper)

    return decorate


def interrupted_message(commits_before: int = 0) -> str:
    """What a Ctrl-C did: whether the project was updated since ``commits_before`` commits."""
    if project_commits() > commits_before:
        return "interrupted after the project was updated; see 'prioritiser info'"
    return "interrupted; nothing was written by the unfinished step"


def project_commits() -> int:
    """Write transactions committed so far in this process (0 before the store is imported)."""
    connection = sys.modules.get("prioritiser.store.connection")
    return connection.Connection.commits if connection else 0


def on_wait(message: str) -> None:
    err_console.print(message, markup=False, highlight=False)


def open_project(directory: Path, read_only: bool = False):
    from prioritiser.store import Project

    return Project(directory, on_wait=on_wait, read_only=read_only)


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


@command("init", example="prioritiser init review --records pubmed.nbib --records embase.ris")
def init_cmd(
    directory: Path = typer.Argument(..., help="Project directory to create (must not exist)."),
    records: list[Path] = typer.Option(..., "--records", "-r", metavar="FILE", help="Search export: RIS, MEDLINE/nbib, BibTeX, EndNote XML, CSV, TSV or XLSX. Repeat for several files."),
    no_dedupe: bool = typer.Option(False, "--no-dedupe", help="Keep duplicates as separate records."),
    sheet: Optional[str] = typer.Option(None, "--sheet", metavar="NAME", help="Worksheet to read in XLSX files (default: the first)."),
) -> None:
    """Create a project from one or more search exports, finding duplicates."""
    from prioritiser.importing import create_project

    with counting_progress("Importing") as progress:
        task = progress.add_task("Importing", total=None)
        project, summary = create_project(
            directory, records, dedupe=not no_dedupe, on_wait=on_wait,
            on_progress=lambda n: progress.update(task, completed=n), sheet=sheet,
        )
    with project:
        console.print(f"Created project {directory}", markup=False, highlight=False)
        print_import_summary(summary, project)


@command("add", example="prioritiser add review --records update-2025.ris")
def add_cmd(
    directory: Path = typer.Argument(..., help="Existing project directory."),
    records: list[Path] = typer.Option(..., "--records", "-r", metavar="FILE", help="Search export to add (e.g. an update search). Repeatable."),
    no_dedupe: bool = typer.Option(False, "--no-dedupe", help="Do not group the new records with duplicates."),
    sheet: Optional[str] = typer.Option(None, "--sheet", metavar="NAME", help="Worksheet to read in XLSX files (default: the first)."),
) -> None:
    """Add records from an update search; every label is kept."""
    from prioritiser.importing import add_records

    with open_project(directory) as project, counting_progress("Importing") as progress:
        task = progress.add_task("Importing", total=None)
        summary = add_records(project, records, dedupe=not no_dedupe, sheet=sheet,
                              on_progress=lambda n: progress.update(task, completed=n))
        progress.stop()
        print_import_summary(summary, project)


@command("label", example="prioritiser label review batch-0001.csv --reviewer AB")
def label_cmd(
    directory: Path = typer.Argument(..., help="Project directory."),
    file: Path = typer.Argument(..., help="Decisions: CSV/TSV/XLSX with a label column (1/0, yes/no, include/exclude, true/false, maybe) or RIS."),
    reviewer: str = typer.Option("", "--reviewer", metavar="NAME", help="Reviewer name for rows without a reviewer column."),
    adjudicator: str = typer.Option("", "--adjudicator", metavar="NAME", help="Record every decision of FILE as this adjudicator's: it settles reviewers' conflicting decisions and stays in force until a later adjudication."),
    sheet: Optional[str] = typer.Option(None, "--sheet", metavar="NAME", help="Worksheet holding the decisions in an XLSX file (default: the first)."),
) -> None:
    """Import reviewer decisions (append-only: a changed decision is a new event).

    Every row is counted once: new + unchanged + changed + overridden by a later row of the same record + without a decision + matching no record. Changed decisions, records decided two ways within the file (the last row counts) and new conflicts between reviewers are listed.

    Rows matching no record are listed and the command exits with status 1: the decisions that matched are recorded, and importing the corrected file again adds only what is new."""
    from prioritiser.labels import conflict_lines, import_labels, listed

    with open_project(directory) as project:
        summary = import_labels(project, file, reviewer=reviewer, adjudicator=adjudicator, sheet=sheet)
    as_who = f" as adjudications by {summary.adjudicator}" if summary.adjudicator else ""
    console.print(
        f"{file}: {summary.n_rows:,} rows: {summary.n_new:,} new decisions recorded{as_who}, {summary.n_unchanged:,} unchanged, "
        f"{summary.n_changed:,} changed, {summary.n_overridden:,} overridden by a later row, "
        f"{summary.n_undecided:,} without a decision, "
        f"{len(summary.unknown):,} matching no record.", markup=False, highlight=False, soft_wrap=True,
    )
    report = [(summary.changes, f"{len(summary.changes):,} decision(s) changed:", "changes"),
              (summary.contradictions, f"{len(summary.contradictions):,} record(s) decided two ways in this file:",
               "records decided two ways"),
              (summary.unknown, f"{len(summary.unknown):,} row(s) match no record:", "rows matching no record")]
    for lines, heading, what in report:  # headings on stdout, the indented lists on stderr
        if lines:
            console.print(heading, markup=False, highlight=False, soft_wrap=True)
            for line in listed(lines, what):
                err_console.print(f"  {line}", markup=False, highlight=False)
    if summary.conflicts:
        console.print(f"{len(summary.conflicts):,} group(s) now have conflicting decisions from different reviewers "
                      "(listed on stderr). Settle them: put the final decisions in a file (record_id,label) and run "
                      f"'prioritiser label {directory} FILE --adjudicator NAME'.", markup=False, highlight=False,
                      soft_wrap=True)
        for line in conflict_lines(summary.conflicts):  # the first 20; summary.conflicts holds all
            err_console.print(f"  {line}", markup=False, highlight=False)
    if summary.unknown:
        raise fail(f"{file}: {len(summary.unknown):,} of {summary.n_rows:,} rows match no record of {directory}; "
                   "the other rows were recorded", 1)


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


@command("rank", example="prioritiser rank review --batch 50 --out batch-0001.csv")
def rank_cmd(
    directory: Path = typer.Argument(..., help="Project directory."),
    batch: int = typer.Option(50, "--batch", "-b", metavar="N", help="Number of records in the next batch."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", metavar="FILE", help="Write the next batch here (.csv, .tsv, .xlsx or .ris) instead of DIR/batches/batch-NNNN.csv; its empty 'label' column goes back to 'prioritiser label'."),
    model: str = typer.Option("default", "--model", "-m", metavar="NAME", help="Preset name (default, fast, minilm) or path to a preset TOML file."),
    set_: list[str] = typer.Option([], "--set", metavar="KEY=VALUE", help="Override a preset option, KEY=VALUE (repeatable), e.g. --set classifier=svm."),
    query: Optional[str] = typer.Option(None, "--query", "-q", metavar="TEXT", help="Research question: ranks by similarity to it while no include/exclude pair exists yet."),
    seed: Optional[int] = typer.Option(None, "--seed", metavar="N", help="Random seed (default: the preset's)."),
    ray: Optional[str] = typer.Option(None, "--ray", metavar="ADDRESS", help="Score a large pool on the Ray cluster at this address ('auto': the one running here); needs prioritiser[ray] and sentence-encoder features."),
    cluster_from: Optional[int] = typer.Option(None, "--cluster-from", metavar="N", help="With --ray: score on the cluster when at least N records are unscreened, smaller pools here (default 1,000,000: see docs/scale.md)."),
) -> None:
    """Retrain on the latest decisions, rank every unscreened record and hand out the next batch.

    The batch file (DIR/batches/batch-NNNN.csv unless --out names one) says why each record
    ranks where it does: its percentile among the unscreened records, the terms that pushed it
    up and its most similar include. Every argument is checked before anything is stored.
    With --ray, a pool of at least --cluster-from records is scored on the cluster (the same
    batch as here) and the iteration keeps the first 10,000 rows of its ranking."""
    from prioritiser.progress import step
    from prioritiser.screening import rank_project, screening_state

    overrides = parse_overrides(set_)
    with open_project(directory) as project:
        state = None
        if not ray:  # the cluster embeds
            with step("Reading the project", err_console.is_terminal):
                state = screening_state(project)
            chosen = lexical_while_embedding(directory, model, overrides, state.texts)
            if chosen is not None:  # asked: decisions may have come in meanwhile, so read again
                state = None
                if chosen != model:  # the lexical preset while the embeddings are made: the overrides were for the other
                    model, overrides = chosen, {}
        result = rank_project(project, model=model, overrides=overrides, batch=batch, out=out, query=query, seed=seed,
                              progress=err_console.is_terminal, ray=ray, state=state,
                              **({} if cluster_from is None else {"cluster_from": cluster_from}))
    how = "similarity to the research question" if result.used_query else f"model '{model}'"
    console.print(
        f"Iteration {result.iteration_id}: ranked {result.n_ranked:,} unscreened records by {how} "
        f"in {result.timings['total_s']:.1f} s.", markup=False, highlight=False,
    )
    print_estimates(result.estimates)
    console.print(f"Batch {result.batch_id} ({len(result.batch):,} records) written to {result.batch_file}. "
                  f"Fill in its 'label' column (1/0, include/exclude, maybe), then run:", markup=False, highlight=False,
                  soft_wrap=True)
    console.print(f"  prioritiser label {directory} {result.batch_file}", markup=False, highlight=False, soft_wrap=True)


def print_estimates(estimates: dict) -> None:
    """The recall estimate a ranking stored, in the words of ``status`` (which shows the rules)."""
    from prioritiser.status import estimate_text

    console.print(estimate_text(estimates["estimate"], 0.95), markup=False, highlight=False)


TARGET_HELP = "Recall the review must reach (0-1)."
CONFIDENCE_HELP = "Confidence with which the target must be shown (0-1)."


def print_lines(lines) -> None:
    for line in lines:
        console.print(line, markup=False, highlight=False)


def rules_table(rules: list[dict]) -> Table:
    """Every rule's verdict with its full evidence (``status --verbose``)."""
    table = Table("rule", "verdict", "evidence")
    for rule in rules:
        evidence = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in rule["evidence"].items())
        table.add_row(rule["rule"] + (" (default)" if rule["default"] else ""), "stop" if rule["stop"] else "continue",
                      evidence)
    return table


def stopping_lines(report: dict, directory: Path) -> list[str]:
    """The estimate, the rule with its assumption, the forecast and the certification option."""
    from prioritiser.status import forecast_text

    lines = [report["estimate_text"],
             f"Rule {report['rule']} (the default; target recall {report['target_recall']:.0%}, confidence "
             f"{report['confidence']:.0%}) says {'stop' if report['rule_stop'] else 'continue'}. "
             f"Assumption: {report['assumption']}"]
    if report["evidence_text"]:
        lines.append(report["evidence_text"])
    return lines + forecast_text(report["forecast"], str(directory))[1:]  # the first is in the summary


@command("status", example="prioritiser status review --verbose")
def status_cmd(
    directory: Path = typer.Argument(..., help="Project directory."),
    as_json: bool = typer.Option(False, "--json", help="Print everything, with every rule's evidence, as one JSON object."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Also show every stopping rule's verdict and evidence."),
    target_recall: float = typer.Option(0.95, "--target-recall", metavar="RECALL", help=TARGET_HELP),
    confidence: float = typer.Option(0.95, "--confidence", metavar="LEVEL", help=CONFIDENCE_HELP),
) -> None:
    """Where screening stands and what to do next (reads only; never changes the project)."""
    from prioritiser.status import project_status

    with open_project(directory, read_only=True) as project:
        status = project_status(project, target_recall, confidence)
    if as_json:
        typer.echo(json.dumps(status, default=str))
        return
    print_lines(status["summary"])
    for warning in status["warnings"]:
        err_console.print(f"WARNING: {warning}", markup=False, highlight=False)
    if status["counts"]["unlabelled"]:
        print_lines(stopping_lines(status["stopping"], directory))
    if verbose:
        counts = status["counts"]
        console.print(
            f"{counts['records']:,} records ({counts['duplicates']:,} duplicates): {counts['included']:,} included, "
            f"{counts['excluded']:,} excluded, {counts['maybe']:,} maybe, {counts['unlabelled']:,} unscreened; "
            f"{status['labels_since_iteration'] or 0:,} decisions since the last ranking.",
            markup=False, highlight=False)
        console.print(rules_table(status["rules"]))
    print_agreement(status["team"]["agreement"])


def print_agreement(pairs: list[dict]) -> None:
    """Agreement per reviewer pair on the records both screened."""
    if not pairs:
        return
    table = Table("reviewers", "both screened", "Cohen's kappa", "include prevalence", "PABAK", "Gwet's AC1",
                  title="Agreement")
    fmt = lambda v: "–" if v is None else f"{v:.3f}"  # noqa: E731
    for p in pairs:
        table.add_row(f"{p['reviewer_a']} / {p['reviewer_b']}", f"{p['n']:,}", fmt(p["kappa"]),
                      fmt(p["include_prevalence"]), fmt(p["pabak"]), fmt(p["ac1"]))
    console.print(table)


@command("stop", example="prioritiser stop review --json; prioritiser stop review --draw-sample --out certify.csv")
def stop_cmd(
    directory: Path = typer.Argument(..., help="Project directory."),
    target_recall: float = typer.Option(0.95, "--target-recall", metavar="RECALL", help=TARGET_HELP),
    confidence: float = typer.Option(0.95, "--confidence", metavar="LEVEL", help=CONFIDENCE_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the decision, estimate, forecast and evidence as one JSON object."),
    draw_sample: bool = typer.Option(False, "--draw-sample", help="On CONTINUE, draw the random certification sample the forecast names and hand it out as the next batch (needs --out)."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", metavar="FILE", help="File for the certification sample (.csv, .tsv, .xlsx or .ris); only with --draw-sample."),
    seed: int = typer.Option(0, "--seed", metavar="N", help="Seed of the certification sample."),
) -> None:
    """Whether screening may stop under the default rule: exit status 0 STOP, 1 CONTINUE, 2 or more an error.

    A check: it changes nothing and writes no file, unless --draw-sample asks for a certification sample."""
    from prioritiser.status import decide_stop, draw_certification_sample

    if draw_sample and out is None:
        raise fail("--draw-sample needs --out FILE for the sample, e.g. --out certify.csv")
    if out is not None and not draw_sample:
        raise fail("--out is only for --draw-sample (stop writes no file otherwise)")
    with open_project(directory, read_only=not draw_sample) as project:
        decision = decide_stop(project, target_recall, confidence)
        if draw_sample and not decision["stop"]:
            decision["sample"] = draw_certification_sample(project, out, target_recall, confidence, seed)
    if as_json:
        typer.echo(json.dumps(decision, default=str))
    else:
        print_lines(decision["summary"])
        if decision["counts"]["unlabelled"]:
            print_lines(stopping_lines(decision, directory)[1:])
        sample = decision.get("sample")
        if sample and sample["records"]:
            console.print(f"Certification sample of {sample['records']:,} records written to {out}: screen all of them "
                          f"and import them with 'prioritiser label {directory} {out}', then run 'prioritiser stop' "
                          f"again before ranking. {sample['proves']}", markup=False, highlight=False)
    raise typer.Exit(decision["exit_status"])


@command("simulate", example="prioritiser simulate labelled.csv --out sim-output --seed 1")
def simulate_cmd(
    dataset: Path = typer.Argument(..., help="Fully labelled dataset (CSV/TSV/XLSX/RIS with an included/label_included column)."),
    out: Path = typer.Option(..., "--out", "-o", metavar="DIR", help="Output directory: order.csv, metrics.json, recall.png (and stopping.json)."),
    prior_record_ids: str = typer.Option("", "--prior-record-ids", metavar="IDS", help="Space-separated record ids screened first (prior knowledge), e.g. \"95 742\"; default: one random include and one random exclude."),
    seed: Optional[int] = typer.Option(None, "--seed", metavar="N", help="Random seed (default: the preset's); also picks the default priors."),
    model: str = typer.Option("default", "--model", "-m", metavar="NAME", help="Preset name or TOML path."),
    set_: list[str] = typer.Option([], "--set", metavar="KEY=VALUE", help="Override a preset option, KEY=VALUE (repeatable)."),
    batch: int = typer.Option(1, "--batch", "-b", metavar="N", help="Records screened between two rankings."),
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


@command("demo", example="prioritiser demo --out demo-output")
def demo_cmd(
    out: Path = typer.Option(Path("demo-output"), "--out", "-o", metavar="DIR", help="Output directory."),
    seed: int = typer.Option(1, "--seed", metavar="N", help="Random seed (also picks the prior include and exclude)."),
) -> None:
    """Simulate screening of the bundled example (example.csv) and plot its recall curve."""
    from prioritiser.simulate import example_dataset

    simulate_cmd(example_dataset(), out, "", seed, "default", [], 1, False, True)


@command("audit", example="prioritiser audit review --out audit-pack --qa-power 0.8 --qa-missed 2")
def audit_cmd(
    directory: Path = typer.Argument(..., help="Project directory."),
    out: Path = typer.Option(..., "--out", "-o", metavar="DIR", help="Directory for the audit pack (created when missing)."),
    qa_sample: int = typer.Option(0, "--qa-sample", metavar="N", help="Also draw N model-excluded records at random for a quality-control check, written to qa_sample.csv (label it like any batch); says what it can detect."),
    qa_power: Optional[float] = typer.Option(None, "--qa-power", metavar="POWER", help="Suggest the QA sample size with this chance (0-1) of showing an include if --qa-missed were missed."),
    qa_missed: int = typer.Option(2, "--qa-missed", metavar="K", help="Missed includes the suggested QA sample should detect (with --qa-power)."),
    target_recall: float = typer.Option(0.95, "--target-recall", metavar="RECALL", help=TARGET_HELP),
    confidence: float = typer.Option(0.95, "--confidence", metavar="LEVEL", help=CONFIDENCE_HELP),
    seed: int = typer.Option(0, "--seed", metavar="N", help="Seed of the quality-control sample."),
) -> None:
    """Write the audit pack: model exclusions, label history, stopping evidence, PRISMA counts, manifest and report.html.

    Changes nothing in the project unless --qa-sample draws a sample."""
    from prioritiser.audit import write_audit
    from prioritiser.audit.qa import suggest_qa_size

    with open_project(directory, read_only=not qa_sample) as project:
        suggestion = suggest_qa_size(project, qa_power, qa_missed) if qa_power is not None else None
        summary = write_audit(project, out, qa_sample=qa_sample, seed=seed, target_recall=target_recall,
                              confidence=confidence)
    if summary.qa_includes:
        err_console.print(f"WARNING: the quality-control sample holds {len(summary.qa_includes)} include(s) (record "
                          f"ids {', '.join(map(str, summary.qa_includes[:10]))}): screening is reopened.",
                          markup=False, highlight=False)
    console.print(f"Audit written to {out}/: {', '.join(summary.files)}. {summary.n_excluded_by_model:,} records were "
                  f"excluded by the model (never screened by a human).", markup=False, highlight=False)
    stopping = summary.stopping
    console.print(f"{stopping['decision']} by rule {stopping['rule']} (target recall {stopping['target_recall']:.0%}, "
                  f"confidence {stopping['confidence']:.0%}), evaluated now. {stopping['estimate_text']}",
                  markup=False, highlight=False)
    if summary.qa_sample_size:
        console.print(f"{summary.qa_detection['statement']} Screen the {summary.qa_sample_size:,} records in "
                      f"{out / 'qa_sample.csv'} and import them with 'prioritiser label {directory} "
                      f"{out / 'qa_sample.csv'}'.", markup=False, highlight=False)
    if suggestion is not None:
        console.print(f"{suggestion['statement']} Draw it with: prioritiser audit {directory} --out {out} "
                      f"--qa-sample {suggestion['size']}", markup=False, highlight=False)


@command("reproduce", example="prioritiser reproduce audit-pack --project review")
def reproduce_cmd(
    audit_dir: Path = typer.Argument(..., help="Audit pack directory (holds manifest.json)."),
    project: Optional[Path] = typer.Option(None, "--project", "-p", metavar="DIR", help="Project directory, when it has moved since the audit."),
) -> None:
    """Recompute the audited ranking from the stored labels and check the manifest's hashes."""
    from prioritiser.audit import reproduce

    result = reproduce(audit_dir, project)
    for line in result.lines():
        console.print(line, markup=False, highlight=False)
    if not result.ok:
        raise fail(f"{audit_dir}: the audit does not reproduce (see above)", 1)


@command("export", example="prioritiser export review --out all-records.ris")
def export_cmd(
    directory: Path = typer.Argument(..., help="Project directory."),
    out: Path = typer.Option(..., "--out", "-o", metavar="FILE", help="Output file: .csv, .tsv, .xlsx or .ris."),
) -> None:
    """Export every record with its decision, latest score, rank and percentile, and for the
    front of the latest ranking the terms that pushed each record up and its most similar include."""
    from prioritiser.export import export_records

    with open_project(directory) as project:
        n = export_records(project, out, progress=err_console.is_terminal)
    console.print(f"Wrote {n:,} records to {out}", markup=False, highlight=False)


@command("info", example="prioritiser info review --json")
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


@command("check", example="prioritiser check review --repair")
def check_cmd(
    directory: Path = typer.Argument(..., help="Project directory."),
    repair: bool = typer.Option(False, "--repair", help="Upgrade a project made by an older prioritiser now, marking void the random batches its 'stop' drew that nobody screened as samples (nothing is deleted, no label is lost)."),
) -> None:
    """Check the project's integrity (database, groups, rankings, certification samples); reads only unless --repair."""
    with open_project(directory, read_only=not repair) as project:
        problems = project.check()
        info = project.info()
        void = [b for b in project.batches("random") if b["void"]]
        upgraded_from = project.migrated_from
    if problems:
        for problem in problems:
            err_console.print(f"problem: {problem}", markup=False, highlight=False)
        raise fail(f"{directory}: {len(problems)} integrity problems", 3)
    if upgraded_from is not None:
        done = "was upgraded" if repair else f"needs an upgrade: run 'prioritiser check {directory} --repair'"
        console.print(f"{directory}: made by an older prioritiser (schema {upgraded_from}); it {done}. "
                      f"{len(void):,} random batches drawn by 'stop' were never screened as samples"
                      f"{' and are marked void' if repair else ' and would be marked void'} (kept, not deleted).",
                      markup=False, highlight=False)
    for batch in void if repair or upgraded_from is not None else []:
        console.print(f"  random batch {batch['batch_id']} ({len(batch['group_ids']):,} records, drawn "
                      f"{batch['created_at']}): {batch['void']}", markup=False, highlight=False)
    console.print(f"{directory}: ok ({info['records']:,} records, {info['label_events']:,} label events, "
                  f"{info['iterations']:,} iterations)", markup=False, highlight=False)


@command("screen", example="prioritiser screen review --reviewer AB --mode dual --adjudicator CD")
def screen_cmd(
    directory: Path = typer.Argument(..., help="Project directory."),
    reviewer: str = typer.Option("", "--reviewer", metavar="NAME", help="Your name as reviewer (asked on the page when not given)."),
    port: int = typer.Option(8765, "--port", metavar="N", help="Port to serve the page on."),
    host: str = typer.Option("127.0.0.1", "--host", metavar="ADDRESS", help="Address to bind; any other than loopback needs the printed token."),
    mode: Optional[str] = typer.Option(None, "--mode", metavar="MODE", help="Team mode, kept in the project: single, dual (two reviewers per record) or dual-share (two for a random share and every include)."),
    share: Optional[float] = typer.Option(None, "--share", metavar="SHARE", help="Calibration share screened twice in dual-share mode (default 0.1)."),
    adjudicator: Optional[str] = typer.Option(None, "--adjudicator", metavar="NAME", help="Reviewer who resolves conflicts (kept in the project)."),
    question: Optional[str] = typer.Option(None, "--question", metavar="TEXT", help="Research question: its words are highlighted, and it ranks before the first include."),
    reasons: Optional[str] = typer.Option(None, "--reasons", metavar="TEXT", help="Exclusion reasons, separated by ';' (at most 9; keys 1-9)."),
    retrain_every: Optional[int] = typer.Option(None, "--retrain-every", metavar="N", help="Retrain in the background after every N decisions (default 10)."),
    model: str = typer.Option("default", "--model", metavar="NAME", help="Model preset for the background ranking."),
) -> None:
    """Screen in the browser: one record at a time (keys i/e/m/u/?), live progress, team modes."""
    from prioritiser.store.team import save_settings
    from prioritiser.web.app import serve

    given = {"mode": mode, "share": share, "adjudicator": adjudicator, "question": question,
             "reasons": None if reasons is None else [r.strip() for r in reasons.split(";") if r.strip()],
             "retrain_every": retrain_every}
    with open_project(directory) as project:
        save_settings(project, **{k: v for k, v in given.items() if v is not None})
    try:
        serve(directory, reviewer=reviewer.strip(), host=host, port=port, model=model,
              on_ready=lambda url: console.print(f"Screening page: {url}  (Ctrl-C to stop)", markup=False, highlight=False))
    except KeyboardInterrupt:  # the way to stop the page: every decision was saved when it was made
        pass
    console.print("Stopped; every decision was saved as it was made.", markup=False, highlight=False)


@command("embed", example="prioritiser embed review --model minilm")
def embed_cmd(
    directory: Path = typer.Argument(..., help="Project directory."),
    model: str = typer.Option("minilm", "--model", "-m", metavar="NAME", help="Preset whose sentence encoder to run (name or TOML path)."),
    set_: list[str] = typer.Option([], "--set", metavar="KEY=VALUE", help="Override a preset option, KEY=VALUE (repeatable)."),
    ray: Optional[str] = typer.Option(None, "--ray", metavar="ADDRESS", help="Embed on the Ray cluster at this address ('auto': the one running here); needs prioritiser[ray]."),
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


@command("cache", example="prioritiser cache info")
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


#: Seconds of embedding on a CPU beyond which ``rank`` offers the lexical preset meanwhile.
LONG_EMBEDDING_S = 120.0
LEXICAL_PRESET = "default"


def lexical_while_embedding(directory: Path, model: str, overrides: dict, texts: list[str]) -> str | None:
    """The preset ``rank`` should use, given the project's group ``texts``: ``None`` (rank with
    ``model`` as asked, nothing said) unless its sentence encoder still has more than
    ``LONG_EMBEDDING_S`` seconds of CPU work on them; then say how long, and (at a terminal,
    if the user agrees) rank with the lexical preset now, the embeddings to be made by
    ``prioritiser embed`` and used by a later rank."""
    from prioritiser.features import EMBEDDERS, embedding_backlog, parse_spec
    from prioritiser.learning import load_preset

    config = load_preset(model, overrides)
    if not any(part in EMBEDDERS for part in parse_spec(config["features"])):
        return None
    runs = embedding_backlog(config["features"], texts, config.get("feature_params"), measure=64)
    seconds = sum(run.eta_s or 0.0 for run in runs)
    if seconds <= LONG_EMBEDDING_S:
        return None
    counts = ", ".join(f"{run.to_embed:,} texts with {run.name} at {run.rate:.1f}/s" for run in runs if run.to_embed)
    err_console.print(f"Embedding {counts} takes about {seconds / 60:.0f} min on this machine.", markup=False, highlight=False)
    if err_console.is_terminal and typer.confirm(
            f"Rank with the lexical preset '{LEXICAL_PRESET}' now, and embed later with 'prioritiser embed "
            f"{directory}' (the next rank then uses the embeddings)?", default=True, err=True):
        return LEXICAL_PRESET
    return model


def main() -> int | str | None:
    """Run the command line; returns the exit status (the console script reaches this through
    ``prioritiser.__main__``, which also covers a Ctrl-C while this module loads).

    A Ctrl-C that lands outside a command's own handling (while typer sets up, or after the
    command returned), or that Python swallowed and had not raised again before the command
    ended (:func:`prioritiser.shutdown.pass_on_swallowed_ctrl_c`), ends in the same one-line
    message and exit status 130 as one inside it; one that lands after that, while Python shuts
    down, ends the process silently."""
    from prioritiser import shutdown

    reported = True  # a command's own Ctrl-C handling has said it
    try:
        try:
            app()  # in standalone mode it always ends by raising SystemExit
            code: int | str | None = 0
        except SystemExit as done:
            code = done.code
            if _typer_swallowed_ctrl_c(done):
                raise KeyboardInterrupt from None
    except KeyboardInterrupt:
        code, reported = 130, False
    try:
        if code != 130 and shutdown.swallowed_ctrl_c:  # sent again, but it has not landed yet
            code, reported = 130, False
        if not reported:
            err_console.print(f"error: {interrupted_message()}", markup=False, highlight=False)
    except KeyboardInterrupt:
        pass
    shutdown.end_quietly_on_ctrl_c()
    return code


def _typer_swallowed_ctrl_c(done: SystemExit) -> bool:
    """Whether typer turned a Ctrl-C outside our command wrapper into a silent exit 130
    (``raise Exit(130) from KeyboardInterrupt``); ours print their message first."""
    exit_ = done.__context__
    return done.code == 130 and isinstance(exit_, typer.Exit) and isinstance(exit_.__cause__, KeyboardInterrupt)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

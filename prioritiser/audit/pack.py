"""The audit pack: what the model excluded, every decision, the stopping verdict, PRISMA counts,
a manifest that ties them to their inputs, and one HTML report.

Counts in ``prisma.json`` are of records, as :meth:`Project.info` counts them (a group's
decision counts for every record in it), with the same counts for duplicate groups beside them.

The pack names no absolute path and nothing of the machine but its OS and architecture: the
project is named relative to the pack, source files relative to the project (with their
SHA-256), so project and pack can be moved or shared together and reproduced elsewhere.
"""

from __future__ import annotations

import json
import os
import platform
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import pandas as pd

from prioritiser import __version__
from prioritiser.audit.history import last_rankings
from prioritiser.audit.integrity import label_history_sha256, model_identities, ranking_sha256
from prioritiser.audit.qa import draw_qa_sample, qa_findings, qa_rounds
from prioritiser.errors import UserError
from prioritiser.files import file_sha256
from prioritiser.records import EXCLUDE, INCLUDE, MAYBE
from prioritiser.store import Iteration, Project, now_iso
from prioritiser.store import team

MANIFEST_FORMAT = "prioritiser-audit/1"
DEPENDENCIES = ("numpy", "scipy", "scikit-learn", "transformers", "model2vec", "torch", "pandas",
                "matplotlib")
EXCLUDED_COLUMNS = ["record_id", "group_id", "title", "abstract", "authors", "year", "doi", "pmid", "journal",
                    "source_file", "score", "rank", "percentile", "top_terms", "similar_include_id",
                    "similar_include_title", "iteration_id", "config_hash", "seed"]
HISTORY_COLUMNS = ["event_id", "record_id", "group_id", "decision", "reviewer", "decided_at", "recorded_at",
                   "batch", "origin"]


@dataclass
class AuditSummary:
    """What :func:`write_audit` wrote; counts are of records."""

    out_dir: Path
    files: list[str]
    iteration_id: int
    n_excluded_by_model: int
    prisma: dict
    stop: bool | None
    qa_sample_size: int = 0
    qa_includes: list[int] = field(default_factory=list)
    qa_detection: dict | None = None
    stopping: dict = field(default_factory=dict)


def excluded_by_model(project: Project) -> pd.DataFrame:
    """Every record whose group has no decision in force ('maybe' counts as a decision), one row
    per record (duplicates included), with the score and rank of the newest ranking holding its
    group and that ranking's iteration id, configuration hash and seed (empty when no ranking
    holds it, e.g. records added after the last ``rank``). When the newest ranking stored only
    its first rows (:func:`ranking_note`), the groups past them are left empty too: an older
    ranking's place would not be the newest one's. Sorted by rank, then record id."""
    from prioritiser.export import records_table

    table = records_table(project, progress=True)  # a spinner while the model is refitted, on a terminal
    table = table[table["label"].eq("")].drop(columns=["label", "score", "rank"])
    ranked = last_rankings(project, table["group_id"].unique())
    latest = project.latest_iteration()
    if latest is not None and not latest.stored_in_full:
        ranked = ranked[ranked["iteration_id"].eq(latest.iteration_id)]
    table = table.join(ranked, on="group_id")
    for column in ("rank", "iteration_id", "seed"):
        table[column] = table[column].astype("Int64")
    return table.sort_values(["rank", "record_id"], na_position="last")[EXCLUDED_COLUMNS].reset_index(drop=True)


def labels_history(project: Project) -> pd.DataFrame:
    """Every label event in the order it was recorded."""
    return project.label_events()[HISTORY_COLUMNS]


def prisma_counts(project: Project) -> dict:
    """PRISMA flow counts of records (consistent with :meth:`Project.info`) and of groups.

    Invariants: ``identified = screened_by_humans + excluded_by_model`` and
    ``screened_by_humans = included + excluded_by_humans + maybe``, for records and for groups;
    groups ``after_duplicates_removed = identified - duplicates_removed``.
    """
    info = project.info()
    decisions = project.group_decisions()
    by_decision = {d: sum(v == d for v in decisions.values()) for d in (INCLUDE, EXCLUDE, MAYBE)}
    rounds = qa_rounds(project)
    return {
        "unit": "records; a decision on a duplicate group counts for every record in it. "
                "'groups' gives the same counts after duplicates are removed.",
        "identified": {
            "total": info["records"],
            "per_source": [{"file": Path(s.path).name, "path": relative_path(s.path, project.path), "sha256": s.sha256,
                            "records": int(s.n_records)} for s in project.sources().itertuples()],
        },
        "duplicates_removed": info["duplicates"],
        "records": {
            "identified": info["records"], "screened_by_humans": info["labelled"], "included": info["included"],
            "excluded_by_humans": info["excluded"], "maybe": info["maybe"], "excluded_by_model": info["unlabelled"],
        },
        "groups": {
            "after_duplicates_removed": info["groups"], "screened_by_humans": len(decisions),
            "included": by_decision[INCLUDE], "excluded_by_humans": by_decision[EXCLUDE], "maybe": by_decision[MAYBE],
            "excluded_by_model": info["groups"] - len(decisions),
        },
        "screening": team.team_summary(project.con),
        "quality_control": {
            "rounds": len(rounds), "groups_sampled": sum(r["sampled"] for r in rounds),
            "groups_screened": sum(r["screened"] for r in rounds),
            "includes_found": sum(len(r["includes"]) for r in rounds),
            "open_findings": qa_findings(project),
            "samples": [{"batch_id": r["batch_id"], "sampled": r["sampled"], "screened": r["screened"],
                         "includes": len(r["includes"]), "pool": r["pool"], "detection": r["detection"]}
                        for r in rounds],
        },
    }


def stopping_record(project: Project, latest: Iteration, target_recall: float = 0.95,
                    confidence: float = 0.95) -> dict:
    """The stopping evidence, evaluated at audit time on the decisions in force (nothing stored
    earlier is trusted): what ``prioritiser stop`` answers now (see
    :func:`prioritiser.status.stopping_report`: the default rule, target, confidence,
    assumption, verdict, evidence, estimate, forecast and the certification samples with what
    of each counts), every rule's verdict on the same decisions (``rules``), and the default
    rule's verdict and estimate at each ranking (``by_iteration``), each recomputed from the
    decisions up to that iteration's last label event, so that every verdict names the
    iteration and decisions it belongs to."""
    from prioritiser.screening import screening_history
    from prioritiser.status import stopping_report
    from prioritiser.stopping import default_rule, default_rules, estimate, evaluate_all

    iterations = project.iterations(with_ranking=True)
    history_now = screening_history(project, iterations=iterations)
    report = stopping_report(project, target_recall, confidence, history=history_now)
    rule = default_rule(target_recall, confidence)
    by_iteration = []
    for it in iterations:
        history = screening_history(project, up_to_event=it.last_event_id, iterations=iterations)
        est = estimate(history, confidence)
        by_iteration.append({
            "iteration_id": it.iteration_id, "created_at": it.created_at, "last_event_id": it.last_event_id,
            "screened": est["screened"], "includes_found": est["includes_found"], "too_early": est["too_early"],
            "estimated_recall": est["estimated_recall"], "recall_lower_95": est["recall_lower_95"],
            "recall_upper": est["recall_upper"], "estimated_remaining": est["estimated_remaining"],
            "remaining_upper_95": est["remaining_upper_95"], "stop": bool(rule.evaluate(history).stop),
        })
    return {
        **report, "evaluated_at": now_iso(), "latest_iteration_id": latest.iteration_id,
        "labels_since_latest_iteration": project.last_event_id() - latest.last_event_id,
        "rules": evaluate_all(history_now, default_rules(target_recall, confidence)),
        "by_iteration": by_iteration,
    }


def dependency_versions() -> dict[str, str | None]:
    versions = {}
    for name in DEPENDENCIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def relative_path(path: str | Path, base: str | Path) -> str:
    """``path`` relative to the directory ``base``, with forward slashes (``..`` steps where it
    lies outside); just the file name where no relative path exists (another Windows drive)."""
    try:
        return Path(os.path.relpath(Path(path).resolve(), Path(base).resolve())).as_posix()
    except ValueError:
        return Path(path).name


def research_question(project: Project) -> str | None:
    """The research question a ``rank --query`` ranked by (the latest one given), None when
    the screening never started from one."""
    questions = [it.config["query"] for it in project.iterations() if it.config.get("query")]
    return questions[-1] if questions else None


def build_manifest(project: Project, latest: Iteration, out_dir: Path, files: dict[str, str]) -> dict:
    """Versions, configuration, seeds and the hashes that tie the pack in ``out_dir`` to its
    inputs; ``project`` is the project's path relative to the pack, each source's ``path``
    relative to the project."""
    history_sha, n_events = label_history_sha256(project, latest.last_event_id)
    return {
        "format": MANIFEST_FORMAT,
        "created_at": now_iso(),
        "project": relative_path(project.path, out_dir),
        "prioritiser": __version__,
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.machine()}",
        "dependencies": dependency_versions(),
        "preset": latest.config.get("preset"),
        "parameters": latest.config,
        "research_question": research_question(project),
        "iteration": {
            "iteration_id": latest.iteration_id, "kind": latest.kind, "created_at": latest.created_at,
            "config_hash": latest.config_hash, "seed": latest.seed, "last_event_id": latest.last_event_id,
            "n_ranked": latest.n_ranked, "n_stored": len(latest.group_ids),
            "ranking_sha256": ranking_sha256(latest.group_ids, latest.scores),
            **({} if latest.stored_in_full else {"note": ranking_note(latest)}),
        },
        "seeds": {
            "iteration": latest.seed,
            "batches": [{"batch_id": b["batch_id"], "kind": b["kind"], "seed": b["seed"],
                         "iteration_id": b["iteration_id"]} for b in project.batches()],
        },
        "sources": [{"path": relative_path(s.path, project.path), "sha256": s.sha256, "format": s.format,
                     "records": int(s.n_records), "imported_at": s.imported_at} for s in project.sources().itertuples()],
        "label_history": {"last_event_id": latest.last_event_id, "events": n_events, "sha256": history_sha,
                          "canonical_form": "one compact JSON array per event [event_id, record_id, decision, "
                                            "reviewer, decided_at, recorded_at, batch, origin], UTF-8, joined by newlines"},
        "models": model_identities(latest.config),
        "files": files,
    }


def ranking_note(iteration: Iteration) -> str:
    """What an audit says of an iteration that stored only the first rows of its ranking."""
    return (f"iteration {iteration.iteration_id} was scored on a Ray cluster and stored only the first "
            f"{len(iteration.group_ids):,} of the {iteration.n_ranked:,} records it ranked: the model-excluded "
            f"records past them are listed without a score or rank (each ranked below "
            f"{len(iteration.group_ids):,}), and ranking_sha256 covers the stored rows")


def write_audit(project: Project, out_dir: str | Path, qa_sample: int = 0, seed: int = 0,
                target_recall: float = 0.95, confidence: float = 0.95) -> AuditSummary:
    """Write the audit pack of ``project`` into ``out_dir`` (created when missing; files of the
    same names are replaced). ``qa_sample > 0`` also draws that many model-excluded groups as
    a recorded QA batch (seeded by ``seed``) into ``qa_sample.csv``; otherwise nothing in the
    project changes. The stopping evidence is evaluated now at ``target_recall`` and
    ``confidence`` (see :func:`stopping_record`).

    Files: excluded_by_model.csv/.ris, labels_history.csv, stopping.json, prisma.json,
    report.html, [qa_sample.csv], and manifest.json last, holding the SHA-256 of the others.
    """
    from prioritiser.audit.report import render_report
    from prioritiser.io import write_table

    latest = project.latest_iteration()
    if latest is None:
        raise UserError(f"{project.path}: no ranking yet; an audit needs one ('prioritiser rank')")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[str] = []
    qa_rows, qa_detection = 0, None
    if qa_sample:
        frame = draw_qa_sample(project, qa_sample, seed, out=out / "qa_sample.csv")
        written.append("qa_sample.csv")
        qa_rows = len(frame)
        qa_detection = qa_rounds(project)[-1]["detection"]
    excluded = excluded_by_model(project)
    for name in ("excluded_by_model.csv", "excluded_by_model.ris"):
        write_table(excluded, out / name)
    write_table(labels_history(project), out / "labels_history.csv")
    written += ["excluded_by_model.csv", "excluded_by_model.ris", "labels_history.csv"]
    stopping = stopping_record(project, latest, target_recall, confidence)
    prisma = prisma_counts(project)
    for name, payload in (("stopping.json", stopping), ("prisma.json", prisma)):
        (out / name).write_text(json.dumps(payload, indent=2, default=str), encoding="utf-8")
        written.append(name)
    manifest = build_manifest(project, latest, out, {})
    (out / "report.html").write_text(render_report(project, excluded, prisma, stopping, manifest), encoding="utf-8")
    written.append("report.html")
    manifest["files"] = {name: file_sha256(out / name) for name in written}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str), encoding="utf-8")
    return AuditSummary(
        out_dir=out, files=[*written, "manifest.json"], iteration_id=latest.iteration_id,
        n_excluded_by_model=len(excluded), prisma=prisma, stop=stopping["stop"], qa_sample_size=qa_rows,
        qa_includes=qa_findings(project), qa_detection=qa_detection, stopping=stopping,
    )

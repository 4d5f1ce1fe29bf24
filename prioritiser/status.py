"""Where screening stands and whether it may stop: what ``status`` and ``stop`` print and what
the audit records, with the same numbers in all three.

Both are checks: they read the project and change nothing (open it with
``Project(path, read_only=True)``). The stopping verdict is evaluated afresh from the decisions
in force; nothing of it is stored. A certification sample is drawn only on request
(:func:`draw_certification_sample`, ``stop --draw-sample``), as a batch like any other.

Counts are of records (a decision on a duplicate group counts for every record in it), as
:meth:`~prioritiser.store.Project.info` counts them; the recall estimate and the stopping rule
count screening units, where a duplicate group counts once (``unit`` says so).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from prioritiser.batches import batch_frame, hand_out
from prioritiser.errors import UserError
from prioritiser.records import INCLUDE
from prioritiser.screening import screening_history
from prioritiser.store import Project
from prioritiser.store import team

#: Batches whose includes the status summary lists.
RECENT_BATCHES = 5
#: Exit statuses of ``prioritiser stop`` (errors are 2 and above).
EXIT_STOP, EXIT_CONTINUE = 0, 1
UNIT = "records; a duplicate group counts once"


def percent(share: float) -> str:
    """``share`` as a percentage rounded down to 0.1%, so that anything short of 1 never reads
    as 100.0%."""
    return f"{math.floor(share * 1000 + 1e-9) / 10:.1f}%"


def _check_target(target_recall: float, confidence: float) -> None:
    if not 0 < target_recall < 1 or not 0 < confidence < 1:
        raise UserError(f"--target-recall ({target_recall}) and --confidence ({confidence}) must lie strictly "
                        "between 0 and 1, e.g. --target-recall 0.95 --confidence 0.95")


def estimate_text(est: dict, confidence: float) -> str:
    """One sentence on the recall estimate: the point estimate with its interval, or "too
    early to estimate"."""
    if est["unscreened"] == 0:
        return "Every record has been screened: recall is 100%."
    if est["too_early"]:
        return ("Recall: too early to estimate (the ranking has screened fewer than 5% of the records "
                "or found fewer than 2 includes).")
    upper = "every include found" if est["remaining_lower"] == 0 else percent(est["recall_upper"])
    return (f"Estimated recall {percent(est['estimated_recall'])} (interval {percent(est['recall_lower_95'])} to "
            f"{upper}, the lower end a {confidence:.0%} bound): about "
            f"{_includes(max(round(est['estimated_remaining']), 1))} still unscreened, at most "
            f"{est['remaining_upper_95']:,}.")


def evidence_text(evidence: dict, parameters: dict) -> str:
    """One sentence on the numbers behind the default rule's verdict (``parameters``: the
    rule's); '' once every record is screened."""
    from prioritiser.stopping.estimate import DEFAULT_ODDS

    if "remaining_upper" not in evidence:
        return ""
    text = (f"Evidence: at most {_includes(evidence['remaining_upper'])} unscreened under odds {DEFAULT_ODDS:g} "
            f"({evidence['method']}), {evidence['allowed_missing']:,} may be missed")
    if "scores_stop" in evidence:
        text += (f"; under odds {parameters['odds']:g} at most {evidence['urn_remaining_upper']:,}, and the model's "
                 f"scaled scores expect {evidence['scaled_remaining']:.1f}")
    elif "scores" in evidence:
        text += "; the model's scores are not usable here"
    return text + "."


def _includes(n: int) -> str:
    return f"{n:,} include{'' if n == 1 else 's'}"


def forecast_text(fc: dict | None, directory: str) -> list[str]:
    """The forecast as sentences: ranked records to the rule's stop, and the certification
    sample when it is an option."""
    if fc is None:
        return []
    n = fc["ranked_to_stop"]
    lines = [f"About {n:,} more records without an include and the default rule will say stop." if n is not None
             else "No run of excludes short of screening every record would let the default rule say stop yet."]
    if fc["sample_size"] and fc.get("sample_is_option"):
        lines.append(f"Or certify with a random sample of {fc['sample_size']:,} records "
                     f"(prioritiser stop {directory} --draw-sample --out certify.csv): {fc['sample_proves']}")
    return lines


def certification_samples(project: Project, first: dict[int, int], decisions: dict[int, str]) -> list[dict]:
    """Every certification sample (``random`` batch): its size, the records of it first decided
    while it was the open batch (``screened``; only these count as randomly sampled), the
    includes among them, those of it still without a decision, whether it is the open batch,
    and why it is void (None when it counts)."""
    samples = []
    for batch in project.batches("random"):
        start, end = batch["last_event_id"], batch["closed_at_event"]
        members = project.current_groups(batch["group_ids"])
        counted = [g for g in members if g in first and first[g] > start and (end is None or first[g] <= end)]
        samples.append({
            "batch_id": batch["batch_id"], "drawn_at": batch["created_at"], "records": len(members),
            "screened": 0 if batch["void"] else len(counted),
            "includes": 0 if batch["void"] else sum(decisions.get(g) == INCLUDE for g in counted),
            "without_decision": sum(g not in decisions for g in members),
            "open": end is None, "void": batch["void"],
        })
    return samples


def stopping_report(project: Project, target_recall: float = 0.95, confidence: float = 0.95,
                    up_to_event: int | None = None, history=None) -> dict:
    """The default rule's verdict on the decisions in force (up to ``up_to_event`` when given;
    ``history``: their :func:`~prioritiser.screening.screening_history` when already read),
    JSON-ready: ``decision`` (STOP or CONTINUE), ``stop`` (open QA findings overrule the
    rule), ``rule_stop``, ``rule``, ``parameters``, ``assumption``, ``target_recall``,
    ``confidence``, ``evidence`` (the rule's numbers), ``evidence_text`` (them in a sentence),
    ``estimate`` (point estimate, interval,
    ``too_early``; see :func:`prioritiser.stopping.estimate`), ``estimate_text``, ``forecast``
    (None once the rule says stop), ``certification_samples``, ``reopened_by_qa``,
    ``last_event_id`` and ``unit``."""
    from prioritiser.audit.qa import qa_findings
    from prioritiser.stopping import default_rule, estimate, forecast

    _check_target(target_recall, confidence)
    last = project.last_event_id() if up_to_event is None else up_to_event
    history = history if history is not None else screening_history(project, up_to_event=last)
    rule = default_rule(target_recall, confidence)
    verdict = rule.evaluate(history)
    est = estimate(history, confidence)
    qa = qa_findings(project) if up_to_event is None else []
    fc = None
    if not verdict.stop:
        fc = forecast(history, target_recall, confidence)
        ahead = fc["ranked_to_stop"]  # a sample is offered only where it takes fewer records than ranking on
        fc["sample_is_option"] = ahead is not None and 0 < fc["sample_size"] < ahead
    stop = bool(verdict.stop) and not qa
    text = estimate_text(est, confidence)
    if project.duplicate_counts()[1] and est["unscreened"]:
        text += " A duplicate group counts once here."
    return {
        "decision": "STOP" if stop else "CONTINUE", "stop": stop, "rule_stop": bool(verdict.stop),
        "rule": rule.name, "parameters": dict(rule.parameters), "assumption": rule.assumption,
        "target_recall": target_recall, "confidence": confidence, "evidence": dict(verdict.evidence),
        "evidence_text": evidence_text(verdict.evidence, rule.parameters), "estimate": est, "estimate_text": text, "forecast": fc,
        "certification_samples": certification_samples(project, project.first_decisions(last),
                                                       project.group_decisions(last)),
        "reopened_by_qa": qa, "last_event_id": last, "unit": UNIT,
    }


def open_sample(report: dict) -> dict | None:
    """The certification sample that is the open batch with records still undecided, if any."""
    return next((s for s in report["certification_samples"] if s["open"] and not s["void"] and s["without_decision"]),
                None)


def batch_yields(project: Project) -> list[dict]:
    """Per handed-out batch, oldest first: its kind and size, the records first decided from it
    (a record decided after several batches held it belongs to the last of them handed out
    before its first decision; void batches hold none) and the includes among them."""
    first = project.first_decisions(project.last_event_id())
    decisions = project.group_decisions()
    owner: dict[int, int] = {}
    batches = project.batches()
    for i, batch in enumerate(batches):
        if batch["void"]:
            continue
        for g in project.current_groups(batch["group_ids"]):
            if first.get(g, -1) > batch["last_event_id"]:
                owner[g] = i
    screened = np.bincount(list(owner.values()), minlength=len(batches)) if owner else np.zeros(len(batches), int)
    found = np.zeros(len(batches), dtype=int)
    for g, i in owner.items():
        found[i] += decisions.get(g) == INCLUDE
    return [{"batch_id": b["batch_id"], "kind": b["kind"], "records": len(b["group_ids"]),
             "screened": int(screened[i]), "includes": int(found[i])} for i, b in enumerate(batches)]


def _next(report: dict, counts: dict, directory: str) -> tuple[str, list[str]]:
    """The verdict with its reason and what to do next (one line), and the commands it names."""
    decision = report["decision"]
    if counts["unlabelled"] == 0:
        reason, action = "every record is screened", "write the audit, then export"
        commands = [f"prioritiser audit {directory} --out audit", f"prioritiser export {directory} --out all.ris"]
    elif report["reopened_by_qa"]:
        reason = (f"the quality-control sample found {len(report['reopened_by_qa'])} include(s) among "
                  "model-excluded records, so screening is reopened")
        action, commands = "rank and screen further batches", [f"prioritiser rank {directory}"]
    elif report["stop"]:
        reason = (f"the default rule ({report['rule']}) shows recall >= {report['target_recall']:.0%} with "
                  f"{report['confidence']:.0%} confidence")
        action = "write the audit, then export"
        commands = [f"prioritiser audit {directory} --out audit", f"prioritiser export {directory} --out all.ris"]
    elif (sample := open_sample(report)) is not None:
        reason = (f"the certification sample is open, {sample['without_decision']:,} of its {sample['records']:,} "
                  "records still lack a decision")
        action = ("label them from the file 'stop --draw-sample' wrote, then check again (ranking now would close "
                  "the sample)")
        commands = [f"prioritiser label {directory} certify.csv", f"prioritiser stop {directory}"]
    elif counts["labelled"] == 0 or counts["iterations"] == 0:
        reason, action, commands = "nothing ranked yet", "rank the records and screen the first batch", [
            f"prioritiser rank {directory}"]
    else:
        ahead = report["forecast"]["ranked_to_stop"] if report["forecast"] else None
        reason = (f"about {ahead:,} more records without an include and the default rule will say stop" if ahead
                  else "the default rule cannot say stop yet")
        action, commands = "rank and screen the next batch", [f"prioritiser rank {directory}"]
    return f"{decision}: {reason}. Next: {action} ({'; then '.join(commands)}).", commands


def decide_stop(project: Project, target_recall: float = 0.95, confidence: float = 0.95) -> dict:
    """The answer of ``prioritiser stop``: :func:`stopping_report` with ``counts`` (records),
    ``summary`` (two lines: where screening stands with the estimate, and the verdict with what
    to do next), ``next_steps`` (commands) and ``exit_status`` (0 STOP, 1 CONTINUE). Reads only."""
    report = stopping_report(project, target_recall, confidence)
    counts = project.info()
    step, commands = _next(report, counts, str(project.path))
    where = (f"Screened {counts['labelled']:,} of {counts['records']:,} records, {counts['included']:,} includes "
             f"found. {report['estimate_text']}")
    return {**report, "counts": counts, "summary": [where, step], "next_steps": commands,
            "exit_status": EXIT_STOP if report["stop"] else EXIT_CONTINUE}


def project_status(project: Project, target_recall: float = 0.95, confidence: float = 0.95) -> dict:
    """Where screening stands, JSON-ready: ``summary`` (two lines: where you are with the
    includes of the last batches, and what to do next), ``next_steps``, ``counts`` (records),
    ``recent_batches``, ``stopping`` (what ``stop`` answers, see :func:`stopping_report`),
    ``rules`` (every rule's verdict with its full evidence), ``iteration_id``,
    ``labels_since_iteration``, ``warnings``, ``qa_includes``, ``conflicts`` and
    ``pending_migration``. Reads only."""
    from prioritiser.stopping import default_rules, evaluate_all

    counts = project.info()
    history = screening_history(project)
    report = stopping_report(project, target_recall, confidence, history=history)
    latest = project.latest_iteration()
    yields = [b for b in batch_yields(project) if b["screened"]][-RECENT_BATCHES:]
    step, commands = _next(report, counts, str(project.path))
    where = f"Screened {counts['labelled']:,} of {counts['records']:,} records, {counts['included']:,} includes found"
    if yields:
        where += (f"; includes in the last {len(yields)} batches (oldest first): "
                  + ", ".join(f"{b['includes']} of {b['screened']}" for b in yields))
    warnings = []
    if report["reopened_by_qa"]:
        warnings.append(
            f"the quality-control sample of model-excluded records holds {len(report['reopened_by_qa'])} include(s) "
            f"(record ids {', '.join(map(str, report['reopened_by_qa'][:10]))}): screening is reopened")
    conflicts = project.label_conflicts()
    if conflicts:
        warnings.append(f"{len(conflicts)} record(s) have conflicting decisions from different reviewers "
                        f"(e.g. record {conflicts[0][0]}); settle them: put the final decisions in a file (record_id,label) "
                        f"and run 'prioritiser label {project.path} FILE --adjudicator NAME'")
    void = [s for s in report["certification_samples"] if s["void"]]
    if project.pending_migration is not None and void:
        warnings.append(f"this project was made by an older prioritiser: {len(void)} random batch(es) drawn by "
                        "'stop' were never screened as samples and are read as void; run "
                        f"'prioritiser check {project.path} --repair' to mark them in the project")
    return {
        "summary": [where + ".", step], "next_steps": commands, "counts": counts,
        "recent_batches": yields, "stopping": report,
        "rules": evaluate_all(history, default_rules(target_recall, confidence)),
        "iteration_id": None if latest is None else latest.iteration_id,
        "labels_since_iteration": None if latest is None else project.last_event_id() - latest.last_event_id,
        "warnings": warnings, "qa_includes": report["reopened_by_qa"], "conflicts": len(conflicts),
        "pending_migration": project.pending_migration, "team": team.team_summary(project.con),
    }


def draw_certification_sample(project: Project, out: Path, target_recall: float = 0.95, confidence: float = 0.95,
                              seed: int = 0) -> dict:
    """Draw the certification sample the default rule's forecast names (the uniform random
    sample of unscreened records that, with no include in it, shows recall >= target) and hand
    it out as a ``random`` batch written to ``out``. Refused while an earlier sample is open
    with records still undecided. Returns ``{"batch_id", "records", "file", "proves"}``, or
    ``{"records": 0}`` when no sample is needed (the rule already says stop)."""
    report = stopping_report(project, target_recall, confidence)
    sample = open_sample(report)
    if sample is not None:
        raise UserError(f"{project.path}: the certification sample drawn {sample['drawn_at']} still has "
                        f"{sample['without_decision']:,} of {sample['records']:,} records without a "
                        "decision; label them first (or rank, which closes it)")
    if report["forecast"] is None or not report["forecast"]["sample_size"]:
        return {"records": 0}
    decisions = project.group_decisions()
    pool = np.array([g for g in project.group_ids() if g not in decisions], dtype=np.int64)
    k = min(report["forecast"]["sample_size"], len(pool))
    drawn = np.sort(np.random.default_rng(seed + report["last_event_id"]).choice(pool, size=k, replace=False))
    handed = hand_out(project, "random", batch_frame(project, drawn), seed=seed, out=out)
    return {"batch_id": handed.batch_id, "records": k, "file": str(out), "proves": report["forecast"]["sample_proves"]}

"""Where screening stands now, and the stopping decision of ``prioritiser stop``.

Estimates are recomputed from the decisions in force and the latest ranking's scores of the
groups that are still unscreened, so they reflect labels added since the last ``rank``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from prioritiser.batches import batch_frame, hand_out
from prioritiser.errors import UserError
from prioritiser.screening import screening_history, screening_state, stopping_estimates
from prioritiser.store import Project
from prioritiser.store import team


def _unscreened_scores(project: Project, state) -> np.ndarray | None:
    latest = project.latest_iteration()
    if latest is None or latest.kind != "rank":
        return None
    keep = np.array([g not in state.decisions for g in latest.group_ids.tolist()], dtype=bool)
    return latest.scores[keep]


def project_status(project: Project) -> dict:
    """Counts, warnings, the current recall estimate and each stopping rule's verdict."""
    from prioritiser.audit import qa_findings

    state = screening_state(project)
    latest = project.latest_iteration()
    warnings = []
    qa = qa_findings(project)
    if qa:
        warnings.append(
            f"the quality-control sample of model-excluded records holds {len(qa)} include(s) "
            f"(record ids {', '.join(map(str, qa[:10]))}): screening is reopened; rank and screen further"
        )
    settled = team.adjudicated_groups(project.con)
    conflicts = [c for c in project.label_conflicts() if c[0] not in settled]
    if conflicts:
        warnings.append(f"{len(conflicts)} record(s) have conflicting decisions from different reviewers "
                        f"(e.g. record {conflicts[0][0]}); resolve them with a new decision")
    estimates = None
    if latest is not None and len(state.unscreened):
        estimates = stopping_estimates(project, state, _unscreened_scores(project, state))
    return {
        "counts": project.info(),
        "iteration_id": None if latest is None else latest.iteration_id,
        "labels_since_iteration": None if latest is None else state.last_event_id - latest.last_event_id,
        "estimates": estimates,
        "qa_includes": qa,
        "conflicts": len(conflicts),
        "stop_decision": project.latest_stop_decision(),
        "warnings": warnings,
        "team": team.team_summary(project.con),
    }


def decide_stop(
    project: Project, target_recall: float, confidence: float, out: Path | None, seed: int = 0,
) -> dict:
    """Evaluate the default stopping rule; when it cannot yet say stop, draw the uniform random
    sample of unscreened records that would certify stopping and hand it out as the next batch.

    The decision is recorded in the project (for the audit pack), with the sample's batch in
    the same transaction.
    """
    from prioritiser.audit import qa_findings
    from prioritiser.stopping import default_rule, samples_needed

    if not 0 < target_recall < 1 or not 0 < confidence < 1:
        raise UserError("--target-recall and --confidence must lie strictly between 0 and 1")
    state = screening_state(project)
    if project.latest_iteration() is None:
        raise UserError(f"{project.path}: no ranking yet; run 'prioritiser rank' and screen its batches first")
    rule = default_rule(target_recall=target_recall, confidence=confidence)
    history = screening_history(project, state, _unscreened_scores(project, state))
    verdict = rule.evaluate(history)
    qa = qa_findings(project)
    stop = bool(verdict.stop) and not qa
    decision = {
        "rule": rule.name, "parameters": rule.parameters, "stop": stop, "evidence": verdict.evidence,
        "estimates": stopping_estimates(project, state, history.scores)["estimate"],
    }
    if qa:
        decision["reopened_by_qa"] = qa
    if not stop and len(state.unscreened):
        k = min(int(samples_needed(history, target_recall, confidence)), len(state.unscreened))
        rng = np.random.default_rng(seed + state.last_event_id)
        drawn = np.sort(state.group_ids[rng.choice(state.unscreened, size=k, replace=False)])
        decision["sample_size"] = k
        if k:
            if out is not None:
                decision["sample_file"] = str(out)
            hand_out(project, "random", batch_frame(project, drawn), seed=seed, out=out, stop_decision=decision)
            return decision
    project.add_stop_decision(decision)
    return decision

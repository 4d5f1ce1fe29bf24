"""Quality control of the model's exclusions: a seeded uniform sample of unscreened groups,
screened by a human like any batch.

A QA *round* is one ``qa`` batch. Its findings are the groups in it whose decision in force is
include: the model would have excluded a relevant record, so screening is reopened. A round's
findings stay open until a new round is drawn, and a new round can be drawn only once the
previous one is fully screened and, when it had findings, screening has gone on with a
ranked batch since — so no finding can be hidden by drawing again.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from prioritiser.batches import batch_frame, hand_out
from prioritiser.errors import UserError
from prioritiser.records import INCLUDE
from prioritiser.store import Project


#: Numbers of missed includes for which a QA sample's detection power is stated.
QA_MISSED = (1, 2, 5)
#: Below this chance of showing an include if 2 were missed, a QA sample without includes is weak evidence.
WEAK_POWER = 0.8


def qa_detection(sample: int, pool: int) -> dict:
    """What a QA sample of ``sample`` records drawn from ``pool`` model-excluded ones can detect:
    ``power`` (for k in :data:`QA_MISSED`, the chance of at least one include in it if k of
    the pool were includes; :func:`prioritiser.stopping.detection_power`) and ``statement``, a
    sentence that says whether finding none is weak evidence."""
    from prioritiser.stopping import detection_power

    sample = min(sample, pool)
    power = {k: detection_power(sample, pool, k) for k in QA_MISSED if k <= pool}
    chances = ", ".join(f"{p:.0%} if {k} were missed" for k, p in power.items())
    weak = power.get(2, 1.0) < WEAK_POWER
    return {"sample": sample, "pool": pool, "power": {str(k): p for k, p in power.items()}, "weak": weak,
            "statement": (f"A random sample of {sample:,} of the {pool:,} model-excluded records shows at least one "
                          f"include with chance {chances}"
                          + (": finding none there is weak evidence that nothing was missed." if weak else "."))}


def suggest_qa_size(project: Project, power: float, missed: int) -> dict:
    """The QA sample size whose chance of showing an include reaches ``power`` if ``missed`` of
    the records now unscreened were includes (:func:`prioritiser.stopping.qa_sample_size`)."""
    from prioritiser.stopping import qa_sample_size

    if not 0 < power < 1 or missed < 1:
        raise UserError(f"--qa-power ({power}) must lie strictly between 0 and 1 and --qa-missed ({missed}) be at least 1")
    pool = _unscreened_count(project)
    if pool == 0:
        raise UserError(f"{project.path}: every record has a decision; there is nothing for a QA sample")
    size = qa_sample_size(pool, min(missed, pool), power)
    return {"size": size, "pool": pool, "power": power, "missed": missed,
            "statement": f"A QA sample of {size:,} of the {pool:,} model-excluded records has a {power:.0%} chance "
                         f"of showing at least one include if {missed:,} were missed."}


def _unscreened_count(project: Project, up_to_event: int | None = None) -> int:
    return len(project.group_ids()) - len(project.group_decisions(up_to_event))


def qa_rounds(project: Project) -> list[dict]:
    """Every QA round, oldest first: its batch, groups sampled, screened so far, findings, the
    model-excluded groups it was drawn from (``pool``) and what it could detect (``detection``,
    see :func:`qa_detection`)."""
    decisions = project.group_decisions()
    rounds = []
    for batch in project.batches("qa"):
        groups = project.current_groups(batch["group_ids"])
        pool = max(_unscreened_count(project, batch["last_event_id"]), len(groups))
        rounds.append({
            "batch_id": batch["batch_id"], "created_at": batch["created_at"], "seed": batch["seed"],
            "iteration_id": batch["iteration_id"], "sampled": len(groups),
            "screened": sum(g in decisions for g in groups),
            "includes": sorted({g for g in groups if decisions.get(g) == INCLUDE}),
            "pool": pool, "detection": qa_detection(len(groups), pool),
        })
    return rounds


def qa_findings(project: Project) -> list[int]:
    """Group ids of the latest QA round whose decision in force is include (empty when none)."""
    rounds = qa_rounds(project)
    return rounds[-1]["includes"] if rounds else []


def _screening_went_on(project: Project, after_batch_id: int) -> bool:
    """Whether a group of a ranked batch handed out after ``after_batch_id`` has a decision."""
    decisions = project.group_decisions()
    later = [b for b in project.batches("ranked") if b["batch_id"] > after_batch_id]
    return any(g in decisions for b in later for g in project.current_groups(b["group_ids"]))


def draw_qa_sample(project: Project, n: int, seed: int = 0, out: Path | None = None) -> pd.DataFrame:
    """Draw ``n`` unscreened groups uniformly at random (numpy ``default_rng(seed)``), record
    them as a ``qa`` batch and return them as batch rows (record_id, title, abstract, authors,
    year, doi, score, rank, label) in group-id order, ``label`` empty.

    ``score`` and ``rank`` are those of the newest ranking that holds the group. The batch is
    handed out by :func:`prioritiser.batches.hand_out` (recorded and written to ``out`` together).
    """
    from prioritiser.audit.history import last_rankings

    if n < 1:
        raise UserError(f"--qa-sample must be at least 1 (got {n})")
    rounds = qa_rounds(project)
    if rounds:
        last = rounds[-1]
        if last["screened"] < last["sampled"]:
            raise UserError(
                f"{project.path}: the QA sample drawn {last['created_at']} still has "
                f"{last['sampled'] - last['screened']} of {last['sampled']} records without a decision; "
                "label them with 'prioritiser label' before drawing a new sample"
            )
        if last["includes"] and not _screening_went_on(project, last["batch_id"]):
            raise UserError(
                f"{project.path}: the last QA sample found {len(last['includes'])} include(s) (record ids "
                f"{', '.join(map(str, last['includes'][:10]))}); screen further ranked batches ('prioritiser rank') "
                "before drawing a new QA sample"
            )
    decisions = project.group_decisions()
    groups = project.group_ids()
    pool = np.array([g for g in groups if g not in decisions], dtype=np.int64)
    if len(pool) == 0:
        raise UserError(f"{project.path}: every record has a decision; there is nothing for a QA sample")
    drawn = np.sort(np.random.default_rng(seed).choice(pool, size=min(n, len(pool)), replace=False))
    ranked = last_rankings(project, drawn).reindex(drawn)
    frame = batch_frame(project, drawn, ranked["score"].to_numpy(), ranked["rank"].astype("Int64").array)
    latest = project.latest_iteration()
    hand_out(project, "qa", frame, seed=seed, out=out, iteration_id=None if latest is None else latest.iteration_id)
    return frame

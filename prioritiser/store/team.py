"""Team screening tables and queries: settings, highlight terms, exclusion reasons, agreement.

All of them live in the project database beside the core tables and are created on first use
by :func:`ensure_team_tables` (``CREATE ... IF NOT EXISTS``; a project made before them gains
them the first time ``prioritiser screen`` opens it). Functions that only read work on a
project without them and then answer as if they were empty, so reporting commands never write.

- ``team_settings``: screening mode (``single``, ``dual``, ``dual-share``), the calibration
  share and its seed, the adjudicator, the research question, exclusion reason labels;
- ``highlight_terms``: include (green) and exclude (red) terms, editable;
- ``exclusion_reasons``: the reason tag of an exclude label event (append-only).

A decision is always a label event (``label_events``, append-only); a reason is a row pointing
at that event, written in the same transaction. An adjudication is a label event whose batch
starts with :data:`~prioritiser.store.labels.ADJUDICATION`, as ``prioritiser label
--adjudicator`` writes it, so the decision in force and the conflict list honour it alike.
"""

from __future__ import annotations

import json
import sqlite3
from typing import TYPE_CHECKING

from prioritiser.agreement import PairAgreement, pairwise_agreement
from prioritiser.errors import UserError

from prioritiser.store.labels import ADJUDICATION, IS_ADJUDICATION, conflicting_groups

if TYPE_CHECKING:
    from prioritiser.store import Project

MODES = ("single", "dual", "dual-share")
#: Exclusion reasons offered until a project names its own (keys 1..9 on the page).
DEFAULT_REASONS = ["wrong population", "wrong intervention or exposure", "wrong outcome", "wrong study design",
                   "wrong publication type"]
DEFAULT_SETTINGS = {"mode": "single", "share": 0.1, "share_seed": 0, "adjudicator": "", "question": "",
                    "reasons": DEFAULT_REASONS, "retrain_every": 10}
#: The batch name of label events written by the screening page.
PAGE_BATCH = "screen page"
ADJUDICATION_BATCH = f"{ADJUDICATION} {PAGE_BATCH}"

_TABLES = """
CREATE TABLE IF NOT EXISTS team_settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS highlight_terms (
    term     TEXT NOT NULL,
    kind     TEXT NOT NULL CHECK (kind IN ('include', 'exclude')),
    added_by TEXT NOT NULL,
    added_at TEXT NOT NULL,
    PRIMARY KEY (term, kind)
);
CREATE TABLE IF NOT EXISTS exclusion_reasons (
    event_id INTEGER PRIMARY KEY REFERENCES label_events(event_id),
    reason   TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS exclusion_reasons_no_update BEFORE UPDATE ON exclusion_reasons
BEGIN SELECT RAISE(ABORT, 'exclusion reasons are append-only'); END;
CREATE TRIGGER IF NOT EXISTS exclusion_reasons_no_delete BEFORE DELETE ON exclusion_reasons
BEGIN SELECT RAISE(ABORT, 'exclusion reasons are append-only'); END;
"""


def ensure_team_tables(project: "Project") -> None:
    """Create the team tables when missing (idempotent, one write transaction)."""
    if _has_team_tables(project.con):
        return
    with project.write() as con:
        for statement in _TABLES.split(";\n"):
            if statement.strip():
                con.execute(statement)


def _has_team_tables(con: sqlite3.Connection) -> bool:
    (n,) = con.execute(
        "SELECT COUNT(*) FROM sqlite_master WHERE type='table' AND name IN "
        "('team_settings', 'highlight_terms', 'exclusion_reasons')"
    ).fetchone()
    return n == 3


# --------------------------------------------------------------------- settings
def settings(con: sqlite3.Connection) -> dict:
    """The team settings in force: stored values over :data:`DEFAULT_SETTINGS`."""
    stored = {}
    if _has_team_tables(con):
        stored = {k: json.loads(v) for k, v in con.execute("SELECT key, value FROM team_settings")}
    return {**DEFAULT_SETTINGS, **stored}


def save_settings(project: "Project", **values) -> dict:
    """Check and store settings (only those given); returns the settings in force."""
    unknown = set(values) - set(DEFAULT_SETTINGS)
    if unknown:
        raise UserError(f"unknown screening setting(s): {', '.join(sorted(unknown))}")
    if "mode" in values and values["mode"] not in MODES:
        raise UserError(f"--mode {values['mode']!r}: expected one of {', '.join(MODES)}")
    if "share" in values and not 0 < float(values["share"]) <= 1:
        raise UserError(f"--share {values['share']}: expected a fraction in (0, 1]")
    if "retrain_every" in values and int(values["retrain_every"]) < 1:
        raise UserError(f"--retrain-every {values['retrain_every']}: expected at least 1")
    if "reasons" in values and (not values["reasons"] or len(values["reasons"]) > 9):
        raise UserError("exclusion reasons: give between 1 and 9")
    ensure_team_tables(project)
    with project.write() as con:
        con.executemany("INSERT OR REPLACE INTO team_settings VALUES (?, ?)",
                        [(k, json.dumps(v)) for k, v in values.items()])
    return settings(project.con)


# --------------------------------------------------------------------- highlight terms
def highlight_terms(con: sqlite3.Connection) -> dict[str, list[str]]:
    """Highlight terms by kind (``include``, ``exclude``), each list sorted."""
    terms: dict[str, list[str]] = {"include": [], "exclude": []}
    if _has_team_tables(con):
        for term, kind in con.execute("SELECT term, kind FROM highlight_terms ORDER BY term"):
            terms[kind].append(term)
    return terms


def set_highlight_term(project: "Project", term: str, kind: str, reviewer: str, present: bool) -> None:
    """Add (``present``) or remove a highlight term of ``kind`` (``include`` or ``exclude``)."""
    from prioritiser.store import now_iso

    term = " ".join(term.split()).lower()
    if kind not in ("include", "exclude") or not term or len(term) > 100:
        raise UserError("a highlight term needs a kind (include or exclude) and 1 to 100 characters")
    ensure_team_tables(project)
    with project.write() as con:
        if present:
            con.execute("INSERT OR IGNORE INTO highlight_terms VALUES (?, ?, ?, ?)", (term, kind, reviewer, now_iso()))
        else:
            con.execute("DELETE FROM highlight_terms WHERE term=? AND kind=?", (term, kind))


# --------------------------------------------------------------------- decisions
def record_decision(
    project: "Project", group_id: int, decision: str, reviewer: str, reason: str = "", adjudication: bool = False,
) -> int:
    """Append one label event (and its exclusion reason or adjudication row) in one transaction;
    returns its event id. The event is on the group's representative record (``record_id =
    group_id``), as batch files name a group."""
    if decision not in ("include", "exclude", "maybe"):
        raise UserError(f"decision {decision!r}: expected include, exclude or maybe")
    ensure_team_tables(project)
    with project.write() as con:
        if con.execute("SELECT 1 FROM records WHERE record_id=? AND group_id=?", (group_id, group_id)).fetchone() is None:
            raise UserError(f"record {group_id}: no such record to decide")
        origin = "adjudication" if adjudication else "screen page"
        project.add_label_events([(group_id, decision, reviewer, "", origin)],
                                 batch=ADJUDICATION_BATCH if adjudication else PAGE_BATCH)
        event_id = project.last_event_id()
        if reason and decision == "exclude":
            con.execute("INSERT INTO exclusion_reasons VALUES (?, ?)", (event_id, reason))
    return event_id


def events_since(con: sqlite3.Connection, after_event: int) -> list[tuple[int, int, str, str, bool]]:
    """``(event_id, group_id, reviewer, decision, is_adjudication)`` of label events after
    ``after_event``, in order."""
    return [
        (event, group, reviewer, decision, bool(adj))
        for event, group, reviewer, decision, adj in con.execute(
            f"SELECT e.event_id, r.group_id, e.reviewer, e.decision, {IS_ADJUDICATION}"
            " FROM label_events e JOIN records r USING (record_id) WHERE e.event_id > ? ORDER BY e.event_id",
            (after_event,),
        )
    ]


def reviewer_decisions(con: sqlite3.Connection) -> dict[str, dict[int, str]]:
    """Each reviewer's latest own decision per group, adjudications left out (``{reviewer:
    {group: decision}}``); what agreement is computed on."""
    latest: dict[str, dict[int, str]] = {}
    for _, group, reviewer, decision, adjudication in events_since(con, 0):
        if not adjudication:
            latest.setdefault(reviewer, {})[group] = decision
    return latest


def conflicts(con: sqlite3.Connection) -> list[dict]:
    """The conflict queue: :func:`~prioritiser.store.labels.conflicting_groups` (the conflicts
    ``status`` counts) as ``{"group_id", "decisions": {reviewer: decision}}``, oldest first."""
    return [{"group_id": group, "decisions": dict(sorted(decisions.items()))}
            for group, decisions in conflicting_groups(con)]


def agreement(con: sqlite3.Connection) -> list[PairAgreement]:
    """Cohen's kappa, include prevalence, PABAK and Gwet's AC1 for every reviewer pair, on the
    groups both decided (their own latest decisions; see :mod:`prioritiser.agreement`)."""
    return pairwise_agreement(reviewer_decisions(con))


# --------------------------------------------------------------------- PRISMA
def exclusion_reason_counts(con: sqlite3.Connection) -> dict[str, int]:
    """Groups excluded by humans (decision in force) per exclusion reason: the latest reason any
    reviewer gave when excluding the group ("no reason given" when none did)."""
    if not _has_team_tables(con):
        return {}
    decision_of: dict[int, str] = {}
    reason_of: dict[int, str] = {}
    for group, decision, reason in con.execute(
        "SELECT r.group_id, e.decision, x.reason FROM label_events e JOIN records r USING (record_id)"
        " LEFT JOIN exclusion_reasons x USING (event_id) ORDER BY e.event_id"
    ):
        decision_of[group] = decision
        if reason is not None:
            reason_of[group] = reason
    counts: dict[str, int] = {}
    for group, decision in decision_of.items():
        if decision == "exclude":
            reason = reason_of.get(group, "no reason given")
            counts[reason] = counts.get(reason, 0) + 1
    return dict(sorted(counts.items()))


def team_prisma(con: sqlite3.Connection) -> dict:
    """PRISMA's reviewer counts: groups by number of reviewers who screened them, adjudications,
    exclusion reasons, and whether reviewers worked independently (blind dual screening)."""
    decisions = reviewer_decisions(con)
    per_group: dict[int, int] = {}
    for by_group in decisions.values():
        for group in by_group:
            per_group[group] = per_group.get(group, 0) + 1
    histogram: dict[str, int] = {}
    for n in per_group.values():
        histogram[str(n)] = histogram.get(str(n), 0) + 1
    mode = settings(con)["mode"]
    n_adjudicated = con.execute(f"SELECT COUNT(*) FROM label_events e WHERE {IS_ADJUDICATION}").fetchone()[0]
    return {
        "mode": mode,
        "reviewers": sorted(decisions),
        "groups_by_number_of_reviewers": dict(sorted(histogram.items())),
        "independent": mode != "single",
        "independence_note": "reviewers screened blind to each other's decisions until both had decided"
        if mode != "single" else "one reviewer per record (single screening)",
        "adjudications": n_adjudicated,
        "open_conflicts": len(conflicts(con)),
        "exclusion_reasons": exclusion_reason_counts(con),
    }


def team_summary(con: sqlite3.Connection) -> dict:
    """:func:`team_prisma` with the agreement of every reviewer pair (for ``status`` and the audit)."""
    return {**team_prisma(con), "agreement": [pair.as_dict() for pair in agreement(con)]}

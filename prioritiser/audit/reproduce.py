"""Recompute an audited ranking from the stored labels and check every hash of the manifest."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from prioritiser.audit.integrity import file_status, label_history_sha256, model_identities, ranking_sha256
from prioritiser.audit.pack import MANIFEST_FORMAT
from prioritiser.errors import UserError
from prioritiser.learning import Ranker
from prioritiser.store import Project, config_hash


@dataclass
class ReproduceResult:
    """How a recomputed ranking compares with the audited one.

    ``identical``: the recomputed ranking's SHA-256 equals the manifest's (same groups in the
    same order with bit-identical scores). ``positions_differ`` counts rank positions holding a
    different group (positions beyond the shorter ranking count as differing);
    ``max_score_difference`` is over groups both rankings hold. Source checks are
    ``(path, "match" | "differs" | "missing")``; model checks ``(embedder, "match" | "differs")``
    compare the embedders' identities (model file SHA-256 and parameters) with the manifest's.
    """

    iteration_id: int
    identical: bool
    n_ranked: int
    positions_differ: int
    max_score_difference: float
    stored_matches_manifest: bool
    label_history_matches: bool
    config_matches: bool
    sources: list[tuple[str, str]] = field(default_factory=list)
    models: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """A plain-text account, one finding per line."""
        same = "identical to" if self.identical else "DIFFERENT from"
        out = [f"Iteration {self.iteration_id}: the recomputed ranking of {self.n_ranked:,} records is {same} the audited one"
               + ("" if self.identical else f" ({self.positions_differ:,} positions differ, largest score difference "
                                            f"{self.max_score_difference:.3g})")]
        for ok, what in ((self.stored_matches_manifest, "stored ranking matches the manifest"),
                         (self.label_history_matches, "label history matches the manifest"),
                         (self.config_matches, "configuration matches its hash")):
            out.append(f"{'ok' if ok else 'MISMATCH'}: {what}")
        for kind, files in (("source", self.sources), ("model", self.models)):
            out += [f"{'ok' if status == 'match' else status.upper()}: {kind} {path}" for path, status in files]
        return out + [f"note: {note}" for note in self.notes]

    @property
    def ok(self) -> bool:
        """Identical ranking, untouched project and no input file that differs (missing ones pass)."""
        files = [status for _, status in self.sources + self.models]
        return (self.identical and self.stored_matches_manifest and self.label_history_matches
                and self.config_matches and "differs" not in files)


def read_manifest(audit_dir: str | Path) -> dict:
    path = Path(audit_dir) / "manifest.json"
    if not path.is_file():
        raise UserError(f"{audit_dir}: no manifest.json; is this an audit pack written by 'prioritiser audit'?")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: not a readable manifest ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
        raise UserError(f"{path}: not a prioritiser audit manifest (expected format {MANIFEST_FORMAT})")
    return manifest


def reproduce(audit_dir: str | Path, project_dir: str | Path | None = None) -> ReproduceResult:
    """Recompute the ranking of the manifest's iteration with its configuration and seed from the
    labels up to its ``last_event_id``, over the groups that existed then, and compare.

    ``project_dir`` defaults to the project path the manifest records (relative to the pack).
    Source files are looked for where the manifest places them relative to the project, then
    beside the pack; one found in neither place is reported missing.
    """
    from prioritiser.screening import compute_ranking, screening_state

    manifest = read_manifest(audit_dir)
    audited = manifest["iteration"]
    if project_dir is None:
        project_dir = Path(audit_dir) / manifest["project"]
        if not project_dir.is_dir():
            raise UserError(f"{audit_dir}: the audited project is not at {manifest['project']} (relative to the pack); "
                            "pass its directory with --project")
    with Project(project_dir) as project:
        it = project.iteration(audited["iteration_id"])
        history_sha, _ = label_history_sha256(project, it.last_event_id)
        identities = model_identities(it.config)
        state = screening_state(project, it.last_event_id)
        if it.stored_in_full:
            existed = np.isin(state.group_ids, np.concatenate([it.group_ids, list(state.decisions)]))
        elif len(state.group_ids) - len(state.decisions) == it.n_ranked:
            existed = np.ones(len(state.group_ids), dtype=bool)
        else:
            raise UserError(f"{project.path}: records were added after iteration {it.iteration_id}, which stored only "
                            f"the first {len(it.group_ids):,} of the {it.n_ranked:,} records it ranked (a pool scored "
                            "on a Ray cluster), so which to leave out of the recomputation cannot be told")
        notes = []
        if not existed.all():
            notes.append(f"{int((~existed).sum()):,} record groups were added after iteration {it.iteration_id}; "
                         "they are left out of the recomputation")
        state.texts = [t for t, keep in zip(state.texts, existed) if keep]
        state.group_ids = state.group_ids[existed]
        ranking = compute_ranking(project, Ranker.from_config(it.config), state=state,
                                  query=it.config.get("query"), progress=False)
    groups, scores = ranking.group_ids, ranking.scores
    if not it.stored_in_full:
        groups, scores = groups[: len(it.group_ids)], scores[: len(it.group_ids)]
        notes.append(f"iteration {it.iteration_id} stored only the first {len(it.group_ids):,} of the "
                     f"{it.n_ranked:,} records it ranked; those are compared")
    n = max(len(groups), len(it.group_ids))
    common = min(len(groups), len(it.group_ids))
    positions_differ = int((groups[:common] != it.group_ids[:common]).sum()) + n - common
    stored = dict(zip(it.group_ids.tolist(), it.scores.tolist()))
    diffs = [abs(s - stored[g]) for g, s in zip(groups.tolist(), scores.tolist()) if g in stored]
    return ReproduceResult(
        iteration_id=it.iteration_id,
        identical=ranking_sha256(groups, scores) == audited["ranking_sha256"],
        n_ranked=ranking.n_ranked,
        positions_differ=positions_differ,
        max_score_difference=max(diffs, default=0.0),
        stored_matches_manifest=ranking_sha256(it.group_ids, it.scores) == audited["ranking_sha256"],
        label_history_matches=history_sha == manifest["label_history"]["sha256"],
        config_matches=config_hash(it.config) == it.config_hash == audited["config_hash"],
        sources=[(s["path"], file_status(_source_file(s["path"], project_dir, audit_dir), s["sha256"]))
                 for s in manifest["sources"]],
        models=[(name, "match" if identities.get(name) == identity else "differs")
                for name, identity in manifest["models"].items()],
        notes=notes,
    )


def _source_file(path: str, project_dir: str | Path, audit_dir: str | Path) -> Path:
    """A source file of the manifest: at ``path`` relative to the project, else of that name
    beside the pack (where a shared pack brings it)."""
    where = Path(project_dir) / path
    return where if where.is_file() else Path(audit_dir) / Path(path).name

"""Hashes that tie an audit pack to its inputs, and verified loading of persisted model files.

Every hash is a hex SHA-256. Canonical forms:
- label history: one JSON array per event, ``[event_id, record_id, decision, reviewer,
  decided_at, recorded_at, batch, origin]``, compact separators, UTF-8, events in id order
  joined by ``\\n``;
- ranking: the group ids as little-endian int64 bytes followed by the scores as
  little-endian float64 bytes (the bytes the project stores).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from prioritiser.errors import UserError
from prioritiser.project import Project, file_sha256

EVENT_FIELDS = ("event_id", "record_id", "decision", "reviewer", "decided_at", "recorded_at", "batch", "origin")


def label_history_sha256(project: Project, up_to_event: int) -> tuple[str, int]:
    """SHA-256 of the canonical label history up to ``up_to_event`` and the number of events in it."""
    digest = hashlib.sha256()
    n = 0
    rows = project.con.execute(
        f"SELECT {', '.join(EVENT_FIELDS)} FROM label_events WHERE event_id <= ? ORDER BY event_id", (up_to_event,)
    )
    for row in rows:
        digest.update((b"\n" if n else b"") + json.dumps(list(row), ensure_ascii=False, separators=(",", ":")).encode())
        n += 1
    return digest.hexdigest(), n


def ranking_sha256(group_ids: np.ndarray, scores: np.ndarray) -> str:
    """SHA-256 of a ranking as stored: int64 group ids then float64 scores, little-endian."""
    digest = hashlib.sha256(np.asarray(group_ids, dtype="<i8").tobytes())
    digest.update(np.asarray(scores, dtype="<f8").tobytes())
    return digest.hexdigest()


def model_identities(config: dict) -> dict[str, str]:
    """Identity of each dense embedder the configuration uses (it names the model file's
    SHA-256 and the encoding parameters, and changes whenever the vectors would)."""
    from prioritiser.features import EMBEDDERS, make_extractor

    extractor = make_extractor(config["features"], **(config.get("feature_params") or {}))
    parts = getattr(extractor, "transformer_list", None) or [(extractor.name, extractor)]
    return {name: part.identity() for name, part in parts if name in EMBEDDERS}


def file_status(path: str | Path, expected_sha256: str) -> str:
    """``"match"``, ``"differs"`` or ``"missing"``."""
    path = Path(path)
    if not path.is_file():
        return "missing"
    return "match" if file_sha256(path) == expected_sha256 else "differs"


def verify_file(path: str | Path, expected_sha256: str) -> None:
    """Raise a :class:`UserError` unless ``path`` exists and has the expected SHA-256."""
    status = file_status(path, expected_sha256)
    if status != "match":
        what = "is missing" if status == "missing" else "does not have the SHA-256 recorded in the project; it was changed or replaced"
        raise UserError(f"{path}: {what}; refusing to load it")


def load_verified(path: str | Path, expected_sha256: str):
    """``joblib.load`` a persisted model only after its SHA-256 matches the recorded one.

    Unpickling runs code, so a file that differs from what the project recorded is refused.
    """
    import joblib

    verify_file(path, expected_sha256)
    return joblib.load(path)

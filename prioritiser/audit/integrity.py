"""Hashes that tie an audit pack to its inputs.

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

from prioritiser.files import file_sha256
from prioritiser.store import Project


def label_history_sha256(project: Project, up_to_event: int) -> tuple[str, int]:
    """SHA-256 of the canonical label history up to ``up_to_event`` and the number of events in it."""
    digest = hashlib.sha256()
    n = 0
    for row in project.label_event_rows(up_to_event):
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

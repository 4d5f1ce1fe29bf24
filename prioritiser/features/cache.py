"""Embedding cache inside a project: vectors keyed by extractor identity and text SHA-256.

Layout: ``CACHE_DIR/<identity hash>/NNNNNN.vectors.npy`` and ``NNNNNN.keys.npy`` shards,
append-only. A shard is written to a temporary name and renamed, vectors before keys, so a
crash leaves at most an orphan vectors file, which is ignored; a shard whose files do not
load or disagree in length is deleted and its texts embedded again.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np


def text_key(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()


class EmbeddingCache:
    """Cached vectors for one extractor identity under ``root``."""

    def __init__(self, root: Path, identity: str):
        self.dir = Path(root) / hashlib.sha256(identity.encode()).hexdigest()[:16]
        self.identity = identity

    def _shards(self) -> list[int]:
        if not self.dir.is_dir():
            return []
        return sorted(int(p.name.split(".")[0]) for p in self.dir.glob("*.keys.npy"))

    def load(self) -> dict[bytes, np.ndarray]:
        """Every cached vector by text key; damaged shards are removed."""
        found: dict[bytes, np.ndarray] = {}
        for shard in self._shards():
            keys_path, vec_path = self.dir / f"{shard:06d}.keys.npy", self.dir / f"{shard:06d}.vectors.npy"
            try:
                keys = np.load(keys_path)
                vectors = np.load(vec_path, mmap_mode="r")
                if len(keys) != len(vectors):
                    raise ValueError("length mismatch")
            except (OSError, ValueError, EOFError):
                keys_path.unlink(missing_ok=True)
                vec_path.unlink(missing_ok=True)
                continue
            for i, key in enumerate(keys.tolist()):
                found[key] = vectors[i]
        return found

    def append(self, keys: list[bytes], vectors: np.ndarray) -> None:
        if not keys:
            return
        self.dir.mkdir(parents=True, exist_ok=True)
        shard = (self._shards() or [-1])[-1] + 1
        for suffix, array in (("vectors", np.asarray(vectors, dtype=np.float32)), ("keys", np.array(keys, dtype="S32"))):
            final = self.dir / f"{shard:06d}.{suffix}.npy"
            tmp = final.with_name(final.name + f".tmp{os.getpid()}")
            with open(tmp, "wb") as handle:
                np.save(handle, array)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, final)

    def embed(self, texts: list[str], embed: Callable[[list[str]], np.ndarray], dimensions: int | None = None,
              chunk: int = 2048, on_progress: Callable[[int, int], None] | None = None) -> np.ndarray:
        """Vectors for ``texts``: cached ones are reused, the rest embedded in chunks and cached."""
        keys = [text_key(t) for t in texts]
        known = self.load()
        missing = list(dict.fromkeys(k for k in keys if k not in known))
        text_of = dict(zip(keys, texts))
        for start in range(0, len(missing), chunk):
            part = missing[start:start + chunk]
            vectors = embed([text_of[k] for k in part])
            self.append(part, vectors)
            known.update(zip(part, vectors))
            if on_progress:
                on_progress(min(start + chunk, len(missing)), len(missing))
        if not keys:
            return np.zeros((0, dimensions or 0), dtype=np.float32)
        return np.stack([known[k] for k in keys]).astype(np.float32, copy=False)

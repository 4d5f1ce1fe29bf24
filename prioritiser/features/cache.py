"""On-disk cache of dense embeddings: one folder per embedder identity, vectors keyed by text SHA-256.

Layout under the folder, one pair of files per shard (append-only, never rewritten):

- ``<id>.vectors.npy``: float32 array, one row per text;
- ``<id>.index.npz``: ``keys`` (the texts' SHA-256 digests, ``S32``, row-aligned) and
  ``crc32`` of the vectors' bytes.

Each file is written under a temporary name, flushed and renamed into place, the vectors
before the index: a shard exists only once its index does, so a crash leaves at most an
orphan vectors file, which is never read. A shard whose files do not load, disagree in
shape, or fail the checksum is deleted when first read, and its texts are embedded again.
Shard ids are random, so two processes may append at once; a text embedded twice is harmless.

Lookups sort the keys of all shards in memory (32 bytes a text) and read only the rows
needed, memory-mapped: a million cached texts cost about 32 MB of keys and well under a
second of sorting, never one file per text.
"""

from __future__ import annotations

import hashlib
import os
import uuid
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

KEY_DTYPE = "S32"


def text_keys(texts: list[str]) -> np.ndarray:
    """SHA-256 digests of the UTF-8 texts, as an ``S32`` array."""
    return np.array([hashlib.sha256(t.encode("utf-8")).digest() for t in texts], dtype=KEY_DTYPE)


def _write_atomic(path: Path, save: Callable[[object], None]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as handle:
            save(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


class EmbeddingCache:
    """The cached vectors of one embedder identity, in the folder ``directory``."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)

    def _index_paths(self) -> list[Path]:
        return sorted(self.directory.glob("*.index.npz")) if self.directory.is_dir() else []

    def _vectors_path(self, index_path: Path) -> Path:
        return index_path.with_name(index_path.name.removesuffix(".index.npz") + ".vectors.npy")

    def _drop(self, index_path: Path) -> None:
        index_path.unlink(missing_ok=True)
        self._vectors_path(index_path).unlink(missing_ok=True)

    def _load_keys(self) -> tuple[list[Path], np.ndarray, np.ndarray, np.ndarray]:
        """Shard index paths, and for every cached row its key, shard number and row in the shard."""
        shards, keys, shard_of, row_of = [], [], [], []
        for path in self._index_paths():
            try:
                with np.load(path) as index:
                    shard_keys = index["keys"]
            except (OSError, ValueError, KeyError, EOFError):
                self._drop(path)
                continue
            shard_of.append(np.full(len(shard_keys), len(shards), dtype=np.int32))
            row_of.append(np.arange(len(shard_keys), dtype=np.int64))
            shards.append(path)
            keys.append(shard_keys.astype(KEY_DTYPE, copy=False))
        if not shards:
            empty = np.zeros(0, dtype=np.int64)
            return [], np.zeros(0, dtype=KEY_DTYPE), empty.astype(np.int32), empty
        return shards, np.concatenate(keys), np.concatenate(shard_of), np.concatenate(row_of)

    def _load_vectors(self, index_path: Path) -> np.ndarray | None:
        """The shard's vectors (memory-mapped) if they are whole, else ``None`` after deleting the shard."""
        try:
            with np.load(index_path) as index:
                n_rows, crc = len(index["keys"]), int(index["crc32"])
            vectors = np.load(self._vectors_path(index_path), mmap_mode="r")
            if vectors.dtype != np.float32 or vectors.ndim != 2 or len(vectors) != n_rows:
                raise ValueError("shape")
            if zlib.crc32(vectors) != crc:
                raise ValueError("checksum")
            return vectors
        except (OSError, ValueError, KeyError, EOFError):
            self._drop(index_path)
            return None

    def append(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        """Store ``vectors`` (float32, one row per key) as a new shard."""
        if len(keys) == 0:
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        keys = np.asarray(keys, dtype=KEY_DTYPE)
        if vectors.ndim != 2 or len(vectors) != len(keys):
            raise ValueError(f"{len(keys)} keys but vectors of shape {vectors.shape}")
        self.directory.mkdir(parents=True, exist_ok=True)
        shard = uuid.uuid4().hex
        _write_atomic(self.directory / f"{shard}.vectors.npy", lambda f: np.save(f, vectors))
        _write_atomic(self.directory / f"{shard}.index.npz",
                      lambda f: np.savez(f, keys=keys, crc32=np.uint32(zlib.crc32(vectors))))

    def lookup(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """``(found, vectors)``: a mask of the keys cached, and their vectors row-aligned with ``keys``
        (rows of keys not found are zeros; ``vectors`` is ``None`` when nothing was found)."""
        keys = np.asarray(keys, dtype=KEY_DTYPE)
        found = np.zeros(len(keys), dtype=bool)
        shards, cached, shard_of, row_of = self._load_keys()
        if len(cached) == 0 or len(keys) == 0:
            return found, None
        order = np.argsort(cached, kind="stable")
        at = np.minimum(np.searchsorted(cached, keys, sorter=order), len(cached) - 1)
        source = order[at]
        rows = np.flatnonzero(cached[source] == keys)
        source = source[rows]
        out: np.ndarray | None = None
        by_shard = np.argsort(shard_of[source], kind="stable")
        for group in np.split(by_shard, np.flatnonzero(np.diff(shard_of[source][by_shard])) + 1):
            if len(group) == 0:
                continue
            path = shards[shard_of[source[group[0]]]]
            vectors = self._load_vectors(path)
            if vectors is None:
                continue
            if out is None:
                out = np.zeros((len(keys), vectors.shape[1]), dtype=np.float32)
            if vectors.shape[1] != out.shape[1]:
                self._drop(path)
                continue
            out[rows[group]] = vectors[row_of[source[group]]]
            found[rows[group]] = True
        return found, out

    def get_or_embed(self, texts: list[str], embed: Callable[[list[str]], np.ndarray], batch_size: int = 512,
                     shard_rows: int = 8192, progress: Callable[[int, int], None] | None = None) -> np.ndarray:
        """Vectors for ``texts`` (float32, row-aligned): cached ones are read, the distinct others
        embedded ``batch_size`` at a time and stored in shards of up to ``shard_rows`` rows.

        ``progress(done, total)`` is called after each batch with counts of texts to embed.
        """
        keys = text_keys(texts)
        found, vectors = self.lookup(keys)
        missing_keys, first = np.unique(keys[~found], return_index=True)
        missing_texts = [texts[i] for i in np.flatnonzero(~found)[first]]
        embedded: np.ndarray | None = None
        stored = 0
        for start in range(0, len(missing_texts), batch_size):
            batch = np.asarray(embed(missing_texts[start:start + batch_size]), dtype=np.float32)
            if embedded is None:
                embedded = np.empty((len(missing_texts), batch.shape[1]), dtype=np.float32)
            done = start + len(batch)
            embedded[start:done] = batch
            if done - stored >= shard_rows or done == len(missing_texts):
                self.append(missing_keys[stored:done], embedded[stored:done])
                stored = done
            if progress:
                progress(done, len(missing_texts))
        if embedded is None:
            return vectors if vectors is not None else np.zeros((len(texts), 0), dtype=np.float32)
        if vectors is None:
            vectors = np.zeros((len(texts), embedded.shape[1]), dtype=np.float32)
        vectors[~found] = embedded[np.searchsorted(missing_keys, keys[~found])]
        return vectors

"""On-disk caches of per-text features, keyed by the texts' SHA-256: dense embeddings
(:class:`EmbeddingCache`) and hashed term counts (:class:`CountCache`). Each lives in one
folder per extractor identity, as shards of rows (append-only, never rewritten).

Every file is written under a temporary name, flushed and renamed into place; a shard exists
only once its index file (holding its keys) does, and that file is written last, so a crash
leaves at most an orphan file that is never read. A shard whose files do not load, disagree in
shape, or fail their checksum is deleted when first read, and its texts are computed again.
Shard ids are random, so two processes may append at once; a text stored twice is harmless.

Lookups sort the keys of all shards in memory (32 bytes a text): a million cached texts cost
about 32 MB of keys and well under a second of sorting, never one file per text.

Layouts, per shard:

- embeddings: ``<id>.vectors.npy`` (float32, one row per text), then ``<id>.index.npz``:
  ``keys`` (``S32``, row-aligned) and ``crc32`` of the vectors' bytes; vectors are read
  memory-mapped, only the rows needed;
- term counts, a CSR matrix over the hash buckets seen in the shard: ``<id>.indices.npy``
  (int32, positions in ``terms``) and ``<id>.data.npy`` (float32 counts), then
  ``<id>.counts.npz``: ``keys``, ``terms`` (sorted buckets, int32), ``indptr`` and ``crc32``
  of the two arrays' bytes; the arrays are read memory-mapped.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp

KEY_DTYPE = "S32"
#: File in each embedding folder naming the embedder identity whose vectors it holds.
IDENTITY_FILE = "identity.txt"
#: File in the machine-wide cache holding what torch saw of the hardware (see ``minilm.hardware``).
HARDWARE_FILE = "hardware.json"
#: Exceptions that mean a shard file is damaged (truncated, bit-flipped, not a shard).
DAMAGED = (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile)


def machine_cache_dir() -> Path:
    """The machine-wide cache folder: ``$XDG_CACHE_HOME/prioritiser``, by default
    ``~/.cache/prioritiser``."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "prioritiser"


@dataclass
class CacheFolder:
    """One extractor identity's folder in a cache: its path, what it holds, and its size."""

    path: Path
    identity: str
    texts: int
    bytes: int


def cache_folders(root: Path | None = None) -> list[CacheFolder]:
    """The embedding folders of the cache ``root`` (default: :func:`machine_cache_dir`), each with
    its identity (as written by the embedder that filled it), number of texts and bytes on disk."""
    base = Path(root or machine_cache_dir()) / "embeddings"
    folders = []
    for folder in sorted(base.iterdir()) if base.is_dir() else []:
        if not folder.is_dir():
            continue
        identity = folder / IDENTITY_FILE
        texts = 0
        for index in EmbeddingCache(folder)._index_paths():
            try:
                with np.load(index) as arrays:
                    texts += len(arrays["keys"])
            except DAMAGED:
                continue
        folders.append(CacheFolder(folder, identity.read_text(encoding="utf-8").strip() if identity.is_file() else "",
                                   texts, sum(f.stat().st_size for f in folder.iterdir() if f.is_file())))
    return folders


def clear_cache(root: Path | None = None) -> int:
    """Delete every embedding folder of the cache ``root`` (default: :func:`machine_cache_dir`)
    and what it knows of the hardware; returns the bytes freed. Projects keep working: vectors
    are computed again when needed."""
    freed = 0
    for folder in cache_folders(root):
        freed += folder.bytes
        shutil.rmtree(folder.path, ignore_errors=True)
    (Path(root or machine_cache_dir()) / HARDWARE_FILE).unlink(missing_ok=True)
    return freed


def text_keys(texts: list[str]) -> np.ndarray:
    """SHA-256 digests of the UTF-8 texts, as an ``S32`` array."""
    return np.array([hashlib.sha256(t.encode("utf-8")).digest() for t in texts], dtype=KEY_DTYPE)


def _prefix(keys: np.ndarray) -> np.ndarray:
    """The first 8 bytes of each key as an integer: searching these is ten times faster than
    searching the keys. A key whose prefix another cached key shares may be missed and computed
    again: harmless, and among a million keys a one in thirty million chance."""
    return np.ascontiguousarray(np.ascontiguousarray(keys, dtype=KEY_DTYPE).view(np.uint64)[::4])


def write_atomic(path: Path, save: Callable[[object], None]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as handle:
            save(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


class ShardCache:
    """Shards of rows keyed by text digest in ``directory``; a subclass defines the shard files.

    ``INDEX_SUFFIX`` names the file that holds a shard's ``keys`` and is written last.
    """

    INDEX_SUFFIX = ".index.npz"

    def __init__(self, directory: Path):
        self.directory = Path(directory)

    def _index_paths(self) -> list[Path]:
        return sorted(self.directory.glob(f"*{self.INDEX_SUFFIX}")) if self.directory.is_dir() else []

    def _shard_files(self, index_path: Path) -> list[Path]:
        """Every file of the shard whose index is ``index_path``."""
        return [index_path]

    def _new_shard(self) -> str:
        self.directory.mkdir(parents=True, exist_ok=True)
        return uuid.uuid4().hex

    def _drop(self, index_path: Path) -> None:
        for path in self._shard_files(index_path):
            path.unlink(missing_ok=True)

    def _load_keys(self) -> tuple[list[Path], np.ndarray, np.ndarray, np.ndarray]:
        """Shard index paths, and for every cached row its key, shard number and row in the shard."""
        shards, keys, shard_of, row_of = [], [], [], []
        for path in self._index_paths():
            try:
                with np.load(path) as index:
                    shard_keys = index["keys"]
            except DAMAGED:
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

    def _locate(self, keys: np.ndarray) -> list[tuple[Path, np.ndarray, np.ndarray]]:
        """Per shard holding some of ``keys``: its index path, the positions in ``keys`` it
        holds and their rows in the shard."""
        shards, cached, shard_of, row_of = self._load_keys()
        if len(cached) == 0 or len(keys) == 0:
            return []
        prefix = _prefix(cached)
        order = np.argsort(prefix, kind="stable")
        source = order[np.minimum(np.searchsorted(prefix[order], _prefix(keys)), len(cached) - 1)]
        at = np.flatnonzero(cached[source] == keys)
        source = source[at]
        by_shard = np.argsort(shard_of[source], kind="stable")
        groups = np.split(by_shard, np.flatnonzero(np.diff(shard_of[source][by_shard])) + 1)
        return [(shards[shard_of[source[g[0]]]], at[g], row_of[source[g]]) for g in groups if len(g)]


    def contains(self, keys: np.ndarray) -> np.ndarray:
        """A mask of the ``keys`` cached (their rows are not read)."""
        keys = np.asarray(keys, dtype=KEY_DTYPE)
        found = np.zeros(len(keys), dtype=bool)
        for _, at, _ in self._locate(keys):
            found[at] = True
        return found


class EmbeddingCache(ShardCache):
    """The cached vectors of one embedder identity, in the folder ``directory``."""

    def _vectors_path(self, index_path: Path) -> Path:
        return index_path.with_name(index_path.name.removesuffix(self.INDEX_SUFFIX) + ".vectors.npy")

    def _shard_files(self, index_path: Path) -> list[Path]:
        return [index_path, self._vectors_path(index_path)]

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
        except DAMAGED:
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
        shard = self._new_shard()
        write_atomic(self.directory / f"{shard}.vectors.npy", lambda f: np.save(f, vectors))
        write_atomic(self.directory / f"{shard}{self.INDEX_SUFFIX}",
                      lambda f: np.savez(f, keys=keys, crc32=np.uint32(zlib.crc32(vectors))))

    def lookup(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """``(found, vectors)``: a mask of the keys cached, and their vectors row-aligned with ``keys``
        (rows of keys not found are zeros; ``vectors`` is ``None`` when nothing was found)."""
        keys = np.asarray(keys, dtype=KEY_DTYPE)
        found = np.zeros(len(keys), dtype=bool)
        out: np.ndarray | None = None
        for path, at, rows in self._locate(keys):
            vectors = self._load_vectors(path)
            if vectors is None:
                continue
            if out is None:
                out = np.zeros((len(keys), vectors.shape[1]), dtype=np.float32)
            if vectors.shape[1] != out.shape[1]:
                self._drop(path)
                continue
            out[at] = vectors[rows]
            found[at] = True
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


#: Term counts of some texts: the sorted hash buckets that are the columns, and a CSR matrix
#: (float32 counts, int32 column indices into the buckets), one row per text.
Counts = tuple[np.ndarray, sp.csr_matrix]


@dataclass
class TextCounts:
    """The counts of a list of texts where they are stored: ``parts`` (shards, each its own
    :data:`Counts`), and for the ``i``-th text the part ``part[i]`` and the ``row[i]`` there."""

    parts: list[Counts]
    part: np.ndarray
    row: np.ndarray


def sorted_unique(values: np.ndarray) -> np.ndarray:
    """The distinct values, sorted (by sorting: ``np.unique`` hashes, many times slower on hash buckets)."""
    values = np.sort(values)
    return values[np.concatenate(([True], values[1:] != values[:-1]))] if len(values) else values


def stack_counts(parts: list[Counts]) -> Counts:
    """The rows of every part, one after another, over the union of their buckets."""
    if len(parts) == 1:
        return parts[0]
    terms = sorted_unique(np.concatenate([t for t, _ in parts])) if parts else np.zeros(0, dtype=np.int32)
    n_rows, nnz = sum(m.shape[0] for _, m in parts), sum(m.nnz for _, m in parts)
    indptr = np.zeros(n_rows + 1, dtype=np.int64)
    indices, data = np.empty(nnz, dtype=np.int32), np.empty(nnz, dtype=np.float32)
    row = at = 0
    for part_terms, m in parts:
        np.take(np.searchsorted(terms, part_terms).astype(np.int32), m.indices, out=indices[at:at + m.nnz])
        data[at:at + m.nnz] = m.data
        indptr[row + 1:row + 1 + m.shape[0]] = m.indptr[1:] + at
        row, at = row + m.shape[0], at + m.nnz
    return terms, sp.csr_matrix((data, indices, indptr), shape=(n_rows, len(terms)))


class CountCache(ShardCache):
    """The cached term counts of one tokenisation identity, in the folder ``directory``."""

    INDEX_SUFFIX = ".counts.npz"
    ARRAYS = ("indices", "data")

    def _array_path(self, index_path: Path, name: str) -> Path:
        return index_path.with_name(index_path.name.removesuffix(self.INDEX_SUFFIX) + f".{name}.npy")

    def _shard_files(self, index_path: Path) -> list[Path]:
        return [index_path, *(self._array_path(index_path, name) for name in self.ARRAYS)]

    def _load(self, path: Path) -> Counts | None:
        """The shard's counts (entries memory-mapped) if they are whole, else ``None`` after
        deleting the shard."""
        try:
            with np.load(path) as index:
                n_rows, terms, indptr, crc = len(index["keys"]), index["terms"], index["indptr"], index["crc32"]
            indices, data = (np.load(self._array_path(path, name), mmap_mode="r") for name in self.ARRAYS)
            if (indices.dtype != np.int32 or data.dtype != np.float32 or len(indptr) != n_rows + 1
                    or indptr[0] != 0 or indptr[-1] != len(indices) or len(data) != len(indices)):
                raise ValueError("shape")
            if [zlib.crc32(indices), zlib.crc32(data)] != crc.tolist():
                raise ValueError("checksum")
            return terms, sp.csr_matrix((data, indices, indptr), shape=(n_rows, len(terms)))
        except DAMAGED:
            self._drop(path)
            return None

    def append(self, keys: np.ndarray, counts: Counts) -> None:
        """Store ``counts`` (one row per key) as a new shard."""
        terms, matrix = counts
        if len(keys) != matrix.shape[0]:
            raise ValueError(f"{len(keys)} keys but {matrix.shape[0]} rows of counts")
        if len(keys) == 0:
            return
        shard = self.directory / f"{self._new_shard()}{self.INDEX_SUFFIX}"
        entries = {"indices": np.ascontiguousarray(matrix.indices, dtype=np.int32),
                   "data": np.ascontiguousarray(matrix.data, dtype=np.float32)}
        for name in self.ARRAYS:
            write_atomic(self._array_path(shard, name), lambda f, array=entries[name]: np.save(f, array))
        crc = np.array([zlib.crc32(entries[name]) for name in self.ARRAYS], dtype=np.uint32)
        write_atomic(shard, lambda f: np.savez(f, keys=np.asarray(keys, dtype=KEY_DTYPE),
                                                terms=np.asarray(terms, dtype=np.int32),
                                                indptr=np.asarray(matrix.indptr, dtype=np.int64), crc32=crc))

    def get_or_count(self, texts: list[str], count: Callable[[list[str]], Counts], shard_rows: int = 65536) -> TextCounts:
        """Counts of ``texts``: cached rows are read, the distinct other texts counted
        ``shard_rows`` at a time in their order of appearance, each batch stored as a shard.

        Parts come in the order of the first text they hold, so a project ranked again finds
        its texts in long runs of consecutive rows."""
        keys = text_keys(texts)
        found = np.zeros(len(texts), dtype=bool)
        part, row = np.zeros(len(texts), dtype=np.int64), np.zeros(len(texts), dtype=np.int64)
        parts: list[Counts] = []
        for path, at, rows in sorted(self._locate(keys), key=lambda located: located[1][0]):
            shard = self._load(path)
            if shard is None:
                continue
            found[at], part[at], row[at] = True, len(parts), rows
            parts.append(shard)
        missing_keys, first, inverse = np.unique(keys[~found], return_index=True, return_inverse=True)
        order = np.argsort(first, kind="stable")
        rank = np.empty_like(order)
        rank[order] = np.arange(len(order))  # of each distinct missing text, in order of appearance
        part[~found], row[~found] = np.divmod(rank[inverse.ravel()], shard_rows)
        part[~found] += len(parts)
        missing = np.flatnonzero(~found)[first[order]]
        for start in range(0, len(missing), shard_rows):
            counts = count([texts[i] for i in missing[start:start + shard_rows]])
            self.append(missing_keys[order[start:start + shard_rows]], counts)
            parts.append(counts)
        return TextCounts(parts, part, row)

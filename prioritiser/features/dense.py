"""Dense text embedders (sentence vectors) and the cached form in which projects use them."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from prioritiser.features.cache import IDENTITY_FILE, EmbeddingCache, text_keys
from prioritiser.files import file_sha256 as project_file_sha256
from prioritiser.progress import progress_bar


@lru_cache(maxsize=8)
def _file_sha256(path: str, size: int, mtime_ns: int) -> str:
    return project_file_sha256(Path(path))


def file_sha256(path: Path) -> str:
    """SHA-256 of a model file, computed once per process for each version of the file."""
    stat = Path(path).stat()
    return _file_sha256(str(path), stat.st_size, stat.st_mtime_ns)


@contextmanager
def quiet_loading() -> Iterator[None]:
    """Silence the load reports, warnings and progress bars of transformers and huggingface_hub
    while a model loads (they describe harmless details of the bundled files)."""
    from transformers.utils import logging as transformers_logging

    loggers = [logging.getLogger(name) for name in ("transformers", "huggingface_hub", "sentence_transformers")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    bars = transformers_logging.is_progress_bar_enabled()
    transformers_logging.disable_progress_bar()
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)
        if bars:
            transformers_logging.enable_progress_bar()


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """``vectors`` as float32 rows of unit L2 norm (all-zero rows stay zero)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, np.float32(1e-12))


class DenseEmbedder(TransformerMixin, BaseEstimator):
    """Base of the sentence embedders: stateless (``fit`` learns nothing), rows of unit L2 norm.

    Subclasses set ``name`` and ``dimensions`` and define ``identity()`` (a string that changes
    whenever the vectors would: model file hash and encoding parameters) and ``embed(texts)``.
    """

    name: str
    dimensions: int

    def identity(self) -> str:
        raise NotImplementedError

    def embed(self, texts: list[str]) -> np.ndarray:
        raise NotImplementedError

    def fit(self, texts: list[str], y=None) -> DenseEmbedder:
        return self

    def transform(self, texts: list[str]) -> np.ndarray:
        texts = list(texts)
        return self.embed(texts) if texts else np.zeros((0, self.dimensions), dtype=np.float32)


#: File in an embedding folder holding the records per second last measured on this machine.
RATE_FILE = "rate.txt"
RATE_MIN_TEXTS = 256


class CachedEmbedder(TransformerMixin, BaseEstimator):
    """``embedder`` with its vectors cached under ``cache_dir``: only texts never embedded by this
    embedder identity are passed to the model. Output equals ``embedder.transform``."""

    def __init__(self, embedder: DenseEmbedder, cache_dir: Path, progress: bool = False):
        self.embedder = embedder
        self.cache_dir = cache_dir
        self.progress = progress

    @property
    def name(self) -> str:
        return self.embedder.name

    @property
    def dimensions(self) -> int:
        return self.embedder.dimensions

    def identity(self) -> str:
        return self.embedder.identity()

    def cache(self) -> EmbeddingCache:
        """The cache folder: ``<cache_dir>/embeddings/<name>-<first 16 hex of SHA-256 of identity>``,
        holding the identity in full in ``identity.txt``."""
        identity = self.identity()
        folder = Path(self.cache_dir) / "embeddings" / f"{self.embedder.name}-{hashlib.sha256(identity.encode()).hexdigest()[:16]}"
        if not (folder / IDENTITY_FILE).is_file():
            folder.mkdir(parents=True, exist_ok=True)
            (folder / IDENTITY_FILE).write_text(identity + "\n", encoding="utf-8")
        return EmbeddingCache(folder)

    def fit(self, texts: list[str], y=None) -> CachedEmbedder:
        return self

    def missing(self, texts: list[str]) -> int:
        """How many distinct texts of ``texts`` are not cached yet."""
        keys = text_keys(list(texts))
        found, _ = self.cache().lookup(keys)
        return len(np.unique(keys[~found]))

    def last_rate(self) -> float | None:
        """Records per second of the last run on this machine that embedded at least
        ``RATE_MIN_TEXTS`` texts (``None`` if none did)."""
        try:
            return float((self.cache().directory / RATE_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def transform(self, texts: list[str]) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return self.embedder.transform(texts)
        cache = self.cache()
        start, embedded = time.perf_counter(), 0
        with progress_bar(f"Embedding with {self.name}", self.progress) as report:
            def progress(done: int, total: int) -> None:
                nonlocal embedded
                embedded = done
                report(done, total)

            vectors = cache.get_or_embed(texts, self.embedder.embed, batch_size=256, shard_rows=1024, progress=progress)
        if embedded >= RATE_MIN_TEXTS:
            (cache.directory / RATE_FILE).write_text(f"{embedded / (time.perf_counter() - start):.2f}\n", encoding="utf-8")
        return vectors

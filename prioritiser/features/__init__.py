"""Feature extractors, selectable by a spec: ``tfidf``, ``static``, ``minilm``, or parts joined
with ``+`` (e.g. ``tfidf+static``).

Every part gives rows of unit L2 norm; a combination stacks the parts side by side, part ``i``
multiplied by ``w_i / sqrt(sum w_j**2)`` (equal weights by default), so each part holds its
share of every row and combined rows have unit norm too. The output is scipy CSR when any
part is sparse (tf-idf), else a float32 ndarray; rows stay aligned with the texts.

Per-text work is cached (:mod:`prioritiser.features.cache`): the vectors of dense parts
(``static``, ``minilm``) in the machine-wide cache (:func:`machine_cache_dir`), so that every
project and benchmark run on one machine embeds a text once; the term counts of ``tfidf``
under a project's cache folder. Adding records or ranking again embeds and counts only new
texts. tf-idf's columns and idf are refitted on the whole pool every time (cheap once the
counts are cached).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.pipeline import FeatureUnion

from prioritiser.errors import UserError
from prioritiser.features.cache import machine_cache_dir, text_keys
from prioritiser.features.dense import CachedEmbedder, DenseEmbedder
from prioritiser.features.minilm import MiniLMEmbedder
from prioritiser.features.static import StaticEmbedder
from prioritiser.features.tfidf import TfidfExtractor, make_tfidf

EMBEDDERS: dict[str, type[DenseEmbedder]] = {"static": StaticEmbedder, "minilm": MiniLMEmbedder}
EXTRACTORS = {"tfidf": TfidfExtractor, **EMBEDDERS}

__all__ = ["EMBEDDERS", "EXTRACTORS", "CombinedExtractor", "EmbeddingRun", "cached_embedders", "embed",
           "embed_missing", "embedding_backlog", "extract_features", "feature_block", "fit_features", "make_extractor",
           "make_tfidf", "parse_spec", "part_scales"]


def parse_spec(spec: str) -> list[str]:
    """The part names of a spec, in order (``"tfidf+static"`` -> ``["tfidf", "static"]``)."""
    parts = [p.strip().lower() for p in str(spec).split("+")]
    unknown = [p for p in parts if p not in EXTRACTORS]
    if not spec or unknown or len(set(parts)) != len(parts):
        raise UserError(f"unknown feature extractor {spec!r}: use {', '.join(EXTRACTORS)} or a '+' combination of them")
    return parts


class CombinedExtractor(FeatureUnion):
    """A FeatureUnion whose ``name`` is its spec (the parts' names joined with ``+``)."""

    @property
    def name(self) -> str:
        return "+".join(name for name, _ in self.transformer_list)

    def fit_transform(self, X, y=None, **params):
        return _as_output(super().fit_transform(X, y, **params))

    def transform(self, X, **params):
        return _as_output(super().transform(X, **params))

    def _hstack(self, Xs):
        """Side by side; dense parts become CSR first, so that scipy stacks CSR blocks directly
        instead of through COO (seconds saved on large pools)."""
        if not any(sp.issparse(X) for X in Xs):
            return super()._hstack(Xs)
        return sp.hstack([X if sp.issparse(X) else _dense_as_csr(X) for X in Xs], format="csr")


def _dense_as_csr(matrix: np.ndarray) -> sp.csr_matrix:
    """A dense matrix as float32 CSR storing every entry, without a scan for zeros."""
    n_rows, n_columns = matrix.shape
    return sp.csr_matrix((np.ascontiguousarray(matrix, dtype=np.float32).ravel(),
                          np.tile(np.arange(n_columns, dtype=np.int32), n_rows),
                          np.arange(n_rows + 1, dtype=np.int64) * n_columns),
                         shape=(n_rows, n_columns))


def _as_output(matrix):
    return matrix.tocsr().astype(np.float32, copy=False) if sp.issparse(matrix) else np.asarray(matrix, dtype=np.float32)


def make_extractor(spec: str, *, cache_dir: Path | None = None, progress: bool = False, **params):
    """An unfitted sklearn-style transformer (``fit``/``transform``/``fit_transform``, ``name``,
    ``get_params``) for ``spec``.

    ``params`` holds, per part name, that part's keyword arguments (``tfidf={"min_df": 1}``) and
    ``weights={part: weight}`` for a combination; for a single part they may also be given flat
    (``make_extractor("tfidf", min_df=1)``); groups for parts not in ``spec`` are ignored. Dense
    parts read and extend the machine-wide embedding cache (see
    :class:`~prioritiser.features.dense.CachedEmbedder`); with ``cache_dir``, tf-idf reads and
    extends its term-count cache there. ``progress`` draws a bar while embedding.
    """
    parts = parse_spec(spec)
    grouped = {name: dict(params.pop(name) or {}) for name in list(params) if name in EXTRACTORS}
    per_part = {name: grouped.get(name, {}) for name in parts}
    weights = params.pop("weights", None) or {}
    if params and len(parts) == 1:
        per_part[parts[0]].update(params)
    elif params:
        raise UserError(f"feature parameters {sorted(params)} must be grouped under a part of {spec!r}")
    built = []
    for name in parts:
        try:
            extractor = EXTRACTORS[name](**per_part[name])
        except TypeError as error:
            raise UserError(f"feature parameters for {name!r}: {error}") from None
        if name in EMBEDDERS:
            extractor = CachedEmbedder(extractor, machine_cache_dir(), progress=progress)
        elif cache_dir is not None:
            extractor.set_params(cache_dir=Path(cache_dir))
        built.append((name, extractor))
    if len(built) == 1:
        return built[0][1]
    return CombinedExtractor(built, transformer_weights=part_scales(parts, weights))


def part_scales(parts: list[str], weights: dict | None) -> dict[str, float]:
    """The factor ``w_i / sqrt(sum w_j**2)`` of each part of a combination (weights default to 1)."""
    raw = np.array([float((weights or {}).get(name, 1.0)) for name in parts])
    if (raw < 0).any() or not raw.any():
        raise UserError(f"feature weights for {'+'.join(parts)!r} must be non-negative and not all zero")
    return dict(zip(parts, (raw / np.linalg.norm(raw)).tolist()))


def feature_block(X, spec: str, part: str, params: dict | None = None):
    """The columns of ``part`` in ``X``, the matrix :func:`extract_features` gave for ``spec``
    and ``params``, scaled back to rows of unit norm: the part's own features, for a model that
    reads only them. A dense part comes back as a float32 ndarray. The widths of dense parts
    are their dimensions; the one sparse part (tf-idf) has the remaining columns."""
    parts = parse_spec(spec)
    if part not in parts:
        raise UserError(f"feature part {part!r} is not in the features {spec!r}")
    if len(parts) == 1:
        return X
    key = (spec, part, repr(params))
    matrix, block = _last_blocks.get(key, (None, None))
    if matrix is not X:
        block = _cut_block(X, parts, part, params or {})
        _last_blocks[key] = (X, block)
    return block


#: The blocks last cut, per (spec, part, params), with the matrix cut from: a simulation asks for
#: the same block of the same matrix at every retraining, and cutting columns out of a CSR
#: matrix costs more than fitting the model.
_last_blocks: dict[tuple, tuple] = {}


def _cut_block(X, parts: list[str], part: str, params: dict):
    widths = {name: EXTRACTORS[name](**dict(params.get(name) or {})).dimensions for name in parts if name in EMBEDDERS}
    widths.update({name: X.shape[1] - sum(widths.values()) for name in parts if name not in EMBEDDERS})
    start = sum(widths[name] for name in parts[: parts.index(part)])
    block = X[:, start:start + widths[part]] * np.float32(1.0 / part_scales(parts, params.get("weights"))[part])
    if part in EMBEDDERS and sp.issparse(block):
        return np.asarray(block.toarray(), dtype=np.float32)
    return block.tocsr() if sp.issparse(block) else block


def extract_features(spec: str, texts: list[str], cache_dir: Path | None = None, params: dict | None = None,
                     progress: bool = True):
    """The feature matrix of ``texts`` for ``spec`` (CSR float32 when tf-idf is a part, else a
    float32 ndarray), fitted on all of ``texts``; ``params`` as for :func:`make_extractor`."""
    return fit_features(spec, texts, cache_dir, params, progress)[1]


def fit_features(spec: str, texts: list[str], cache_dir: Path | None = None, params: dict | None = None,
                 progress: bool = True):
    """The fitted extractor and the feature matrix of :func:`extract_features`."""
    extractor = make_extractor(spec, cache_dir=cache_dir, progress=progress, **(params or {}))
    return extractor, _as_output(extractor.fit_transform(list(texts)))


def embed(name: str, texts: list[str], cache_dir: Path | None = None, params: dict | None = None,
          progress: bool = True) -> np.ndarray:
    """Dense embeddings of ``texts`` by the embedder ``name`` (``static`` or ``minilm``)."""
    if name not in EMBEDDERS:
        raise UserError(f"{name!r} is not a dense embedder: use one of {', '.join(EMBEDDERS)}")
    return extract_features(name, texts, cache_dir, {name: params or {}}, progress)


def cached_embedders(spec: str, params: dict | None = None, progress: bool = False) -> list[CachedEmbedder]:
    """The dense parts of ``spec`` (none for ``tfidf``), each reading and extending the
    machine-wide cache; ``params`` as for :func:`make_extractor`."""
    params = params or {}
    return [CachedEmbedder(EXTRACTORS[name](**dict(params.get(name) or {})), machine_cache_dir(), progress=progress)
            for name in parse_spec(spec) if name in EMBEDDERS]


@dataclass
class EmbeddingRun:
    """What one dense part of a spec did (or would do) for some texts: its ``identity``, the
    distinct texts it had to embed, the seconds it took, and its measured (or last measured)
    records per second on this machine (``None`` before any measurement)."""

    name: str
    identity: str
    to_embed: int
    seconds: float
    rate: float | None

    @property
    def eta_s(self) -> float | None:
        """Estimated seconds to embed the texts not cached, from the last measured rate."""
        return self.to_embed / self.rate if self.rate else None


def embedding_backlog(spec: str, texts: list[str], params: dict | None = None, measure: int = 0) -> list[EmbeddingRun]:
    """Per dense part of ``spec``: how many of ``texts`` still need embedding, and how long that
    should take at the rate last measured on this machine. Reads the cache only, unless no rate
    was ever measured and ``measure`` > 0: then that many of the missing texts are embedded (and
    cached) to measure it, the model loaded first so that loading is not counted."""
    runs = []
    for embedder in cached_embedders(spec, params):
        keys = text_keys(list(texts))
        found, _ = embedder.cache().lookup(keys)
        missing = np.flatnonzero(~found)[np.unique(keys[~found], return_index=True)[1]]
        rate = embedder.last_rate()
        if rate is None and measure and len(missing) > measure:
            sample = [texts[i] for i in missing[:measure]]
            embedder.embedder.embed(sample[:2])  # load the model
            start = time.perf_counter()
            embedder.transform(sample)
            rate = len(sample) / (time.perf_counter() - start)
            missing = missing[measure:]
        runs.append(EmbeddingRun(embedder.name, embedder.identity(), len(missing), 0.0, rate))
    return runs


def embed_missing(spec: str, texts: list[str], params: dict | None = None, progress: bool = True) -> list[EmbeddingRun]:
    """Embed, with every dense part of ``spec``, the texts its cache lacks, storing them as they
    are done (an interruption keeps every finished shard; a rerun continues from there)."""
    runs = []
    for embedder in cached_embedders(spec, params, progress=progress):
        to_embed, start = embedder.missing(texts), time.perf_counter()
        embedder.transform(texts)
        runs.append(EmbeddingRun(embedder.name, embedder.identity(), to_embed, time.perf_counter() - start,
                                 embedder.last_rate()))
    return runs

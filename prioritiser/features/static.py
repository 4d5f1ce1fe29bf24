"""A static (lookup-table) encoder distilled from all-MiniLM-L6-v2 with model2vec.

Bundled in ``models/static-minilm`` (see ``scripts/build_static_model.py``); embeds thousands
of abstracts a second on a CPU. Embeddings are L2-normalised float32.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from prioritiser.errors import UserError

MODEL_DIR = Path(__file__).resolve().parent.parent.parent / "models" / "static-minilm"


@lru_cache(maxsize=2)
def load_static(path: str):
    from model2vec import StaticModel

    if not Path(path, "model.safetensors").is_file():
        raise UserError(f"{path}: the static encoder is missing; rebuild it with scripts/build_static_model.py")
    return StaticModel.from_pretrained(path)


class StaticEmbedder:
    """Mean of static token vectors per text (stateless: ``fit`` does nothing)."""

    name = "static"

    def __init__(self, model_dir: str | None = None, max_length: int = 512):
        self.model_dir = model_dir or str(MODEL_DIR)
        self.max_length = max_length

    def identity(self) -> str:
        digest = Path(self.model_dir, "model.safetensors").stat().st_size
        return f"static:{Path(self.model_dir).name}:{digest}:{self.max_length}"

    def embed(self, texts: list[str]) -> np.ndarray:
        model = load_static(self.model_dir)
        vectors = np.asarray(model.encode(texts, max_length=self.max_length, show_progress_bar=False), dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-12)

"""A static (lookup-table) encoder distilled from all-MiniLM-L6-v2 with model2vec.

Bundled in ``prioritiser/models/static-minilm`` (rebuilt by ``scripts/build_static_model.py``): a text's
vector is the mean of its tokens' vectors, so it embeds thousands of abstracts a second on
one CPU core. Loaded from local files only.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from prioritiser.errors import UserError
from prioritiser.features.dense import DenseEmbedder, file_sha256, quiet_loading, unit_rows
from prioritiser.package_data import static_model_dir

MODEL_DIR = static_model_dir()


@lru_cache(maxsize=2)
def load_static(path: str):
    try:
        from model2vec import StaticModel
    except ImportError:
        raise UserError("the 'static' extractor needs the optional dependencies: "
                        "pip install 'prioritiser[embeddings]'") from None

    if not Path(path, "model.safetensors").is_file():
        raise UserError(f"{path}: the static encoder is missing; rebuild it with scripts/build_static_model.py")
    with quiet_loading():
        return StaticModel.from_pretrained(path, force_download=False)


class StaticEmbedder(DenseEmbedder):
    """Static MiniLM sentence vectors (float32, unit L2 norm; ``max_length`` tokens per text)."""

    name = "static"

    def __init__(self, model_dir: str | None = None, max_length: int = 512):
        self.model_dir = model_dir
        self.max_length = max_length

    @property
    def path(self) -> Path:
        return Path(self.model_dir) if self.model_dir else MODEL_DIR

    @property
    def dimensions(self) -> int:
        return int(load_static(str(self.path)).dim)

    def identity(self) -> str:
        return f"static:{file_sha256(self.path / 'model.safetensors')}:max_length={self.max_length}"

    def embed(self, texts: list[str]) -> np.ndarray:
        model = load_static(str(self.path))
        return unit_rows(model.encode(texts, max_length=self.max_length, use_multiprocessing=False))

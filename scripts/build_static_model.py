"""Distil the bundled static encoder (models/static-minilm) from all-MiniLM-L6-v2, offline.

model2vec embeds every token of MiniLM's vocabulary with the transformer once, reduces the
vectors to 256 dimensions with PCA and stores them as float16: a lookup table that embeds
thousands of abstracts a second on a CPU.

    HF_HUB_OFFLINE=1 python scripts/build_static_model.py
"""

import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from model2vec.distill import distill  # noqa: E402

from prioritiser.features.minilm import minilm_path  # noqa: E402

OUT = Path(__file__).resolve().parent.parent / "models" / "static-minilm"

if __name__ == "__main__":
    model = distill(model_name=str(minilm_path()), pca_dims=256, quantize_to="float16")
    model.save_pretrained(str(OUT))
    print(f"saved {OUT}")

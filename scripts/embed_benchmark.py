"""Records per second of each feature extractor on the benchmark abstracts, and the embedding cache at scale.

    .venv/bin/python scripts/embed_benchmark.py [--records 5000] [--minilm-records 300] [--cache-rows 1000000]

Texts are title + abstract from /work/shared/benchmark/datasets/*.csv.gz (or --datasets), drawn
at random (seeded) across the reviews. Times exclude loading a model and use no cache unless the
row says so. CPU seconds count every thread of this process: on a machine shared with other work
they show the cost better than wall time; the load average (1 min) is printed beside each row.
MiniLM is timed in each precision and token limit, and on titles only; its ``cos`` column is
the mean (and least) cosine of its vectors to those of float32 with 256 tokens.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from prioritiser.features import extract_features, make_extractor
from prioritiser.features.cache import EmbeddingCache, text_keys

DATASETS = Path("/work/shared/benchmark/datasets")


def load_texts(folder: Path, n: int) -> list[str]:
    frames = [pd.read_csv(path, usecols=["title", "abstract"], dtype=str, keep_default_na=False)
              for path in sorted(folder.glob("*.csv.gz"))]
    frame = pd.concat(frames)
    frame = frame.sample(n=min(n, len(frame)), random_state=0)
    return (frame["title"] + "\n" + frame["abstract"]).tolist()


def timed(action) -> tuple[float, float, str]:
    """Wall-clock and CPU seconds (this process, all threads) of ``action()``, and the load average after."""
    wall, cpu = time.perf_counter(), time.process_time()
    action()
    return time.perf_counter() - wall, time.process_time() - cpu, f"{os.getloadavg()[0]:.1f}"


def minilm_rows(texts: list[str]) -> list[tuple[str, int, tuple[float, float, str]]]:
    """MiniLM in float32 and bfloat16, 256 and 128 tokens, and on titles only (no cache)."""
    from prioritiser.features.minilm import MiniLMEmbedder

    rows, reference = [], None
    titles = [text.split("\n", 1)[0] for text in texts]
    for precision, max_length, inputs, what in (("float32", 256, texts, ""), ("bfloat16", 256, texts, ""),
                                                ("bfloat16", 128, texts, ""), ("bfloat16", 256, titles, ", titles only")):
        embedder = MiniLMEmbedder(max_length=max_length, precision=precision)
        embedder.embed(inputs[:2])  # load the model
        out = {}
        timing = timed(lambda: out.setdefault("vectors", embedder.embed(inputs)))
        reference = out["vectors"] if reference is None else reference
        cosines = (out["vectors"] * reference).sum(axis=1)
        rows.append((f"minilm {precision} {max_length} tokens{what}, cos {cosines.mean():.4f} (min {cosines.min():.3f})",
                     len(inputs), timing))
    return rows


def extractor_rows(texts: list[str], minilm_records: int) -> list[tuple[str, int, tuple[float, float, str]]]:
    """(what, records, (wall s, cpu s, load)) for each extractor; models are loaded before timing."""
    rows = []
    for spec in ("tfidf", "static", "tfidf+static"):
        make_extractor(spec).fit_transform(texts[:2])  # load the model
        rows.append((spec, len(texts), timed(lambda: make_extractor(spec).fit_transform(texts))))
    if minilm_records:
        rows += minilm_rows(texts[:minilm_records])
    with tempfile.TemporaryDirectory() as cache_dir:
        os.environ["XDG_CACHE_HOME"] = cache_dir  # an empty machine-wide cache for these two rows
        sim = texts[:2000]
        rows.append(("tfidf+static, 2000 records, empty cache", len(sim),
                     timed(lambda: extract_features("tfidf+static", sim, Path(cache_dir), progress=False))))
        rows.append(("tfidf+static, 2000 records, cached", len(sim),
                     timed(lambda: extract_features("tfidf+static", sim, Path(cache_dir), progress=False))))
    return rows


def cache_rows(n: int, dimensions: int = 384, shard_rows: int = 8192) -> list[tuple[str, int, tuple[float, float, str]]]:
    """Store n random vectors through the cache, then read all of them and a 2,000-text slice."""
    texts = [f"synthetic record {i}" for i in range(n)]
    rng = np.random.default_rng(0)

    def embed(batch: list[str]) -> np.ndarray:
        return rng.standard_normal((len(batch), dimensions), dtype=np.float32)

    rows = [("sha256 of texts", n, timed(lambda: text_keys(texts)))]
    with tempfile.TemporaryDirectory(dir=Path.cwd()) as folder:  # on disk: /tmp may be memory
        cache = EmbeddingCache(Path(folder))
        rows.append((f"cache: embed+store {dimensions}-d (random vectors)", n,
                     timed(lambda: cache.get_or_embed(texts, embed, batch_size=shard_rows, shard_rows=shard_rows))))
        rows.append(("cache: read all", n, timed(lambda: cache.get_or_embed(texts, embed))))
        sample = [texts[i] for i in rng.choice(n, size=min(n, 2000), replace=False)]
        rows.append(("cache: read 2,000 of them", len(sample), timed(lambda: cache.get_or_embed(sample, embed))))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=Path, default=DATASETS)
    parser.add_argument("--records", type=int, default=5000)
    parser.add_argument("--minilm-records", type=int, default=300)
    parser.add_argument("--cache-rows", type=int, default=0, help="also time the cache with this many vectors")
    args = parser.parse_args()

    import torch

    from prioritiser.features.minilm import default_device, native_bfloat16

    device = default_device()
    hardware = (f"CUDA available: {torch.cuda.is_available()}; minilm device: {device}; "
                f"native bfloat16: {native_bfloat16(device)}; torch threads: {torch.get_num_threads()}; CPUs: {os.cpu_count()}")
    texts = load_texts(args.datasets, args.records)
    with tempfile.TemporaryDirectory() as machine_cache:
        os.environ["XDG_CACHE_HOME"] = machine_cache  # time the embedders, not reads of the user's cache
        rows = extractor_rows(texts, args.minilm_records)
    if args.cache_rows:
        rows += cache_rows(args.cache_rows)
    print(f"{'what':<62} {'records':>8} {'wall s':>8} {'cpu s':>8} {'records/s':>10} {'per cpu s':>10} {'load':>5}")
    for what, n, (wall, cpu, load) in rows:
        print(f"{what:<62} {n:>8} {wall:>8.3f} {cpu:>8.3f} {n / wall:>10.1f} {n / max(cpu, 1e-9):>10.1f} {load:>5}")
    print(hardware)


if __name__ == "__main__":
    main()

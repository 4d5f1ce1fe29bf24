"""Embed every benchmark review into the machine-wide embedding cache, smallest review first.

    nice -n 15 .venv/bin/python scripts/cache_benchmark_embeddings.py [--extractor minilm] [--bench DIR]

Texts are built exactly as ``prioritiser simulate`` builds them, so later simulations find every
vector cached. Safe to stop and run again: finished shards are kept.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from prioritiser.features import embed
from prioritiser.simulate import load_dataset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bench", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "benchmark")
    parser.add_argument("--extractor", default="minilm")
    parser.add_argument("--datasets", default="", help="comma-separated subset, embedded in this order")
    args = parser.parse_args()
    paths = sorted((args.bench / "datasets").glob("*.csv.gz"), key=lambda path: path.stat().st_size)
    if args.datasets:
        paths = [args.bench / "datasets" / f"{name}.csv.gz" for name in args.datasets.split(",")]
    for path in paths:
        texts = load_dataset(path)["text"].tolist()
        wall, cpu = time.perf_counter(), time.process_time()
        embed(args.extractor, texts, progress=False)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        print(f"{path.name.removesuffix('.csv.gz'):<36} {len(texts):>6} records {wall:8.1f} s wall {cpu:8.1f} s cpu "
              f"{len(texts) / wall:6.1f}/s load {os.getloadavg()[0]:.2f}", flush=True)


if __name__ == "__main__":
    main()

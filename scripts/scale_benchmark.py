"""Embed, score and take the top 50 of a synthetic pool, locally and on a local Ray cluster.

    .venv/bin/python scripts/scale_benchmark.py                     # 1,000,000 records, both paths
    .venv/bin/python scripts/scale_benchmark.py --records 20000     # a quick check

Records are synthetic (titles and abstracts of words drawn, per record id, from the example
review's vocabulary; one record in 50 leans on a topic vocabulary and counts as an include).
The first ``--labelled`` records are labelled; the rest are the pool. Both paths embed every
record with the bundled static encoder into their own empty cache, fit the ``default`` preset's
classifier (linear SVM blended with nearest-include similarity) on the labelled records and
return the pool's top ``--top``:

- local: texts in memory, ``extract_features`` then the ``Ranker`` fitted and scoring every row (what ``rank`` runs);
- ray: a cluster on 127.0.0.1 (a head that runs no tasks and ``--workers`` one-CPU nodes);
  texts are made on the workers, embedded with :func:`prioritiser.distributed.embed_dataset`
  and scored with :func:`prioritiser.distributed.rank_on_cluster`.

Each path runs in its own process, so its peak resident memory (``ru_maxrss``) is the driver's
alone. Prints wall times, peak driver memory, the ratio of the Ray path's wall time to the
local one (target <= 1.3 on a 2-core machine), whether the two top lists agree, the load
average before and after, and, where the cluster has GPUs, embedding records per second per
GPU worker. The cluster's start-up is timed apart (a cluster is started once, not per job).
"""

from __future__ import annotations

import os

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # keep the test cluster on 127.0.0.1

import argparse  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "prioritiser" / "data" / "example.csv"
TOPIC = ("porcine", "diarrhoea", "virome", "metagenomics", "piglets", "rotavirus", "enteric", "faecal")
INCLUDE_EVERY = 50
#: Records made at a time (their word arrays take about 20 KB a record while they are made).
GENERATE_ROWS = 5_000


def vocabulary() -> np.ndarray:
    """The distinct lower-case words of the example review's titles and abstracts."""
    example = pd.read_csv(EXAMPLE)
    text = " ".join(example.title.fillna("").tolist() + example.abstract.fillna("").tolist()).lower()
    return np.array(sorted(set(re.findall(r"[a-z]{3,}", text))))


VOCABULARY = vocabulary()


def _mix(values: np.ndarray) -> np.ndarray:
    """splitmix64: a fixed pseudo-random uint64 for each uint64 (the same on every worker)."""
    with np.errstate(over="ignore"):
        z = values + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def is_include(ids: np.ndarray) -> np.ndarray:
    return np.asarray(ids) % INCLUDE_EVERY == 0


def synthetic_texts(ids: np.ndarray, n_words: int) -> list[str]:
    """One text of ``n_words`` words per record id, the same for an id wherever it is made."""
    ids = np.asarray(ids, dtype=np.uint64)
    draws = _mix(ids[:, None] * np.uint64(1_000_003) + np.arange(n_words, dtype=np.uint64)[None, :])
    words = VOCABULARY[(draws % np.uint64(len(VOCABULARY))).astype(np.int64)]
    topic = np.array(TOPIC)[(draws % np.uint64(len(TOPIC))).astype(np.int64)]
    words = np.where(is_include(ids)[:, None] & (draws % np.uint64(5) == 0), topic, words)
    return [f"Record {i}: {' '.join(row[:12])}\n{' '.join(row[12:])}" for i, row in zip(ids.tolist(), words)]


def labelled(n_labelled: int) -> tuple[np.ndarray, np.ndarray]:
    idx = np.arange(n_labelled)
    return idx, is_include(idx).astype(np.int64)


def ranker():
    """The default ranker on the static encoder's features (cluster scoring needs per-text features)."""
    from prioritiser.learning import Ranker

    return Ranker.from_preset("default", features="static", feature_params={})


def run_local(args) -> dict:
    from prioritiser.features import extract_features

    start = time.perf_counter()
    texts = [text for start in range(0, args.records, GENERATE_ROWS)
             for text in synthetic_texts(np.arange(start, min(start + GENERATE_ROWS, args.records)), args.words)]
    made = time.perf_counter()
    X = extract_features("static", texts, progress=False)
    embedded = time.perf_counter()
    idx, y = labelled(args.labelled)
    scores = np.asarray(ranker().fit(X, idx, y).decision_function(X), dtype=np.float64)[args.labelled:]
    groups = np.arange(args.labelled, args.records)
    order = np.lexsort((groups, -scores))[:args.top]
    end = time.perf_counter()
    return {"wall_s": end - start, "texts_s": made - start, "embed_s": embedded - made, "score_s": end - embedded,
            "top": groups[order].tolist(), "scores": scores[order].tolist()}


def run_ray(args) -> dict:
    import ray
    from ray.cluster_utils import Cluster

    from prioritiser.distributed import connect, embed_dataset, rank_on_cluster, worker_slots
    from prioritiser.features import cached_embedders, extract_features

    started = time.perf_counter()
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "node_ip_address": "127.0.0.1",
                                                            "include_dashboard": False})
    try:
        for _ in range(args.workers):
            cluster.add_node(num_cpus=1, node_ip_address="127.0.0.1")
        connect(cluster.address)
        ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
        cluster_s = time.perf_counter() - started

        def records(with_pool: bool):
            def make(batch: dict) -> dict:
                ids = batch["id"]
                out = {"text": synthetic_texts(ids, args.words)}
                if with_pool:
                    out |= {"group_id": ids, "in_pool": ids >= args.labelled}
                return out

            return ray.data.range(args.records, override_num_blocks=max(args.workers * 4, args.records // 50_000)) \
                .map_batches(make, batch_format="numpy", batch_size=GENERATE_ROWS)

        start = time.perf_counter()
        (cached,) = cached_embedders("static")
        embed_dataset(cached, records(False), args.records)
        embedded = time.perf_counter()
        idx, y = labelled(args.labelled)
        X_labelled = extract_features("static", synthetic_texts(idx, args.words), progress=False)
        fitted = ranker().fit(X_labelled, np.arange(len(idx)), y)  # rows of X_labelled, in the order of idx
        ranking = rank_on_cluster(records(True), "static", {}, fitted, k=args.top)
        end = time.perf_counter()
        actors, on_gpu = worker_slots()
        return {"wall_s": end - start, "cluster_start_s": cluster_s, "embed_s": embedded - start,
                "score_s": end - embedded, "top": ranking.group_ids.tolist(), "scores": ranking.scores.tolist(),
                "gpu_records_per_s_per_worker": args.records / (embedded - start) / actors if on_gpu else None}
    finally:
        ray.shutdown()
        cluster.shutdown()


def child(args) -> None:
    os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix=f"scale-{args.path}-", dir=args.scratch)
    result = (run_local if args.path == "local" else run_ray)(args)
    result["peak_driver_gib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--words", type=int, default=180, help="words per record (an abstract: about 180)")
    parser.add_argument("--labelled", type=int, default=1000)
    parser.add_argument("--top", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2, help="one-CPU worker nodes of the local Ray cluster")
    parser.add_argument("--path", choices=["both", "local", "ray"], default="both")
    parser.add_argument("--scratch", default=tempfile.gettempdir(), help="folder for the runs' embedding caches")
    args = parser.parse_args()
    if args.path != "both":
        child(args)
        return
    load_before = os.getloadavg()
    results = {}
    for path in ("local", "ray"):
        command = [sys.executable, __file__, "--path", path, "--records", str(args.records), "--words", str(args.words),
                   "--labelled",
                   str(args.labelled), "--top", str(args.top), "--workers", str(args.workers), "--scratch", args.scratch]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode:
            sys.exit(f"the {path} run failed:\n{done.stderr[-3000:]}")
        results[path] = json.loads(done.stdout.strip().splitlines()[-1])
    load_after = os.getloadavg()
    local, ray_ = results["local"], results["ray"]
    print(f"{args.records:,} records of {args.words} words, {args.labelled:,} labelled, top {args.top}; "
          f"load average before {load_before[0]:.1f} / after {load_after[0]:.1f} (1 min), {os.cpu_count()} cores")
    for name, r in results.items():
        print(f"  {name:5s} wall {r['wall_s']:8.1f} s (embed {r['embed_s']:.1f} s, score {r['score_s']:.1f} s); "
              f"peak driver memory {r['peak_driver_gib']:.2f} GiB")
    print(f"  ray cluster start (not in its wall time): {ray_['cluster_start_s']:.1f} s")
    ratio = ray_["wall_s"] / local["wall_s"]
    print(f"  ray / local wall time: {ratio:.2f} (target <= 1.3: {'met' if ratio <= 1.3 else 'missed'}); "
          f"ray peak driver memory {ray_['peak_driver_gib']:.2f} GiB (target <= 2: "
          f"{'met' if ray_['peak_driver_gib'] <= 2 else 'missed'})")
    same = local["top"] == ray_["top"] and np.allclose(local["scores"], ray_["scores"], rtol=0, atol=1e-9)
    print(f"  top {args.top} identical: {same}")
    print(f"  embedding records/s: local {args.records / local['embed_s']:,.0f}, ray {args.records / ray_['embed_s']:,.0f}")
    if ray_["gpu_records_per_s_per_worker"]:
        print(f"  GPU embedding: {ray_['gpu_records_per_s_per_worker']:,.0f} records/s per worker")


if __name__ == "__main__":
    main()

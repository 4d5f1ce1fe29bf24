"""Embedding and scoring on a Ray cluster (``prioritiser[ray]``): a local cluster on 127.0.0.1
(a head that runs no tasks, and two worker nodes of one CPU each) started for this module and
stopped at its end. Skipped, with the reason, when Ray is not installed."""

from __future__ import annotations

import os
import shutil
import signal
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

# Ray resolves 127.0.0.1 to this machine's outward address unless clusters are off-limits:
# the test cluster and its driver then stay on the loopback interface.
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'prioritiser[ray]')")
pytest.importorskip("ray.data", reason="Ray Data is not installed (pip install 'prioritiser[ray]')")

from ray.cluster_utils import Cluster  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from prioritiser.cli import app  # noqa: E402

from prioritiser.distributed import (  # noqa: E402
    connect, embed_dataset, embed_on_cluster, rank_on_cluster, texts_dataset,
)
from prioritiser.features import cached_embedders, embed_missing, extract_features  # noqa: E402
from prioritiser.features.cache import KEY_DTYPE, EmbeddingCache, machine_cache_dir, text_keys  # noqa: E402
from prioritiser.features.dense import CachedEmbedder  # noqa: E402
from prioritiser.features.static import StaticEmbedder  # noqa: E402
from prioritiser.importing import create_project  # noqa: E402
from prioritiser.labels import import_labels  # noqa: E402
from prioritiser.learning import Ranker  # noqa: E402
from prioritiser.package_data import data_dir  # noqa: E402
from prioritiser.store import Project  # noqa: E402
from prioritiser.screening import compute_ranking, screening_state  # noqa: E402

pytestmark = pytest.mark.slow  # a cluster start and three jobs: about 2 minutes

DATA = data_dir()
N_RECORDS = 2000
NODE = {"num_cpus": 1, "node_ip_address": "127.0.0.1"}


@contextmanager
def time_limit(seconds: int):
    """Fail instead of hanging when a cluster job does not end within ``seconds``."""
    def expire(signum, frame):
        raise TimeoutError(f"the Ray job took more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """The cluster's address; workers and this process share a fresh embedding cache."""
    import ray

    root = tmp_path_factory.mktemp("ray")
    saved = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(root / "cache")
    local = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "node_ip_address": "127.0.0.1",
                                                          "include_dashboard": False,
                                                          "_system_config": {"health_check_period_ms": 500}})
    try:
        workers = [local.add_node(**NODE) for _ in range(2)]
        connect(local.address)
        with time_limit(240):
            yield local, workers
    finally:
        ray.shutdown()
        local.shutdown()
        if saved is None:
            os.environ.pop("XDG_CACHE_HOME", None)
        else:
            os.environ["XDG_CACHE_HOME"] = saved


def make_project(path: Path, n: int = N_RECORDS, start: int = 0) -> Path:
    """A project of ``n`` distinct records built from the example review (each title paired
    with a second one, so that no two records are duplicates), the first 200 labelled."""
    example = pd.read_csv(DATA / "example.csv")
    i = np.arange(start, start + n)
    first, second = i % len(example), (i + 1 + 97 * (i // len(example))) % len(example)
    records = pd.DataFrame({
        "title": [f"{example.title[a]}: {example.title[b]} ({k})" for k, (a, b) in enumerate(zip(first, second), start)],
        "abstract": example.abstract.fillna("").to_numpy()[first],
    })
    records.to_csv(path.with_suffix(".csv"), index=False)
    with create_project(path, [path.with_suffix(".csv")], dedupe=False)[0] as project:
        labelled = min(n, 200)
        labels = pd.DataFrame({"record_id": np.arange(1, labelled + 1),
                               "label": example.label_included.to_numpy()[first[:labelled]]})
        labels.to_csv(path.with_suffix(".labels.csv"), index=False)
        import_labels(project, path.with_suffix(".labels.csv"))
    return path


def shard_keys(cached) -> list[np.ndarray]:
    cache = cached.cache()
    return [np.load(index)["keys"] for index in cache._index_paths()]


def test_cluster_embeddings_and_ranking_equal_the_local_ones(cluster, tmp_path):
    ranker = Ranker.from_preset("default", features="static", feature_params={})
    with Project(make_project(tmp_path / "review")) as project:
        group_ids, texts = project.group_texts()
        state = screening_state(project)
    assert len(texts) == N_RECORDS

    runs = embed_on_cluster("static", texts)
    assert [run.to_embed for run in runs] == [N_RECORDS]
    (cached,) = cached_embedders("static")
    keys = np.concatenate(shard_keys(cached))
    assert len(keys) == len(np.unique(keys)) == N_RECORDS
    assert embed_on_cluster("static", texts)[0].to_embed == 0

    found, on_cluster = cached.cache().lookup(text_keys(texts))
    local = cached.embedder.transform(texts)
    assert found.all()
    np.testing.assert_allclose(on_cluster, local, rtol=0, atol=1e-6)

    with Project(tmp_path / "review") as project:
        local = compute_ranking(project, ranker, state=state, progress=False)
    local_groups, local_scores = local.group_ids, local.scores
    idx, y = state.training
    X_labelled = extract_features("static", [texts[i] for i in idx], progress=False)
    fitted = Ranker.from_preset("default", features="static", feature_params={}).fit(X_labelled, np.arange(len(idx)), y)
    pool = np.zeros(len(texts), dtype=bool)
    pool[state.unscreened] = True
    dataset = texts_dataset({"group_id": group_ids, "text": texts, "in_pool": pool})
    ranking = rank_on_cluster(dataset, "static", {}, fitted, k=len(local_groups))
    assert ranking.n_scored == N_RECORDS and ranking.n_pool == len(local_groups) == N_RECORDS - 200
    assert np.array_equal(ranking.group_ids, local_groups)
    np.testing.assert_allclose(ranking.scores, local_scores, rtol=0, atol=1e-9)


def test_add_then_embed_on_ray_embeds_only_the_new_records(cluster, tmp_path):
    local, _ = cluster
    first = make_project(tmp_path / "first", n=300, start=5000)
    update = make_project(tmp_path / "update", n=120, start=5300)
    embed = ["embed", str(first), "--set", "features=static", "--ray", local.address]
    result = CliRunner().invoke(app, embed)
    assert result.exit_code == 0 and "static: 300 of 300 texts embedded" in result.output
    assert CliRunner().invoke(app, ["add", str(first), "-r", str(update.with_suffix(".csv"))]).exit_code == 0
    result = CliRunner().invoke(app, embed)
    assert result.exit_code == 0 and "static: 120 of 420 texts embedded" in result.output
    with Project(first) as project:
        _, texts = project.group_texts()
    assert embed_missing("static", texts, progress=False)[0].to_embed == 0


class SlowStatic(StaticEmbedder):
    """The bundled static encoder, 20 ms slower a call, so that a worker can be killed mid-job."""

    def embed(self, texts: list[str]) -> np.ndarray:
        time.sleep(0.02)
        return super().embed(texts)


def test_a_worker_killed_mid_job_loses_no_shard_and_duplicates_none(cluster, tmp_path):
    local, workers = cluster
    with Project(make_project(tmp_path / "review", n=N_RECORDS, start=20_000)) as project:
        _, texts = project.group_texts()
    cached = CachedEmbedder(SlowStatic(), machine_cache_dir())
    folder = cached.cache().directory
    wanted = text_keys(texts)
    written_at_kill = []

    def written() -> int:
        return int(np.isin(wanted, np.concatenate([np.zeros(0, KEY_DTYPE), *shard_keys(cached)])).sum())

    def kill_a_worker_once_a_shard_is_written() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and written() == 0:
            time.sleep(0.005)
        written_at_kill.append(written())
        local.remove_node(workers[0], allow_graceful=False)
        workers[0] = local.add_node(**NODE)

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    killer = threading.Thread(target=kill_a_worker_once_a_shard_is_written)
    killer.start()
    try:
        embed_dataset(cached, texts_dataset({"text": texts}), len(texts), batch_rows=50, shard_rows=100)
    except Exception:  # the job may end with its worker; the next run must finish it
        pass
    finally:
        killer.join()
    assert 0 < written_at_kill[0] < len(texts)
    embed_on_cluster("static", texts)

    keys = np.concatenate(shard_keys(cached)).astype(KEY_DTYPE)
    assert len(keys) == len(np.unique(keys))
    assert len(list(folder.glob("*.index.npz"))) == len(list(folder.glob("*.vectors.npy")))
    found, vectors = EmbeddingCache(folder).lookup(wanted)
    assert found.all()
    np.testing.assert_allclose(vectors, StaticEmbedder().transform(texts), rtol=0, atol=1e-6)


def rank_cli(directory: Path, out: Path, *extra) -> str:
    """``rank`` of a sentence-encoder ranker with a random share (so that the batch draws from
    the whole pool), its batch written to ``out``; the output, after checking it succeeded."""
    settings = ["--set", "features=static", "--set", "feature_params={}", "--set", "random_share=0.25"]
    result = CliRunner().invoke(app, ["rank", str(directory), *settings, "--batch", "20", "--out", str(out), *extra])
    assert result.exit_code == 0, result.output
    return result.output


def test_rank_on_ray_hands_out_the_local_batch_and_stores_the_top_k(cluster, tmp_path, monkeypatch):
    import prioritiser.screening

    local, _ = cluster
    review = make_project(tmp_path / "review", start=40_000)
    shutil.copytree(review, tmp_path / "copy")
    monkeypatch.setattr(prioritiser.screening, "STORED_TOP_K", 300)
    output = rank_cli(review, tmp_path / "ray.csv", "--ray", local.address, "--cluster-from", "1")
    assert f"ranked {N_RECORDS - 200:,} unscreened records" in output
    rank_cli(tmp_path / "copy", tmp_path / "local.csv")

    on_ray, here = (pd.read_csv(tmp_path / name, encoding="utf-8-sig") for name in ("ray.csv", "local.csv"))
    assert on_ray["record_id"].tolist() == here["record_id"].tolist()
    assert on_ray["rank"].tolist() == here["rank"].tolist() and (here["rank"] > 300).any()  # random picks past the top k
    np.testing.assert_allclose(on_ray["score"], here["score"], rtol=0, atol=1e-9)
    assert on_ray["similar_include_id"].tolist() == here["similar_include_id"].tolist()
    with Project(review) as project, Project(tmp_path / "copy") as copy:
        kept, full = project.latest_iteration(), copy.latest_iteration()
    assert (kept.n_ranked, len(kept.group_ids), full.n_ranked) == (N_RECORDS - 200, 300, N_RECORDS - 200)
    assert not kept.stored_in_full and full.stored_in_full
    assert np.array_equal(kept.group_ids, full.group_ids[:300])
    np.testing.assert_allclose(kept.scores, full.scores[:300], rtol=0, atol=1e-9)

    # the audit lists every unread record, and says the ranking past the top k was not stored
    assert CliRunner().invoke(app, ["audit", str(review), "--out", str(tmp_path / "audit")]).exit_code == 0
    excluded = pd.read_csv(tmp_path / "audit" / "excluded_by_model.csv", encoding="utf-8-sig")
    assert len(excluded) == N_RECORDS - 200 and excluded["rank"].notna().sum() == 300
    assert "stored only the first 300 of the 1,800" in (tmp_path / "audit" / "report.html").read_text(encoding="utf-8")


def test_rank_on_ray_of_tfidf_features_says_so_and_stores_nothing(cluster, tmp_path):
    local, _ = cluster
    review = make_project(tmp_path / "review", n=300, start=60_000)
    result = CliRunner().invoke(app, ["rank", str(review), "--ray", local.address, "--cluster-from", "1"])
    assert result.exit_code == 2
    assert result.output.startswith("error: scoring on a Ray cluster needs sentence-encoder features")
    assert len(result.output.strip().splitlines()) == 1
    with Project(review) as project:
        assert project.iterations() == [] and project.batches() == []
    small = CliRunner().invoke(app, ["rank", str(review), "--ray", local.address, "--out", str(tmp_path / "b.csv")])
    assert small.exit_code == 0 and "ranked 100 unscreened records" in small.output  # below --cluster-from: here

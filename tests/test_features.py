"""Feature extractors and the embedding cache, on the bundled example abstracts and the real models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from prioritiser.errors import UserError
from prioritiser.features import embed_missing, embedding_backlog, extract_features, make_extractor, parse_spec
from prioritiser.features.cache import EmbeddingCache, cache_folders, clear_cache, text_keys
from prioritiser.features.static import StaticEmbedder
from prioritiser.package_data import data_dir

DATA = data_dir()
ACE_TRIAL = "Randomised trial of ACE inhibitors in hypertension"
ACE_BP = "ACE inhibitor blood pressure trial"
SOFTWARE = "Software engineering tertiary study"


@pytest.fixture(scope="module")
def texts() -> list[str]:
    frame = pd.read_csv(DATA / "example.csv").head(60).fillna("")
    return (frame["title"] + " " + frame["abstract"]).tolist()


@pytest.fixture
def cache_root(tmp_path, monkeypatch) -> Path:
    """An empty machine-wide cache for one test."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    return tmp_path / "xdg" / "prioritiser"


@pytest.fixture
def encode_calls(monkeypatch):
    """Texts passed to the real static model's ``encode``, call by call."""
    from model2vec import StaticModel

    calls: list[list[str]] = []
    real = StaticModel.encode

    def spy(self, sentences, **kwargs):
        calls.append(list(sentences))
        return real(self, sentences, **kwargs)

    monkeypatch.setattr(StaticModel, "encode", spy)
    return calls


def _row_norms(matrix) -> np.ndarray:
    if sp.issparse(matrix):
        return np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    return np.linalg.norm(matrix, axis=1)


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_tfidf_is_sparse_deterministic_and_unit_norm(texts):
    first = extract_features("tfidf", texts)
    second = extract_features("tfidf", list(texts))
    assert sp.isspmatrix_csr(first) and first.dtype == np.float32
    assert first.shape[0] == len(texts) and first.shape[1] > 100
    assert (first != second).nnz == 0
    np.testing.assert_allclose(_row_norms(first), 1.0, rtol=1e-5)


def test_tfidf_drops_terms_of_a_single_record_but_survives_a_tiny_pool():
    extractor = make_extractor("tfidf")
    pool = extractor.fit_transform(["renal outcomes trial", "renal outcomes cohort", "zebrafish"])
    assert pool.shape == (3, 3)  # renal, outcomes, "renal outcomes"
    assert pool[2].nnz == 0
    new = extractor.transform(["zebrafish trial", "renal function", "Outcomes: renal outcomes."])
    assert new[0].nnz == 0 and new[1].nnz == 1 and new[2].nnz == 3
    tiny = extract_features("tfidf", ["a single abstract about hypertension"])
    assert tiny.shape[0] == 1 and tiny.nnz > 0
    assert extract_features("tfidf", ["the of and", "and the"]).nnz > 0
    with pytest.raises(UserError, match="no record has a word"):
        extract_features("tfidf", ["", " "])


def test_tfidf_matches_scikit_learn_vectorizer(texts):
    """Same features as TfidfVectorizer (up to column order): equal similarities between records."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    ours = extract_features("tfidf", texts)
    reference = TfidfVectorizer(ngram_range=(1, 2), min_df=2, max_df=0.95, sublinear_tf=True,
                                strip_accents="unicode").fit_transform(texts)
    assert ours.shape == reference.shape
    np.testing.assert_allclose((ours @ ours.T).toarray(), (reference @ reference.T).toarray(), atol=1e-5)


def test_title_weight_counts_the_first_line_that_many_times():
    """alpha and beta appear in both records (same idf); in the first, alpha is in the title."""
    extractor = make_extractor("tfidf", title_weight=3, min_df=1, max_df=1.0, ngram_max=1)
    X = extractor.fit_transform(["alpha\nbeta", "beta\nalpha"]).toarray()
    alpha, beta = np.argsort(-X[0])[:2]
    assert X[0, alpha] / X[0, beta] == pytest.approx(1 + np.log(3), rel=1e-5)
    assert X[1, beta] / X[1, alpha] == pytest.approx(1 + np.log(3), rel=1e-5)
    np.testing.assert_allclose(extractor.transform(["alpha\nbeta"]).toarray(), X[:1], atol=1e-6)


def test_flat_and_grouped_params_reach_the_part():
    assert make_extractor("tfidf", min_df=1).get_params()["min_df"] == 1
    assert make_extractor("tfidf", tfidf={"ngram_max": 1}, static={"max_length": 64}).get_params()["ngram_max"] == 1
    with pytest.raises(UserError, match="grouped"):
        make_extractor("tfidf+static", min_df=1)
    with pytest.raises(UserError, match="for 'tfidf'"):
        make_extractor("tfidf", bogus=3)
    for bad in ("", "bert", "tfidf+tfidf", "tfidf+"):
        with pytest.raises(UserError, match="unknown feature extractor"):
            parse_spec(bad)


def test_static_is_dense_deterministic_and_unit_norm(texts):
    first = extract_features("static", texts, progress=False)
    second = extract_features("static", texts, progress=False)
    assert isinstance(first, np.ndarray) and first.dtype == np.float32
    assert first.shape == (len(texts), make_extractor("static").dimensions)
    np.testing.assert_array_equal(first, second)
    np.testing.assert_allclose(_row_norms(first), 1.0, rtol=1e-5)
    empty = extract_features("static", ["", texts[0]], progress=False)
    assert not empty[0].any() and empty.shape[0] == 2


@pytest.mark.parametrize("spec", ["static", pytest.param("minilm", marks=pytest.mark.slow)])
def test_dense_embeddings_put_related_abstracts_together(spec):
    trial, bp, software = extract_features(spec, [ACE_TRIAL, ACE_BP, SOFTWARE], progress=False)
    assert _cosine(trial, bp) > _cosine(trial, software) + 0.2
    assert _cosine(trial, bp) > _cosine(bp, software) + 0.2


def test_cache_embeds_only_texts_never_seen(cache_root, texts, encode_calls):
    uncached = StaticEmbedder().transform(texts)
    encode_calls.clear()
    first = extract_features("static", texts + texts[:5], progress=False)
    assert sum(map(len, encode_calls)) == len(texts)  # duplicates embedded once
    np.testing.assert_array_equal(first[: len(texts)], uncached)
    np.testing.assert_array_equal(first[len(texts):], uncached[:5])

    encode_calls.clear()
    again = extract_features("static", texts[::-1], progress=False)
    assert encode_calls == []
    np.testing.assert_array_equal(again, uncached[::-1])

    added = ["Blood pressure lowering with ramipril in older adults", "A mapping study of test automation"]
    extended = extract_features("static", texts + added, progress=False)
    assert sorted(t for call in encode_calls for t in call) == sorted(added)
    np.testing.assert_array_equal(extended[: len(texts)], uncached)
    np.testing.assert_array_equal(extended[len(texts):], StaticEmbedder().transform(added))


def test_cache_is_keyed_by_model_identity(cache_root, texts, encode_calls):
    extract_features("static", texts[:10], progress=False)
    encode_calls.clear()
    short = extract_features("static", texts[:10], params={"max_length": 8}, progress=False)
    assert sum(map(len, encode_calls)) == 10
    assert not np.allclose(short, StaticEmbedder().transform(texts[:10]))
    identities = sorted(folder.identity for folder in cache_folders())
    assert len(identities) == 2 and identities[0].endswith(":max_length=512")
    assert identities[1].endswith(":max_length=8")


def test_cache_info_counts_texts_and_clear_empties_it(cache_root, texts, encode_calls):
    assert embedding_backlog("tfidf", texts) == []
    [before] = embedding_backlog("tfidf+static", texts)
    assert before.to_embed == len(texts) and before.identity.startswith("static:")
    [run] = embed_missing("static", texts[:20], progress=False)
    assert run.to_embed == 20 and run.seconds > 0
    [folder] = cache_folders()
    assert folder.texts == 20 and folder.bytes >= 20 * 256 * 4 and folder.path.parent == cache_root / "embeddings"
    assert embedding_backlog("static", texts)[0].to_embed == len(texts) - 20
    encode_calls.clear()
    [again] = embed_missing("static", texts[:20], progress=False)
    assert again.to_embed == 0 and encode_calls == []
    assert clear_cache() == folder.bytes and cache_folders() == []
    assert embedding_backlog("static", texts)[0].to_embed == len(texts)


def _shard_files(root: Path, suffix: str) -> list[Path]:
    return sorted((root / "embeddings").glob(f"*/*{suffix}"))


@pytest.mark.parametrize("damage", ["truncate", "flip", "drop_vectors"])
def test_damaged_shard_is_detected_and_rebuilt(cache_root, texts, encode_calls, damage):
    uncached = StaticEmbedder().transform(texts)
    extract_features("static", texts, progress=False)
    [vectors] = _shard_files(cache_root, ".vectors.npy")
    raw = vectors.read_bytes()
    if damage == "truncate":
        vectors.write_bytes(raw[: len(raw) // 2])
    elif damage == "flip":
        vectors.write_bytes(raw[:-9] + bytes([raw[-9] ^ 0x40]) + raw[-8:])
    else:
        vectors.unlink()
    encode_calls.clear()
    rebuilt = extract_features("static", texts, progress=False)
    assert sum(map(len, encode_calls)) == len(texts)
    np.testing.assert_array_equal(rebuilt, uncached)
    assert len(_shard_files(cache_root, ".index.npz")) == 1
    encode_calls.clear()
    extract_features("static", texts, progress=False)
    assert encode_calls == []


def test_a_shard_without_index_is_never_read(tmp_path):
    """A crash between writing a shard's vectors and its index leaves vectors nobody reads."""
    cache = EmbeddingCache(tmp_path)
    keys = text_keys(["a", "b"])
    cache.append(keys, np.eye(2, 3, dtype=np.float32))
    [index] = tmp_path.glob("*.index.npz")
    index.unlink()
    found, vectors = cache.lookup(keys)
    assert not found.any() and vectors is None


def test_cache_reads_the_rows_of_many_shards(tmp_path):
    cache = EmbeddingCache(tmp_path)
    rng = np.random.default_rng(0)
    texts = [f"record {i}" for i in range(5000)]
    truth = rng.standard_normal((len(texts), 16)).astype(np.float32)
    calls = []

    def embed(batch):
        calls.append(len(batch))
        return truth[[int(t.split()[1]) for t in batch]]

    out = cache.get_or_embed(texts[:3000], embed, batch_size=700, shard_rows=1000)
    np.testing.assert_array_equal(out, truth[:3000])
    assert len(list(tmp_path.glob("*.index.npz"))) == 3
    calls.clear()
    query = rng.permutation(len(texts))
    out = cache.get_or_embed([texts[i] for i in query], embed, batch_size=700, shard_rows=1000)
    np.testing.assert_array_equal(out, truth[query])
    assert sum(calls) == 2000


def test_combination_stacks_parts_with_equal_shares(texts, tmp_path):
    tfidf = extract_features("tfidf", texts)
    static = StaticEmbedder().transform(texts)
    both = extract_features("tfidf+static", texts, cache_dir=tmp_path, progress=False)
    assert sp.isspmatrix_csr(both) and both.dtype == np.float32
    assert both.shape == (len(texts), tfidf.shape[1] + static.shape[1])
    np.testing.assert_allclose(_row_norms(both), 1.0, rtol=1e-5)
    np.testing.assert_allclose(both[:, tfidf.shape[1]:].toarray(), static / np.sqrt(2), rtol=1e-5, atol=1e-7)

    weighted = extract_features("tfidf+static", texts, params={"weights": {"tfidf": 3.0}}, progress=False)
    share = _row_norms(weighted[:, : tfidf.shape[1]]) ** 2
    np.testing.assert_allclose(share, 0.9, rtol=1e-4)

    extractor = make_extractor("static+tfidf")
    assert extractor.name == "static+tfidf"
    assert isinstance(extractor.fit_transform(texts), sp.csr_matrix)


@pytest.mark.slow
def test_minilm_embeddings_are_cached_and_match_sentence_transformers(cache_root, monkeypatch):
    SentenceTransformer = pytest.importorskip("sentence_transformers").SentenceTransformer
    from prioritiser.features.minilm import MiniLMEmbedder, minilm_path

    calls = []
    real = MiniLMEmbedder.embed

    def spy(self, sentences):
        calls.append(list(sentences))
        return real(self, sentences)

    monkeypatch.setattr(MiniLMEmbedder, "embed", spy)
    texts = [ACE_TRIAL, ACE_BP, SOFTWARE]
    first = extract_features("minilm", texts, progress=False)
    assert first.shape == (3, 384) and first.dtype == np.float32
    np.testing.assert_allclose(_row_norms(first), 1.0, rtol=1e-5)
    again = extract_features("minilm", texts + ["Urinary incontinence drugs"], progress=False)
    assert [sorted(call) for call in calls] == [sorted(texts), ["Urinary incontinence drugs"]]
    np.testing.assert_array_equal(again[:3], first)
    reference = SentenceTransformer(str(minilm_path()), device="cpu").encode(texts, normalize_embeddings=True)
    exact = MiniLMEmbedder(precision="float32", device="cpu").transform(texts)
    assert (exact * reference).sum(axis=1).min() > 0.99999
    assert (first * reference).sum(axis=1).min() > 0.999  # bfloat16 where the CPU has it


def _same(a, b) -> bool:
    return a.shape == b.shape and (a != b).nnz == 0


def test_tfidf_counts_are_cached_and_only_new_texts_counted(tmp_path, texts, count_calls):
    uncached = extract_features("tfidf", texts)
    count_calls.clear()
    first = extract_features("tfidf", texts + texts[:5], cache_dir=tmp_path)
    assert sum(map(len, count_calls)) == len(texts)  # duplicates counted once
    assert _same(first, extract_features("tfidf", texts + texts[:5]))

    count_calls.clear()
    again = extract_features("tfidf", texts, cache_dir=tmp_path)
    assert count_calls == [] and _same(again, uncached)
    assert _same(extract_features("tfidf", texts[::-1], cache_dir=tmp_path), uncached[::-1])
    assert count_calls == []

    added = ["Blood pressure lowering with ramipril in older adults", "A mapping study of test automation"]
    extended = extract_features("tfidf", texts + added, cache_dir=tmp_path)
    assert sorted(t for call in count_calls for t in call) == sorted(added)
    assert _same(extended, extract_features("tfidf", texts + added))
    assert len(list((tmp_path / "term-counts").glob("*/*.counts.npz"))) == 2


def test_tfidf_gathers_texts_scattered_over_the_cache(tmp_path, texts, monkeypatch):
    """Texts found in more runs of cached rows than MAX_RUNS are gathered into one part first."""
    extract_features("tfidf", texts, cache_dir=tmp_path)
    shuffled = [texts[i] for i in np.random.default_rng(0).permutation(len(texts))] + texts[:3]
    by_runs = extract_features("tfidf", shuffled, cache_dir=tmp_path)
    monkeypatch.setattr("prioritiser.features.tfidf.MAX_RUNS", 0)
    gathered = extract_features("tfidf", shuffled, cache_dir=tmp_path)
    assert _same(by_runs, gathered) and _same(gathered, extract_features("tfidf", shuffled))


def test_tfidf_counts_cache_is_keyed_by_what_changes_the_counts(tmp_path, texts, count_calls):
    extract_features("tfidf", texts, cache_dir=tmp_path)
    count_calls.clear()
    weighted = extract_features("tfidf", texts, cache_dir=tmp_path, params={"min_df": 1, "sublinear_tf": False})
    assert count_calls == []  # weighting parameters reuse the counts
    assert _same(weighted, extract_features("tfidf", texts, params={"min_df": 1, "sublinear_tf": False}))
    count_calls.clear()
    unigrams = extract_features("tfidf", texts, cache_dir=tmp_path, params={"ngram_max": 1})
    assert sum(map(len, count_calls)) == len(texts)
    assert _same(unigrams, extract_features("tfidf", texts, params={"ngram_max": 1}))
    assert len(list((tmp_path / "term-counts").iterdir())) == 2


def test_tfidf_falls_back_to_stop_words_with_a_cache(tmp_path):
    cached = extract_features("tfidf", ["the of and", "and the"], cache_dir=tmp_path)
    assert cached.nnz > 0 and _same(cached, extract_features("tfidf", ["the of and", "and the"]))


@pytest.mark.parametrize("damage", ["truncate", "flip", "drop_data", "garbage_index"])
def test_damaged_counts_shard_is_detected_and_rebuilt(tmp_path, texts, count_calls, damage):
    uncached = extract_features("tfidf", texts)
    extract_features("tfidf", texts, cache_dir=tmp_path)
    folder = tmp_path / "term-counts"
    [data] = folder.glob("*/*.data.npy")
    raw = data.read_bytes()
    if damage == "truncate":
        data.write_bytes(raw[: len(raw) // 2])
    elif damage == "flip":
        data.write_bytes(raw[:-9] + bytes([raw[-9] ^ 0x40]) + raw[-8:])
    elif damage == "drop_data":
        data.unlink()
    else:
        next(folder.glob("*/*.counts.npz")).write_bytes(b"not a shard")
    count_calls.clear()
    rebuilt = extract_features("tfidf", texts, cache_dir=tmp_path)
    assert sum(map(len, count_calls)) == len(texts)
    assert _same(rebuilt, uncached)
    assert [len(list(folder.glob(f"*/*{suffix}"))) for suffix in (".counts.npz", ".indices.npy", ".data.npy")] == [1, 1, 1]


def test_count_cache_reads_the_rows_of_many_shards(tmp_path):
    from prioritiser.features.cache import CountCache, stack_counts
    from prioritiser.features.tfidf import TfidfExtractor, compact_columns

    hasher = TfidfExtractor()._hasher("english")
    texts = [f"record {i} about topic{i % 7} and topic{i % 11}" for i in range(500)]
    reference = hasher.transform(texts)

    def count(batch):
        return compact_columns(hasher.transform(batch))

    cache = CountCache(tmp_path)
    first = cache.get_or_count(texts[:300], count, shard_rows=100)
    assert len(first.parts) == 3 and first.part.tolist() == [i // 100 for i in range(300)]
    query = np.random.default_rng(0).permutation(len(texts))
    found = cache.get_or_count([texts[i] for i in query], count, shard_rows=100)
    assert len(found.parts) == 5 and len(list(tmp_path.glob("*.counts.npz"))) == 5
    terms, stacked = stack_counts(found.parts)
    assert np.all(np.diff(terms) > 0)
    offsets = np.cumsum([0] + [m.shape[0] for _, m in found.parts])
    rows = stacked[offsets[found.part] + found.row]
    assert _same(sp.csr_matrix((rows.data, terms[rows.indices], rows.indptr), shape=reference.shape), reference[query])


def test_minilm_identity_needs_torch_only_once_per_machine(cache_root):
    """The encoder identity (needed by every rank, even with all vectors cached) probes the
    hardware with torch the first time only; later processes read hardware.json."""
    import json
    import os
    import subprocess
    import sys

    script = ("import sys; from prioritiser.features.minilm import MiniLMEmbedder; "
              "print(MiniLMEmbedder().identity()); print('torch' in sys.modules)")
    env = {**os.environ, "XDG_CACHE_HOME": str(cache_root.parent)}
    first = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    second = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    assert first.stdout.split()[1] == "True" and second.stdout.split() == [first.stdout.split()[0], "False"]
    probed = json.loads((cache_root / "hardware.json").read_text())
    assert set(probed) == {"cuda", "cuda_bfloat16", "cpu_bfloat16"}
    assert first.stdout.split()[0].endswith("precision=bfloat16" if probed["cpu_bfloat16"] else "precision=float32")
    clear_cache()
    assert not (cache_root / "hardware.json").exists()


def test_feature_block_gives_back_each_part_of_a_combination(texts):
    tfidf = extract_features("tfidf", texts)
    static = StaticEmbedder().transform(texts)
    params = {"weights": {"tfidf": 1.0, "static": 0.5}}
    both = extract_features("tfidf+static", texts, params=params, progress=False)
    from prioritiser.features import feature_block

    dense = feature_block(both, "tfidf+static", "static", params)
    assert isinstance(dense, np.ndarray)
    np.testing.assert_allclose(dense, static, rtol=1e-5, atol=1e-6)
    lexical = feature_block(both, "tfidf+static", "tfidf", params)
    assert sp.isspmatrix_csr(lexical) and lexical.shape == tfidf.shape
    np.testing.assert_allclose(lexical.toarray(), tfidf.toarray(), rtol=1e-5, atol=1e-6)
    assert feature_block(both, "tfidf+static", "static", params) is dense  # cut once per matrix
    with pytest.raises(UserError, match="not in the features"):
        feature_block(both, "tfidf+static", "minilm", params)


def test_embed_and_cache_commands_and_the_rank_offer(cache_root, tmp_path):
    """``embed`` fills the machine-wide cache once, ``cache info`` reports it, ``rank`` warns
    about a long pending CPU embedding (from the rate measured on this machine) and, without a
    terminal to ask, ranks with the requested preset; ``cache clear`` empties the cache."""
    from typer.testing import CliRunner

    from prioritiser.cli import app

    runner = CliRunner()
    project = tmp_path / "project"
    data = DATA
    preset = tmp_path / "fused.toml"
    preset.write_text('features = "tfidf+static"\nclassifier = "ensemble"\n[classifier_params]\n'
                      'members = ["svm@tfidf", "svm@static"]\n', encoding="utf-8")
    assert runner.invoke(app, ["init", str(project), "-r", str(data / "example.csv")]).exit_code == 0
    first = pd.read_csv(data / "example_first_decisions.csv").head(40)
    first.to_csv(tmp_path / "decisions.csv", index=False)
    assert runner.invoke(app, ["label", str(project), str(tmp_path / "decisions.csv")]).exit_code == 0

    embedded = runner.invoke(app, ["embed", str(project), "--model", str(preset)])
    assert embedded.exit_code == 0 and "static: 500 of 500 texts embedded" in embedded.output
    again = runner.invoke(app, ["embed", str(project), "--model", str(preset)])
    assert "static: 0 of 500 texts embedded" in again.output
    assert "nothing to embed" in runner.invoke(app, ["embed", str(project), "--model", "default"]).output
    info = runner.invoke(app, ["cache", "info"])
    assert info.exit_code == 0 and "500" in info.output and "static:" in info.output

    [folder] = cache_folders()
    (folder.path / "rate.txt").write_text("0.5\n")  # as if this machine embedded half a text a second
    added = pd.DataFrame({"title": [f"Added record {i}" for i in range(100)], "abstract": "An abstract."})
    added.to_csv(tmp_path / "added.csv", index=False)
    assert runner.invoke(app, ["add", str(project), "-r", str(tmp_path / "added.csv")]).exit_code == 0
    ranked = runner.invoke(app, ["rank", str(project), "--model", str(preset)])
    assert ranked.exit_code == 0, ranked.output
    assert "Embedding 100 texts with static at 0.5/s takes about 3 min" in ranked.output
    assert "by model" in ranked.output

    cleared = runner.invoke(app, ["cache", "clear"])
    assert cleared.exit_code == 0 and cache_folders() == []
    assert "unknown cache action" in runner.invoke(app, ["cache", "bogus"]).output

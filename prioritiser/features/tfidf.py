"""TF-IDF of word unigrams and bigrams, fitted on the whole pool of records (unsupervised).

Terms are hashed (scikit-learn's HashingVectorizer, 2**31 buckets, so two of a few million
terms share a bucket only by rare chance) and the buckets kept by the document-frequency limits
become the columns. This gives the same matrix as TfidfVectorizer up to column order, in about
a third of the time: no vocabulary of every term and bigram is built and sorted.

Counting terms is the slow part (tokenising every text); with a ``cache_dir`` each text's
counts are cached there (:class:`~prioritiser.features.cache.CountCache`, keyed by text hash
and by every parameter that changes the counts), so ranking again only counts new texts and
refits the columns and idf, which are cheap array operations on the whole pool.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import sklearn
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import HashingVectorizer

from prioritiser.errors import UserError
from prioritiser.features.cache import CountCache, Counts, TextCounts, sorted_unique, stack_counts

HASH_BUCKETS = 2**31 - 1
#: Parameters applied after counting: changing them keeps the cached counts.
WEIGHTING_PARAMS = ("min_df", "max_df", "max_features", "sublinear_tf", "cache_dir")
#: Version of the counts' layout and meaning; bump it to ignore counts cached before a change.
COUNTS_FORMAT = 1
#: Rows weighted at a time, bounding the temporary arrays.
BLOCK_ROWS = 16384
#: Runs of consecutive rows beyond which the texts' counts are gathered into one part first.
MAX_RUNS = 1000


def compact_columns(hashed: sp.csr_matrix) -> Counts:
    """Hashed counts (columns = hash buckets) as :data:`~prioritiser.features.cache.Counts`:
    the buckets present, and the matrix over them."""
    terms = sorted_unique(hashed.indices).astype(np.int32)
    column = np.searchsorted(terms, hashed.indices).astype(np.int32)
    return terms, sp.csr_matrix((hashed.data, column, hashed.indptr), shape=(hashed.shape[0], len(terms)))


def text_runs(counts: TextCounts) -> tuple[list[Counts], np.ndarray]:
    """Parts and runs ``(part, first row, end row)`` whose rows, one run after another, are the
    texts' rows. Texts scattered over more runs than ``MAX_RUNS`` (plus one per thousand texts)
    are first gathered into one part, in their order."""
    n = len(counts.part)
    breaks = np.flatnonzero((np.diff(counts.part) != 0) | (np.diff(counts.row) != 1)) + 1
    starts = np.concatenate(([0], breaks)) if n else breaks
    if len(starts) > MAX_RUNS + n // 1000:
        offsets = np.cumsum([0] + [m.shape[0] for _, m in counts.parts])
        terms, stacked = stack_counts(counts.parts)
        return [(terms, stacked[offsets[counts.part] + counts.row])], np.array([[0, 0, n]])
    ends = np.append(starts[1:], n)
    return counts.parts, np.column_stack([counts.part[starts], counts.row[starts], counts.row[starts] + ends - starts])


def row_cover(parts: list[Counts], runs: np.ndarray) -> list[np.ndarray]:
    """How many texts each row of each part belongs to (0: a cached text not asked for; 2: a
    text given twice)."""
    cover = [np.zeros(m.shape[0] + 1, dtype=np.int64) for _, m in parts]
    for p, first, end in runs:
        cover[p][first] += 1
        cover[p][end] -= 1
    return [np.cumsum(c[:-1]) for c in cover]


def document_frequencies(counts: sp.csr_matrix, n_terms: int, cover: np.ndarray) -> np.ndarray:
    """How many texts hold each term (column) of ``counts``, row ``i`` standing for ``cover[i]`` texts."""
    if (cover == 1).all():
        return np.bincount(counts.indices, minlength=n_terms)
    weights = np.repeat(cover, np.diff(counts.indptr))
    return np.bincount(counts.indices, weights=weights, minlength=n_terms).astype(np.int64)


class TfidfExtractor(TransformerMixin, BaseEstimator):
    """TF-IDF features (scipy CSR, float32, rows of unit L2 norm; a text with no kept term gives
    a zero row): uni- to ``ngram_max``-grams, sublinear tf, smoothed idf.

    ``min_df=2``: a term seen in one record only cannot carry what was learnt from a screened
    record to an unscreened one, so it is dropped, while every term two records share is kept,
    which matters on small pools. ``min_df``/``max_df`` are record counts (int) or shares of the
    pool (float), as in scikit-learn; ``max_features`` keeps the most frequent terms, bounding
    memory on million-record pools. When no term passes the limits (a pool of one or two
    records) every term is kept. ``stop_words`` (``"english"`` or ``None``, the default: in
    screening, words such as "not", "or", "after" carry meaning in bigrams) are dropped before
    counting; when the texts hold stop words only, stop words are kept. ``title_weight``: how
    many times the terms of the title (a text's first line) count. ``cache_dir``: where term
    counts are cached (none when ``None``).
    """

    name = "tfidf"

    def __init__(self, ngram_max: int = 2, min_df: int | float = 2, max_df: int | float = 0.95,
                 max_features: int | None = 500_000, stop_words: str | None = None, sublinear_tf: bool = True,
                 title_weight: int = 1, cache_dir: Path | None = None):
        self.ngram_max = ngram_max
        self.min_df = min_df
        self.max_df = max_df
        self.max_features = max_features
        self.stop_words = stop_words
        self.sublinear_tf = sublinear_tf
        self.title_weight = title_weight
        self.cache_dir = cache_dir

    def _limits(self, n_docs: int) -> tuple[int, float]:
        low = self.min_df if isinstance(self.min_df, int) else math.ceil(self.min_df * n_docs)
        high = self.max_df if isinstance(self.max_df, int) else self.max_df * n_docs
        return low, high

    def _hasher(self, stop_words: str | None) -> HashingVectorizer:
        return HashingVectorizer(
            ngram_range=(1, self.ngram_max), stop_words=stop_words, strip_accents="unicode",
            alternate_sign=False, norm=None, n_features=HASH_BUCKETS, dtype=np.float32,
        )

    def _hashed(self, hasher: HashingVectorizer, texts: list[str]) -> sp.csr_matrix:
        """Term counts over hash buckets; the terms of each text's first line (the title, see
        :attr:`prioritiser.records.Record.text`) count ``title_weight`` times."""
        counts = hasher.transform(texts)
        if self.title_weight != 1:
            counts = counts + (self.title_weight - 1) * hasher.transform([t.partition("\n")[0] for t in texts])
        return counts.tocsr()

    def counts_cache(self, stop_words: str | None) -> CountCache:
        """The cache folder of counts made with ``stop_words``:
        ``<cache_dir>/term-counts/tfidf-<first 16 hex of SHA-256 of every parameter that changes the counts>``."""
        own = {k: v for k, v in self.get_params().items() if k not in WEIGHTING_PARAMS}
        identity = json.dumps({"format": COUNTS_FORMAT, "sklearn": sklearn.__version__, "params": own,
                               "hasher": self._hasher(stop_words).get_params()}, sort_keys=True, default=repr)
        tag = hashlib.sha256(identity.encode()).hexdigest()[:16]
        return CountCache(Path(self.cache_dir) / "term-counts" / f"tfidf-{tag}")

    def _count(self, texts: list[str], stop_words: str | None) -> TextCounts:
        hasher = self._hasher(stop_words)

        def count(batch: list[str]) -> Counts:
            return compact_columns(self._hashed(hasher, batch))

        if self.cache_dir is None:
            return TextCounts([count(texts)], np.zeros(len(texts), dtype=np.int64), np.arange(len(texts)))
        return self.counts_cache(stop_words).get_or_count(texts, count)

    def fit(self, texts: list[str], y=None) -> TfidfExtractor:
        self.fit_transform(texts)
        return self

    def fit_transform(self, texts: list[str], y=None) -> sp.csr_matrix:
        texts = list(texts)
        for stop_words in dict.fromkeys((self.stop_words, None)):
            parts, runs = text_runs(self._count(texts, stop_words))
            if any(parts[p][1].indptr[end] > parts[p][1].indptr[first] for p, first, end in runs):
                break
        else:
            raise UserError("no record has a word in its title, abstract or keywords: there is nothing to rank on")
        self.hasher_ = self._hasher(stop_words)
        terms = parts[0][0] if len(parts) == 1 else sorted_unique(np.concatenate([t for t, _ in parts]))
        to_terms = [np.searchsorted(terms, t) for t, _ in parts]
        cover = row_cover(parts, runs)
        part_df = [document_frequencies(m, len(t), c) for (t, m), c in zip(parts, cover)]
        df = np.zeros(len(terms), dtype=np.int64)
        for at, counts in zip(to_terms, part_df):
            df[at] += counts
        low, high = self._limits(len(texts))
        keep = np.flatnonzero((df >= low) & (df <= high))
        if len(keep) == 0:
            keep = np.arange(len(terms))
        if self.max_features is not None and len(keep) > self.max_features:
            totals = np.zeros(len(terms))
            for at, (_, m), c in zip(to_terms, parts, cover):
                totals[at] += m.T @ c.astype(np.float64)
            keep = np.sort(keep[np.argsort(-totals[keep], kind="stable")[: self.max_features]])
        self.buckets_ = terms[keep]
        self.idf_ = (np.log((1 + len(texts)) / (1 + df[keep])) + 1).astype(np.float32)
        column = np.full(len(terms), -1, dtype=np.int32)
        column[keep] = np.arange(len(keep), dtype=np.int32)
        maps = [column[at] for at in to_terms]
        nnz = sum(int(counts[kept >= 0].sum()) for counts, kept in zip(part_df, maps))
        return self._weighted_rows([(c, m) for c, (_, m) in zip(maps, parts)], runs, nnz)

    def transform(self, texts: list[str]) -> sp.csr_matrix:
        """Features of (possibly new) texts with the fitted columns and idf; unseen terms are ignored."""
        terms, counts = compact_columns(self._hashed(self.hasher_, list(texts)))
        at = np.minimum(np.searchsorted(self.buckets_, terms), len(self.buckets_) - 1)
        column = np.where(self.buckets_[at] == terms, at, -1).astype(np.int32)
        nnz = int((column[counts.indices] >= 0).sum())
        return self._weighted_rows([(column, counts)], np.array([[0, 0, counts.shape[0]]]), nnz)

    def _weighted_rows(self, parts: list[tuple[np.ndarray, sp.csr_matrix]], runs: np.ndarray, nnz: int) -> sp.csr_matrix:
        """The tf-idf rows (unit L2 norm) of the ``runs`` of rows of ``parts``, each part's counts
        with a map from its columns to the fitted ones (-1: not kept); ``nnz`` entries are kept.
        Works ``BLOCK_ROWS`` rows at a time, straight into the output arrays."""
        n_rows = int((runs[:, 2] - runs[:, 1]).sum())
        data, indices = np.empty(nnz, dtype=np.float32), np.empty(nnz, dtype=np.int32)
        indptr = np.zeros(n_rows + 1, dtype=np.int64)
        done = rows_done = 0
        for p, first, end in runs:
            column, counts = parts[p]
            for a in range(first, end, BLOCK_ROWS):
                b = min(a + BLOCK_ROWS, end)
                lo, hi = counts.indptr[a], counts.indptr[b]
                mapped = column[counts.indices[lo:hi]]
                kept = mapped >= 0
                before = np.zeros(hi - lo + 1, dtype=np.int64)
                np.cumsum(kept, out=before[1:])
                out = slice(done, done + int(before[-1]))
                np.compress(kept, mapped, out=indices[out])
                np.compress(kept, counts.data[lo:hi], out=data[out])
                indptr[rows_done + 1:rows_done + 1 + b - a] = done + before[counts.indptr[a + 1:b + 1] - lo]
                self._weigh(data[out], indices[out], indptr[rows_done:rows_done + 1 + b - a] - done)
                done, rows_done = out.stop, rows_done + b - a
        return sp.csr_matrix((data, indices, indptr), shape=(n_rows, len(self.buckets_)))

    def _weigh(self, data: np.ndarray, indices: np.ndarray, indptr: np.ndarray) -> None:
        """Counts to tf-idf, in place, for CSR rows given by ``data``/``indices``/``indptr``; rows
        scaled to unit L2 norm (empty rows stay empty)."""
        if self.sublinear_tf:
            np.log(data, out=data)
            data += 1
        data *= self.idf_[indices]
        lengths = np.diff(indptr)
        filled = lengths > 0
        squares = np.zeros(len(lengths))
        squares[filled] = np.add.reduceat(data * data, indptr[:-1][filled], dtype=np.float64)
        data /= np.repeat(np.sqrt(np.where(squares > 0, squares, 1.0)), lengths).astype(np.float32)


def make_tfidf(**params) -> TfidfExtractor:
    """A :class:`TfidfExtractor` (the ``tfidf`` part of :func:`prioritiser.features.make_extractor`)."""
    return TfidfExtractor(**params)

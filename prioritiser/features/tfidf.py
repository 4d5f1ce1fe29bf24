"""TF-IDF of word unigrams and bigrams, fitted on the whole pool of records (unsupervised).

Terms are hashed (scikit-learn's HashingVectorizer, 2**31 buckets, so two of a few million
terms share a bucket only by rare chance) and the buckets kept by the document-frequency limits
become the columns. This gives the same matrix as TfidfVectorizer up to column order, in about
a third of the time: no vocabulary of every term and bigram is built and sorted.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer

from prioritiser.errors import UserError

HASH_BUCKETS = 2**31 - 1


class TfidfExtractor(TransformerMixin, BaseEstimator):
    """TF-IDF features (scipy CSR, float32, rows of unit L2 norm; a text with no kept term gives
    a zero row): uni- to ``ngram_max``-grams, sublinear tf, smoothed idf.

    ``min_df=2``: a term seen in one record only cannot carry what was learnt from a screened
    record to an unscreened one, so it is dropped, while every term two records share is kept,
    which matters on small pools. ``min_df``/``max_df`` are record counts (int) or shares of the
    pool (float), as in scikit-learn; ``max_features`` keeps the most frequent terms, bounding
    memory on million-record pools. When no term passes the limits (a pool of one or two
    records) every term is kept; when the texts hold stop words only, stop words are kept.
    """

    name = "tfidf"

    def __init__(self, ngram_max: int = 2, min_df: int | float = 2, max_df: int | float = 0.95,
                 max_features: int | None = 500_000, stop_words: str | None = "english", sublinear_tf: bool = True):
        self.ngram_max = ngram_max
        self.min_df = min_df
        self.max_df = max_df
        self.max_features = max_features
        self.stop_words = stop_words
        self.sublinear_tf = sublinear_tf

    def _limits(self, n_docs: int) -> tuple[int, float]:
        low = self.min_df if isinstance(self.min_df, int) else math.ceil(self.min_df * n_docs)
        high = self.max_df if isinstance(self.max_df, int) else self.max_df * n_docs
        return low, high

    def fit(self, texts: list[str], y=None) -> TfidfExtractor:
        self.fit_transform(texts)
        return self

    def fit_transform(self, texts: list[str], y=None) -> sp.csr_matrix:
        texts = list(texts)
        for stop_words in dict.fromkeys((self.stop_words, None)):
            self.hasher_ = HashingVectorizer(
                ngram_range=(1, self.ngram_max), stop_words=stop_words, strip_accents="unicode",
                alternate_sign=False, norm=None, n_features=HASH_BUCKETS, dtype=np.float32,
            )
            counts = self.hasher_.transform(texts)
            if counts.nnz:
                break
        else:
            raise UserError("no record has a word in its title, abstract or keywords: there is nothing to rank on")
        buckets, column = np.unique(counts.indices, return_inverse=True)
        counts = sp.csr_matrix((counts.data, column, counts.indptr), shape=(len(texts), len(buckets)))
        df = np.bincount(column, minlength=len(buckets))
        low, high = self._limits(len(texts))
        keep = np.flatnonzero((df >= low) & (df <= high))
        if len(keep) == 0:
            keep = np.arange(len(buckets))
        if self.max_features is not None and len(keep) > self.max_features:
            totals = np.asarray(counts[:, keep].sum(axis=0)).ravel()
            keep = np.sort(keep[np.argsort(-totals, kind="stable")[: self.max_features]])
        self.buckets_ = buckets[keep]
        counts = counts[:, keep]
        self.idf_model_ = TfidfTransformer(sublinear_tf=self.sublinear_tf).fit(counts)
        return self.idf_model_.transform(counts).astype(np.float32, copy=False).tocsr()

    def transform(self, texts: list[str]) -> sp.csr_matrix:
        """Features of (possibly new) texts with the fitted columns and idf; unseen terms are ignored."""
        counts = self.hasher_.transform(list(texts))
        at = np.minimum(np.searchsorted(self.buckets_, counts.indices), len(self.buckets_) - 1)
        known = self.buckets_[at] == counts.indices
        counts = sp.csr_matrix((np.where(known, counts.data, 0), np.where(known, at, 0), counts.indptr),
                               shape=(counts.shape[0], len(self.buckets_)))
        counts.eliminate_zeros()
        counts.sum_duplicates()
        return self.idf_model_.transform(counts).astype(np.float32, copy=False).tocsr()


def make_tfidf(**params) -> TfidfExtractor:
    """A :class:`TfidfExtractor` (the ``tfidf`` part of :func:`prioritiser.features.make_extractor`)."""
    return TfidfExtractor(**params)

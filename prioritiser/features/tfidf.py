"""TF-IDF of word unigrams and bigrams, fitted on the whole pool of records (unsupervised)."""

from __future__ import annotations

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer


def make_tfidf(ngram_max: int = 2, min_df: int = 1, max_df: float = 0.95, max_features: int | None = 500_000,
               stop_words: str | None = "english", sublinear_tf: bool = True) -> TfidfVectorizer:
    """A TfidfVectorizer with screening defaults: uni+bigrams, sublinear tf, L2-normalised rows.

    ``min_df=1`` keeps rare terms, which on small pools (a few hundred records) carry much of
    the signal; ``max_features`` bounds memory on million-record pools.
    """
    return TfidfVectorizer(
        ngram_range=(1, ngram_max), min_df=min_df, max_df=max_df, max_features=max_features,
        stop_words=stop_words, sublinear_tf=sublinear_tf, dtype=np.float32, strip_accents="unicode",
    )

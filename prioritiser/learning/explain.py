"""Why a record ranks where it does, in terms a reviewer can check.

Three readings of one ranking:

- :func:`percentiles`: the share of the ranked (unscreened) records that scored lower, in per
  cent (100 × (n − rank) / n): the top record of 1,000 is at 99.9. A position, not a
  probability: it says nothing about how likely an include is, only how the record compares.
- :func:`term_contributions`: the terms that pushed a record up in the lexical model. For a
  linear model on tf-idf the score is ``Σ_t x_t · w_t + b``; each term's contribution is its
  tf-idf weight ``x_t`` times the model's coefficient ``w_t``, and the largest positive ones are
  the record's "top terms". Exact for the linear member; in an ensemble the other members'
  share of the score is not split by term.
- :func:`most_similar`: the labelled include whose features have the highest cosine with the
  record's (rows are unit length for every extractor, so the dot product is the cosine). A
  ranking driven by a wrongly labelled include shows up as many records pointing at it.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.base import clone

#: Rows multiplied at a time in :func:`most_similar`, bounding memory on large pools.
BLOCK_ROWS = 20_000


def percentiles(ranks, n: int) -> np.ndarray:
    """Per cent of the ``n`` ranked records scored lower than the records at 1-based ``ranks``."""
    ranks = np.asarray(ranks, dtype=np.float64)
    return np.round(100.0 * (n - ranks) / max(n, 1), 1)


def term_contributions(X_rows, coef: np.ndarray, k: int = 5) -> list[list[tuple[int, float]]]:
    """For each row of ``X_rows`` (tf-idf columns first, as many as ``coef`` has), the ``k``
    columns with the largest positive ``x · w``, largest first, with that contribution."""
    X_rows = sp.csr_matrix(X_rows)[:, : len(coef)]
    contributions = X_rows.multiply(coef.reshape(1, -1)).tocsr()
    out = []
    for i in range(contributions.shape[0]):
        lo, hi = contributions.indptr[i], contributions.indptr[i + 1]
        values, columns = contributions.data[lo:hi], contributions.indices[lo:hi]
        positive = values > 0
        values, columns = values[positive], columns[positive]
        top = np.argsort(-values, kind="stable")[:k]
        out.append([(int(columns[j]), float(values[j])) for j in top])
    return out


def tfidf_term_names(tfidf, texts: list[str]) -> dict[int, str]:
    """Column → term for the columns of a fitted :class:`~prioritiser.features.tfidf.TfidfExtractor`
    that occur in ``texts`` (the extractor hashes terms and keeps no vocabulary, so the names are
    found by analysing the texts again and hashing each term with the same hasher)."""
    analyse = tfidf.hasher_.build_analyzer()
    terms = sorted({term for text in texts for term in analyse(text)})
    if not terms:
        return {}
    by_term = clone(tfidf.hasher_).set_params(analyzer=_as_is)
    buckets = by_term.transform([[term] for term in terms]).tocsr().indices
    at = np.minimum(np.searchsorted(tfidf.buckets_, buckets), len(tfidf.buckets_) - 1)
    found = tfidf.buckets_[at] == buckets
    names: dict[int, str] = {}
    for term, column, ok in zip(terms, at.tolist(), found.tolist()):
        if ok:  # the shortest term names a bucket two terms share (a rare hash collision)
            names[column] = min(names.get(column, term), term, key=len)
    return names


def _as_is(terms):
    return terms


def most_similar(X, rows, candidates) -> tuple[np.ndarray, np.ndarray]:
    """For each of ``rows`` of ``X``, the position in ``candidates`` (rows of ``X``) of the one
    most similar to it (dot product of unit-length rows), and that similarity."""
    rows, candidates = np.asarray(rows), np.asarray(candidates)
    best = np.zeros(len(rows), dtype=np.int64)
    similarity = np.zeros(len(rows))
    if len(candidates) == 0 or len(rows) == 0:
        return best, similarity
    C = X[candidates]
    for start in range(0, len(rows), BLOCK_ROWS):
        block = X[rows[start:start + BLOCK_ROWS]] @ C.T
        block = block.toarray() if sp.issparse(block) else np.asarray(block)
        best[start:start + len(block)] = block.argmax(axis=1)
        similarity[start:start + len(block)] = block.max(axis=1)
    return best, similarity

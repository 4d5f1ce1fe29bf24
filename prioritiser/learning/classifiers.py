"""Classifiers by name (registered in :mod:`prioritiser.learning.registry`). Each factory takes
the balancer's ``class_weight``, the seed, and the classifier's own parameters as keywords with
their defaults (the signature is what presets may set); :func:`relevance_scores` turns any of
them into one score per record, higher meaning more likely an include."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import ComplementNB
from sklearn.svm import LinearSVC
from sklearn.utils.validation import check_is_fitted, validate_data


class NearestInclude(BaseEstimator):
    """Scores a record by the mean of its ``k`` highest similarities (dot products; cosines for
    the unit-norm rows every extractor gives) to the includes (rows labelled 1) it was fitted on
    (all of them when there are fewer): a nearest-neighbour view that finds records like a few
    particular includes, which a linear model averaging over all includes can rank low.
    ``block_rows`` bounds memory: similarities are computed that many rows at a time.

    Refitted with the includes it had as the first of its new ones (a screening that found
    more), it scores the same ``X`` object as last time by merging each row's ``k`` highest
    similarities kept from then with those to the new includes only: the top ``k`` of a union
    is the top ``k`` of the parts' tops, so the scores are those of a fresh fit (summed in
    ascending order either way), at the cost of the new includes alone. The kept rows are not
    pickled.

    A scorer, not a classifier: it has ``decision_function`` but no ``predict`` (a ranking needs
    no threshold), so it does not claim scikit-learn's classifier interface."""

    def __init__(self, k: int = 3, block_rows: int = 50_000):
        self.k = k
        self.block_rows = block_rows

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_kept", None)
        return state

    def fit(self, X, y) -> NearestInclude:
        X, y = validate_data(self, X, y, accept_sparse="csr")
        includes = X[np.flatnonzero(np.asarray(y) == 1)]
        kept = getattr(self, "_kept", {})
        if kept and not _first_rows_equal(includes, kept["includes"]):
            kept = {}
        # the rows scored last (X, the includes then, each row's top similarities), updated by
        # decision_function in place: a cache, not fitted state
        self.includes_, self._kept = includes, kept
        return self

    def decision_function(self, X) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, accept_sparse="csr", reset=False)
        kept = getattr(self, "_kept", {})
        if kept and kept["X"] is X:
            top = np.hstack([kept["top"], self._similarity(X, self.includes_[kept["includes"].shape[0]:])])
        else:
            top = self._similarity(X, self.includes_)
        k = min(self.k, top.shape[1])
        if k < top.shape[1]:
            top = np.partition(top, top.shape[1] - k, axis=1)[:, -k:]
        top = np.sort(top, axis=1)
        kept.update(X=X, includes=self.includes_, top=top)
        return top.mean(axis=1) if k else np.zeros(X.shape[0])

    def _similarity(self, X, includes) -> np.ndarray:
        """Each row's ``k`` highest similarities to ``includes`` (all of them when fewer)."""
        k = min(self.k, includes.shape[0])
        out = np.zeros((X.shape[0], k))
        if k == 0:
            return out
        columns = None
        if sp.issparse(includes):
            # Only the columns some include uses can add to a similarity: a sparse-times-dense
            # product over those is many times faster than a sparse-times-sparse one.
            columns = np.unique(includes.indices)
            by_column = includes[:, columns].T.tocsr().toarray()
        else:
            by_column = np.ascontiguousarray(np.asarray(includes).T)
        for start in range(0, X.shape[0], self.block_rows):
            block = X[start:start + self.block_rows]
            if columns is not None:
                block = block.tocsr()[:, columns]
            sims = np.asarray(block @ by_column)
            out[start:start + len(sims)] = np.partition(sims, sims.shape[1] - k, axis=1)[:, -k:]
        return out


def _first_rows_equal(matrix, first) -> bool:
    """Whether ``first`` is the first rows of ``matrix`` (same values, sparse or dense)."""
    if first.shape[0] > matrix.shape[0] or first.shape[1] != matrix.shape[1]:
        return False
    head = matrix[:first.shape[0]]
    if sp.issparse(head) != sp.issparse(first):
        return False
    if sp.issparse(head):
        return (head != first).nnz == 0
    return bool(np.array_equal(head, first))


def logistic(class_weight=None, seed: int = 0, C: float = 1.0, max_iter: int = 200):
    """L2-regularised logistic regression (liblinear)."""
    return LogisticRegression(C=C, class_weight=class_weight, solver="liblinear", max_iter=max_iter,
                              random_state=seed)


def svm(class_weight=None, seed: int = 0, C: float = 0.1, max_iter: int = 5000):
    """Linear support vector machine."""
    return LinearSVC(C=C, class_weight=class_weight, random_state=seed, dual="auto", max_iter=max_iter)


def nb(class_weight=None, seed: int = 0, alpha: float = 0.1):
    """Complement naive Bayes (non-negative features such as tf-idf only; no class weights)."""
    return ComplementNB(alpha=alpha)


def nearest(class_weight=None, seed: int = 0, k: int = 3):
    """:class:`NearestInclude` (no class weights)."""
    return NearestInclude(k=k)


def relevance_scores(model, X) -> np.ndarray:
    """Decision values (log-odds scale for logistic, margin for svm, log-probability ratio for
    nb, highest similarity to an include for nearest)."""
    if hasattr(model, "decision_function"):
        return np.asarray(model.decision_function(X), dtype=np.float64)
    log_proba = model.predict_log_proba(X)
    return log_proba[:, 1] - log_proba[:, 0]

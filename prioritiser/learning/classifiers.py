"""Classifiers by name. Each is an sklearn estimator; :func:`relevance_scores` turns any of
them into one score per record, higher meaning more likely an include."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import ComplementNB
from sklearn.svm import LinearSVC

from prioritiser.errors import UserError

CLASSIFIERS = ("logistic", "svm", "nb", "nearest")


class NearestInclude(ClassifierMixin, BaseEstimator):
    """Scores a record by the mean of its ``k`` highest similarities (dot products; cosines for
    the unit-norm rows every extractor gives) to the includes it was fitted on (all of them
    when there are fewer): a nearest-neighbour view that finds records like a few particular
    includes, which a linear model averaging over all includes can rank low. ``block_rows``
    bounds memory: similarities are computed that many rows at a time."""

    def __init__(self, k: int = 3, block_rows: int = 50_000):
        self.k = k
        self.block_rows = block_rows

    def fit(self, X, y, sample_weight=None) -> NearestInclude:
        y = np.asarray(y)
        self.classes_ = np.array([0, 1])
        self.includes_ = X[np.flatnonzero(y == 1)]
        return self

    def decision_function(self, X) -> np.ndarray:
        out = np.zeros(X.shape[0])
        if self.includes_.shape[0] == 0:
            return out
        columns = None
        if sp.issparse(self.includes_):
            # Only the columns some include uses can add to a similarity: a sparse-times-dense
            # product over those is many times faster than a sparse-times-sparse one.
            columns = np.unique(self.includes_.indices)
            by_column = self.includes_[:, columns].T.tocsr().toarray()
        else:
            by_column = np.ascontiguousarray(np.asarray(self.includes_).T)
        for start in range(0, X.shape[0], self.block_rows):
            block = X[start:start + self.block_rows]
            if columns is not None:
                block = block.tocsr()[:, columns]
            sims = np.asarray(block @ by_column)
            k = min(self.k, sims.shape[1])
            out[start:start + len(sims)] = np.partition(sims, sims.shape[1] - k, axis=1)[:, -k:].mean(axis=1)
        return out


def make_classifier(name: str, class_weight=None, seed: int = 0, **params):
    """``logistic`` (L2 logistic regression), ``svm`` (linear SVM), ``nb`` (complement naive
    Bayes; non-negative features such as tf-idf only), ``nearest`` (:class:`NearestInclude`)."""
    if name == "logistic":
        return LogisticRegression(C=params.get("C", 1.0), class_weight=class_weight, solver="liblinear",
                                  max_iter=params.get("max_iter", 200), random_state=seed)
    if name == "svm":
        return LinearSVC(C=params.get("C", 0.1), class_weight=class_weight, random_state=seed, dual="auto",
                         max_iter=params.get("max_iter", 5000))
    if name == "nb":
        return ComplementNB(alpha=params.get("alpha", 0.1))
    if name == "nearest":
        return NearestInclude(k=params.get("k", 3))
    raise UserError(f"unknown classifier {name!r}: use {', '.join(CLASSIFIERS)} or ensemble")


def relevance_scores(model, X) -> np.ndarray:
    """Decision values (log-odds scale for logistic, margin for svm, log-probability ratio for
    nb, highest similarity to an include for nearest)."""
    if hasattr(model, "decision_function"):
        return np.asarray(model.decision_function(X), dtype=np.float64)
    log_proba = model.predict_log_proba(X)
    return log_proba[:, 1] - log_proba[:, 0]

"""Classifiers by name. Each is an sklearn estimator; :func:`relevance_scores` turns any of
them into one score per record, higher meaning more likely an include."""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import ComplementNB
from sklearn.svm import LinearSVC

from prioritiser.errors import UserError


def make_classifier(name: str, class_weight=None, seed: int = 0, **params):
    """``logistic`` (L2 logistic regression), ``svm`` (linear SVM), ``nb`` (complement naive
    Bayes; non-negative features such as tf-idf only)."""
    if name == "logistic":
        return LogisticRegression(C=params.get("C", 1.0), class_weight=class_weight, solver="liblinear",
                                  max_iter=params.get("max_iter", 200), random_state=seed)
    if name == "svm":
        return LinearSVC(C=params.get("C", 0.1), class_weight=class_weight, random_state=seed, dual="auto")
    if name == "nb":
        return ComplementNB(alpha=params.get("alpha", 0.1))
    raise UserError(f"unknown classifier {name!r}: use logistic, svm, nb or ensemble")


def relevance_scores(model, X) -> np.ndarray:
    """Decision values (log-odds scale for logistic, margin for svm, log-probability ratio for nb)."""
    if hasattr(model, "decision_function"):
        return np.asarray(model.decision_function(X), dtype=np.float64)
    log_proba = model.predict_log_proba(X)
    return log_proba[:, 1] - log_proba[:, 0]

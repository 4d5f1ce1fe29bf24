"""Why a record is shown: the words that raise its include score, and its most similar include.

:class:`RecordExplainer` is fitted on the screened records only (include or maybe against
exclude): TF-IDF word features (English stop words removed, sublinear term frequency) and a
balanced logistic regression. A word's contribution to a record is its TF-IDF weight in the
record times the model's coefficient, so the top terms are the words that push this record
towards include. It explains in words, with a model of the same kind as the default ranker's
linear part; it is not the ranker's exact score (the default ranker blends an SVM on
title-weighted TF-IDF with nearest-include similarity). The most similar include is the
screened include with the highest cosine similarity of TF-IDF vectors.
"""

from __future__ import annotations

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression


class RecordExplainer:
    """Fit on screened texts and 0/1 include labels; :meth:`explain` one text."""

    def __init__(self, n_terms: int = 6, C: float = 1.0):
        self.n_terms = n_terms
        self.C = C

    def fit(self, texts: list[str], labels, group_ids, titles: list[str]) -> "RecordExplainer":
        labels = np.asarray(labels, dtype=np.int64)
        self.vectorizer_ = TfidfVectorizer(stop_words="english", sublinear_tf=True, min_df=1,
                                           token_pattern=r"(?u)\b[^\W\d_]{3,}\b")
        X = self.vectorizer_.fit_transform(texts)
        self.model_ = LogisticRegression(C=self.C, class_weight="balanced", max_iter=1000).fit(X, labels)
        self.terms_ = self.vectorizer_.get_feature_names_out()
        includes = np.flatnonzero(labels == 1)
        self.include_matrix_ = X[includes]
        self.include_groups_ = [int(group_ids[i]) for i in includes]
        self.include_titles_ = [titles[i] for i in includes]
        return self

    def explain(self, text: str, exclude_group: int | None = None) -> dict:
        """``{"terms": [[word, contribution], ...], "similar": {"group_id", "title", "similarity"} | None}``."""
        x = self.vectorizer_.transform([text])
        coef = self.model_.coef_[0]
        contribution = x.multiply(coef).tocsr()
        order = np.argsort(-contribution.data)
        terms = [[str(self.terms_[contribution.indices[i]]), round(float(contribution.data[i]), 4)]
                 for i in order[: self.n_terms] if contribution.data[i] > 0]
        similar = None
        if self.include_matrix_.shape[0]:
            sims = (self.include_matrix_ @ x.T).toarray().ravel()
            for i in np.argsort(-sims):
                if self.include_groups_[i] != exclude_group:
                    if sims[i] > 0:
                        similar = {"group_id": self.include_groups_[i], "title": self.include_titles_[i],
                                   "similarity": round(float(sims[i]), 3)}
                    break
        return {"terms": terms, "similar": similar}

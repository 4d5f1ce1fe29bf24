"""The active-learning engine: balance → fit classifier → score pool → query.

:func:`score_pool` is the one scoring path that ``rank`` and ``simulate`` share.
"""

from __future__ import annotations

import numpy as np

from prioritiser.errors import UserError
from prioritiser.features import feature_block
from prioritiser.learning.balance import balance
from prioritiser.learning.classifiers import make_classifier, relevance_scores
from prioritiser.learning.presets import load_preset, preset_names
from prioritiser.learning.query import select_batch

__all__ = ["load_preset", "preset_names", "rank_by_query", "score_pool", "select_batch"]


def _standardise(scores: np.ndarray) -> np.ndarray:
    spread = scores.std()
    return (scores - scores.mean()) / (spread if spread > 0 else 1.0)


def score_pool(X, labelled_idx: np.ndarray, y: np.ndarray, config: dict, seed: int) -> np.ndarray:
    """Fit on the labelled rows of ``X`` and score every row (higher = more likely include).

    ``classifier = "ensemble"`` takes the weighted mean of the standardised scores of
    ``classifier_params.members`` (``classifier_params.weights``, equal by default; each
    member's own parameters under ``classifier_params.<member>``). A member ``name@part``
    (``svm@minilm``) reads only that part of combined features (decision-level fusion).
    Deterministic for the same inputs, configuration and seed.
    """
    rows, labels, class_weight = balance(np.asarray(labelled_idx), np.asarray(y), config.get("balancer", "balanced"),
                                         seed, **config.get("balancer_params", {}))
    params = dict(config.get("classifier_params", {}))
    name = config.get("classifier", "logistic")
    if name != "ensemble":
        model = make_classifier(name, class_weight=class_weight, seed=seed, **params).fit(X[rows], labels)
        return relevance_scores(model, X)
    members = params.pop("members", None) or ["logistic", "svm"]
    weights = np.asarray(params.pop("weights", None) or [1.0] * len(members), dtype=np.float64)
    if len(weights) != len(members) or (weights < 0).any() or not weights.any():
        raise UserError(f"classifier_params.weights must give one non-negative weight per member of {members}")
    total = np.zeros(X.shape[0])
    for member, weight in zip(members, weights / weights.sum()):
        name, _, part = member.partition("@")
        X_member = feature_block(X, config["features"], part, config.get("feature_params")) if part else X
        model = make_classifier(name, class_weight=class_weight, seed=seed, **params.get(member, {}))
        total += weight * _standardise(relevance_scores(model.fit(X_member[rows], labels), X_member))
    return total


def rank_by_query(question: str, texts: list[str], config: dict) -> np.ndarray:
    """Cosine similarity of each text to the research question, with the preset's dense
    embedder when it has one, else tf-idf."""
    from prioritiser.features import EMBEDDERS, embed, parse_spec
    from prioritiser.features.tfidf import make_tfidf

    dense = [p for p in parse_spec(config["features"]) if p in EMBEDDERS]
    if dense:
        vectors = embed(dense[0], [question, *texts], progress=False)
        return vectors[1:] @ vectors[0]
    matrix = make_tfidf(stop_words="english").fit_transform([question, *texts])
    return np.asarray((matrix[1:] @ matrix[0].T).todense()).ravel()

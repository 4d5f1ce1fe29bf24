"""The learning components on the bundled example's real texts and labels: balancing weights,
the nearest-include scorer, weighted ensembles and every preset's ranking quality."""

from __future__ import annotations

import numpy as np
import pytest

from prioritiser.errors import UserError
from prioritiser.features import extract_features
from prioritiser.learning import Ranker, preset_names
from prioritiser.learning.balance import class_weights, undersample
from prioritiser.learning.classifiers import NearestInclude
from prioritiser.metrics import screening_metrics
from prioritiser.package_data import data_dir
from prioritiser.simulate import load_dataset

EXAMPLE = data_dir() / "example.csv"


@pytest.fixture(scope="module")
def example():
    frame = load_dataset(EXAMPLE)
    X = extract_features("tfidf", frame["text"].tolist(), progress=False)
    return X, frame["label"].to_numpy()


def first_labels(y: np.ndarray, n: int = 60) -> np.ndarray:
    """A training set as a reviewer's first random batch would give: ``n`` positions (seeded),
    at least two of them includes."""
    rng = np.random.default_rng(0)
    picked = rng.choice(len(y), size=n, replace=False)
    includes = np.flatnonzero(y == 1)[:2]
    return np.unique(np.concatenate([picked, includes]))


@pytest.mark.parametrize("include_weight", [1.0, 10.0, 0.5])
def test_class_weights_give_the_stated_share_and_mean_one(include_weight):
    y = np.array([1] * 3 + [0] * 97)
    weights = class_weights(y, include_weight)
    total_inc, total_exc = 3 * weights[1], 97 * weights[0]
    assert total_inc / total_exc == pytest.approx(include_weight)
    assert (total_inc + total_exc) / len(y) == pytest.approx(1.0)


def test_undersample_keeps_every_include_and_bounded_excludes():
    idx = np.arange(200)
    y = np.array([1] * 5 + [0] * 195)
    rows, labels, weights = undersample(idx, y, seed=3, ratio=4)
    assert set(rows[labels == 1]) == set(range(5))
    assert (labels == 0).sum() == 20
    assert weights[1] * 5 == pytest.approx(weights[0] * 20)


def test_nearest_include_with_k_one_scores_the_fitted_includes_highest(example):
    X, y = example
    train = first_labels(y)
    scores = NearestInclude(k=1, block_rows=37).fit(X[train], y[train]).decision_function(X)
    inc = train[y[train] == 1]
    assert np.allclose(scores[inc], 1.0, atol=1e-5)
    assert (scores <= 1.0 + 1e-5).all()
    unblocked = NearestInclude(k=1).fit(X[train], y[train]).decision_function(X)
    assert np.allclose(scores, unblocked)


def test_nearest_include_averages_the_k_highest_similarities(example):
    X, y = example
    train = first_labels(y)
    includes = X[train[y[train] == 1]]
    sims = (X @ includes.T).toarray()
    for k in (2, 50):
        expected = np.sort(sims, axis=1)[:, -min(k, sims.shape[1]):].mean(axis=1)
        scores = NearestInclude(k=k, block_rows=100).fit(X[train], y[train]).decision_function(X)
        assert np.allclose(scores, expected)


def test_nearest_include_refitted_as_a_screening_goes_on_scores_as_a_fresh_fit(example):
    """A simulation refits one NearestInclude after each include on the same X: the scores kept
    from before plus the new includes' similarities equal a fresh fit's bit for bit, and a
    relabelled include (the old includes no longer first) is scored afresh."""
    X, y = example
    train = first_labels(y)
    later = np.setdiff1d(np.flatnonzero(y == 1), train)[:4]
    screened = [train, np.concatenate([train, later[:1]]), np.concatenate([train, later])]
    kept = NearestInclude(k=3)
    for rows in screened:
        scores = kept.fit(X[rows], y[rows]).decision_function(X)
        assert np.array_equal(scores, NearestInclude(k=3).fit(X[rows], y[rows]).decision_function(X))
    assert kept._kept["X"] is X  # so each refit merged the kept similarities with the new ones
    assert kept._kept["includes"].shape[0] == y[screened[-1]].sum() == y[train].sum() + 4
    relabelled = y[screened[-1]].copy()
    relabelled[np.flatnonzero(relabelled == 1)[0]] = 0
    scores = kept.fit(X[screened[-1]], relabelled).decision_function(X)
    assert np.array_equal(scores, NearestInclude(k=3).fit(X[screened[-1]], relabelled).decision_function(X))
    assert not np.array_equal(scores, NearestInclude(k=3).fit(X[screened[-1]], y[screened[-1]]).decision_function(X))
    assert "_kept" not in kept.__getstate__()


def test_ensemble_weights_are_checked(example):
    X, y = example
    train = first_labels(y)
    with pytest.raises(UserError, match="one non-negative weight per member"):
        Ranker(classifier="ensemble", classifier_params={"members": ["svm", "nearest"], "weights": [1.0]}).fit(
            X, train, y[train])


def test_ensemble_with_all_weight_on_one_member_orders_as_that_member(example):
    X, y = example
    train = first_labels(y)
    alone = Ranker(classifier="svm", classifier_params={"C": 0.1}, seed=1).fit(X, train, y[train]).decision_function(X)
    blended = Ranker(classifier="ensemble", seed=1, classifier_params={
        "members": ["svm", "nearest"], "weights": [1.0, 0.0], "svm": {"C": 0.1}}).fit(X, train, y[train]).decision_function(X)
    assert np.array_equal(np.argsort(-alone, kind="stable"), np.argsort(-blended, kind="stable"))


@pytest.mark.parametrize("preset", [p for p in preset_names() if p != "minilm"])
def test_each_preset_ranks_unscreened_includes_well_ahead_of_random(example, preset):
    X, y = example
    ranker = Ranker.from_preset(preset, seed=1)
    if ranker.features != "tfidf":
        X = ranker.extract(load_dataset(EXAMPLE)["text"].tolist())
    train = first_labels(y)
    scores = ranker.fit(X, train, y[train]).decision_function(X)
    pool = np.setdiff1d(np.arange(len(y)), train)
    order = pool[np.argsort(-scores[pool], kind="stable")]
    metrics = screening_metrics(y[order], len(order), int(y[order].sum()))
    assert metrics["wss95"] > 0.3, metrics

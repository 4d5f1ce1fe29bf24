"""The Ranker: presets and their overrides (every value checked), batch selection by the
queriers and the random share, and one batch choice shared by ``rank`` and ``simulate``."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.utils.estimator_checks import check_estimator
from typer.testing import CliRunner

from prioritiser.cli import app
from prioritiser.errors import UserError
from prioritiser.learning import Ranker, preset_names
from prioritiser.learning.classifiers import NearestInclude
from prioritiser.screening import rank_project, screening_state
from prioritiser.simulate import simulate
from prioritiser.store import Project

runner = CliRunner()


# ----------------------------------------------------------------- presets and overrides
@pytest.mark.parametrize("preset", preset_names())
def test_every_bundled_preset_builds_and_stores_what_it_was_built_from(preset):
    ranker = Ranker.from_preset(preset)
    params = ranker.get_params()
    assert params["preset"] == preset
    assert Ranker.from_config(params).get_params() == params


def test_overrides_reach_nested_parameters_and_the_stored_configuration():
    ranker = Ranker.from_preset("default", **{"classifier_params.svm.C": 0.5, "querier": "uncertainty",
                                              "random_share": 0.2, "seed": 3})
    params = ranker.get_params()
    assert params["classifier_params"]["svm"] == {"C": 0.5}
    assert (params["querier"], params["random_share"], params["seed"]) == ("uncertainty", 0.2, 3)
    svm = [p for name, _, p in ranker._members() if name == "svm"][0]
    assert svm == {"C": 0.5}


@pytest.mark.parametrize("overrides,message", [
    ({"querier": "bogus"}, "unknown querier 'bogus'"),
    ({"classifier_params.svm.Cee": 5}, "unknown classifier parameter 'Cee' for classifier 'svm'"),
    ({"classifier_params.Cee": 5}, "unknown classifier parameter 'Cee'"),
    ({"classifier_params.svm.C": "high"}, "classifier_params.C must be a number"),
    ({"classifier": "forest"}, "unknown classifier 'forest'"),
    ({"classifier_params.members": ["svm", "forest"]}, "classifier_params.members must list"),
    ({"classifier_params.weights": [1.0]}, "one non-negative weight per member"),
    ({"balancer": "smote"}, "unknown balancer 'smote'"),
    ({"balancer_params.include_wieght": 2}, "unknown balancer parameter 'include_wieght'"),
    ({"features": "tfidf+bogus"}, "unknown feature extractor"),
    ({"feature_params.tfidf.min_dff": 2}, "feature parameters for 'tfidf'"),
    ({"random_share": 1.5}, "random_share must be a number from 0 to 1"),
    ({"retrain_every": -1}, "retrain_every must be a number of at least 0"),
    ({"seed": "x"}, "seed"),
    ({"colour": "red"}, "unknown preset option 'colour'"),
])
def test_wrong_overrides_are_one_line_user_errors(overrides, message):
    with pytest.raises(UserError, match=message) as error:
        Ranker.from_preset("default", **overrides)
    assert "\n" not in str(error.value)


def test_a_parameter_of_another_classifier_is_left_for_it():
    """``--set classifier=nb`` on a preset that sets the SVM's C works: C is the SVM's."""
    ranker = Ranker.from_preset("fast", classifier="nb")
    assert ranker._members() == [("nb", 1.0, {})]


@pytest.mark.parametrize("setting,message", [
    ("querier=bogus", "unknown querier 'bogus'"),
    ("classifier_params.svm.Cee=5", "unknown classifier parameter 'Cee'"),
])
def test_rank_refuses_a_wrong_setting_in_one_line_and_stores_nothing(example_project, setting, message):
    result = runner.invoke(app, ["rank", str(example_project), "--set", setting])
    assert result.exit_code != 0 and "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]
    with Project(example_project) as project:
        assert project.iterations() == [] and project.batches() == []


# ----------------------------------------------------------------- batch selection
def test_max_querier_takes_highest_scores_ties_by_position():
    ranker = Ranker(querier="max")
    scores = np.array([0.1, 0.9, 0.5, 0.9, -2.0])
    assert ranker.select(scores, 3, n_screened=0).tolist() == [1, 3, 2]


def test_uncertainty_querier_takes_scores_nearest_the_boundary():
    ranker = Ranker(querier="uncertainty")
    scores = np.array([2.0, -0.1, 0.05, -3.0, 0.5])
    assert ranker.select(scores, 3, n_screened=0).tolist() == [2, 1, 4]


def test_random_share_replaces_that_share_by_a_seeded_draw_from_the_rest():
    scores = np.linspace(1.0, 0.0, 100)
    ranker = Ranker(querier="max", random_share=0.3, seed=5)
    batch = ranker.select(scores, 10, n_screened=7)
    assert batch[:7].tolist() == list(range(7))  # the top 7 by score
    assert len(set(batch.tolist())) == 10 and all(p >= 7 for p in batch[7:])
    assert np.array_equal(batch, Ranker(querier="max", random_share=0.3, seed=5).select(scores, 10, n_screened=7))
    draws = {tuple(ranker.select(scores, 10, n_screened=k)[7:]) for k in range(5)}
    assert len(draws) > 1  # each batch of a screening draws afresh


def test_random_share_one_draws_the_whole_batch_at_random():
    scores = np.linspace(1.0, 0.0, 1000)
    batch = Ranker(random_share=1.0, seed=1).select(scores, 20, n_screened=0)
    assert len(set(batch.tolist())) == 20 and batch.min() >= 0 and np.median(batch) > 100


def test_rank_hands_out_the_batch_simulate_chooses_from_the_same_labels(example_project, tmp_path):
    """With a querier and a random share, ``rank``'s batch is the first batch a simulation
    picks from the same labelled groups (as priors, in the order rank trains on them)."""
    out = tmp_path / "next.csv"
    settings = {"querier": "uncertainty", "random_share": 0.4, "seed": 11}
    with Project(example_project) as project:
        rank_project(project, batch=10, out=out, overrides=settings, progress=False)
        state = screening_state(project)
    handed = pd.read_csv(out, encoding="utf-8-sig")["record_id"].tolist()

    ranker = Ranker.from_preset("default", **settings)
    X = ranker.extract(state.texts)
    priors, y = state.training
    labels = np.zeros(len(state.group_ids), dtype=np.int64)
    labels[priors] = y
    order, _, _ = simulate(X, labels, priors.tolist(), ranker, batch=10, screen_all=True)
    chosen = state.group_ids[order[len(priors):len(priors) + 10]].tolist()
    assert handed == chosen
    assert handed != state.group_ids[state.unscreened][:10].tolist()


# ----------------------------------------------------------------- scikit-learn's contract
def test_nearest_include_honours_the_estimator_contract():
    check_estimator(NearestInclude())


def test_ranker_clones_and_round_trips_its_parameters():
    from sklearn.base import clone

    ranker = Ranker.from_preset("default")
    assert clone(ranker).get_params() == ranker.get_params()

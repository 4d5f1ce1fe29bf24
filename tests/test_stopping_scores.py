"""The default rule reads the model's scores: the scaled-scores bound, its pairing with the
biased urn, and the scores a project's history carries (score at choice, latest ranking)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from prioritiser.importing import create_project
from prioritiser.labels import import_labels
from prioritiser.package_data import data_dir
from prioritiser.screening import rank_project, screening_history
from prioritiser.stopping import BiasedUrnRule, ScreeningHistory, UrnAndScoresRule, default_rule, forecast
from prioritiser.stopping.scores import fit_logistic, scaled_remaining

DATA = data_dir()


def test_fit_logistic_recovers_a_known_curve():
    rng = np.random.default_rng(1)
    x = rng.normal(size=20000)
    y = (rng.random(20000) < 1 / (1 + np.exp(-(-2.0 + 1.5 * x)))).astype(float)
    a, b = fit_logistic(x, y)
    assert abs(a + 2.0) < 0.1 and abs(b - 1.5) < 0.1


def scored_history(tail_scores, window_includes=0):
    """60 includes among the first 400 ranked records (scores falling from 3 to 0), then 600
    excludes scored 0 to -2 with ``window_includes`` of them made includes, then the unscreened
    records with ``tail_scores``."""
    labels = np.zeros(1000, dtype=np.int64)
    labels[np.linspace(0, 399, 60).astype(int)] = 1
    labels[np.linspace(700, 990, window_includes).astype(int)] = 1
    chosen = np.r_[np.linspace(3, 0, 400), np.linspace(0, -2, 600)]
    return ScreeningHistory(1000 + len(tail_scores), labels, None, np.asarray(tail_scores, dtype=float), 0, chosen)


def test_scaled_bound_follows_the_tail_scores_and_the_window_count():
    low, high = scored_history(np.full(2000, -4.0)), scored_history(np.full(2000, -1.0))
    assert scaled_remaining(low)[0] < scaled_remaining(high)[0]
    # an include in the latest half of screening raises the level
    assert scaled_remaining(scored_history(np.full(2000, -4.0), 2))[0] > scaled_remaining(low)[0]
    bound, numbers = scaled_remaining(low)
    assert numbers["scaled_window"] == 500 and numbers["scaled_window_k"] == 0
    assert bound == pytest.approx(numbers["unscreened_expected"] / numbers["window_expected"] * np.log(2))  # ln 2: chi2(0.5, 2) / 2
    # no scores, or no include among the ranked records: the scores cannot say
    assert scaled_remaining(ScreeningHistory(3000, low.labels)) is None
    assert scaled_remaining(ScreeningHistory(3000, np.zeros(1000, dtype=int), None, low.scores, 0,
                                             low.screened_scores)) is None


def test_default_rule_stops_when_the_stronger_urn_and_the_scores_agree_or_the_default_urn_alone():
    rule = default_rule()
    assert isinstance(rule, UrnAndScoresRule) and rule.name == "urn-and-scores" and "calibrated scores" in rule.assumption
    quiet, busy = scored_history(np.full(1000, -6.0)), scored_history(np.full(1000, 1.0))
    for history in (quiet, busy):  # the order alone: enough at odds 3, not at the default odds
        assert BiasedUrnRule(odds=3).evaluate(history).stop and not BiasedUrnRule().evaluate(history).stop
    stop, go_on = rule.evaluate(quiet), rule.evaluate(busy)
    assert stop.stop and stop.evidence["urn_stop"] and stop.evidence["scores_stop"]
    assert not go_on.stop and go_on.evidence["urn_stop"] and not go_on.evidence["scores_stop"]
    assert rule.stops(quiet) and not rule.stops(busy)
    # the default urn alone suffices whatever the scores say
    short = scored_history(np.full(500, 1.0))
    assert BiasedUrnRule().evaluate(short).stop and rule.evaluate(short).stop and not rule.evaluate(short).evidence["scores_stop"]
    # too little evidence in the order: the urn holds the stop back whatever the scores say
    early = ScreeningHistory(1500, quiet.labels[:420], None, np.full(1080, -6.0), 0, quiet.screened_scores[:420])
    assert not rule.evaluate(early).evidence["urn_stop"] and not rule.evaluate(early).stop
    # the forecast takes the best-scored unscreened records next
    assert forecast(busy)["ranked_to_stop"] > 0


def test_project_history_carries_each_records_score_at_choice(tmp_path):
    project, _ = create_project(tmp_path / "review", [DATA / "example_search.ris"])
    truth = dict(pd.read_csv(DATA / "example.csv")[["record_id", "label_included"]].itertuples(index=False))
    with project:
        import_labels(project, DATA / "example_first_decisions.csv", reviewer="ana")
        n_priors = len(project.first_decisions(project.last_event_id()))
        result = rank_project(project, batch=20, progress=False)
        ids = result.batch["record_id"].tolist()
        pd.DataFrame({"record_id": ids, "label": [truth[i] for i in ids]}).to_csv(tmp_path / "b.csv", index=False)
        import_labels(project, tmp_path / "b.csv", reviewer="ana")
        history = screening_history(project)
        iteration = project.latest_iteration()
        stored = dict(zip(iteration.group_ids.tolist(), iteration.scores.tolist()))
        assert np.isnan(history.screened_scores[:n_priors]).all()
        assert np.allclose(history.screened_scores[n_priors:], [stored[g] for g in ids])
        # the unscreened records' scores are the stored ranking's, less the batch just screened
        assert len(history.scores) == history.n_unscreened
        assert np.allclose(np.sort(history.scores), np.sort([v for g, v in stored.items() if g not in set(ids)]))
        # the default rule reads them: its evidence has the scaled-scores numbers
        assert "scaled_remaining" in default_rule().evaluate(history).evidence

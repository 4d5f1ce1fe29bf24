"""Recall estimates and stopping rules on hand-computed and simulated screening histories."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy.stats import hypergeom

from prioritiser.package_data import data_dir
from prioritiser.stopping import (RULES, BiasedUrnRule, ConsecutiveIrrelevantRule, LowerBoundRule, KneeRule, RankedStatisticalRule, ScreeningHistory,
                                  StatisticalRule, default_rule, default_rules, estimate, evaluate_all, next_action,
                                  samples_needed)
from prioritiser.stopping import detection_power, forecast, qa_sample_size, qa_statement, ranked_to_stop
from prioritiser.stopping.simulation import StoppingMonitor
from prioritiser.stopping.estimate import window_levels
from prioritiser.stopping.windows import ranked_windows, window_stats
from prioritiser.stopping.urn import (biased_cdf, hypergeom_cdf_short_tail, recall_p_value, sample_needed, target_remaining,
                                     urn_upper_bound)


def history_with_sample(n_total, ranked, sample):
    labels = np.concatenate([ranked, sample]).astype(int)
    randomly = np.concatenate([np.zeros(len(ranked), bool), np.ones(len(sample), bool)])
    return ScreeningHistory(n_total, labels, randomly)


def test_target_remaining_is_the_smallest_count_that_breaks_the_target():
    # 19 found: one more unseen gives 19/20 = 0.95 (not below), two give 19/21 < 0.95
    assert target_remaining(19, 19, 0.95) == 2
    # 10 found: a single miss gives 10/11 = 0.909 < 0.95
    assert target_remaining(10, 10, 0.95) == 1
    # 10 found, 2 of them in the sample: K counts the urn, which held those 2 as well
    assert target_remaining(10, 8, 0.95) == 3
    for found in range(1, 200):
        for target in (0.8, 0.9, 0.95, 0.99):
            k = int(target_remaining(found, found, target))
            assert found / (found + k) < target <= found / (found + k - 1)


def test_p_value_matches_the_hypergeometric_cdf_on_small_urns():
    # urn of 10, K_tar = 2, sample of 5 with none relevant: C(8,5)/C(10,5) = 56/252
    assert recall_p_value(0, 10, 5, 19, 19, 0.95) == pytest.approx(56 / 252)
    # K_tar = 1: the single relevant record escapes a sample of 19 out of 20 with chance 1/20
    assert recall_p_value(0, 20, 19, 10, 10, 0.95) == pytest.approx(1 / 20)
    # one relevant in the sample; K_tar = floor(11/0.95 - 10) + 1 = 2
    assert recall_p_value(1, 30, 12, 11, 10, 0.95) == pytest.approx(hypergeom.cdf(1, 30, 2, 12))
    # the whole urn screened: no doubt left
    assert recall_p_value(0, 20, 20, 10, 10, 0.95) == 0.0


def test_statistical_rule_stops_on_a_sample_that_rejects_the_null():
    ranked = np.r_[np.ones(10), np.zeros(70)]
    rule = StatisticalRule(target_recall=0.95, confidence=0.95)
    # 100 records: 80 ranked, then the 20 left form the urn; 19 random draws leave p = 1/20
    verdict = rule.evaluate(history_with_sample(100, ranked, np.zeros(19)))
    assert not verdict.stop and verdict.evidence["p_value"] == pytest.approx(0.05)
    assert verdict.evidence["samples_needed"] == 1
    assert rule.evaluate(history_with_sample(100, ranked, np.zeros(20))).stop
    # an include in the sample raises K_tar but also the evidence against H0
    verdict = rule.evaluate(history_with_sample(100, ranked, np.r_[1, np.zeros(10)]))
    assert verdict.evidence["k"] == 1 and verdict.evidence["k_target"] == 2
    assert verdict.evidence["p_value"] == pytest.approx(hypergeom.cdf(1, 20, 2, 11))


def test_samples_needed_by_hand_and_monotone_in_target():
    history = ScreeningHistory(100, np.r_[np.ones(10), np.zeros(70)])
    # target 0.95: K_tar = 1, P(X=0) = (20-n)/20 < 0.05 needs n = 20
    assert samples_needed(history, 0.95, 0.95) == 20
    # target 0.9: K_tar = 2, (20-n)(19-n)/380 < 0.05 first at n = 16
    assert samples_needed(history, 0.90, 0.95) == 16
    big = ScreeningHistory(5000, np.r_[np.ones(60), np.zeros(940)])
    needed = [samples_needed(big, t, 0.95) for t in (0.5, 0.7, 0.8, 0.9, 0.95, 0.99)]
    assert needed == sorted(needed) and needed[0] < needed[-1]
    assert [samples_needed(big, 0.9, c) for c in (0.8, 0.9, 0.95, 0.99)] == sorted(
        samples_needed(big, 0.9, c) for c in (0.8, 0.9, 0.95, 0.99))


def test_sample_needed_is_the_first_rejecting_size():
    for k, urn, n, found, before in [(0, 500, 0, 40, 40), (2, 800, 100, 52, 50), (0, 60, 10, 5, 5)]:
        m = int(sample_needed(k, urn, n, found, before, 0.95, 0.05))
        assert recall_p_value(k, urn, n + m, found, before, 0.95) < 0.05
        if m:
            assert recall_p_value(k, urn, n + m - 1, found, before, 0.95) >= 0.05


def test_urn_upper_bound_is_the_largest_unrejected_count():
    for k, urn, n in [(0, 1000, 200), (3, 1000, 200), (0, 50, 50), (5, 300, 40)]:
        bound = int(urn_upper_bound(k, urn, n, 0.05))
        assert hypergeom.cdf(k, urn, bound, n) > 0.05
        if bound < urn - (n - k):
            assert hypergeom.cdf(k, urn, bound + 1, n) <= 0.05
    assert urn_upper_bound(0, 50, 50, 0.05) == 0


def test_ranked_rule_uses_the_best_trailing_window():
    labels = np.r_[1, 0, np.ones(30), np.zeros(1500)]
    history = ScreeningHistory(2000, labels, n_prior=2)
    verdict = RankedStatisticalRule().evaluate(history)
    ev = verdict.evidence
    assert ev["p_value"] == pytest.approx(recall_p_value(ev["k"], 468 + ev["window"], ev["window"], 31, 31 - ev["k"], 0.95))
    # every other window gives a larger p
    ranked = labels[2:]
    for n in (100, 700, 1500, 1530):
        k = int(ranked[-n:].sum())
        assert recall_p_value(k, 468 + n, n, 31, 31 - k, 0.95) >= ev["p_value"] - 1e-12


def test_knee_on_a_synthetic_gain_curve():
    rule = KneeRule()
    steep = np.r_[1, 0, np.tile([1, 0], 50)]  # 50 includes in the first 100 ranked records
    early = ScreeningHistory(5000, np.r_[steep, np.zeros(100)], n_prior=2)
    ev = rule.evaluate(early).evidence
    assert ev["knee"] in (99, 100) and ev["needed_ratio"] == 106
    assert ev["slope_ratio"] == pytest.approx((50 / ev["knee"]) / (1 / (200 - ev["knee"])), rel=0.02)
    assert not rule.evaluate(early).stop  # ratio about 50 < 106
    late = ScreeningHistory(5000, np.r_[steep, np.zeros(300)], n_prior=2)
    assert rule.evaluate(late).stop  # ratio about 200 >= 106
    # below the minimum screened the rule waits whatever the ratio
    patient = KneeRule(min_screened=500)
    ev = patient.evaluate(late).evidence
    assert ev["slope_ratio"] >= ev["needed_ratio"] and not patient.evaluate(late).stop


def test_consecutive_irrelevant_counts_the_trailing_run():
    rule = ConsecutiveIrrelevantRule(count=100)
    assert not rule.evaluate(ScreeningHistory(1000, np.r_[1, np.zeros(99)])).stop
    verdict = rule.evaluate(ScreeningHistory(1000, np.r_[1, np.zeros(100)]))
    assert verdict.stop and verdict.evidence == {"consecutive_irrelevant": 100, "needed": 100}
    assert not ConsecutiveIrrelevantRule(count=10, share=0.2).evaluate(ScreeningHistory(1000, np.r_[1, np.zeros(150)])).stop


@pytest.mark.parametrize("separation", [0.0, 1.5])
def test_lower_bound_covers_true_recall(separation):
    """Random orders (separation 0: every trailing window is a random sample) and prioritised
    ones (records ranked by a noisy score that favours includes): the 95% lower bound must
    sit at or below the true recall at >= 95% of checkpoints."""
    covered = total = 0
    for seed in range(30):
        rng = np.random.default_rng(seed)
        labels = np.r_[np.ones(25, int), np.zeros(475, int)]
        labels = labels[np.argsort(-(separation * labels + rng.normal(size=500)))]
        for s in range(25, 500, 25):
            est = estimate(ScreeningHistory(500, labels[:s]))
            covered += est["recall_lower_95"] <= labels[:s].sum() / 25 + 1e-12
            total += 1
    assert covered / total >= 0.95


def test_short_tail_cdf_matches_scipy():
    rng = np.random.default_rng(0)
    urn = rng.integers(1, 3000, 2000)
    relevant = np.minimum(rng.integers(0, 40, 2000), urn)
    n = rng.integers(0, urn + 1)
    k = rng.integers(0, 40, 2000)
    assert np.allclose(hypergeom_cdf_short_tail(k, urn, relevant, n), hypergeom.cdf(k, urn, relevant, n), atol=1e-9)


def test_lower_bound_from_a_random_sample_is_exact():
    ranked = np.r_[np.ones(20), np.zeros(180)]
    est = estimate(history_with_sample(1000, ranked, np.r_[1, np.zeros(99)]))
    # the urn of 800 held K relevant; the sample of 100 found 1: K <= largest K with cdf > 0.05
    bound = int(urn_upper_bound(1, 800, 100, 0.05))
    assert est["method"] == "random sample" and est["remaining_upper_95"] == bound - 1
    assert est["recall_lower_95"] == pytest.approx(21 / (21 + bound - 1))
    assert est["estimated_remaining"] == pytest.approx(1 / 100 * 700)


def test_windows_count_random_draws_back_into_their_urn():
    # priors, 4 ranked, 3 random draws (one relevant), 2 ranked; 20 records in all
    labels = [1, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0]
    randomly = [False] * 6 + [True] * 3 + [False] * 2
    history = ScreeningHistory(20, labels, randomly, n_prior=2)
    k, urn, outside = window_stats(history, [2, 6])
    # the last 2 ranked began after the draws: urn = 2 + 9 unscreened, found outside = all 3
    assert (k[0], urn[0], outside[0]) == (0, 11, 3)
    # all 6 ranked began before the draws: they were unscreened then, so urn = 6 + 9 + 3
    assert (k[1], urn[1], outside[1]) == (1, 18, 1)


def test_estimate_is_json_ready_and_consistent():
    rng = np.random.default_rng(3)
    labels = np.r_[1, 0, (rng.random(400) < np.linspace(0.5, 0.0, 400)).astype(int)]
    est = estimate(ScreeningHistory(1500, labels, n_prior=2))
    json.dumps(est)
    assert est["includes_found"] == labels.sum()
    assert 0 <= est["recall_lower_95"] <= est["estimated_recall"] <= 1
    assert est["estimated_remaining"] <= est["remaining_upper_95"]
    rows = evaluate_all(ScreeningHistory(1500, labels, n_prior=2))
    json.dumps(rows)
    assert [r["default"] for r in rows].count(True) == 1
    assert [r["rule"] for r in rows] == list(RULES) and rows[0]["default"]


def test_next_action_certifies_with_random_samples_then_stops():
    rule = StatisticalRule()
    ranked = np.r_[np.ones(40), np.zeros(400)]
    history = ScreeningHistory(1000, ranked)
    # the ranking makes the target more likely than not: start certifying
    assert RankedStatisticalRule(confidence=0.5).evaluate(history).stop
    k = samples_needed(history)
    assert next_action(history, rule) == ("random", k)
    done = history_with_sample(1000, ranked, np.zeros(k))
    assert next_action(done, rule) == "stop"
    partial = history_with_sample(1000, ranked, np.zeros(k // 2))
    assert next_action(partial, rule) == ("random", samples_needed(partial)) == ("random", k - k // 2)
    # early on the ranking is followed
    assert next_action(ScreeningHistory(1000, np.r_[np.ones(10), np.zeros(5)]), rule) == "ranked"


def test_biased_urn_stops_when_the_lower_bound_reaches_the_target_and_is_the_default_without_scores():
    rule = BiasedUrnRule()
    for n_zeros in (300, 1500, 2900):
        history = ScreeningHistory(3000, np.r_[np.ones(40), np.zeros(n_zeros)])
        verdict, est = rule.evaluate(history), estimate(history)
        assert verdict.stop == (est["recall_lower_95"] >= 0.95)
        assert verdict.evidence["remaining_upper"] == est["remaining_upper_95"]
        # no scores: the default rule is this rule
        default = default_rule().evaluate(history)
        assert default.stop == verdict.stop and default.evidence["remaining_upper"] == est["remaining_upper_95"]
        assert "not usable" in default.evidence["scores"]
    assert not rule.evaluate(ScreeningHistory(3000, np.r_[np.ones(40), np.zeros(300)])).stop
    assert rule.evaluate(ScreeningHistory(3000, np.r_[np.ones(40), np.zeros(2900)])).stop
    # a certification sample decides as the statistical rule does
    ranked = np.r_[np.ones(40), np.zeros(300)]
    history = ScreeningHistory(3000, ranked)
    assert next_action(history) == "ranked"
    k = samples_needed(history)
    for size in (k - 1, k):
        sampled = history_with_sample(3000, ranked, np.zeros(size))
        assert rule.evaluate(sampled).stop == StatisticalRule().evaluate(sampled).stop == (size == k)
    assert next_action(history_with_sample(3000, ranked, np.zeros(k // 2))) == ("random", k - k // 2)


def test_lower_bound_windows_split_alpha_by_weights_over_k():
    # 30 includes in the first 60 ranked records, then 700 excludes; 1000 records in all
    labels = np.r_[1, 0, np.tile([1, 0], 30), np.zeros(700)]
    history = ScreeningHistory(1000, labels, n_prior=2)
    est = estimate(history, odds=1.0)
    lengths, k, urn, _ = ranked_windows(history)
    # the window with k relevant records is tested at 0.05 / ((k + 1)(k + 2)); the levels sum to 0.05
    expected = min(int(urn_upper_bound(kk, u, n, 0.05 / ((kk + 1) * (kk + 2)))) - kk for n, kk, u in zip(lengths, k, urn))
    assert est["method"] == "ranked windows" and est["remaining_upper_95"] == expected
    assert est["window_alpha"] == pytest.approx(0.05 / ((est["window_k"] + 1) * (est["window_k"] + 2)))
    assert window_levels(0.05, 10_000).sum() == pytest.approx(0.05, rel=1e-3) and window_levels(0.05, 10_000).sum() < 0.05
    # a window with a few includes can decide when the tail is flat but long
    flat = np.r_[1, 0, np.ones(40), np.tile(np.r_[1, np.zeros(99)], 8), np.zeros(20)]
    est = estimate(ScreeningHistory(3000, flat, n_prior=2), odds=1.0)
    assert est["window_k"] > 0


def test_default_rule_stop_keeps_its_level_on_random_orders():
    """The least favourable case: a ranking no better than chance. Followed record by record,
    the lower-bound rule must stop short of the target in at most alpha of the runs."""
    rule = LowerBoundRule()
    short = runs = 0
    for seed in range(100):
        for relevant in (8, 30):
            rng = np.random.default_rng(seed)  # priors: one include, one exclude; then chance order
            labels = np.r_[1, 0, rng.permutation(np.r_[np.ones(relevant - 1, int), np.zeros(299 - relevant, int)])]
            # within a run of excludes every window bound only falls and found stays put, so
            # the recall at the first stop is that of the first run end at which the rule stops
            ends = [s for s in range(3, 301) if s == 300 or labels[s] == 1]
            s = next(s for s in ends if rule.evaluate(ScreeningHistory(300, labels[:s], n_prior=2)).stop)
            short += labels[:s].sum() < 0.95 * labels.sum()
            runs += 1
    assert short / runs <= 0.05


def test_monitor_replays_rules_and_checkpoints():
    rng = np.random.default_rng(0)
    labels = np.r_[1, 0, (rng.random(398) < np.linspace(0.4, 0.0, 398)).astype(int)]
    monitor = StoppingMonitor(n_total=400, n_prior=2, seed=1)
    for s in range(2, 401):
        monitor.observe(labels[:s], labels[s:])
        if monitor.done:
            break
    summary = monitor.summary()
    json.dumps(summary)
    assert monitor.done and [r["rule"] for r in summary] == [r.name for r in default_rules()]
    for row in summary:
        assert row["found"] <= labels.sum() and row["recall"] == pytest.approx(row["found"] / labels.sum())
    assert monitor.checkpoints and all(c["recall_lower_95"] <= 1 for c in monitor.checkpoints)


def test_bad_inputs_are_rejected():
    with pytest.raises(ValueError):
        ScreeningHistory(5, [1, 0, 1, 0, 1, 0])
    with pytest.raises(ValueError):
        ScreeningHistory(10, [1, 2])
    with pytest.raises(ValueError):
        StatisticalRule(target_recall=1.0)
    assert default_rule(0.9, 0.8).parameters["target_recall"] == 0.9
    assert math.isfinite(estimate(ScreeningHistory(10, []))["recall_lower_95"])


def test_screening_history_marks_decisions_before_the_first_ranking_as_priors(tmp_path):
    import pandas as pd
    from typer.testing import CliRunner

    from prioritiser.cli import app
    from prioritiser.store import Project
    from prioritiser.screening import screening_history, screening_state

    data = data_dir()
    runner, directory, batch_file = CliRunner(), tmp_path / "review", tmp_path / "next.csv"
    for args in (["init", directory, "--records", data / "example_search.ris"],
                 ["label", directory, data / "example_first_decisions.csv"],
                 ["rank", directory, "--batch", 10, "--out", batch_file]):
        result = runner.invoke(app, [str(a) for a in args])
        assert result.exit_code == 0, result.output
    first = len(pd.read_csv(data / "example_first_decisions.csv"))
    with Project(directory) as project:
        history = screening_history(project, screening_state(project))
    assert history.n_prior == history.n_screened == first  # before ranked screening, all are priors
    truth = pd.read_csv(data / "example.csv")
    batch = pd.read_csv(batch_file, encoding="utf-8-sig")
    batch["label"] = batch.record_id.map(dict(zip(truth.record_id, truth.label_included)))
    batch.to_csv(batch_file, index=False)
    assert runner.invoke(app, ["label", str(directory), str(batch_file)]).exit_code == 0
    with Project(directory) as project:
        history = screening_history(project, screening_state(project))
    assert history.n_prior == first and history.n_screened == first + 10
    assert len(history.ranked_labels) == 10


def test_biased_cdf_matches_scipy_fisher_and_the_hypergeometric_at_odds_one():
    from scipy.stats import nchypergeom_fisher

    for k, urn, relevant, n, odds in [(0, 100, 3, 20, 5.0), (2, 500, 7, 100, 10.0), (1, 50, 4, 40, 2.0), (3, 60, 30, 45, 1.5)]:
        assert biased_cdf(k, urn, relevant, n, odds) == pytest.approx(nchypergeom_fisher.cdf(k, urn, relevant, n, odds))
        assert biased_cdf(k, urn, relevant, n, 1.0) == pytest.approx(hypergeom.cdf(k, urn, relevant, n))
    # the bound at odds > 1 is the largest K the biased test keeps
    k, urn, n, alpha = 0, 1000, 300, 0.025
    bound = int(urn_upper_bound(k, urn, n, alpha, 3.0))
    assert nchypergeom_fisher.cdf(k, urn, bound, n, 3.0) >= alpha > nchypergeom_fisher.cdf(k, urn, bound + 1, n, 3.0)
    assert bound < int(urn_upper_bound(k, urn, n, alpha))


def test_biased_urn_fast_verdict_matches_its_bound_and_odds_one_is_lower_bound():
    rng = np.random.default_rng(3)
    for trial in range(40):
        n_total = int(rng.integers(200, 1500))
        screened = int(rng.integers(20, n_total))
        rate = np.linspace(0.5, 0.0, screened - 2) ** rng.uniform(1, 4)
        labels = np.r_[1, 0, (rng.random(screened - 2) < rate).astype(int)]
        history = ScreeningHistory(n_total, labels, n_prior=2)
        for odds in (1.0, 1.5, 4.0):
            rule = BiasedUrnRule(odds=odds)
            verdict = rule.evaluate(history)
            assert rule.stops(history) == verdict.stop
            assert verdict.stop == (estimate(history, odds=odds)["recall_lower_95"] >= 0.95)
        assert BiasedUrnRule(odds=1.0).evaluate(history).evidence == LowerBoundRule().evaluate(history).evidence
        # more faith in the ranking never lowers the recall bound
        lows = [estimate(history, odds=o)["recall_lower_95"] for o in (1.0, 1.5, 4.0)]
        assert lows == sorted(lows)


def test_every_rule_states_its_assumption_in_one_sentence():
    history = ScreeningHistory(500, np.r_[1, 0, np.ones(10), np.zeros(100)], n_prior=2)
    for row in evaluate_all(history):
        assert isinstance(row["assumption"], str) and row["assumption"].count(". ") == 0 and row["assumption"].endswith(".")
    for cls in RULES.values():
        assert cls().assumption
    assert "1.5 times" in BiasedUrnRule(odds=1.5).assumption
    with pytest.raises(ValueError):
        BiasedUrnRule(odds=0.5)


def test_estimate_says_too_early_then_gives_an_interval_and_never_100_percent():
    early = estimate(ScreeningHistory(2000, np.r_[1, 0, 1, np.zeros(20)], n_prior=2))
    assert early["too_early"]
    rng = np.random.default_rng(0)
    labels = np.r_[1, 0, (rng.random(1198) < np.linspace(0.3, 0.0, 1198) ** 2).astype(int)]
    for s in (300, 800, 1199):
        est = estimate(ScreeningHistory(1200, labels[:s], n_prior=2))
        json.dumps(est)
        assert not est["too_early"]
        assert est["recall_lower_95"] <= est["estimated_recall"] <= est["recall_upper"] <= 1
        assert est["remaining_lower"] <= est["estimated_remaining"] <= est["remaining_upper_95"]
        if est["remaining_upper_95"] > 0:  # a point estimate of 100% only when the bound itself says none is left
            assert est["estimated_recall"] < 1 and est["estimated_remaining"] >= 0.5
    assert estimate(ScreeningHistory(1200, labels))["estimated_recall"] == 1.0


def test_forecast_counts_the_excludes_the_default_rule_needs():
    from prioritiser.stopping.forecast import _with_excludes

    history = ScreeningHistory(2000, np.r_[1, 0, np.ones(30), np.zeros(300)], n_prior=2)
    rule = default_rule()
    needed = ranked_to_stop(history)
    assert needed and not rule.evaluate(_with_excludes(history, needed - 1, None)).stop
    assert rule.evaluate(_with_excludes(history, needed, None)).stop
    assert ranked_to_stop(_with_excludes(history, needed, None)) == 0
    # a more lenient target needs fewer
    assert ranked_to_stop(history, BiasedUrnRule(target_recall=0.8)) < needed
    plan = forecast(history)
    assert plan["ranked_to_stop"] == needed and plan["sample_size"] == samples_needed(history)
    assert f"{plan['sample_size']:,}" in plan["sample_proves"]
    # nothing ranked yet beyond the priors and a tiny pool: no ranked stop before the end
    assert ranked_to_stop(ScreeningHistory(10, np.r_[1, 0, 1, 1, 1], n_prior=2)) is None


def test_qa_power_is_the_hypergeometric_chance_of_seeing_one_missed_include():
    # by hand: 1 - C(M - k, n) / C(M, n)
    for n, m, k in [(20, 557, 2), (50, 300, 1), (10, 10, 1), (0, 100, 5)]:
        assert detection_power(n, m, k) == pytest.approx(1 - math.comb(m - k, n) / math.comb(m, n))
    assert detection_power(20, 557, 2) == pytest.approx(0.0706, abs=1e-3)
    # against simulation
    rng = np.random.default_rng(0)
    pool = np.r_[np.ones(3), np.zeros(197)]
    hits = np.mean([rng.choice(pool, 40, replace=False).sum() > 0 for _ in range(4000)])
    assert hits == pytest.approx(detection_power(40, 200, 3), abs=0.03)
    for m, k, power in [(557, 2, 0.8), (1000, 10, 0.95), (50, 1, 0.5)]:
        n = qa_sample_size(m, k, power)
        assert detection_power(n, m, k) >= power > detection_power(n - 1, m, k)
    assert qa_sample_size(100, 0, 0.9) == 100
    assert "7% chance" in qa_statement(20, 557, 2)
    with pytest.raises(ValueError):
        detection_power(30, 20, 1)


def test_stopping_benchmark_reports_the_evidence_at_the_target_point():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "scripts" / "stopping_benchmark.py"
    spec = importlib.util.spec_from_file_location("stopping_benchmark", path)
    benchmark = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(benchmark)
    labels = np.array([1, 0, 1, 0, 0, 1, 0, 0, 0, 0])
    # 0.9 of 3 includes needs all 3 (the last at record 6), misses none, and 4 excludes follow it
    assert benchmark.target_evidence(labels, 0.9) == {"needed": 3, "allowed_missing": 0, "excludes_after": 4}
    # 0.6 needs 2 (the second at record 3); once found, 2 / 0.6 - 2 = 1.33 allows one miss; 2 excludes follow
    assert benchmark.target_evidence(labels, 0.6) == {"needed": 2, "allowed_missing": 1, "excludes_after": 2}
    assert benchmark.n_at_target(labels, 0.6) == 3

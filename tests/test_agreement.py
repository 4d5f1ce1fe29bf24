"""Agreement statistics against hand computations."""

import pytest

from prioritiser.agreement import agreement_from_counts, pair_agreement, pairwise_agreement


def test_counts_against_hand_computation():
    # a=5 both include, b=3, c=2, d=40; n=50
    # p_o = 45/50 = 0.9; p_A = 8/50 = 0.16; p_B = 7/50 = 0.14
    # Cohen p_e = 0.16*0.14 + 0.84*0.86 = 0.0224 + 0.7224 = 0.7448; kappa = 0.1552/0.2552
    # pi = 0.15; Gwet p_e = 2*0.15*0.85 = 0.255; AC1 = 0.645/0.745; PABAK = 0.8
    stats = agreement_from_counts(5, 3, 2, 40)
    assert stats["observed"] == pytest.approx(0.9)
    assert stats["include_prevalence"] == pytest.approx(0.15)
    assert stats["kappa"] == pytest.approx(0.1552 / 0.2552)
    assert stats["pabak"] == pytest.approx(0.8)
    assert stats["ac1"] == pytest.approx(0.645 / 0.745)


def test_prevalence_paradox_kappa_low_ac1_high():
    # 1 disagreement in 100, no agreed include: kappa is ~0 although the reviewers agree 99%
    stats = agreement_from_counts(0, 1, 0, 99)
    assert stats["kappa"] == pytest.approx(0.0, abs=1e-12)
    assert stats["ac1"] > 0.98
    assert stats["pabak"] == pytest.approx(0.98)


def test_perfect_agreement_on_one_category_leaves_kappa_undefined():
    stats = agreement_from_counts(0, 0, 0, 20)
    assert stats["kappa"] is None
    assert stats["pabak"] == 1.0 and stats["ac1"] == 1.0
    assert agreement_from_counts(0, 0, 0, 0)["observed"] is None


def test_pair_agreement_uses_only_records_both_decided_and_counts_maybe_as_include():
    alice = {1: "include", 2: "exclude", 3: "maybe", 4: "exclude", 9: "include"}
    bob = {1: "include", 2: "include", 3: "include", 4: "exclude", 8: "exclude"}
    pair = pair_agreement("alice", alice, "bob", bob)
    assert (pair.n, pair.both_include, pair.a_only_include, pair.b_only_include, pair.both_exclude) == (4, 2, 0, 1, 1)
    # p_o = 3/4, p_A = 2/4, p_B = 3/4: p_e = 0.375 + 0.125 = 0.5, kappa = 0.25/0.5
    assert pair.kappa == pytest.approx(0.5)


def test_pairwise_agreement_skips_pairs_without_common_records():
    rows = pairwise_agreement({"c": {1: "include"}, "a": {1: "exclude"}, "b": {2: "include"}})
    assert [(r.reviewer_a, r.reviewer_b) for r in rows] == [("a", "c")]
    # one record, one include against one exclude: p_o = 0, p_e = 0, so kappa = 0 and PABAK = -1
    assert rows[0].kappa == pytest.approx(0.0) and rows[0].pabak == pytest.approx(-1.0)

import math

import numpy as np
import pytest

from prioritiser.metrics import found_curve, order_metrics, screening_metrics


def test_hand_computed_small_order():
    # N=5, R=2; relevant at positions 2 and 4: found = 0,1,1,2,2 (sum 6)
    m = screening_metrics([0, 1, 0, 1, 0])
    assert m["n95"] == 4 and m["n100"] == 4  # ceil(0.95*2) = 2 relevant found at position 4
    assert m["wss95"] == pytest.approx(1 - 4 / 5 - 0.05)
    assert m["wss100"] == pytest.approx(1 - 4 / 5)
    assert m["rrf10"] == 0.0  # floor(0.1*5) = 0 records
    assert m["loss"] == pytest.approx((2 * (5 - 0.5) - 6) / (2 * 3))
    assert m["atd"] == pytest.approx((2 + 4) / 2 / 5)


def test_n95_and_rrf10_on_a_longer_order():
    # N=40, R=20: relevant at positions 1..10 and 21..30
    labels = [1] * 10 + [0] * 10 + [1] * 10 + [0] * 10
    m = screening_metrics(labels)
    assert m["n95"] == 29  # ceil(19) = 19th relevant is at position 29
    assert m["n100"] == 30
    assert m["rrf10"] == pytest.approx(4 / 20)  # first floor(4.0) = 4 records hold 4 relevant
    found = np.cumsum(labels)
    assert m["loss"] == pytest.approx((20 * (40 - 19 / 2) - found.sum()) / (20 * 20))


def test_perfect_and_worst_orders():
    perfect = screening_metrics([1] * 7 + [0] * 93)
    assert perfect["loss"] == 0.0
    assert perfect["n100"] == 7 and perfect["rrf10"] == 1.0
    worst = screening_metrics([0] * 93 + [1] * 7)
    assert worst["loss"] == pytest.approx(1.0)
    assert worst["wss100"] == pytest.approx(0.0)


def test_random_orders_average_half_loss():
    rng = np.random.default_rng(0)
    labels = np.array([1] * 15 + [0] * 285)
    losses = [screening_metrics(rng.permutation(labels))["loss"] for _ in range(2000)]
    assert np.mean(losses) == pytest.approx(0.5, abs=0.01)
    atd = [screening_metrics(rng.permutation(labels))["atd"] for _ in range(500)]
    assert np.mean(atd) == pytest.approx((len(labels) + 1) / 2 / len(labels), abs=0.01)


def test_partial_order_puts_unscreened_relevant_last():
    partial = screening_metrics([1, 0, 0], n_records=10, n_relevant=2)
    complete = screening_metrics([1, 0, 0, 0, 0, 0, 0, 0, 0, 1])
    assert partial == complete
    assert np.array_equal(found_curve([1, 0], 4, 2), [1, 1, 1, 2])


def test_order_metrics_reads_record_ids():
    labels = {"a": 0, "b": 1, "c": 0, "d": 1, "e": 0}
    assert order_metrics(["a", "b", "c", "d", "e"], labels) == screening_metrics([0, 1, 0, 1, 0])
    with pytest.raises(ValueError, match="'z'"):
        order_metrics(["z"], labels)
    with pytest.raises(ValueError, match="more than once"):
        order_metrics(["a", "a"], labels)


def test_degenerate_inputs_are_refused():
    with pytest.raises(ValueError):
        screening_metrics([0, 0, 0])
    with pytest.raises(ValueError):
        screening_metrics([1, 1], n_records=2, n_relevant=2)
    assert math.isclose(screening_metrics([0, 1])["loss"], 1.0)

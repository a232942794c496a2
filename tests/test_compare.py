"""Speedups with confidence intervals, and the decision whether a difference is real."""

from __future__ import annotations

import math

import pytest

from hwprof.core.compare import ratio_of_means, t975, verdict


def test_t_quantiles() -> None:
    assert t975(1) == pytest.approx(12.706)
    assert t975(10) == pytest.approx(2.228)
    assert t975(10.5) == pytest.approx((2.228 + 2.201) / 2)
    assert t975(60) == pytest.approx(2.000, abs=0.002)
    assert t975(1e6) == pytest.approx(1.960, abs=0.001)
    with pytest.raises(ValueError):
        t975(0.5)


def test_ratio_interval_by_hand() -> None:
    a = [100.0, 102.0, 98.0, 101.0, 99.0]  # mean 100, var 2.5
    b = [200.0, 204.0, 196.0, 202.0, 198.0]  # mean 200, var 10
    est = ratio_of_means(a, b)
    assert est.ratio == pytest.approx(2.0)
    rel = (2.5 / 5) / 100**2 + (10 / 5) / 200**2  # both 5e-5
    se = 2.0 * math.sqrt(rel)
    df = rel**2 / ((5e-5) ** 2 / 4 + (5e-5) ** 2 / 4)  # = 8
    assert df == pytest.approx(8)
    assert est.low == pytest.approx(2.0 - 2.306 * se)
    assert est.high == pytest.approx(2.0 + 2.306 * se)
    assert est.significant
    assert "is 2.00x faster" in verdict("cpu", "gpu:0", est)


def test_overlapping_runs_are_not_called_different() -> None:
    a = [100.0, 110.0, 90.0, 105.0, 95.0]
    b = [102.0, 112.0, 92.0, 99.0, 97.0]
    est = ratio_of_means(a, b)
    assert not est.significant
    assert verdict("A", "B", est).startswith("no significant difference")


def test_slower_and_too_little_data() -> None:
    est = ratio_of_means([10.0, 10.1, 9.9, 10.0], [5.0, 5.05, 4.95, 5.0])
    assert "2.00x slower" in verdict("A", "B", est)
    # the interval of a slowdown is given as the same factor (A's speed over B's), above 1
    low, high = verdict("A", "B", est).split("95% CI ")[1].rstrip(")").split("-")
    assert 1.9 < float(low) < 2.0 < float(high) < 2.1
    few = ratio_of_means([10.0, 10.0], [20.0])
    assert few.low is None and few.significant is None
    assert "cannot tell" in verdict("A", "B", few)
    assert "measured nothing" in verdict("A", "B", None)

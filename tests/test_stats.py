"""Step statistics against values worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hwprof.core.stats import is_steady, percentiles, spread, window_rates


def test_spread_of_known_values() -> None:
    s = spread([1, 2, 3, 4, 100])
    assert s.count == 5
    assert s.median == 3
    assert (s.q1, s.q3, s.iqr) == (2, 4, 2)
    assert s.mean == 22
    # MAD = median(|x - 3|) = median(2, 1, 0, 1, 97) = 1 -> jitter 1.4826
    assert s.jitter == pytest.approx(1.4826)
    assert s.stderr == pytest.approx(np.std([1, 2, 3, 4, 100], ddof=1) / math.sqrt(5))
    assert s.cv == pytest.approx(1.4826 / 3)


def test_spread_ignores_nan_and_needs_a_value() -> None:
    assert spread([float("nan"), 5.0]).count == 1
    assert spread([5.0]).stderr is None
    with pytest.raises(ValueError):
        spread([])


def test_percentiles_linear_interpolation() -> None:
    p = percentiles(list(range(1, 101)))  # 1..100
    assert p["p50"] == pytest.approx(50.5)
    assert p["p90"] == pytest.approx(90.1)
    assert p["p99"] == pytest.approx(99.01)
    assert p["p99.9"] == pytest.approx(99.901)
    assert list(p) == ["p50", "p90", "p95", "p99", "p99.9"]


def test_window_rates_group_whole_steps() -> None:
    # 10 steps of 0.1 s, 2 samples each, windows of at least 0.25 s -> 3 steps per window
    rates = window_rates([0.1] * 10, 2, 0.25)
    assert len(rates) == 3
    assert rates == pytest.approx([20.0, 20.0, 20.0])


def test_is_steady() -> None:
    assert is_steady([100, 100.5, 99.8, 100.2, 100.1], 0.02, 5)
    assert not is_steady([100, 120, 80, 100, 100], 0.02, 5)
    assert not is_steady([100, 100, 100], 0.02, 5)  # too few windows

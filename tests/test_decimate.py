"""Peak decimation keeps spikes and gaps while shrinking a series to the chart's width."""

from __future__ import annotations

import numpy as np

from hwprof.core.decimate import peak_decimate


def test_short_series_come_back_unchanged() -> None:
    t = np.arange(10.0)
    cols = {"a": np.arange(10.0)}
    t2, out = peak_decimate(t, cols, bins=5)
    assert t2 is t and out["a"] is cols["a"]


def test_each_bin_gives_its_min_and_max_and_a_spike_survives() -> None:
    t = np.arange(36_000) * 0.1
    y = np.full(36_000, 10.0)
    y[12_345] = 99.0  # one reading's spike
    t2, out = peak_decimate(t, {"u": y}, bins=1000)
    assert len(t2) == len(out["u"]) <= 2000
    assert out["u"].max() == 99.0 and out["u"].min() == 10.0
    assert np.all(np.diff(t2) >= 0) and t2[0] == 0.0
    # the spike is drawn at its bin's start: within one bin's width of where it happened
    at = t2[int(np.argmax(out["u"]))]
    assert 1234.5 - 3.6 <= at <= 1234.5


def test_gaps_stay_gaps_and_partial_bins_ignore_nan() -> None:
    t = np.arange(100.0)
    y = np.arange(100.0)
    y[20:40] = np.nan  # a whole bin (and more) without readings
    y[5] = np.nan  # one missing reading in a bin with others
    _t2, out = peak_decimate(t, {"u": y}, bins=10)
    pairs = out["u"].reshape(-1, 2)
    assert np.isnan(pairs[2]).all() and np.isnan(pairs[3]).all()  # readings 20..39
    assert tuple(pairs[0]) == (0.0, 9.0)
    assert tuple(pairs[1]) == (19.0, 10.0)  # odd bins go down: tops join tops


def test_the_zigzag_joins_neighbouring_tops_and_bottoms() -> None:
    rng = np.random.default_rng(1)
    t = np.arange(10_000.0)
    y = rng.uniform(0, 100, 10_000)
    _, out = peak_decimate(t, {"u": y}, bins=500)
    drawn = np.abs(np.diff(out["u"])).sum()
    naive = np.empty(1000)
    pairs = y.reshape(500, 20)
    naive[0::2], naive[1::2] = pairs.min(axis=1), pairs.max(axis=1)
    assert drawn < 0.6 * np.abs(np.diff(naive)).sum()  # about half the ink of min,max,min,max


def test_uneven_lengths_are_padded_not_dropped() -> None:
    t = np.arange(1001.0)
    y = np.arange(1001.0)
    t2, out = peak_decimate(t, {"u": y}, bins=100)
    assert out["u"].max() == 1000.0  # the last reading, alone in its bin, is kept
    assert len(t2) == len(out["u"])


def test_mean_bins_average_each_column_and_keep_gaps() -> None:
    from hwprof.core.decimate import mean_bins

    t = np.arange(10.0)
    a = np.array([0, 10, 20, 30, np.nan, np.nan, 60, 70, 80, 90], dtype=float)
    b = np.full(10, 50.0)
    starts, means = mean_bins(t, [a, b], 5)
    assert list(starts) == [0, 2, 4, 6, 8]
    assert np.isnan(means[2, 0])  # a bin with no reading stays a gap
    assert list(means[[0, 1, 3, 4], 0]) == [5, 25, 65, 85] and (means[:, 1] == 50).all()

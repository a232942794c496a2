"""Peak decimation keeps spikes and gaps while shrinking a series to the chart's width."""

from __future__ import annotations

import numpy as np

from hwprof.core.decimate import BinnedHistory, mean_bins


def test_mean_bins_average_each_column_and_keep_gaps() -> None:
    t = np.arange(10.0)
    a = np.array([0, 10, 20, 30, np.nan, np.nan, 60, 70, 80, 90], dtype=float)
    b = np.full(10, 50.0)
    starts, means = mean_bins(t, [a, b], 5)
    assert list(starts) == [0, 2, 4, 6, 8]
    assert np.isnan(means[2, 0])  # a bin with no reading stays a gap
    assert list(means[[0, 1, 3, 4], 0]) == [5, 25, 65, 85] and (means[:, 1] == 50).all()


# -- the binned history the Live charts keep between redraws -------------------------------------
def direct_bins(t: np.ndarray, y: np.ndarray, width: float) -> dict[int, tuple[float, float]]:
    """Each time bin's (min, max), the slow way."""
    out: dict[int, tuple[float, float]] = {}
    for k in np.unique(np.floor(t / width).astype(int)):
        v = y[np.floor(t / width).astype(int) == k]
        v = v[np.isfinite(v)]
        out[int(k)] = (float(v.min()), float(v.max())) if v.size else (np.nan, np.nan)
    return out


def test_binned_history_keeps_each_time_bins_min_and_max_and_a_spike() -> None:
    rng = np.random.default_rng(2)
    t = np.arange(36_000) * 0.1
    y = rng.uniform(0, 50, t.size)
    y[12_345] = 99.0
    h = BinnedHistory(["u"], width_s=8.0, keep_s=3600.0)
    h.add(t, {"u": y})
    x, out = h.peaks(0.0, 3600.0)
    assert len(x) == len(out["u"]) == 2 * 450
    pairs = out["u"].reshape(-1, 2)
    expected = direct_bins(t, y, 8.0)
    for i, k in enumerate(range(450)):
        low, high = expected[k]
        # low then high in even bins, high then low in odd ones: tops join tops
        assert tuple(pairs[i]) == ((low, high) if k % 2 == 0 else (high, low))
        assert x[2 * i] == x[2 * i + 1] == 8.0 * k
    assert out["u"].max() == 99.0 and x[int(np.argmax(out["u"]))] == 8.0 * (1234.5 // 8)


def test_binned_history_added_bit_by_bit_is_the_same_as_at_once() -> None:
    rng = np.random.default_rng(3)
    t = np.sort(rng.uniform(0, 600, 5000))
    cols = {"a": rng.normal(0, 1, t.size), "b": rng.normal(5, 2, t.size)}
    cols["a"][100:400] = np.nan
    whole = BinnedHistory(["a", "b"], 1.5, 600.0)
    whole.add(t, cols)
    parts = BinnedHistory(["a", "b"], 1.5, 600.0)
    for lo, hi in ((0, 7), (7, 1000), (1000, 1001), (1001, 4999), (4999, 5000)):
        parts.add(t[lo:hi], {n: c[lo:hi] for n, c in cols.items()})
        parts.add(t[:hi], {n: c[:hi] for n, c in cols.items()})  # the old readings again: ignored
    for a, b in zip(whole.peaks(0, 600), parts.peaks(0, 600), strict=True):
        if isinstance(a, dict):
            for n in a:
                assert np.array_equal(a[n], b[n], equal_nan=True), n
        else:
            assert np.array_equal(a, b)
    # sums added in another order: equal to the last bits
    assert np.allclose(whole.means(0, 600, ["b", "a"])[1], parts.means(0, 600, ["b", "a"])[1],
                       equal_nan=True, rtol=1e-12)


def test_binned_history_gaps_stay_gaps_and_means_ignore_missing_readings() -> None:
    t = np.array([0.0, 0.5, 1.0, 1.5, 5.0, 5.5])  # nothing read from 2 s to 5 s
    y = np.array([10.0, np.nan, np.nan, np.nan, 30.0, 50.0])
    h = BinnedHistory(["u"], 1.0, 10.0)
    h.add(t, {"u": y})
    x, out = h.peaks(0.0, 6.0)
    assert list(x[::2]) == [0, 1, 2, 3, 4, 5]
    pairs = out["u"].reshape(-1, 2)
    assert tuple(pairs[0]) == (10.0, 10.0)
    assert np.isnan(pairs[1:5]).all()  # a bin of NaN readings, then bins with no reading
    assert tuple(pairs[5]) == (50.0, 30.0)
    starts, means = h.means(0.0, 6.0, ["u"])
    assert list(starts) == [0, 1, 2, 3, 4, 5] and means.shape == (6, 1)
    assert means[0, 0] == 10.0 and means[5, 0] == 40.0 and np.isnan(means[1:5, 0]).all()
    assert h.last_t == 5.5 and h.last_values[0] == 50.0
    assert h.latest[0] == 50.0 and h.latest_t[0] == 5.5


def test_binned_history_keeps_only_its_window_in_fixed_memory() -> None:
    h = BinnedHistory(["u"], 1.0, 60.0)
    size = h._low.nbytes
    for start in range(0, 3600, 10):  # an hour, ten seconds at a time
        t = start + np.arange(0, 10, 0.25)
        h.add(t, {"u": t.copy()})
    assert h._low.nbytes == size
    x, out = h.peaks(3600 - 60, 3600)
    assert x[0] == 3540 and x[-1] == 3599
    assert out["u"][0] == 3540.0 and out["u"].max() == 3599.75
    # the newest readings' latest value; readings older than what is kept cannot come back
    assert h.latest[0] == 3599.75
    h.add(np.array([10.0]), {"u": np.array([1e9])})
    assert h.peaks(0, 3600)[1]["u"].max() == 3599.75


def test_binned_history_refuses_a_bin_width_that_is_not_a_positive_number() -> None:
    import pytest

    for width in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="width_s"):
            BinnedHistory(["u"], width, 60.0)

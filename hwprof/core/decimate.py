"""Peak decimation: a long series shrunk to what a chart can show, spikes and gaps kept.

A chart one thousand pixels wide cannot show 36,000 readings; drawing them all costs the
workload's cores tens of milliseconds a frame. Each bin of consecutive readings becomes two
points, its lowest and its highest, so a one-sample spike survives. A bin with no reading (NaN)
stays NaN, so a gap in the data stays a gap on the chart.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np


def peak_decimate(
    timestamps: np.ndarray, columns: Mapping[str, np.ndarray], bins: int
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """At most ``2 * bins`` points per column: the (min, max) of each run of readings.

    Series short enough already come back unchanged. Times are each bin's first timestamp,
    repeated for its two points (min then max in even bins, max then min in odd ones); a bin's
    min and max ignore NaN unless all its readings are NaN.
    """
    n = int(timestamps.shape[0])
    if bins < 1 or n <= 2 * bins:
        return timestamps, dict(columns)
    size = math.ceil(n / bins)
    pad = (-n) % size
    count = (n + pad) // size
    starts = timestamps[::size]
    t = np.repeat(starts, 2)
    out: dict[str, np.ndarray] = {}
    for name, values in columns.items():
        v = np.concatenate([values, np.full(pad, np.nan)]) if pad else values
        v = v.reshape(count, size)
        low = np.fmin.reduce(v, axis=1)  # fmin ignores NaN unless the whole bin is NaN
        high = np.fmax.reduce(v, axis=1)
        # min then max in even bins, max then min in odd ones: the line joins each bin's top to
        # the next one's top (bottom to bottom) instead of crossing the whole range between
        # bins, which halves the pixels a noisy series paints and looks the same
        pair = np.empty((count, 2))
        pair[0::2, 0], pair[0::2, 1] = low[0::2], high[0::2]
        pair[1::2, 0], pair[1::2, 1] = high[1::2], low[1::2]
        out[name] = pair.reshape(-1)
    return t, out


def mean_bins(
    timestamps: np.ndarray, columns: list[np.ndarray], bins: int
) -> tuple[np.ndarray, np.ndarray]:
    """Means of consecutive readings of each column, at most ``bins`` of them (a heat strip).

    Returns each bin's first timestamp and a (bins, columns) array of means; a bin with no
    reading of a column is NaN. One pass of sums per column (``np.add.reduceat``), no copies of
    the whole window: an hour of 0.1 s readings of 64 cores takes milliseconds.
    """
    n = int(timestamps.shape[0])
    size = max(1, math.ceil(n / bins)) if bins >= 1 else 1
    starts = np.arange(0, n, size)
    out = np.empty((starts.size, len(columns)))
    for j, col in enumerate(columns):
        finite = np.isfinite(col)
        sums = np.add.reduceat(np.where(finite, col, 0.0), starts) if n else np.empty(0)
        counts = np.add.reduceat(finite, starts) if n else np.empty(0)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[:, j] = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    return timestamps[starts], out

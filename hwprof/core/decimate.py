"""Peak decimation: a long series shrunk to what a chart can show, spikes and gaps kept.

A chart one thousand pixels wide cannot show 36,000 readings; drawing them all costs the
workload's cores tens of milliseconds a frame. Each bin of readings becomes two points, its
lowest and its highest, so a one-sample spike survives. A bin with no reading (NaN) stays NaN,
so a gap in the data stays a gap on the chart. :class:`BinnedHistory` keeps the bins on a fixed
time grid between redraws, so a live chart bins only its new readings; :func:`mean_bins` averages
(the heat strip of the cores).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np


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


class BinnedHistory:
    """Readings kept as bins of a fixed time grid between redraws: a redraw bins only what is new.

    Bin ``k`` holds the readings with ``k * width_s <= t < (k + 1) * width_s``: its lowest, its
    highest (NaN ignored unless the bin has no reading) and its sum and count of readings (for
    means). The grid does not move with the chart's window, so the same readings always give the
    same bins: a scrolling chart does not shimmer, and an hour's history costs nothing to keep up
    to date. Bins older than ``keep_s`` behind the newest are dropped.
    """

    def __init__(self, names: Sequence[str], width_s: float, keep_s: float) -> None:
        if not (width_s > 0 and math.isfinite(width_s)):
            raise ValueError("width_s must be a positive number of seconds")
        self.names = tuple(names)
        self.width_s = float(width_s)
        self.keep = max(1, math.ceil(keep_s / width_s) + 2)  # bins kept (and a little more)
        shape = (len(self.names), 2 * self.keep)
        self._low = np.full(shape, np.nan)
        self._high = np.full(shape, np.nan)
        self._sum = np.zeros(shape)
        self._count = np.zeros(shape, dtype=np.int64)
        self._first = 0  # the bin number of column 0
        self._used = 0  # columns in use
        self.last_t = -math.inf  # the newest reading's time
        self.last_values = np.full(len(self.names), np.nan)  # and its values
        self.latest = np.full(len(self.names), np.nan)  # each name's newest finite reading
        self.latest_t = np.full(len(self.names), -math.inf)  # and when it was read

    def add(self, timestamps: np.ndarray, columns: Mapping[str, np.ndarray]) -> None:
        """Bin new readings (oldest first); those not newer than the last added are ignored."""
        new = timestamps > self.last_t
        if not new.any():
            return
        t = timestamps[new]
        values = np.vstack([np.asarray(columns[n])[new] for n in self.names]) if self.names \
            else np.empty((0, t.size))
        k = np.floor(t / self.width_s).astype(np.int64)
        starts = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])
        bins = k[starts]
        if self._used == 0:
            self._first = int(bins[0])
        self._make_room(int(bins[-1]))
        cols = bins - self._first
        finite = np.isfinite(values)
        low = np.fmin.reduceat(values, starts, axis=1)
        high = np.fmax.reduceat(values, starts, axis=1)
        total = np.add.reduceat(np.where(finite, values, 0.0), starts, axis=1)
        count = np.add.reduceat(finite, starts, axis=1)
        ok = cols >= 0  # readings older than the kept bins are left out
        cols, low, high = cols[ok], low[:, ok], high[:, ok]
        total, count = total[:, ok], count[:, ok]
        # the first new bin may be the last one already there (still filling): merge into it
        self._low[:, cols] = np.fmin(self._low[:, cols], low)
        self._high[:, cols] = np.fmax(self._high[:, cols], high)
        self._sum[:, cols] += total
        self._count[:, cols] += count
        if cols.size:
            self._used = max(self._used, int(cols[-1]) + 1)
        self.last_t = float(t[-1])
        self.last_values = values[:, -1].copy()
        # each name's newest finite reading
        last = t.size - 1 - np.argmax(finite[:, ::-1], axis=1)
        has = finite.any(axis=1)
        self.latest[has] = values[has, last[has]]
        self.latest_t[has] = t[last[has]]

    def _make_room(self, newest_bin: int) -> None:
        """Drop the oldest bins so that ``newest_bin`` fits, keeping :attr:`keep` of them."""
        capacity = self._low.shape[1]
        if newest_bin - self._first < capacity:
            return
        first = newest_bin - self.keep + 1  # the new column 0
        shift = first - self._first
        kept = max(0, self._used - shift)
        for a, empty in ((self._low, np.nan), (self._high, np.nan), (self._sum, 0.0),
                         (self._count, 0)):
            if kept:
                a[:, :kept] = a[:, shift:shift + kept]
            a[:, kept:] = empty
        self._first, self._used = first, kept

    def bins(self, since: float, until: float) -> tuple[np.ndarray, np.ndarray]:
        """The bin numbers that overlap ``[since, until]`` and are kept, and their columns."""
        lo = max(math.floor(since / self.width_s), self._first)
        hi = min(math.floor(until / self.width_s), self._first + self._used - 1)
        numbers = np.arange(lo, hi + 1, dtype=np.int64)
        return numbers, numbers - self._first

    def peaks(self, since: float, until: float) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Two points per bin in ``[since, until]``: its lowest and its highest reading.

        Both at the bin's start; low then high in even bins, high then low in odd ones (numbered
        from time zero, so a bin keeps its shape as the chart scrolls): the line joins each bin's
        top to the next one's top (bottom to bottom) instead of crossing the whole range between
        bins, which halves the pixels a noisy series paints and looks the same.
        """
        numbers, cols = self.bins(since, until)
        t = np.repeat(numbers * self.width_s, 2)
        odd = (numbers % 2).astype(bool)
        out: dict[str, np.ndarray] = {}
        for i, name in enumerate(self.names):
            low, high = self._low[i, cols], self._high[i, cols]
            pair = np.empty((cols.size, 2))
            pair[:, 0] = np.where(odd, high, low)
            pair[:, 1] = np.where(odd, low, high)
            out[name] = pair.reshape(-1)
        return t, out

    def means(self, since: float, until: float, names: Sequence[str]) -> tuple[np.ndarray,
                                                                              np.ndarray]:
        """Each bin's start and a (bins, names) array of means; NaN where a bin has no reading."""
        numbers, cols = self.bins(since, until)
        rows = [self.names.index(n) for n in names]
        total, count = self._sum[rows][:, cols], self._count[rows][:, cols]
        with np.errstate(invalid="ignore", divide="ignore"):
            means = np.where(count > 0, total / np.maximum(count, 1), np.nan)
        return numbers * self.width_s, means.T

"""A fixed-size history of telemetry: numpy columns that wrap, never grow."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

_NAN = float("nan")


@dataclass(frozen=True)
class TelemetryWindow:
    """A stretch of history, oldest first: timestamps and one column per metric (NaN = gap).

    The arrays are copies: the caller may keep and change them.
    """

    timestamps: np.ndarray  # float64, time.monotonic() seconds
    values: dict[str, np.ndarray]  # metric name -> float64 array, same length as timestamps

    def __len__(self) -> int:
        return int(self.timestamps.shape[0])


class RingBuffer:
    """The last ``capacity`` rows of (timestamp, one value per metric), in preallocated arrays.

    Memory is ``capacity * (len(names) + 1) * 8`` bytes, allocated once. ``append`` overwrites the
    oldest row when full. Appends and reads may come from different threads.
    """

    def __init__(self, names: Sequence[str], capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.names: tuple[str, ...] = tuple(names)
        self._column = {n: i for i, n in enumerate(self.names)}
        if len(self._column) != len(self.names):
            raise ValueError("metric names must be unique")
        self.capacity = int(capacity)
        self._t = np.full(self.capacity, _NAN)
        # metric-major: each metric's history is one contiguous row, so a chart reads a window
        # of one metric as (at most two) plain slices instead of a strided gather
        self._v = np.full((len(self.names), self.capacity), _NAN)
        self._head = 0  # where the next row goes
        self._count = 0
        self.appended = 0  # rows appended since creation, overwritten ones included
        self._lock = threading.Lock()

    @property
    def nbytes(self) -> int:
        """Bytes the arrays hold (fixed for the buffer's life)."""
        return int(self._t.nbytes + self._v.nbytes)

    def __len__(self) -> int:
        return self._count

    def append(self, timestamp: float, row: np.ndarray | Sequence[float]) -> None:
        """Add one row (one value per name, NaN for a gap), overwriting the oldest when full."""
        with self._lock:
            i = self._head
            self._t[i] = timestamp
            self._v[:, i] = row
            self._head = (i + 1) % self.capacity
            self._count = min(self._count + 1, self.capacity)
            self.appended += 1

    def clear(self) -> None:
        """Forget every row."""
        with self._lock:
            self._head = 0
            self._count = 0

    def _order(self) -> np.ndarray:
        """Row indexes, oldest first."""
        start = (self._head - self._count) % self.capacity
        return (start + np.arange(self._count)) % self.capacity

    def window(
        self,
        *,
        since: float | None = None,
        until: float | None = None,
        last: int | None = None,
        names: Sequence[str] | None = None,
    ) -> TelemetryWindow:
        """Rows with ``since <= t <= until`` (and at most the ``last`` newest), oldest first.

        ``names`` picks metrics (all by default); an unknown name is a KeyError.
        """
        wanted = self.names if names is None else tuple(names)
        cols = [self._column[n] for n in wanted]
        with self._lock:
            start = (self._head - self._count) % self.capacity
            # the rows oldest first are at most two slices of the arrays: [start:] and [:head]
            first = slice(start, min(start + self._count, self.capacity))
            second = slice(0, max(0, start + self._count - self.capacity))
            t = np.concatenate([self._t[first], self._t[second]])
            lo = 0 if since is None else int(np.searchsorted(t, since, side="left"))
            hi = len(t) if until is None else int(np.searchsorted(t, until, side="right"))
            if last is not None:
                lo = max(lo, hi - max(0, int(last)))
            hi = max(lo, hi)
            times = t[lo:hi]  # t is already a fresh array: no second copy
            values = {n: self._slice(c, start, lo, hi) for n, c in zip(wanted, cols, strict=True)}
        return TelemetryWindow(timestamps=times, values=values)

    def _slice(self, col: int, start: int, lo: int, hi: int) -> np.ndarray:
        """A copy of metric ``col`` for ordered rows ``lo:hi`` (rows counted from ``start``)."""
        row = self._v[col]
        a, b = start + lo, start + hi
        if b <= self.capacity:
            return row[a:b].copy()
        if a >= self.capacity:
            return row[a - self.capacity : b - self.capacity].copy()
        return np.concatenate([row[a:], row[: b - self.capacity]])

    def latest(self) -> tuple[float, np.ndarray] | None:
        """The newest (timestamp, row copy), or None when empty."""
        with self._lock:
            if not self._count:
                return None
            i = (self._head - 1) % self.capacity
            return float(self._t[i]), self._v[:, i].copy()

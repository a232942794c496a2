"""Step statistics: the numbers a careful engineer reports about a timed loop.

Throughput is reported as the median with its interquartile range, the standard error of the mean
and tf_cnn_benchmarks' "jitter" (1.4826 x the median absolute deviation, a robust standard
deviation). Latency percentiles follow MLPerf LoadGen (p50/p90/p95/p99/p99.9). Percentiles use
linear interpolation between order statistics (numpy's default, "type 7").
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict

# 1.4826 x MAD estimates the standard deviation of normally distributed data.
MAD_TO_SIGMA = 1.4826
LATENCY_PERCENTILES: tuple[float, ...] = (50.0, 90.0, 95.0, 99.0, 99.9)


class Spread(BaseModel):
    """Centre and spread of one quantity measured many times."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    count: int
    median: float
    mean: float
    q1: float
    q3: float
    iqr: float
    min: float
    max: float
    stderr: float | None  # None with fewer than two values
    jitter: float  # 1.4826 x MAD

    @property
    def cv(self) -> float | None:
        """Robust coefficient of variation: jitter over median."""
        return self.jitter / self.median if self.median else None


def spread(values: Sequence[float] | np.ndarray) -> Spread:
    """Median, quartiles, standard error and jitter of ``values`` (at least one)."""
    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x)]
    if x.size == 0:
        raise ValueError("no finite values to summarise")
    q1, median, q3 = (float(v) for v in np.percentile(x, [25.0, 50.0, 75.0]))
    mad = float(np.median(np.abs(x - median)))
    stderr = float(np.std(x, ddof=1) / math.sqrt(x.size)) if x.size > 1 else None
    return Spread(
        count=int(x.size),
        median=median,
        mean=float(np.mean(x)),
        q1=q1,
        q3=q3,
        iqr=q3 - q1,
        min=float(np.min(x)),
        max=float(np.max(x)),
        stderr=stderr,
        jitter=MAD_TO_SIGMA * mad,
    )


def percentiles(
    values: Sequence[float] | np.ndarray, qs: Sequence[float] = LATENCY_PERCENTILES
) -> dict[str, float]:
    """Named percentiles: ``{"p50": ..., "p99.9": ...}``."""
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0:
        raise ValueError("no values")
    return {f"p{q:g}": float(v) for q, v in zip(qs, np.percentile(x, list(qs)), strict=True)}


def window_series(
    step_seconds: Sequence[float] | np.ndarray, units_per_step: float, window_seconds: float
) -> tuple[np.ndarray, np.ndarray]:
    """Throughput of consecutive windows of whole steps, each at least ``window_seconds`` long.

    Returns (the end of each window in seconds of timed steps, its throughput). Per-step rates of
    very short steps are dominated by timer noise; rates over windows are what a steadiness test, a
    comparison or a throughput-over-time chart should use. The last, incomplete window is dropped.
    """
    ends: list[float] = []
    rates: list[float] = []
    total = acc_time = 0.0
    acc_steps = 0
    for dt in np.asarray(step_seconds, dtype=np.float64):
        acc_time += float(dt)
        total += float(dt)
        acc_steps += 1
        if acc_time >= window_seconds:
            ends.append(total)
            rates.append(acc_steps * units_per_step / acc_time)
            acc_time, acc_steps = 0.0, 0
    return np.asarray(ends), np.asarray(rates)


def window_rates(
    step_seconds: Sequence[float] | np.ndarray, units_per_step: float, window_seconds: float
) -> np.ndarray:
    """Only the throughputs of :func:`window_series`."""
    return window_series(step_seconds, units_per_step, window_seconds)[1]


def is_steady(
    window_throughputs: Sequence[float] | np.ndarray, max_cv: float, windows: int
) -> bool:
    """Whether the last ``windows`` window throughputs vary by less than ``max_cv`` (std/mean)."""
    x = np.asarray(window_throughputs, dtype=np.float64)[-windows:]
    if x.size < windows or windows < 2:
        return False
    mean = float(np.mean(x))
    return mean > 0 and float(np.std(x, ddof=1)) / mean < max_cv


def histogram_edges(values: Sequence[float] | np.ndarray, *, min_bins: int = 8,
                    max_bins: int = 50) -> tuple[np.ndarray, int]:
    """Bin edges for a histogram of step times that shows the body of the distribution.

    Freedman-Diaconis width (2 IQR / n^(1/3)) over the range up to Tukey's far-out fence (Q3 + 3
    IQR), with between ``min_bins`` and ``max_bins`` bins: a few very slow steps (stalls) neither
    squeeze the rest into one bar nor hide; they are counted apart. Returns (edges, the number of
    steps beyond the last edge).
    """
    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return np.array([0.0, 1.0]), 0
    q1, q3 = (float(v) for v in np.percentile(x, [25, 75]))
    lo, top = float(x.min()), min(float(x.max()), q3 + 3 * (q3 - q1))
    if top <= lo:
        top = lo + max(abs(lo) * 0.01, 1e-9)
    body = x[x <= top]
    q1, q3 = (float(v) for v in np.percentile(body, [25, 75]))
    width = 2 * (q3 - q1) / body.size ** (1 / 3)
    bins = int(np.ceil((top - lo) / width)) if width > 0 else min_bins
    bins = max(min_bins, min(max_bins, bins))
    edges = np.linspace(lo, top, bins + 1)
    return edges, int((x > top).sum())


# Two-sided 97.5% quantiles of Student's t for 1..30 degrees of freedom; beyond, the normal's.
_T975 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)  # fmt: skip


def t975(df: float) -> float:
    """The 97.5% quantile of Student's t (a 95% two-sided interval), for df >= 1."""
    if df < 1:
        raise ValueError("degrees of freedom must be at least 1")
    if df >= 30:
        # Cornish-Fisher correction to the normal quantile: within 0.001 of the exact value
        z = 1.959964
        return z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)
    lo = math.floor(df)
    hi = min(lo + 1, 30)
    frac = df - lo
    return _T975[lo - 1] * (1 - frac) + _T975[hi - 1] * frac

"""Comparing runs: which settings match, how much faster, and whether the data can tell.

Speedups come with a confidence interval. The samples are the throughputs of consecutive windows of
at least :data:`WINDOW_SECONDS` (consecutive steps are strongly correlated, so per-step figures
would make every 1% wobble look significant); the interval of the ratio of the two means uses the
delta method with Welch's degrees of freedom. A difference is called only when the interval
excludes 1; otherwise the verdict says there is no significant difference, and with too few windows
it says that instead of guessing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from hwprof.core.results import RunResult
from hwprof.core.snapshot import Snapshot, SnapshotRun
from hwprof.core.spec import RunSpec
from hwprof.core.stats import t975, window_rates

WINDOW_SECONDS = 0.5
MIN_WINDOWS = 3

@dataclass(frozen=True)
class RatioEstimate:
    """``b / a`` with its 95% confidence interval (None when the data cannot give one)."""

    ratio: float
    low: float | None
    high: float | None
    windows_a: int
    windows_b: int

    @property
    def significant(self) -> bool | None:
        """True when the interval excludes 1; None when there is no interval."""
        if self.low is None or self.high is None:
            return None
        return not (self.low <= 1.0 <= self.high)


def ratio_of_means(a: Sequence[float], b: Sequence[float]) -> RatioEstimate:
    """mean(b) / mean(a) with a 95% interval (delta method, Welch's degrees of freedom)."""
    xa, xb = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if xa.size == 0 or xb.size == 0:
        raise ValueError("both sides need values")
    ma, mb = float(xa.mean()), float(xb.mean())
    ratio = mb / ma
    if xa.size < MIN_WINDOWS or xb.size < MIN_WINDOWS:
        return RatioEstimate(ratio, None, None, int(xa.size), int(xb.size))
    va, vb = float(xa.var(ddof=1)) / xa.size, float(xb.var(ddof=1)) / xb.size
    rel_a, rel_b = va / ma**2, vb / mb**2
    se = ratio * math.sqrt(rel_a + rel_b)
    if rel_a + rel_b == 0:
        return RatioEstimate(ratio, ratio, ratio, int(xa.size), int(xb.size))
    df = (rel_a + rel_b) ** 2 / (rel_a**2 / (xa.size - 1) + rel_b**2 / (xb.size - 1))
    t = t975(max(df, 1.0))
    return RatioEstimate(ratio, ratio - t * se, ratio + t * se, int(xa.size), int(xb.size))


def run_windows(result: RunResult) -> list[float]:
    """Window throughputs of a run (units per second), for comparisons."""
    rep = result.report
    if rep is None or not rep.steps.seconds:
        return []
    per_step = rep.samples_per_step * (
        (rep.bytes_per_sample or 1.0) if result.unit == "bytes" else 1.0
    )
    rates = window_rates(rep.steps.seconds, per_step, WINDOW_SECONDS)
    if rates.size == 0 and result.throughput_per_second is not None:
        return [result.throughput_per_second]  # a run shorter than one window: one figure
    return [float(r) for r in rates]


def compare_results(baseline: RunResult, other: RunResult) -> RatioEstimate | None:
    """How ``other``'s throughput compares with ``baseline``'s (None if either measured nothing)."""
    a, b = run_windows(baseline), run_windows(other)
    if not a or not b:
        return None
    return ratio_of_means(a, b)


def verdict(name_a: str, name_b: str, est: RatioEstimate | None) -> str:
    """The comparison in words."""
    if est is None:
        return "cannot compare: one side measured nothing"
    if est.low is None or est.high is None:
        return (
            f"{name_b} is {est.ratio:.2f}x {name_a}, but with {min(est.windows_a, est.windows_b)} "
            f"measurement windows the data cannot tell (run longer)"
        )
    interval = f"95% CI {est.low:.2f}-{est.high:.2f}"
    if not est.significant:
        return f"no significant difference ({name_b} / {name_a} = {est.ratio:.2f}, {interval})"
    if est.ratio >= 1:
        return f"{name_b} is {est.ratio:.2f}x faster than {name_a} ({interval})"
    # slower: the interval of the same factor, a_time / b_time, so the words and numbers agree
    slower = f"95% CI {1 / est.high:.2f}-{1 / est.low:.2f}" if est.low > 0 else interval
    return f"{name_b} is {1 / est.ratio:.2f}x slower than {name_a} ({slower})"


# -- matching runs ---------------------------------------------------------------------------------
def settings_key(spec: RunSpec) -> tuple[object, ...]:
    """What must be equal for two runs to measure the same thing (not how long they ran)."""
    return (
        spec.workload,
        spec.mode,
        spec.device,
        spec.effective_batch_size,
        spec.effective_size,
        spec.precision,
        spec.xla,
        spec.intra_op_threads,
        spec.inter_op_threads,
        spec.scenario,
        spec.runtime,  # a TFLite run measures another program than TensorFlow's (old runs: tf)
        spec.delegate,
    )


def match_runs(snapshots: Sequence[Snapshot]) -> list[tuple[RunSpec, list[SnapshotRun | None]]]:
    """Runs grouped by settings across snapshots, in first-seen order; the latest run of each.

    Each entry is (the settings, one run or None per snapshot).
    """
    order: list[tuple[object, ...]] = []
    specs: dict[tuple[object, ...], RunSpec] = {}
    table: dict[tuple[object, ...], list[SnapshotRun | None]] = {}
    for i, snap in enumerate(snapshots):
        for run in snap.runs:
            key = settings_key(run.spec)
            if key not in table:
                order.append(key)
                specs[key] = run.spec
                table[key] = [None] * len(snapshots)
            table[key][i] = run  # a later run with the same settings replaces an earlier one
    return [(specs[k], table[k]) for k in order]


# -- environment -----------------------------------------------------------------------------------
def environment(snapshot: Snapshot) -> dict[str, str]:
    """The facts of a snapshot's machine and software that change performance, as text."""
    m = snapshot.machine
    tf = m.tensorflow
    env: dict[str, str] = {
        "host": m.host.hostname,
        "OS": m.host.os_release or m.host.os,
        "Python": m.host.python_version,
        "hwprof": snapshot.app_version,
        "TensorFlow": tf.version or tf.status,
        "CUDA / cuDNN (TF build)": (
            f"{tf.cuda_version or '-'} / {tf.cudnn_version or '-'}" if tf.built_with_cuda else "-"
        ),
        "NVIDIA driver": m.nvml.driver_version or "-",
        "memory": f"{m.host.memory_total_bytes / 2**30:.1f} GiB"
        if m.host.memory_total_bytes
        else "-",
    }
    for i, cpu in enumerate(m.cpus):
        cores = f"{cpu.physical_cores or '?'} cores / {cpu.logical_cpus} logical"
        env[f"CPU {i}"] = f"{cpu.model_name or '?'}, {cores}"
        env[f"CPU {i} extensions"] = " ".join(cpu.dl_extensions) or "-"
    for g in m.gpus:
        env[f"GPU {g.index}"] = g.name or "?"
        if g.power_limit_enforced_watts is not None:
            env[f"GPU {g.index} power limit"] = f"{g.power_limit_enforced_watts:g} W"
    for k, v in sorted(snapshot.environment_variables.items()):
        env[f"${k}"] = v
    return env


def environment_diff(snapshots: Sequence[Snapshot]) -> list[tuple[str, list[str]]]:
    """The environment facts that differ between snapshots: (fact, value per snapshot)."""
    envs = [environment(s) for s in snapshots]
    keys: list[str] = []
    for env in envs:
        keys += [k for k in env if k not in keys]
    rows = []
    for k in keys:
        values = [env.get(k, "-") for env in envs]
        if len(set(values)) > 1:
            rows.append((k, values))
    return rows

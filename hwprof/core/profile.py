"""A profile: the suite's outcome on one device, its scores, and profiles set side by side.

A profile is kept in a snapshot (``Snapshot.kind == "profile"``): the snapshot's runs hold every
test's steps and telemetry, and :class:`ProfileRecord` says which run is which test, what each
measured (a value with its 95% interval), whether its numbers are right (the numerics check), and
where the profile's time went.

Scores are relative to a reference profile (1000 = the reference machine): a test's score is its
throughput over the reference's (for latency, the reference's over its own), the overall score the
geometric mean over the fp32 tests every device runs. Each carries a 95% interval, propagated in
log space from the tests' intervals (the reference's values are taken as exact constants).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from hwprof.core.results import DeployedAccuracy, RunResult
from hwprof.core.stats import t975
from hwprof.core.suite import (
    DEPLOY_VERSION,
    LATENCY_SCORE_PERCENTILE,
    SUITE_VERSION,
    Category,
    Length,
    SuiteTest,
    suite_test,
)

Z95 = 1.959964
TestStatus = Literal["ok", "failed", "out_of_memory", "skipped", "cancelled"]

# The numerics check: the largest difference between the device's output and the CPU's fp32
# output, relative to the largest magnitude of the CPU's output. Calibrated on a 2-core Xeon with
# AMX-BF16 (benchmarks/numerics_calibration.py, every model test of the suite): fp32 on the CPU
# gives at most 4e-7 and mixed bf16 at most 0.013 (MobileNet-V2 inference; 0.002 to 0.004 for the
# others); fp16 (emulated on the CPU) about 1e-3, an eighth of bf16, as its 3 more mantissa bits
# predict. fp32 allows for TF32 tensor cores (NVIDIA Ampere and later use 10-bit mantissas in fp32
# matrix products by default: about fp16's error). A device off by a tenth of the output's scale
# fails every precision; the test suite's wrong device (off by half) fails them tenfold.
NUMERICS_TOLERANCE: dict[str, float] = {
    "fp32": 2e-2,
    "mixed_float16": 2e-2,
    "mixed_bfloat16": 5e-2,
}


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class NumericsCheck(_Model):
    """The device's output against the CPU's fp32 output for the same weights and input."""

    max_relative_error: float | None = Field(
        default=None, ge=0, description="None when the output had NaN or infinity")
    tolerance: float = Field(gt=0)
    passed: bool
    reference: str = "CPU fp32"
    detail: str = ""


def max_relative_error(device: np.ndarray, reference: np.ndarray) -> float | None:
    """Largest |device - reference| over largest |reference|; None for NaN or infinity."""
    d = np.asarray(device, dtype=np.float64)
    r = np.asarray(reference, dtype=np.float64)
    if d.shape != r.shape:
        raise ValueError(f"outputs differ in shape: {d.shape} vs {r.shape}")
    if not (np.all(np.isfinite(d)) and np.all(np.isfinite(r))):
        return None
    scale = float(np.max(np.abs(r))) if r.size else 0.0
    diff = float(np.max(np.abs(d - r))) if r.size else 0.0
    if scale == 0.0:
        return 0.0 if diff == 0.0 else math.inf
    return diff / scale


def check_numerics(device: np.ndarray, reference: np.ndarray, precision: str) -> NumericsCheck:
    """Pass or fail: the relative error against the precision's tolerance."""
    tol = NUMERICS_TOLERANCE.get(precision, NUMERICS_TOLERANCE["fp32"])
    err = max_relative_error(device, reference)
    if err is None:
        return NumericsCheck(tolerance=tol, passed=False,
                             detail="the output holds NaN or infinity")
    if not math.isfinite(err):
        return NumericsCheck(tolerance=tol, passed=False,
                             detail="the reference output is all zeros and the device's is not")
    passed = err <= tol
    detail = "" if passed else (f"max relative error {err:.3g} is above the {tol:g} allowed "
                                "for this precision: the device computes wrong answers")
    return NumericsCheck(max_relative_error=err, tolerance=tol, passed=passed, detail=detail)


class PhaseTimes(_Model):
    """Where a test's wall time went, in seconds."""

    start: float = Field(default=0.0, ge=0, description="a new worker: process, TensorFlow import")
    build: float = Field(default=0.0, ge=0, description="building the model and its data")
    first_step: float = Field(default=0.0, ge=0, description="tracing, compiling, first step")
    warmup: float = Field(default=0.0, ge=0)
    timed: float = Field(default=0.0, ge=0)
    numerics: float = Field(default=0.0, ge=0)
    other: float = Field(default=0.0, ge=0, description="the rest: messages, bookkeeping")

    @property
    def total(self) -> float:
        """All of it."""
        return (self.start + self.build + self.first_step + self.warmup + self.timed
                + self.numerics + self.other)


class TestOutcome(_Model):
    """One test of a profile."""

    __test__ = False  # not a pytest class, despite its name

    test_id: str
    status: TestStatus
    reason: str | None = None
    run_id: str | None = Field(
        default=None, description="the snapshot run with steps and telemetry")
    precision: str | None = Field(default=None, description="the precision it ran in")
    unit: str = Field(default="", description='of value: "img/s", "GFLOP/s", "B/s", "ms"')
    value: float | None = Field(default=None, gt=0)
    low: float | None = Field(default=None, ge=0)
    high: float | None = Field(default=None, ge=0)
    windows: int = Field(default=0, ge=0, description="independent measurements behind it")
    latency_ms: dict[str, float] | None = None
    percent_of_ceiling: float | None = Field(default=None, ge=0, le=100)
    ceiling_source: str | None = None
    numerics: NumericsCheck | None = None
    phases: PhaseTimes = PhaseTimes()
    accuracy: DeployedAccuracy | None = Field(
        default=None, description="a deployment test: its TFLite model against TensorFlow fp32")
    model_bytes: int | None = Field(default=None, gt=0, description="a deployment test's .tflite")

    @property
    def test(self) -> SuiteTest:
        """The suite test (KeyError for a test of another suite version)."""
        return suite_test(self.test_id)

    @property
    def valid(self) -> bool:
        """Measured, and (for a model) its numbers are right."""
        return (self.status == "ok" and self.value is not None
                and (self.numerics is None or self.numerics.passed))


class OverheadSplit(_Model):
    """A profile's wall time by phase, summed over its tests, and what is outside measuring."""

    wall_seconds: float = Field(ge=0)
    phases: PhaseTimes

    @property
    def measuring_seconds(self) -> float:
        """The first steps, the warm-up and the timed phases: the work the tests exist for."""
        return self.phases.first_step + self.phases.warmup + self.phases.timed

    @property
    def outside_fraction(self) -> float:
        """The share of the wall time outside the first steps, warm-up and timed phases."""
        if self.wall_seconds <= 0:
            return 0.0
        return max(0.0, 1.0 - self.measuring_seconds / self.wall_seconds)


class DeploySection(_Model):
    """A profile's deployment section: the TFLite tests of :data:`~hwprof.core.suite.DEPLOY_SUITE`.

    Its tests are kept apart from the suite's: no score counts them, and no reference profile has
    them yet; each is set against the same device's TensorFlow test (:func:`deploy_rows`).
    """

    suite: str = DEPLOY_VERSION
    tests: tuple[TestOutcome, ...] = ()


class ProfileRecord(_Model):
    """What a profile snapshot holds beyond its runs."""

    suite: str = SUITE_VERSION
    length: Length = "quick"
    device: str
    device_label: str = ""
    settings: dict[str, str] = Field(default_factory=dict, description="e.g. intra-op threads")
    partial: bool = Field(default=False, description="only some tests were asked for (--only)")
    started_at: str = ""
    tests: tuple[TestOutcome, ...] = ()
    overhead: OverheadSplit | None = None
    reference: str | None = Field(default=None, description="the reference profile scored against")
    deployment: DeploySection | None = Field(
        default=None, description="the TFLite deployment section (--deploy); None: not run")

    @property
    def deploy_tests(self) -> tuple[TestOutcome, ...]:
        """The deployment section's tests (none when it was not run)."""
        return self.deployment.tests if self.deployment is not None else ()

    def outcome(self, test_id: str) -> TestOutcome | None:
        """The outcome of one test (of the suite or the deployment section), if it is there."""
        return next((t for t in (*self.tests, *self.deploy_tests) if t.test_id == test_id), None)


# -- a test's value --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Measured:
    """A test's value with its 95% interval."""

    value: float
    low: float | None
    high: float | None
    windows: int
    unit: str
    latency_ms: dict[str, float] | None = None


def mean_interval(values: Sequence[float]) -> tuple[float, float | None, float | None]:
    """Mean with its 95% t-interval (no interval under two values); cut at zero."""
    x = np.asarray([v for v in values if math.isfinite(v)], dtype=np.float64)
    if x.size == 0:
        raise ValueError("no values")
    m = float(x.mean())
    if x.size < 2:
        return m, None, None
    half = t975(x.size - 1) * float(x.std(ddof=1)) / math.sqrt(x.size)
    return m, max(0.0, m - half), m + half


def quantile_interval(
    values: Sequence[float], q: float
) -> tuple[float, float | None, float | None]:
    """The q-quantile (0..1) with a distribution-free 95% interval from order statistics.

    The ranks are those of the normal approximation to the binomial; with too few values for
    ranks inside the sample there is no interval.
    """
    x = np.sort(np.asarray([v for v in values if math.isfinite(v)], dtype=np.float64))
    n = x.size
    if n == 0:
        raise ValueError("no values")
    value = float(np.quantile(x, q))
    half = Z95 * math.sqrt(n * q * (1 - q))
    lo, hi = math.floor(n * q - half), math.ceil(n * q + half)
    if lo < 1 or hi > n:
        return value, None, None
    return value, float(x[lo - 1]), float(x[hi - 1])


UNIT_SCALE = {"GFLOP/s": 1e9, "GB/s": 1e9}


def unit_of(test: SuiteTest, sample_label: str) -> str:
    """What a test's value is given in."""
    if test.category == "latency":
        return "ms"
    if test.workload == "matmul":
        return "GFLOP/s"
    if test.workload == "bandwidth":
        return "GB/s"
    return f"{sample_label}/s"


def measure(test: SuiteTest, result: RunResult, window_seconds: float = 0.5) -> Measured | None:
    """A finished run's value for ``test``: throughput over windows, or the p90 latency.

    Throughput tests give the mean of window throughputs (the windows are the independent
    measurements); matmul is given in GFLOP/s and bandwidth in GB/s, so that the figures mean
    something across devices. Latency tests give the p90 step latency in milliseconds.
    """
    from hwprof.core.compare import run_windows  # the windows every comparison uses

    rep = result.report
    if not result.ok or rep is None or not rep.steps.seconds:
        return None
    if test.category == "latency":
        ms = [1000.0 * s for s in rep.steps.seconds]
        q = float(LATENCY_SCORE_PERCENTILE.removeprefix("p")) / 100.0
        value, low, high = quantile_interval(ms, q)
        pct = {k: 1000.0 * v for k, v in (result.latency_s or {}).items()
               if k in ("p50", "p90", "p99")}
        return Measured(value, low, high, len(ms), "ms", pct or None)
    windows = run_windows(result)
    if not windows:
        return None
    scale = 1.0
    if test.workload == "matmul" and rep.flops_per_sample:
        scale = rep.flops_per_sample / 1e9  # GEMMs/s -> GFLOP/s
    elif test.workload == "bandwidth":
        scale = 1e-9  # B/s -> GB/s
    value, low, high = mean_interval([w * scale for w in windows])
    from hwprof.core.catalog import get_workload

    unit = unit_of(test, get_workload(test.workload).sample_label)
    return Measured(value, low, high, len(windows), unit)


# -- scores ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Score:
    """A score (1000 = the reference) with its 95% interval."""

    value: float
    low: float | None
    high: float | None
    tests: int  # how many tests it covers


def _rel_se(value: float, low: float | None, high: float | None) -> float | None:
    """The relative standard error implied by a 95% interval (log scale)."""
    if low is None or high is None or value <= 0:
        return None
    return (high - low) / (2 * Z95 * value)


def score_of_test(outcome: TestOutcome, reference_value: float) -> Score | None:
    """One test's score against the reference's value for it (None when not valid)."""
    if not outcome.valid or outcome.value is None or reference_value <= 0:
        return None
    up = outcome.test.higher_is_better
    ratio = outcome.value / reference_value if up else reference_value / outcome.value
    value = 1000.0 * ratio
    se = _rel_se(outcome.value, outcome.low, outcome.high)
    if se is None:
        return Score(value, None, None, 1)
    return Score(value, value * math.exp(-Z95 * se), value * math.exp(Z95 * se), 1)


def geometric_score(scores: Sequence[Score]) -> Score | None:
    """The geometric mean of scores, its interval from theirs (independent tests)."""
    if not scores:
        return None
    logs = [math.log(s.value) for s in scores]
    mean = math.fsum(logs) / len(logs)
    value = math.exp(mean)
    ses = [_rel_se(s.value, s.low, s.high) for s in scores]
    if any(se is None for se in ses):
        return Score(value, None, None, len(scores))
    se = math.sqrt(math.fsum(se * se for se in ses if se is not None)) / len(scores)
    return Score(value, value * math.exp(-Z95 * se), value * math.exp(Z95 * se), len(scores))


SCORE_GROUPS: dict[str, tuple[Category, ...]] = {
    "overall": ("ceiling", "train", "infer", "latency"),
    "training": ("train",),
    "inference": ("infer", "latency"),
}


@dataclass(frozen=True)
class ProfileScore:
    """A profile's scores: per test, overall and by kind, or why there is no overall score."""

    per_test: dict[str, Score]
    groups: dict[str, Score | None]  # "overall", "training", "inference", "mixed precision"
    invalid_reason: str | None  # why the overall score is withheld (wrong numerics)
    missing: tuple[str, ...]  # scored tests the reference has that this profile lacks

    @property
    def overall(self) -> Score | None:
        """The overall score; None when withheld or nothing was scored."""
        return None if self.invalid_reason else self.groups.get("overall")


def score_profile(record: ProfileRecord, reference: Mapping[str, float]) -> ProfileScore:
    """Score ``record`` against the reference's values by test id."""
    per_test: dict[str, Score] = {}
    for outcome in record.tests:
        ref = reference.get(outcome.test_id)
        if ref is None:
            continue
        s = score_of_test(outcome, ref)
        if s is not None:
            per_test[outcome.test_id] = s
    wrong = [t for t in record.tests if t.numerics is not None and not t.numerics.passed]
    invalid = None
    if wrong:
        names = ", ".join(t.test_id for t in wrong)
        invalid = (f"numerics check failed on {names}: a device that computes wrong answers gets "
                   "no overall score")
    groups: dict[str, Score | None] = {}
    for name, cats in SCORE_GROUPS.items():
        members = [per_test[t.test_id] for t in record.tests
                   if t.test_id in per_test and t.test.category in cats and t.test.in_score]
        groups[name] = geometric_score(members)
    mixed = [per_test[t.test_id] for t in record.tests
             if t.test_id in per_test and not t.test.in_score]
    groups["mixed precision"] = geometric_score(mixed)
    scored_ids = {t.test_id for t in record.tests if t.test_id in per_test}
    missing = tuple(tid for tid in reference
                    if tid not in scored_ids and suite_test_in_score(tid))
    return ProfileScore(per_test, groups, invalid, missing)


def suite_test_in_score(test_id: str) -> bool:
    """Whether a test id (of this suite version) counts in the overall score."""
    try:
        return suite_test(test_id).in_score
    except KeyError:
        return False


# -- profiles side by side -------------------------------------------------------------------------
@dataclass(frozen=True)
class Speedup:
    """How much faster ``other`` is than the baseline on one test (>1: other wins)."""

    test_id: str
    ratio: float
    low: float | None
    high: float | None

    @property
    def significant(self) -> bool | None:
        """True when the interval excludes 1; None without an interval."""
        if self.low is None or self.high is None:
            return None
        return not self.low <= 1.0 <= self.high


def speedup_of_test(base: TestOutcome, other: TestOutcome) -> Speedup | None:
    """``other`` against ``base`` on one test: throughput ratio, or inverse latency ratio."""
    if not (base.valid and other.valid) or base.value is None or other.value is None:
        return None
    up = base.test.higher_is_better
    ratio = other.value / base.value if up else base.value / other.value
    sa = _rel_se(base.value, base.low, base.high)
    sb = _rel_se(other.value, other.low, other.high)
    if sa is None or sb is None:
        return Speedup(base.test_id, ratio, None, None)
    se = math.sqrt(sa * sa + sb * sb)
    return Speedup(base.test_id, ratio, ratio * math.exp(-Z95 * se), ratio * math.exp(Z95 * se))


def overall_speedup(speedups: Sequence[Speedup]) -> Speedup | None:
    """The geometric mean of per-test speedups, with its interval."""
    if not speedups:
        return None
    s = geometric_score([Score(x.ratio, x.low, x.high, 1) for x in speedups])
    assert s is not None
    return Speedup("overall", s.value, s.low, s.high)


@dataclass(frozen=True)
class ProfileComparison:
    """Profiles side by side against the first: per test, overall, and who wins where."""

    names: tuple[str, ...]
    per_test: dict[str, list[Speedup | None]]  # test id -> one entry per other profile
    overall: list[Speedup | None]  # over the fp32 tests both ran
    wins: list[str]  # one sentence per other profile


def compare_profiles(records: Sequence[ProfileRecord], names: Sequence[str]) -> ProfileComparison:
    """Set every profile beside the first (the baseline)."""
    if len(records) < 2:
        raise ValueError("a comparison needs at least two profiles")
    if len(names) != len(records):
        raise ValueError("one name per profile")
    base = records[0]
    test_ids: list[str] = []
    for r in records:
        test_ids += [t.test_id for t in r.tests if t.test_id not in test_ids]
    for r in records:  # the deployment section after the suite; no overall speedup counts it
        test_ids += [t.test_id for t in r.deploy_tests if t.test_id not in test_ids]
    per_test: dict[str, list[Speedup | None]] = {tid: [] for tid in test_ids}
    overall: list[Speedup | None] = []
    wins: list[str] = []
    for other, name in zip(records[1:], names[1:], strict=True):
        scored: list[Speedup] = []
        for tid in test_ids:
            a, b = base.outcome(tid), other.outcome(tid)
            sp = speedup_of_test(a, b) if a is not None and b is not None else None
            per_test[tid].append(sp)
            if sp is not None and suite_test_in_score(tid):
                scored.append(sp)
        overall.append(overall_speedup(scored))
        wins.append(wins_sentence(names[0], name, [s for s in (per_test[t][-1] for t in test_ids)
                                                   if s is not None]))
    return ProfileComparison(tuple(names), per_test, overall, wins)


def _titles(speedups: Sequence[Speedup]) -> str:
    titles = []
    for s in speedups:
        try:
            titles.append(suite_test(s.test_id).title)
        except KeyError:
            titles.append(s.test_id)
    return ", ".join(titles)


def wins_sentence(base: str, other: str, speedups: Sequence[Speedup]) -> str:
    """Where each profile wins, in words ("a wins x; b wins everything else")."""
    if not speedups:
        return f"{base} and {other} have no test in common that both measured"
    other_wins = [s for s in speedups if s.significant and s.ratio > 1]
    base_wins = [s for s in speedups if s.significant and s.ratio < 1]
    ties = [s for s in speedups if not s.significant]
    parts: list[str] = []
    if base_wins and len(base_wins) <= len(other_wins):
        parts.append(f"{base} wins {_titles(base_wins)}; {other} wins "
                     + ("everything else" if not ties else _titles(other_wins)))
    elif other_wins and len(other_wins) < len(base_wins):
        parts.append(f"{other} wins {_titles(other_wins)}; {base} wins "
                     + ("everything else" if not ties else _titles(base_wins)))
    elif other_wins:
        parts.append(f"{other} wins every test that differs")
    elif base_wins:
        parts.append(f"{base} wins every test that differs")
    if ties:
        parts.append(f"no significant difference on {_titles(ties)}")
    return "; ".join(parts) if parts else f"no significant difference between {base} and {other}"


# -- the deployment section ------------------------------------------------------------------------
@dataclass(frozen=True)
class DeployRow:
    """A deployment test set against the same device's TensorFlow test (its baseline)."""

    outcome: TestOutcome
    baseline_id: str | None
    baseline: TestOutcome | None  # None: the profile did not run it (or it is not valid)
    speedup: Speedup | None  # the TFLite test against the baseline (>1: TFLite is faster)


def deploy_rows(record: ProfileRecord) -> list[DeployRow]:
    """Each deployment test of ``record`` with its speed against the device's TensorFlow test."""
    rows: list[DeployRow] = []
    for o in record.deploy_tests:
        try:
            base_id = suite_test(o.test_id).baseline
        except KeyError:
            base_id = None
        base = record.outcome(base_id) if base_id else None
        sp = speedup_of_test(base, o) if base is not None else None
        rows.append(DeployRow(o, base_id, base if base is not None and base.valid else None, sp))
    return rows

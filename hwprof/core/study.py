"""Studies: one workload on several targets (a comparison) or along one axis (a sweep), analysed.

A study's runs are ordinary snapshot runs; tags say which study, target and sweep value each
belongs to, so a saved snapshot keeps its studies and any later reader can rebuild them::

    study:<id>  kind:<compare|batch|threads|precision_xla|size>  target:<label>  x:<value>

Statistics: a target's throughput is the mean of its trials with a 95% t-interval. Speedups use
the trials as samples when each side has at least three (independent repeats, the honest unit:
they include what changes between runs, such as scheduling and clocks); with fewer trials they
fall back to the half-second windows of the runs (see :mod:`hwprof.core.compare`), and the verdict
says "no significant difference" whenever the interval includes 1.
"""

from __future__ import annotations

import math
import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from hwprof.core.compare import (
    MIN_WINDOWS,
    RatioEstimate,
    ratio_of_means,
    run_windows,
    t975,
    verdict,
)
from hwprof.core.snapshot import Snapshot, SnapshotRun
from hwprof.core.spec import TFLITE_PRECISIONS, RunSpec
from hwprof.core.targets import Target, TargetError

StudyKind = Literal["compare", "batch", "threads", "precision_xla", "size", "replicas"]
STUDY_KINDS: tuple[StudyKind, ...] = ("compare", "batch", "threads", "precision_xla", "size",
                                      "replicas")
AXIS_LABEL = {"compare": "target", "batch": "batch size", "threads": "intra-op threads",
              "precision_xla": "precision and XLA", "size": "model size",
              "replicas": "replicas (devices)"}
SCALING_KINDS = ("threads", "replicas")  # sweeps that report scaling efficiency


# -- tags ------------------------------------------------------------------------------------------
def study_tags(
    study_id: str, kind: StudyKind, target: str, x: float | str | None
) -> tuple[str, ...]:
    """The tags that place a run in its study."""
    tags = [f"study:{study_id}", f"kind:{kind}", f"target:{target}"]
    if x is not None:
        tags.append(f"x:{x}")
    return tuple(tags)


def tag_value(run: SnapshotRun, key: str) -> str | None:
    """The value of ``key:`` among the run's tags, if any."""
    prefix = f"{key}:"
    return next((t[len(prefix):] for t in run.tags if t.startswith(prefix)), None)


def sweep_x(run: SnapshotRun) -> float | None:
    """The run's place on its sweep's axis: a whole number of at least 1, or None.

    Every axis hwprof sweeps (batch, size, threads, replicas) counts something, so that is what
    it writes. A tag edited by hand or by another tool (``x:abc``, ``x:inf``, ``x:0``) is no place
    on the axis: the analysis leaves that run out and says so, rather than fail on it.
    """
    text = tag_value(run, "x")
    if text is None:
        return None
    try:
        x = float(text)
    except ValueError:
        return None
    return x if math.isfinite(x) and x >= 1 and x == int(x) else None


# -- numbers ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MeanCI:
    """A mean with its 95% t-interval (None with fewer than two values)."""

    mean: float
    low: float | None
    high: float | None
    n: int


def mean_ci(values: Sequence[float]) -> MeanCI | None:
    """Mean and 95% confidence interval of independent, non-negative values (rates)."""
    x = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=np.float64)
    if x.size == 0:
        return None
    m = float(x.mean())
    if x.size < 2:
        return MeanCI(m, None, None, 1)
    half = t975(x.size - 1) * float(x.std(ddof=1)) / math.sqrt(x.size)
    # a rate is never negative: with two noisy trials (t = 12.7) the interval is cut at zero
    return MeanCI(m, max(0.0, m - half), m + half, int(x.size))


def speed_samples(runs: Sequence[SnapshotRun]) -> list[float]:
    """What a target's speed is judged by: trial throughputs, or pooled windows with few trials."""
    ok = [r for r in runs if r.result.ok and r.result.throughput_per_second]
    if len(ok) >= MIN_WINDOWS:
        return [float(r.result.throughput_per_second or 0.0) for r in ok]
    pooled: list[float] = []
    for r in ok:
        pooled += run_windows(r.result)
    return pooled


def speedup(baseline: Sequence[SnapshotRun], other: Sequence[SnapshotRun]) -> RatioEstimate | None:
    """``other`` / ``baseline`` throughput with its interval (None when a side measured nothing)."""
    a, b = speed_samples(baseline), speed_samples(other)
    if not a or not b:
        return None
    return ratio_of_means(a, b)


@dataclass
class TargetSummary:
    """One target's numbers in a comparison."""

    label: str
    runs: list[SnapshotRun]
    throughput: MeanCI | None
    unit: str = "samples"
    speedup: RatioEstimate | None = None
    verdict: str = ""
    percent_of_peak: float | None = None
    energy_per_sample_joules: float | None = None
    latencies_s: list[float] = field(default_factory=list)  # every timed step, inference only
    failures: list[str] = field(default_factory=list)
    tflite: bool = False  # a TFLite target: the deployed model's size and accuracy follow
    model_bytes: int | None = None
    top1_agreement: float | None = None  # the mean over the trials (each on the same inputs)
    max_relative_error: float | None = None  # the largest over the trials

    @property
    def ok(self) -> bool:
        """At least one trial measured something."""
        return self.throughput is not None


def _mean(values: Sequence[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return sum(vals) / len(vals) if vals else None


def summarize_targets(
    groups: dict[str, list[SnapshotRun]], baseline: str | None = None
) -> list[TargetSummary]:
    """Each target's throughput with its interval, and its speedup against ``baseline``."""
    labels = list(groups)
    base = baseline if baseline in groups else (labels[0] if labels else None)
    out = []
    for label, runs in groups.items():
        ok = [r for r in runs if r.result.ok]
        s = TargetSummary(
            label=label,
            runs=runs,
            throughput=mean_ci([r.result.throughput_per_second or math.nan for r in ok]),
            unit=ok[0].result.unit if ok else "samples",
            percent_of_peak=_mean([r.result.peak_share().percent for r in ok]),
            energy_per_sample_joules=_mean([r.result.energy_per_sample_joules for r in ok]),
            failures=[r.result.reason or r.result.status for r in runs if not r.result.ok],
        )
        infos = [r.result.report.tflite for r in ok
                 if r.result.report is not None and r.result.report.tflite is not None]
        s.tflite = any(r.spec.runtime == "tflite" for r in runs)
        if infos:
            s.model_bytes = infos[0].model_bytes
            accs = [i.accuracy for i in infos if i.accuracy is not None]
            s.top1_agreement = _mean([a.top1_agreement for a in accs])
            s.max_relative_error = max((a.max_relative_error for a in accs), default=None)
        if ok and ok[0].spec.mode == "infer":
            for r in ok:
                if r.result.report is not None:
                    per = r.result.report.steps.seconds
                    s.latencies_s += list(per)
        if base is not None and label != base:
            s.speedup = speedup(groups[base], runs)
            s.verdict = verdict(base, label, s.speedup)
        out.append(s)
    return out


# -- sweeps ----------------------------------------------------------------------------------------
def crossovers(
    xs: Sequence[float], ya: Sequence[float | None], yb: Sequence[float | None],
    tolerance: float = 0.03,
) -> list[float]:
    """The x values where series b overtakes a or falls behind it (interpolated, log2 in x).

    Only x values where both series have a value count. Points where the two are within
    ``tolerance`` (3%: run-to-run noise) are ties: the lead must change from one side of the noise
    to the other to make a crossing, so two equal lines wobbling about each other do not cross at
    every point. Returns every crossing in order (a pair of curves may cross twice).
    """
    pts = [(float(x), float(a), float(b)) for x, a, b in zip(xs, ya, yb, strict=True)
           if a is not None and b is not None and a > 0 and b > 0]
    found: list[float] = []
    prev: tuple[float, float] | None = None  # (x, log ratio) of the last non-zero difference
    for x, a, b in pts:
        d = math.log(b / a)
        if abs(d) < math.log1p(tolerance):
            continue
        if prev is not None and (prev[1] < 0) != (d < 0):
            x0, d0 = prev
            frac = d0 / (d0 - d)
            if x0 > 0 and x > 0:
                found.append(2 ** (math.log2(x0) + frac * (math.log2(x) - math.log2(x0))))
            else:
                found.append(x0 + frac * (x - x0))
        prev = (x, d)
    return found


def crossover_text(name_a: str, name_b: str, xs: Sequence[float], ya: Sequence[float | None],
                   yb: Sequence[float | None], axis: str) -> str:
    """Crossings in words: where b overtakes a, or 'no crossover in the range'."""
    found = crossovers(xs, ya, yb)
    if not found:
        valid = [x for x, a, b in zip(xs, ya, yb, strict=True) if a is not None and b is not None]
        if not valid:
            return f"{name_a} and {name_b}: nothing to compare"
        lo, hi = min(valid), max(valid)
        # no change of sign: any point where both have a value tells who leads
        a0, b0 = next((a, b) for a, b in zip(ya, yb, strict=True)
                      if a is not None and b is not None)
        leader = name_b if b0 > a0 else name_a
        return (f"{name_a} vs {name_b}: no crossover in the range ({axis} {lo:g} to {hi:g}); "
                f"{leader} leads throughout")
    where = ", ".join(f"{x:.3g}" for x in found)
    return f"{name_a} vs {name_b}: the lines cross at {axis} ≈ {where}"


def scaling_efficiency(
    threads: Sequence[int], throughput: Sequence[float | None]
) -> list[float | None]:
    """Throughput(n) / (n * throughput(smallest n) / smallest n): 1.0 is perfect scaling."""
    if not threads:
        return []
    n0 = threads[0]
    t0 = throughput[0]
    if t0 is None or t0 <= 0:
        return [None] * len(threads)
    return [None if t is None else (t / t0) / (n / n0)
            for n, t in zip(threads, throughput, strict=True)]


def stops_paying_off(threads: Sequence[int], throughput: Sequence[float | None],
                     gain: float = 1.05) -> int | None:
    """The thread count after which adding threads gains less than ``gain`` (5%), if any."""
    for i in range(1, len(threads)):
        prev, cur = throughput[i - 1], throughput[i]
        if prev is not None and cur is not None and cur < prev * gain:
            return threads[i - 1]
    return None


# -- planning --------------------------------------------------------------------------------------
def study_targets(kind: StudyKind, targets: Sequence[Target]) -> list[Target]:
    """The targets a study of ``kind`` runs, from the ones a person named (TargetError if unfit).

    The precision x XLA grid makes four targets of one device; a thread sweep defaults to the CPU;
    a comparison needs two or more.
    """
    targets = list(targets)
    if kind == "precision_xla":
        if len(targets) > 1:
            raise TargetError("the precision x XLA grid takes one target (the device and its "
                              "other settings); the grid makes the rest")
        d = targets[0] if targets else Target("cpu")
        if d.settings.get("runtime") == "tflite":  # TFLite's precisions; XLA is not its own
            return [Target(d.device, {**d.settings, "precision": p}) for p in TFLITE_PRECISIONS]
        return [Target(d.device, {**d.settings, "precision": p, "xla": x})
                for p in ("fp32", "mixed_bfloat16") for x in (False, True)]
    if kind in ("threads", "replicas"):
        targets = targets or [Target("cpu")]
        setting = "intra_op_threads" if kind == "threads" else "replicas"
        for t in targets:
            if setting in t.settings:
                raise TargetError(f"{t.label}: this sweep sets {kind} itself")
        return targets
    if not targets:
        raise TargetError("name at least one target, e.g. cpu")
    swept = {"batch": ("batch_size", "batch"), "size": ("size", "size")}.get(kind)
    if swept is not None:
        for t in targets:
            # the sweep sets it at every point: the target would keep a label it does not run
            if swept[0] in t.settings:
                raise TargetError(f"{t.label}: a {AXIS_LABEL[kind]} sweep sets {swept[1]}= "
                                  f"itself; leave it out of the target (--values picks them)")
    if kind == "compare" and len(targets) < 2:
        raise TargetError("a comparison needs two targets or more")
    return targets


def parse_values(text: str | None) -> list[float] | None:
    """A sweep's values from "1, 2, 4" (None when empty: the study's defaults)."""
    if text is None or not text.strip():
        return None
    try:
        values = [float(v) for v in text.replace(" ", "").split(",") if v]
    except ValueError:
        raise TargetError(f"sweep values {text!r}: numbers separated by commas, e.g. 1,2,4,8") \
            from None
    if not values or any(not math.isfinite(v) or v < 1 or v != int(v) for v in values):
        raise TargetError(f"sweep values {text!r}: whole numbers of at least 1")
    return sorted(set(values))


DEFAULT_BATCHES = tuple(2**k for k in range(0, 13))  # 1 .. 4096
DEFAULT_SIZES = {"matmul": (64, 128, 256, 512, 1024, 2048), "mlp": (16, 64, 256, 1024, 4096)}


@dataclass(frozen=True)
class PlannedRun:
    """One run of a study: the spec, and where it goes (target, sweep value, trial)."""

    spec: RunSpec
    target: str
    x: float | str | None
    trial: int


class Study:
    """A comparison or a sweep: which run comes next, and the runs so far (tagged).

    Runs go one at a time (never two on one machine). A comparison interleaves its trials and
    rotates the order each round (A B C, B C A, C A B), so slow drift of the machine (heat, other
    work) does not favour one target. A sweep goes up its axis for every target side by side; a
    run that runs out of memory, or goes over ``max_memory_bytes``, ends that target's sweep: it is
    the sweep's edge, noted, not an error.
    """

    def __init__(
        self,
        kind: StudyKind,
        base: RunSpec,
        targets: Sequence[Target],
        *,
        xs: Sequence[float] | None = None,
        trials: int | None = None,
        max_memory_bytes: float | None = None,
        study_id: str | None = None,
    ) -> None:
        if not targets:
            raise TargetError("a study needs at least one target")
        labels = [t.label for t in targets]
        if len(set(labels)) != len(labels):
            raise TargetError(f"the same target twice: {', '.join(labels)}")
        self.kind = kind
        self.base = base
        self.targets = list(targets)
        self.trials = trials if trials is not None else (3 if kind in ("compare", "precision_xla")
                                                         else 1)
        if self.trials < 1:
            raise TargetError("trials must be at least 1")
        self.max_memory_bytes = max_memory_bytes
        self.id = study_id or uuid.uuid4().hex[:8]
        self.runs: list[SnapshotRun] = []
        self.notes: list[str] = []
        self._ended: set[str] = set()
        self.xs = list(xs) if xs is not None else self._default_xs()
        self._plan = self._make_plan()  # validates every spec up front: bad input fails early
        self._next = 0

    def _default_xs(self) -> list[float]:
        if self.kind == "batch":
            return list(DEFAULT_BATCHES)
        if self.kind == "size":
            if self.base.workload not in DEFAULT_SIZES:
                raise TargetError(f"a size sweep is for {' and '.join(DEFAULT_SIZES)} "
                                  f"(model width), not {self.base.workload}")
            return list(DEFAULT_SIZES[self.base.workload])
        if self.kind == "threads":
            return list(range(1, (os.cpu_count() or 1) + 1))
        if self.kind == "replicas":
            if any(t.device != "cpu" for t in self.targets):
                raise TargetError("say how many GPUs to scale over, e.g. values 1,2,4,8")
            return list(range(1, (os.cpu_count() or 1) + 1))
        return []

    def _make_plan(self) -> list[PlannedRun]:
        plan: list[PlannedRun] = []
        if self.kind in ("compare", "precision_xla"):
            n = len(self.targets)
            for trial in range(self.trials):
                for k in range(n):
                    t = self.targets[(k + trial) % n]
                    plan.append(PlannedRun(t.apply(self.base), t.label, None, trial))
            return plan
        field_name = {"batch": "batch_size", "size": "size", "threads": "intra_op_threads",
                      "replicas": "replicas"}[self.kind]
        for x in self.xs:
            for trial in range(self.trials):
                for t in self.targets:
                    spec = t.apply(self.base, **{field_name: int(x)})
                    plan.append(PlannedRun(spec, t.label, x, trial))
        return plan

    @property
    def planned(self) -> int:
        """How many runs the plan holds (a sweep may end some targets early)."""
        return len(self._plan)

    def next_run(self) -> PlannedRun | None:
        """The next run to do, or None when the study is done."""
        while self._next < len(self._plan):
            p = self._plan[self._next]
            self._next += 1
            if p.target not in self._ended:
                return p
        return None

    def groups(
        self, others: Sequence[tuple[str, Snapshot]] = ()
    ) -> dict[str, list[SnapshotRun]]:
        """The runs so far by target, plus, in a comparison, other machines' runs.

        ``others`` are (name, snapshot): their runs of the same workload and mode join as more
        targets, labelled by the name.
        """
        groups = group_study(self.runs).get(self.id, {})
        if self.kind not in ("compare", "precision_xla"):
            return groups
        for name, snap in others:
            for run in snap.runs:
                if (run.spec.workload, run.spec.mode) == (self.base.workload, self.base.mode) \
                        and run.result.ok:
                    label = f"{name}: {run.spec.device} {run.spec.precision}" + (
                        " xla" if run.spec.xla else "")
                    groups.setdefault(label, []).append(run)
        return groups

    def tags_for(self, planned: PlannedRun) -> tuple[str, ...]:
        """The tags that put ``planned``'s run into this study."""
        return study_tags(self.id, self.kind, planned.target, planned.x)

    def record(self, planned: PlannedRun, run: SnapshotRun) -> SnapshotRun:
        """Tag a finished run into the study; a sweep's edge ends that target's sweep."""
        mine = self.tags_for(planned)
        tagged = run if set(mine) <= set(run.tags) else run.model_copy(
            update={"tags": tuple(run.tags) + mine})
        self.runs.append(tagged)
        r = run.result
        if self.kind in ("batch", "size", "threads", "replicas"):
            where = f"{AXIS_LABEL[self.kind]} {planned.x:g}" if isinstance(planned.x, float | int) \
                else ""
            memory = r.report.peak_memory_bytes if r.report is not None else None
            if r.error_kind == "out_of_memory":
                self._ended.add(planned.target)
                self.notes.append(f"{planned.target}: out of memory at {where}; its sweep ends "
                                  "there")
            elif (self.max_memory_bytes is not None and memory is not None
                  and memory > self.max_memory_bytes):
                self._ended.add(planned.target)
                self.notes.append(f"{planned.target}: {memory / 2**30:.2f} GiB at {where}, over "
                                  f"the limit of {self.max_memory_bytes / 2**30:.2f} GiB; its "
                                  "sweep ends there")
            elif not r.ok and r.status == "failed":
                self._ended.add(planned.target)
                self.notes.append(f"{planned.target}: failed at {where} ({r.reason}); its sweep "
                                  "ends there")
        return tagged


# -- analysis --------------------------------------------------------------------------------------
def group_study(runs: Sequence[SnapshotRun]) -> dict[str, dict[str, list[SnapshotRun]]]:
    """Runs by study id, then by target label (in first-seen order); untagged runs are left out."""
    out: dict[str, dict[str, list[SnapshotRun]]] = {}
    for r in runs:
        sid, target = tag_value(r, "study"), tag_value(r, "target")
        if sid is None or target is None:
            continue
        out.setdefault(sid, {}).setdefault(target, []).append(r)
    return out


def sweep_series(
    groups: dict[str, list[SnapshotRun]],
) -> tuple[list[float], dict[str, list[MeanCI | None]]]:
    """The sweep's x values and, per target, the mean throughput (with CI) at each x."""
    xs = sorted({x for runs in groups.values() for r in runs if (x := sweep_x(r)) is not None})
    series: dict[str, list[MeanCI | None]] = {}
    for label, runs in groups.items():
        by_x: dict[float, list[float]] = {}
        for r in runs:
            x = sweep_x(r)
            if x is not None and r.result.ok and r.result.throughput_per_second:
                by_x.setdefault(x, []).append(r.result.throughput_per_second)
        series[label] = [mean_ci(by_x[x]) if x in by_x else None for x in xs]
    return xs, series


def analyze(kind: StudyKind, groups: dict[str, list[SnapshotRun]],
            baseline: str | None = None) -> dict[str, Any]:
    """A study's findings as plain data: numbers per target, verdicts, crossovers, scaling."""
    out: dict[str, Any] = {"kind": kind, "axis": AXIS_LABEL[kind], "targets": list(groups)}
    if kind in ("compare", "precision_xla"):
        summaries = summarize_targets(groups, baseline)
        out["baseline"] = baseline if baseline in groups else next(iter(groups), None)
        out["rows"] = [_summary_row(s) for s in summaries]
        out["verdicts"] = [s.verdict for s in summaries if s.verdict]
        return out
    xs, series = sweep_series(groups)
    out["x"] = xs
    odd = sorted({tag_value(r, "x") or "none" for runs in groups.values() for r in runs
                  if sweep_x(r) is None})
    if odd:
        n = sum(1 for runs in groups.values() for r in runs if sweep_x(r) is None)
        out["notes"] = [f"{n} run(s) left out: a sweep value must be a whole number of at least "
                        f"1, and theirs is {', '.join(repr(v) for v in odd)}"]
    out["series"] = {k: [None if m is None else {"mean": m.mean, "low": m.low, "high": m.high}
                         for m in v] for k, v in series.items()}
    labels = list(series)
    means = {k: [None if m is None else m.mean for m in v] for k, v in series.items()}
    out["crossovers"] = [
        {"a": a, "b": b, "at": crossovers(xs, means[a], means[b]),
         "text": crossover_text(a, b, xs, means[a], means[b], AXIS_LABEL[kind])}
        for i, a in enumerate(labels) for b in labels[i + 1:]
    ]
    if kind in SCALING_KINDS:
        out["scaling"] = {}
        for k, ys in means.items():
            threads = [int(x) for x in xs]
            out["scaling"][k] = {
                "efficiency": scaling_efficiency(threads, ys),
                "stops_paying_off_after": stops_paying_off(threads, ys),
            }
    return out


def _summary_row(s: TargetSummary) -> dict[str, Any]:
    t = s.throughput
    lat = sorted(s.latencies_s)

    def pct(q: float) -> float | None:
        return float(np.percentile(lat, q)) if lat else None

    return {
        "target": s.label,
        "trials": len(s.runs),
        "ok_trials": t.n if t else 0,
        "throughput_per_second": t.mean if t else None,
        "ci95": [t.low, t.high] if t and t.low is not None else None,
        "unit": s.unit,
        "speedup": s.speedup.ratio if s.speedup else None,
        "speedup_ci95": [s.speedup.low, s.speedup.high]
        if s.speedup and s.speedup.low is not None else None,
        "significant": s.speedup.significant if s.speedup else None,
        "verdict": s.verdict,
        "percent_of_peak": s.percent_of_peak,
        "energy_per_sample_joules": s.energy_per_sample_joules,
        "latency_p50_s": pct(50),
        "latency_p99_s": pct(99),
        "failures": s.failures,
        "tflite": s.tflite,
        "model_bytes": s.model_bytes,
        "top1_agreement": s.top1_agreement,
        "max_relative_error": s.max_relative_error,
    }

"""What a run produced: the worker's raw measurements and the summary people read.

The worker process measures and reports raw facts (:class:`WorkerReport`: every timed step's start
and duration, samples per step, FLOPs per sample, peak memory). The parent turns them into a
:class:`RunResult` with :func:`summarize`, adding what only the parent knows (the device's peak
estimate, the energy the telemetry saw). Keeping the statistics here, in plain code, means they are
tested once and the CLI, the window and the snapshots all show the same numbers.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from hwprof.core.peaks import PeakShare, peak_share
from hwprof.core.spec import RunSpec
from hwprof.core.stats import Spread, percentiles, spread
from hwprof.core.telemetry import TelemetryRecord
from hwprof.core.trace import TraceSummary

RunStatus = Literal["ok", "failed", "cancelled"]
StopReason = Literal["steady", "duration", "steps"]
ErrorKind = Literal[
    "out_of_memory", "exception", "crash", "killed", "timeout", "cancelled", "start_failed"
]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class StepTimings(_Model):
    """The timed steps: start (``time.monotonic()`` seconds, the telemetry's clock) and duration."""

    start_s: tuple[float, ...]
    seconds: tuple[float, ...]

    @model_validator(mode="after")
    def _same_length(self) -> StepTimings:
        if len(self.start_s) != len(self.seconds):
            raise ValueError("start_s and seconds differ in length")
        return self

    def __len__(self) -> int:
        return len(self.seconds)


class DeployedAccuracy(_Model):
    """A deployed (TFLite) model's outputs against the fp32 TensorFlow model's, on the same inputs.

    Errors are relative to each sample's largest reference output (|logit|): an element-wise
    relative error is meaningless where a logit is near 0.
    """

    samples: int = Field(gt=0, description="seeded inputs compared")
    max_relative_error: float = Field(ge=0)
    mean_relative_error: float = Field(ge=0)
    top1_agreement: float = Field(ge=0, le=1, description="share of samples whose argmax agrees")


class TfliteInfo(_Model):
    """How a TFLite run's model was made and run."""

    runtime_name: str = Field(description='"tf.lite" (TensorFlow\'s) or "ai_edge_litert"')
    runtime_version: str | None = None
    delegate: str = Field(description='"XNNPACK" (CPU), or the delegate loaded')
    num_threads: int | None = Field(default=None, description="the interpreter's; None: default")
    model_bytes: int = Field(gt=0, description="the .tflite file's size")
    conversion_seconds: float = Field(ge=0, description="0 when the model came from the cache")
    cached: bool = False
    accuracy: DeployedAccuracy | None = None
    edgetpu_compiler: str | None = Field(
        default=None, description="the Edge TPU delegate: edgetpu_compiler's version line")
    ops_on_edgetpu: int | None = Field(
        default=None, ge=0, description="operations the compiler mapped to the Edge TPU")
    ops_on_cpu: int | None = Field(
        default=None, ge=0, description="operations left to the CPU (None: its log did not say)")


def deployed_accuracy(outputs: np.ndarray, reference: np.ndarray) -> DeployedAccuracy:
    """Compare ``outputs`` with ``reference`` (samples x classes; any other shape is flattened).

    A NaN or infinity in either is bad input: ValueError.
    """
    out = np.asarray(outputs, dtype=np.float64).reshape(len(outputs), -1)
    ref = np.asarray(reference, dtype=np.float64).reshape(len(reference), -1)
    if out.shape != ref.shape or out.size == 0:
        raise ValueError(f"outputs {out.shape} and reference {ref.shape} differ in shape")
    if not (np.all(np.isfinite(out)) and np.all(np.isfinite(ref))):
        raise ValueError("the outputs or the reference hold NaN or infinity")
    scale = np.max(np.abs(ref), axis=1, keepdims=True)
    scale[scale == 0] = 1.0  # an all-zero reference: the error is absolute
    rel = np.abs(out - ref) / scale
    agree = float(np.mean(np.argmax(out, axis=1) == np.argmax(ref, axis=1)))
    return DeployedAccuracy(samples=len(out), max_relative_error=float(rel.max()),
                            mean_relative_error=float(rel.mean()), top1_agreement=agree)


class WorkerReport(_Model):
    """The raw measurements of one run, as the worker process reports them."""

    tensorflow_version: str | None = None
    tf_device: str | None = Field(default=None, description='TensorFlow\'s device, "/GPU:0"')
    batch_size: int
    samples_per_step: int = Field(gt=0)
    flops_per_sample: float | None = None
    bytes_per_sample: float | None = None
    time_to_first_step_s: float | None = Field(
        default=None, description="tracing, compilation and the first step"
    )
    warmup_steps: int = 0
    warmup_end_s: float | None = Field(default=None, description="monotonic end of warm-up")
    steps: StepTimings
    stop_reason: StopReason | None = None
    peak_memory_bytes: int | None = None
    memory_source: str | None = None
    final_loss: float | None = None
    notes: tuple[str, ...] = ()
    trace: TraceSummary | None = Field(
        default=None, description="where the traced steps' time went (a run with trace_steps)")
    tflite: TfliteInfo | None = Field(default=None, description="a TFLite run's model and runtime")


class RunResult(_Model):
    """One run's outcome: the headline numbers, their spread, and what went wrong if anything."""

    status: RunStatus
    reason: str | None = Field(default=None, description="why it failed or was cancelled")
    error_kind: ErrorKind | None = None
    stderr_tail: tuple[str, ...] = Field(
        default=(), description="the worker's last stderr lines, kept for a failed run's report"
    )
    wall_seconds: float | None = Field(default=None, description="the whole run, process start on")
    report: WorkerReport | None = None
    unit: Literal["samples", "bytes"] = "samples"
    throughput_per_second: float | None = Field(
        default=None, description="units over the timed window (total units / total step time)"
    )
    step_throughput: Spread | None = Field(
        default=None, description="per-step throughput: median, IQR, standard error, jitter"
    )
    latency_s: dict[str, float] | None = Field(
        default=None, description="inference: step latency percentiles p50 ... p99.9, seconds"
    )
    achieved_flops: float | None = None
    peak_flops: float | None = Field(default=None, description="the device's peak estimate")
    peak_source: str | None = None
    ceiling_flops: float | None = Field(
        default=None, description="the measured compute ceiling of the device and precision")
    ceiling_source: str | None = None
    percent_of_peak: float | None = Field(
        default=None, description="of the measured ceiling, else of the estimate; never above "
        "100 (None above it: see core.peaks.peak_share)")
    energy_joules: float | None = None
    energy_per_sample_joules: float | None = None
    energy_source: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the run finished and measured something."""
        return self.status == "ok"

    @property
    def steps(self) -> StepTimings | None:
        """The timed steps, when there were any."""
        return self.report.steps if self.report else None

    def peak_share(self) -> PeakShare:
        """The run's % of peak as every front end shows it (one rule: core.peaks.peak_share)."""
        if self.unit == "bytes":  # a bandwidth run: its FLOP/s mean nothing
            return peak_share(None)
        return peak_share(self.achieved_flops, ceiling_flops=self.ceiling_flops,
                          ceiling_source=self.ceiling_source, estimate_flops=self.peak_flops,
                          estimate_source=self.peak_source)


def failed_result(
    reason: str,
    kind: ErrorKind,
    *,
    stderr_tail: tuple[str, ...] = (),
    wall_seconds: float | None = None,
    report: WorkerReport | None = None,
) -> RunResult:
    """A run that did not finish: cancelled when ``kind`` is "cancelled", else failed."""
    return RunResult(
        status="cancelled" if kind == "cancelled" else "failed",
        reason=reason,
        error_kind=kind,
        stderr_tail=stderr_tail,
        wall_seconds=wall_seconds,
        report=report,
    )


def summarize(
    spec: RunSpec,
    report: WorkerReport,
    *,
    peak_flops: float | None = None,
    peak_source: str | None = None,
    ceiling_flops: float | None = None,
    ceiling_source: str | None = None,
    telemetry: TelemetryRecord | None = None,
    wall_seconds: float | None = None,
) -> RunResult:
    """The statistics of a finished run.

    ``peak_flops``: the device's estimated peak; ``ceiling_flops``: its measured compute ceiling
    in the run's precision, if one was measured. % of peak follows :func:`core.peaks.peak_share`.
    """
    unit = spec.info.throughput_unit
    per_step = report.samples_per_step * (
        (report.bytes_per_sample or 1.0) if unit == "bytes" else 1.0
    )
    seconds = np.asarray(report.steps.seconds, dtype=np.float64)
    if seconds.size == 0 or not np.all(np.isfinite(seconds)) or np.any(seconds <= 0):
        return failed_result(
            "no usable timed steps", "exception", report=report, wall_seconds=wall_seconds
        )
    total_s = float(seconds.sum())
    throughput = per_step * seconds.size / total_s
    achieved = None
    if report.flops_per_sample:
        achieved = report.flops_per_sample * report.samples_per_step * seconds.size / total_s
    share = peak_share(achieved if unit != "bytes" else None, ceiling_flops=ceiling_flops,
                       estimate_flops=peak_flops)
    energy, source = (None, None)
    if telemetry is not None:
        start = report.steps.start_s[0]
        end = report.steps.start_s[-1] + report.steps.seconds[-1]
        energy, source = energy_between(telemetry, start, end, gpu_index=spec.gpu_index)
    samples = report.samples_per_step * seconds.size
    return RunResult(
        status="ok",
        wall_seconds=wall_seconds,
        report=report,
        unit=unit,
        throughput_per_second=throughput,
        step_throughput=spread(per_step / seconds),
        latency_s=percentiles(seconds) if spec.mode == "infer" else None,
        achieved_flops=achieved,
        peak_flops=peak_flops,
        peak_source=peak_source,
        ceiling_flops=ceiling_flops,
        ceiling_source=ceiling_source,
        percent_of_peak=share.percent,
        energy_joules=energy,
        energy_per_sample_joules=energy / samples if energy is not None else None,
        energy_source=source,
    )


def energy_between(
    record: TelemetryRecord, start_s: float, end_s: float, *, gpu_index: int | None
) -> tuple[float | None, str | None]:
    """Energy the device used between two monotonic times, and where the figure came from.

    A cumulative energy counter (NVML's total energy, RAPL) is preferred: its difference is exact.
    Otherwise power readings are integrated (trapezoids). The window must hold at least two
    readings; for a short run there may be none, and then energy is unknown (None).
    """
    if gpu_index is not None:
        counter, power = f"gpu{gpu_index}.energy_joules", f"gpu{gpu_index}.power_watts"
        what = f"GPU {gpu_index}"
    else:
        counter, power = "cpu.package_energy_joules", "cpu.package_power_watts"
        what = "CPU package (RAPL, whole package)"
    part = record.between(start_s, end_s)
    t = np.asarray(part.timestamps_s, dtype=np.float64)
    if counter in part.values:
        e = np.asarray([np.nan if v is None else v for v in part.values[counter]])
        ok = np.isfinite(e)
        if ok.sum() >= 2 and t[ok][-1] > t[ok][0]:
            rate = (e[ok][-1] - e[ok][0]) / (t[ok][-1] - t[ok][0])
            if rate >= 0:
                return float(rate * (end_s - start_s)), f"{what} energy counter"
    if power in part.values:
        p = np.asarray([np.nan if v is None else v for v in part.values[power]])
        ok = np.isfinite(p)
        if ok.sum() >= 2 and t[ok][-1] > t[ok][0]:
            tt, pp = t[ok], p[ok]
            mean_w = float(np.sum((pp[1:] + pp[:-1]) / 2 * np.diff(tt)) / (tt[-1] - tt[0]))
            return mean_w * (end_s - start_s), f"{what} power readings"
    return None, None

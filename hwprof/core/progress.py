"""The progress of one run, accumulated from its worker's events: one place for both front ends.

`hwprof run` draws its bar from it, the window its progress bars and the Live throughput curve:
the phase (starting, compiling, warming up, measuring), the timed steps so far, the throughput
points (one per batch of steps the worker sends, a few a second) and how far the run has got.
The units of a step are known once the first step has compiled (samples per step, and bytes per
sample for a bandwidth run), so the rate is right from the first point.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from hwprof.core import events
from hwprof.core.spec import RunSpec
from hwprof.core.units import fmt_si

Phase = Literal["starting", "compiling", "warming up", "measuring", "finished", "failed"]


def throughput_unit(spec: RunSpec) -> str:
    """What a run's throughput counts per second: "B/s" for bandwidth, "img/s", "GEMMs/s"..."""
    return "B/s" if spec.info.throughput_unit == "bytes" else f"{spec.info.sample_label}/s"


def fmt_throughput(value: float | None, spec: RunSpec) -> str:
    """A throughput with its unit and an SI prefix: "9.1 GB/s", "42.3k img/s"."""
    return fmt_si(value, throughput_unit(spec))


@dataclass(frozen=True)
class ThroughputPoint:
    """Throughput of one batch of timed steps, at the moment the batch ended (monotonic s)."""

    t_s: float
    per_second: float


@dataclass(frozen=True)
class ProgressDelta:
    """What one event changed: new throughput points, and a moment worth marking on a chart."""

    points: tuple[ThroughputPoint, ...] = ()
    mark: str | None = None


@dataclass
class RunProgress:
    """A run's progress so far; :meth:`update` it with each typed worker event."""

    spec: RunSpec
    phase: Phase = "starting"
    tensorflow_version: str | None = None
    tf_device: str | None = None
    time_to_first_step_s: float | None = None
    units_per_step: float = 1.0
    warmup_done: int = 0
    steps: int = 0
    timed_s: float = 0.0
    points: list[ThroughputPoint] = field(default_factory=list)
    error: str | None = None

    def update(self, event: events.WorkerEvent) -> ProgressDelta:
        """Take one event in; what it changed."""
        if isinstance(event, events.Ready):
            self.phase = "compiling"
            self.tensorflow_version, self.tf_device = event.tensorflow_version, event.tf_device
        elif isinstance(event, events.Compiled):
            self.time_to_first_step_s = event.time_to_first_step_s
            per = event.samples_per_step
            if self.spec.info.throughput_unit == "bytes":
                per *= event.bytes_per_sample or 1.0
            self.units_per_step = per
            if self.spec.warmup_steps == 0:
                self.phase = "measuring"
                return ProgressDelta(mark="timed")
            self.phase = "warming up"
        elif isinstance(event, events.Warmup):
            self.warmup_done = event.done
            if event.done >= event.total:
                self.phase = "measuring"
                return ProgressDelta(mark="warm-up done")
        elif isinstance(event, events.Steps):
            self.phase = "measuring"
            busy = float(sum(event.seconds))
            self.steps += len(event.seconds)
            self.timed_s += busy
            if event.seconds and busy > 0:
                point = ThroughputPoint(event.start_s[-1] + event.seconds[-1],
                                        self.units_per_step * len(event.seconds) / busy)
                self.points.append(point)
                return ProgressDelta(points=(point,))
        elif isinstance(event, events.Result):
            self.phase = "finished"
        elif isinstance(event, events.Error):
            self.phase = "failed"
            self.error = event.message
        return ProgressDelta()

    @property
    def rate(self) -> float | None:
        """Throughput over the timed steps so far (units per second), None before any."""
        if self.timed_s <= 0:
            return None
        return self.units_per_step * self.steps / self.timed_s

    @property
    def fraction(self) -> float | None:
        """How far the timed phase has got, 0..1; None before it starts.

        A run ends at its step count, or at its duration (sooner once its throughput is steady:
        the fraction is then an upper bound on the time left, never more than 1).
        """
        if self.phase == "finished":
            return 1.0
        if self.phase != "measuring":
            return None
        if self.spec.steps:
            return min(1.0, self.steps / self.spec.steps)
        total = self.spec.duration_seconds or 0.0
        return min(1.0, self.timed_s / total) if total > 0 else None

    def status(self) -> str:
        """One line for a status bar: what the run is doing now."""
        label = self.spec.label()
        if self.phase == "starting":
            return f"{label}: starting the worker (importing TensorFlow)…"
        if self.phase == "compiling":
            return f"{label}: building and compiling on {self.tf_device or self.spec.device}…"
        if self.phase == "warming up":
            return (f"{label}: warming up ({self.warmup_done} of {self.spec.warmup_steps} "
                    "untimed steps)…")
        if self.phase == "measuring":
            if self.spec.steps:
                where = f"{self.steps} of {self.spec.steps} steps"
            else:
                total = self.spec.duration_seconds or 0.0
                where = f"{self.steps} steps, {self.timed_s:.1f} of at most {total:g} s"
            return f"{label}: measuring, {where}, {fmt_throughput(self.rate, self.spec)}"
        if self.phase == "failed":
            return f"{label}: failed: {self.error}"
        return f"{label}: finished"

"""Snapshots made in the test, without TensorFlow: hostile strings, odd tags, odd numbers.

``machine()`` is the machine of the v0 snapshot kept in tests/data (a real `hwprof detect`), with
any of its strings replaced; ``a_run()`` is a finished run whose numbers come from hwprof's own
``summarize``; ``snapshots()`` is a hypothesis strategy over snapshots that load (odd tags, odd
finite floats, empty runs, failed runs, telemetry with gaps, any unicode in the strings).
"""

from __future__ import annotations

import contextlib
import math
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from hwprof.core.devices import DetectReport
from hwprof.core.results import RunResult, StepTimings, WorkerReport, summarize
from hwprof.core.snapshot import Snapshot, SnapshotRun, load_snapshot
from hwprof.core.spec import RunSpec
from hwprof.core.telemetry import TelemetryRecord, metric_infos

DATA = Path(__file__).resolve().parent.parent / "data"

# What a file or the system may hold that a terminal or a page must not obey.
HOSTILE = (
    "[/bogus]",
    "[baseline]",
    "[red]x[/red]",
    "\x1b[31mred\x1b[0m",
    "\x1b]0;title\x07",
    "\u202eevil",
    "<script>alert(1)</script>",
    "$\\frac{1}{$",  # mathtext, to matplotlib
    ":smile:",
)
HOSTILE_ALL = " ".join(HOSTILE)


def machine(**host: str) -> DetectReport:
    """A real machine description (from tests/data), its host fields replaced by ``host``."""
    m = load_snapshot(DATA / "snapshot-v0.hwprof.json").machine
    return m.model_copy(update={"host": m.host.model_copy(update=host)})


def a_run(
    spec: RunSpec | None = None,
    *,
    seconds: tuple[float, ...] = (0.5, 0.5, 0.4, 0.45),
    tags: tuple[str, ...] = (),
    notes: tuple[str, ...] = (),
    tf_device: str = "/CPU:0",
) -> SnapshotRun:
    """A finished run with real statistics (hwprof's summarize) and a little telemetry."""
    spec = spec or RunSpec(workload="mlp", mode="infer", size=16, steps=len(seconds),
                           duration_seconds=None)
    starts = tuple(100.0 + sum(seconds[:i]) for i in range(len(seconds)))
    rep = WorkerReport(tensorflow_version="2.21.0", tf_device=tf_device, batch_size=8,
                       samples_per_step=8, flops_per_sample=1e6, time_to_first_step_s=1.5,
                       warmup_steps=3, steps=StepTimings(start_s=starts, seconds=seconds),
                       stop_reason="steps", peak_memory_bytes=3_000_000, memory_source="rss",
                       notes=notes)
    tel = TelemetryRecord(interval_seconds=0.25, unix_offset_s=1.7e9,
                          metrics=metric_infos(["cpu.util_percent", "cpu.package_power_watts"]),
                          timestamps_s=(99.5, 100.0, 100.5, 101.0, 101.5),
                          values={"cpu.util_percent": (10.0, 99.0, None, 98.5, 97.0),
                                  "cpu.package_power_watts": (20.0, 60.0, 61.0, 60.5, 59.0)})
    result = summarize(spec, rep, peak_flops=1e11, peak_source="test", telemetry=tel,
                       wall_seconds=9.0)
    return SnapshotRun(spec=spec, result=result, telemetry=tel, tags=tags)


# -- hypothesis ------------------------------------------------------------------------------------
# finite floats, with the ones that break arithmetic more likely than chance would make them
odd_floats = st.one_of(
    st.sampled_from([0.0, -0.0, 1.0, -1.0, 5e-324, 1e-300, 1e300, 1.7e308, -1.7e308]),
    st.floats(allow_nan=False, allow_infinity=False),
)
maybe_float = st.none() | odd_floats
words = st.text(max_size=12) | st.sampled_from(HOSTILE)
x_values = st.sampled_from(["1", "2", "4", "8", "0", "-1", "1.5", "abc", "inf", "-inf", "nan",
                            "1e400", "1e300", ""]) | st.text(max_size=6)
study_kinds = st.sampled_from(["compare", "batch", "threads", "precision_xla", "size", "replicas",
                               "unknown"])


@st.composite
def study_tags(draw: st.DrawFn) -> tuple[str, ...]:
    """Tags that put a run into a study, some of them odd."""
    tags = [f"study:{draw(st.sampled_from(['s1', 's2']))}", f"kind:{draw(study_kinds)}",
            f"target:{draw(words)}"]
    if draw(st.booleans()):
        tags.append(f"x:{draw(x_values)}")
    return tuple(draw(st.permutations(tags))) + tuple(draw(st.lists(words, max_size=2)))


@st.composite
def runs(draw: st.DrawFn) -> SnapshotRun:
    """A run of a valid spec whose outcome and numbers may be anything a file can hold."""
    workload = draw(st.sampled_from(["mlp", "matmul", "bandwidth", "resnet50"]))
    spec = RunSpec(workload=workload, mode="infer" if workload == "bandwidth" else
                   draw(st.sampled_from(["train", "infer"])),
                   device=draw(st.sampled_from(["cpu", "gpu:0", "gpu:3"])),
                   batch_size=draw(st.none() | st.integers(1, 1_000_000)))
    n = draw(st.integers(0, 6))
    seconds = tuple(draw(st.lists(odd_floats, min_size=n, max_size=n)))
    starts = tuple(draw(st.lists(odd_floats, min_size=n, max_size=n)))
    report = None
    if draw(st.booleans()):
        report = WorkerReport(
            tensorflow_version=draw(st.none() | words), tf_device=draw(st.none() | words),
            batch_size=draw(st.integers(1, 10**6)), samples_per_step=draw(st.integers(1, 10**9)),
            flops_per_sample=draw(maybe_float), bytes_per_sample=draw(maybe_float),
            time_to_first_step_s=draw(maybe_float), warmup_steps=draw(st.integers(0, 5)),
            steps=StepTimings(start_s=starts, seconds=seconds),
            stop_reason=draw(st.none() | st.sampled_from(["steady", "duration", "steps"])),
            peak_memory_bytes=draw(st.none() | st.integers(-1, 2**62)),
            memory_source=draw(st.none() | words), final_loss=draw(maybe_float),
            notes=tuple(draw(st.lists(words, max_size=2))))
    result = None
    if report is not None and draw(st.booleans()):
        # hwprof's own statistics of odd step times (it refuses rates that overflow to infinity)
        with contextlib.suppress(ValueError):
            result = summarize(spec, report, peak_flops=draw(maybe_float),
                               peak_source=draw(words))
    if result is None:
        lat = draw(st.none() | st.dictionaries(st.sampled_from(["p50", "p90", "p99", "p99.9"]),
                                               odd_floats, max_size=4))
        result = RunResult(
            status=draw(st.sampled_from(["ok", "failed", "cancelled"])),
            reason=draw(st.none() | words), report=report,
            unit=draw(st.sampled_from(["samples", "bytes"])),
            throughput_per_second=draw(maybe_float), latency_s=lat,
            achieved_flops=draw(maybe_float), peak_flops=draw(maybe_float),
            percent_of_peak=draw(maybe_float), energy_per_sample_joules=draw(maybe_float),
            stderr_tail=tuple(draw(st.lists(words, max_size=3))))
    telemetry = None
    if draw(st.booleans()):
        k = draw(st.integers(0, 5))
        stamps = sorted(draw(st.lists(odd_floats, min_size=k, max_size=k)))
        names = ["cpu.util_percent", "host.memory_used_bytes", "gpu0.power_watts"]
        telemetry = TelemetryRecord(
            interval_seconds=0.25, metrics=metric_infos(names), timestamps_s=tuple(stamps),
            values={nm: tuple(draw(st.lists(maybe_float, min_size=k, max_size=k)))
                    for nm in names})
    tags = draw(study_tags()) if draw(st.booleans()) else tuple(draw(st.lists(words, max_size=2)))
    return SnapshotRun(spec=spec, result=result, telemetry=telemetry, tags=tags)


@st.composite
def snapshots(draw: st.DrawFn) -> Snapshot:
    """A snapshot as a file may hold it: any strings and tags, odd numbers, zero runs or more."""
    base = machine(hostname=draw(words), os_release=draw(words))
    doc: dict[str, Any] = {
        "app_version": draw(words), "title": draw(words), "note": draw(words),
        "tags": tuple(draw(st.lists(words, max_size=3))), "machine": base,
        "runs": tuple(draw(st.lists(runs(), max_size=5))),
    }
    return Snapshot(**doc)


def finite(value: float | None) -> bool:
    """Whether a number is a number (not None, NaN or infinite)."""
    return value is not None and math.isfinite(value)

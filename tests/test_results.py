"""Turning a worker's raw measurements into the numbers people read."""

from __future__ import annotations

import pytest

from hwprof.core.results import StepTimings, WorkerReport, energy_between, summarize
from hwprof.core.spec import RunSpec
from hwprof.core.telemetry import TelemetryRecord, metric_infos


def report(seconds: list[float], *, samples: int = 4, flops: float | None = 1e9,
           bytes_per_sample: float | None = None) -> WorkerReport:
    starts, t = [], 100.0
    for s in seconds:
        starts.append(t)
        t += s
    return WorkerReport(batch_size=samples, samples_per_step=samples, flops_per_sample=flops,
                        bytes_per_sample=bytes_per_sample,
                        steps=StepTimings(start_s=tuple(starts), seconds=tuple(seconds)),
                        stop_reason="steps")


def test_throughput_flops_and_percent_of_peak() -> None:
    spec = RunSpec(workload="mlp", mode="infer", steps=4)
    r = summarize(spec, report([0.1, 0.1, 0.2, 0.1]), peak_flops=100e9, peak_source="test")
    assert r.ok
    # 16 samples in 0.5 s
    assert r.throughput_per_second == pytest.approx(32.0)
    assert r.achieved_flops == pytest.approx(32e9)
    assert r.percent_of_peak == pytest.approx(32.0)
    assert r.step_throughput is not None and r.step_throughput.median == pytest.approx(40.0)
    assert r.latency_s is not None and r.latency_s["p50"] == pytest.approx(0.1)
    assert r.energy_per_sample_joules is None  # no telemetry


def test_training_has_no_latency_and_bandwidth_counts_bytes() -> None:
    r = summarize(RunSpec(workload="mlp", steps=2), report([0.5, 0.5]))
    assert r.latency_s is None
    bw = summarize(RunSpec(workload="bandwidth", mode="infer", steps=2),
                   report([0.5, 0.5], samples=1000, flops=2.0, bytes_per_sample=8.0))
    assert bw.unit == "bytes"
    assert bw.throughput_per_second == pytest.approx(16000.0)  # 2 x 1000 x 8 B in 1 s


def test_no_usable_steps_is_a_failure() -> None:
    r = summarize(RunSpec(workload="mlp", steps=1), report([0.0]))
    assert not r.ok and r.reason == "no usable timed steps"


def telemetry(names: list[str], t: list[float], **series: list[float | None]) -> TelemetryRecord:
    return TelemetryRecord(interval_seconds=1.0, metrics=metric_infos(names), timestamps_s=tuple(t),
                           values={n: tuple(series[n.replace(".", "_")]) for n in names})


def test_energy_from_a_counter_is_preferred() -> None:
    rec = telemetry(["gpu0.energy_joules", "gpu0.power_watts"], [0, 1, 2, 3],
                    gpu0_energy_joules=[0, 100, 200, 300], gpu0_power_watts=[1, 1, 1, 1])
    joules, source = energy_between(rec, 0, 3, gpu_index=0)
    assert joules == pytest.approx(300.0)
    assert source is not None and "counter" in source


def test_energy_integrates_power_with_gaps() -> None:
    rec = telemetry(["cpu.package_power_watts"], [0, 1, 2, 3, 4],
                    cpu_package_power_watts=[10, 10, None, 30, 30])
    joules, source = energy_between(rec, 0, 4, gpu_index=None)
    # trapezoids over the readings that exist: (10+10)/2*1 + (10+30)/2*2 + (30+30)/2*1 = 80 J in 4 s
    assert joules == pytest.approx(80.0)
    assert source is not None and "power" in source
    assert energy_between(rec, 10, 20, gpu_index=None) == (None, None)


def test_energy_per_sample_through_summarize() -> None:
    rec = telemetry(["cpu.package_power_watts"], [99.0, 100.0, 100.5, 101.0],
                    cpu_package_power_watts=[50, 50, 50, 50])
    r = summarize(RunSpec(workload="mlp", steps=2), report([0.5, 0.5]), telemetry=rec)
    assert r.energy_joules == pytest.approx(50.0)
    assert r.energy_per_sample_joules == pytest.approx(50.0 / 8)

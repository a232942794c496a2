"""Saving and loading a large snapshot: one hour of 10 Hz telemetry for 2 GPUs, 50 runs with steps.

The telemetry has this machine's host metrics plus every metric of two NVIDIA GPUs (as the sampler
would record them), 36,000 ticks split over 50 runs of 72 s, each with 2,000 timed steps. Values are
shaped like real readings (utilization in %, watts with milliwatt resolution, byte counts, clocks in
MHz, monotonic timestamps). Goal: save and load in at most 0.5 s each, at most 10 MB gzipped.

    .venv/bin/python benchmarks/snapshot_io.py
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from hwprof.core.results import StepTimings, WorkerReport, summarize
from hwprof.core.snapshot import SnapshotRun, load_snapshot, new_snapshot, save_snapshot
from hwprof.core.spec import RunSpec
from hwprof.core.telemetry import TelemetryRecord, metric_infos
from hwprof.services.detect import detect_all

GPU_METRICS = ("util_percent", "memory_util_percent", "memory_used_bytes", "memory_total_bytes",
               "power_watts", "power_limit_watts", "energy_joules", "temperature_c",
               "sm_clock_mhz", "memory_clock_mhz", "fan_percent", "pcie_tx_bytes_per_second",
               "pcie_rx_bytes_per_second", "clock_event_reasons")
HOST_METRICS = ("cpu.util_percent", "cpu.freq_mhz", "host.load_1min", "host.load_5min",
                "host.load_15min", "host.memory_used_bytes", "host.memory_available_bytes",
                "host.memory_total_bytes", "host.swap_used_bytes", "host.swap_total_bytes",
                "cpu.core0.util_percent", "cpu.core1.util_percent", "cpu.core0.freq_mhz",
                "cpu.core1.freq_mhz", "proc.cpu_percent", "proc.rss_bytes", "proc.threads",
                "proc.processes", "proc.gpu0.memory_bytes", "proc.gpu1.memory_bytes")
RUNS, TICKS_PER_RUN, STEPS_PER_RUN, INTERVAL = 50, 720, 2000, 0.1
GOAL_SECONDS, GOAL_BYTES = 0.5, 10_000_000


def reading(rng: np.random.Generator, name: str, n: int) -> list[float | None]:
    if "bytes" in name:
        return (rng.integers(1, 80, n) * 2**28).astype(float).tolist()
    if "percent" in name:
        return np.round(rng.uniform(0, 100, n), 1).tolist()
    if "watts" in name or "joules" in name:
        return np.round(rng.uniform(50, 700, n), 3).tolist()
    if "mhz" in name or "temperature" in name or "reasons" in name or "threads" in name:
        return rng.integers(30, 2000, n).astype(float).tolist()
    return np.round(rng.uniform(0, 4, n), 2).tolist()


def make_runs() -> list[SnapshotRun]:
    rng = np.random.default_rng(0)
    names = list(HOST_METRICS) + [f"gpu{g}.{m}" for g in (0, 1) for m in GPU_METRICS]
    metrics = metric_infos(names)
    runs = []
    t = 1000.0
    for i in range(RUNS):
        ts = np.round(t + np.arange(TICKS_PER_RUN) * INTERVAL, 6).tolist()
        tel = TelemetryRecord(interval_seconds=INTERVAL, unix_offset_s=1.7e9, metrics=metrics,
                              timestamps_s=tuple(ts),
                              values={n: tuple(reading(rng, n, TICKS_PER_RUN)) for n in names})
        seconds = rng.uniform(0.02, 0.03, STEPS_PER_RUN)
        starts = t + 5 + np.concatenate([[0.0], np.cumsum(seconds)[:-1]])
        spec = RunSpec(workload="resnet50", mode="train", device=f"gpu:{i % 2}", batch_size=64,
                       steps=STEPS_PER_RUN, duration_seconds=None)
        report = WorkerReport(batch_size=64, samples_per_step=64, flops_per_sample=12.3e9,
                              steps=StepTimings(start_s=tuple(starts.tolist()),
                                                seconds=tuple(seconds.tolist())),
                              stop_reason="steps", time_to_first_step_s=8.0)
        result = summarize(spec, report, peak_flops=989e12, peak_source="estimate", telemetry=tel)
        runs.append(SnapshotRun(spec=spec, result=result, telemetry=tel))
        t += TICKS_PER_RUN * INTERVAL
    return runs


def timed(fn: object, repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()  # type: ignore[operator]
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    snap = new_snapshot(detect_all(with_tensorflow=False))
    for run in make_runs():
        snap = snap.with_run(run)
    values = sum(len(r.telemetry.values) * r.telemetry.sample_count for r in snap.runs
                 if r.telemetry)
    print(f"snapshot: {len(snap.runs)} runs, {values:,} telemetry values, "
          f"{RUNS * STEPS_PER_RUN:,} steps")
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("big.hwprof.json", "big.hwprof.json.gz"):
            path = Path(tmp) / name
            save_s = timed(lambda p=path: save_snapshot(snap, p))
            load_s = timed(lambda p=path: load_snapshot(p))
            size = path.stat().st_size
            ok = save_s <= GOAL_SECONDS and load_s <= GOAL_SECONDS
            print(f"{name:20} save {save_s:.3f} s  load {load_s:.3f} s  size {size / 1e6:6.2f} MB"
                  f"  -> time goal ({GOAL_SECONDS} s) {'met' if ok else 'MISSED'}")
            if name.endswith(".gz"):
                verdict = "met" if size <= GOAL_BYTES else "MISSED"
                print(f"gzip size goal ({GOAL_BYTES / 1e6:.0f} MB): {verdict}")
        assert load_snapshot(Path(tmp) / "big.hwprof.json.gz") == snap


if __name__ == "__main__":
    main()

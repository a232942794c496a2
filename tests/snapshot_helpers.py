"""Helpers for tests that need snapshot files without running TensorFlow."""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from pathlib import Path

from hwprof.core.devices import DetectReport
from hwprof.core.results import StepTimings, WorkerReport, summarize
from hwprof.core.snapshot import Snapshot, SnapshotRun, new_snapshot, save_snapshot
from hwprof.core.spec import RunSpec

REPO = Path(__file__).resolve().parent.parent


@functools.lru_cache(maxsize=1)
def machine() -> DetectReport:
    """This machine, detected once (without the TensorFlow probe)."""
    from hwprof.services.detect import detect_all

    return detect_all(with_tensorflow=False)


def fake_run(run_id: str | None = None, workload: str = "mlp") -> SnapshotRun:
    """A small, complete run as a worker would report it (no TensorFlow involved)."""
    spec = RunSpec(workload=workload, mode="infer", steps=3, duration_seconds=None)
    rep = WorkerReport(tensorflow_version="2.21.0", tf_device="/CPU:0", batch_size=8,
                       samples_per_step=8, flops_per_sample=1e6, time_to_first_step_s=0.5,
                       warmup_steps=1, warmup_end_s=99.0,
                       steps=StepTimings(start_s=(100.0, 100.5, 101.0), seconds=(0.5, 0.5, 0.4)),
                       stop_reason="steps", peak_memory_bytes=1_000_000, memory_source="rss")
    result = summarize(spec, rep, peak_flops=1e11, peak_source="test", wall_seconds=3.0)
    run = SnapshotRun(spec=spec, result=result)
    return run.model_copy(update={"run_id": run_id}) if run_id else run


def snapshot_with_runs(n: int) -> Snapshot:
    """A snapshot of this machine with ``n`` fake runs."""
    snap = new_snapshot(machine())
    for i in range(n):
        snap = snap.with_run(fake_run(f"run{i}"))
    return snap


def saved(path: Path, n: int) -> Path:
    """Save a snapshot with ``n`` fake runs at ``path``."""
    save_snapshot(snapshot_with_runs(n), path)
    return path


def hwprof(*args: str, env: dict[str, str] | None = None,
           timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """The CLI in a process of its own, as a user runs it."""
    return subprocess.run([sys.executable, "-m", "hwprof", *args], capture_output=True, text=True,
                          cwd=REPO, timeout=timeout, env={**os.environ, **(env or {})})

"""Runs through real worker processes: results, cancel, and every way a worker can fail."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from hwprof.core.results import RunResult, WorkerReport
from hwprof.core.spec import RunSpec
from hwprof.runner.run import WorkerRun
from hwprof.services.runs import execute_run
from hwprof.workloads.worker import FAULT_ENV

pytestmark = pytest.mark.tf
REPO = Path(__file__).resolve().parent.parent
QUICK = {"size": 64, "warmup_steps": 1}


def test_a_run_measures_and_records_telemetry() -> None:
    seen: list[str] = []
    spec = RunSpec(workload="matmul", mode="infer", steps=30, duration_seconds=None, **QUICK)
    record = execute_run(spec, on_event=lambda e: seen.append(e["event"]))
    r = record.result
    assert r.ok, r.reason
    assert r.report is not None and len(r.report.steps) == 30
    assert r.report.stop_reason == "steps"
    assert r.report.tf_device == "/CPU:0"
    assert r.achieved_flops == pytest.approx(
        2 * 64**3 * 30 / sum(r.report.steps.seconds), rel=1e-9
    )
    assert r.latency_s is not None and r.throughput_per_second and r.throughput_per_second > 0
    assert r.report.peak_memory_bytes and r.report.peak_memory_bytes > 50e6
    assert seen[0] == "started" and seen[-1] == "result" and "compiled" in seen
    assert record.telemetry is not None and record.telemetry.sample_count >= 1
    # steps sit on the telemetry's clock: the first step lies inside the recorded span
    t = record.telemetry.timestamps_s
    assert t[0] - 1 < r.report.steps.start_s[0] < t[-1] + 1


def test_a_steady_run_ends_before_its_duration() -> None:
    spec = RunSpec(workload="matmul", mode="infer", duration_seconds=60, steady_cv=0.5, **QUICK)
    r = execute_run(spec).result
    assert r.ok and r.report is not None
    assert r.report.stop_reason == "steady"
    assert sum(r.report.steps.seconds) < 10


def test_cancel_mid_run_ends_the_worker_within_3_s() -> None:
    cancel = threading.Event()
    started = threading.Event()

    def on_event(event: dict[str, object]) -> None:
        if event["event"] == "steps":
            started.set()

    spec = RunSpec(workload="matmul", mode="infer", duration_seconds=120, steady_cv=None, **QUICK)
    box: dict[str, RunResult] = {}
    thread = threading.Thread(
        target=lambda: box.update(r=execute_run(spec, on_event=on_event, cancel=cancel).result)
    )
    thread.start()
    assert started.wait(60), "no steps within 60 s"
    t0 = time.monotonic()
    cancel.set()
    thread.join(10)
    assert time.monotonic() - t0 < 3.5
    r = box["r"]
    assert r.status == "cancelled" and r.error_kind == "cancelled"
    assert r.report is not None and len(r.report.steps) > 0  # the partial result is kept
    assert r.throughput_per_second is not None


@pytest.mark.parametrize(
    ("fault", "kind", "words"),
    [
        ("abort", "crash", "crashed (SIGABRT)"),
        ("raise", "exception", "fault injected by the test suite"),
    ],
)
def test_a_failing_worker_becomes_a_failed_result(fault: str, kind: str, words: str) -> None:
    spec = RunSpec(workload="matmul", mode="infer", steps=5, duration_seconds=None, **QUICK)
    run = WorkerRun(spec, env={FAULT_ENV: fault})
    out = run.wait()
    assert isinstance(out, RunResult)
    assert out.status == "failed" and out.error_kind == kind
    assert words in (out.reason or "")
    if fault == "raise":
        assert any("RuntimeError" in line for line in out.stderr_tail)


def test_a_hung_worker_is_ended() -> None:
    spec = RunSpec(workload="matmul", mode="infer", steps=5, duration_seconds=None, **QUICK)
    t0 = time.monotonic()
    out = WorkerRun(spec, env={FAULT_ENV: "hang"}, stall_s=4).wait()
    assert isinstance(out, RunResult) and out.error_kind == "timeout"
    assert "sent nothing for 4 s" in (out.reason or "")
    assert time.monotonic() - t0 < 60


def test_real_out_of_memory_is_reported_as_such() -> None:
    # 200000^2 fp32 = 160 GB: TensorFlow's CPU allocator refuses it (ResourceExhaustedError)
    spec = RunSpec(workload="matmul", mode="infer", size=200_000, steps=1, duration_seconds=None)
    out = WorkerRun(spec).wait()
    assert isinstance(out, RunResult) and out.error_kind == "out_of_memory"
    assert (out.reason or "").startswith("out of memory: ResourceExhaustedError: OOM")
    assert "function_node" not in (out.reason or "")


def test_a_worker_report_round_trips() -> None:
    spec = RunSpec(workload="mlp", mode="infer", size=8, batch_size=4, steps=3,
                   duration_seconds=None, warmup_steps=0)
    out = WorkerRun(spec).wait()
    assert isinstance(out, WorkerReport)
    assert WorkerReport.model_validate_json(out.model_dump_json()) == out


def hwprof(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hwprof", *args], capture_output=True, text=True,
                          cwd=REPO, timeout=300)


def test_cli_json_and_exit_codes(tmp_path: Path) -> None:
    done = hwprof("run", "matmul", "--mode", "infer", "--size", "64", "--steps", "20", "--json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["spec"]["workload"] == "matmul" and doc["result"]["status"] == "ok"
    assert len(doc["result"]["report"]["steps"]["seconds"]) == 20
    assert "step" in done.stderr  # plain progress lines when not a terminal
    bad = hwprof("run", "matmul", "--batch-size", "0")
    assert bad.returncode == 2 and "--batch-size: Input should be greater than 0" in bad.stderr
    assert hwprof("run", "nope").returncode == 2
    # no machine has a thousandth GPU: refused whether this host has a driver and GPUs or not
    # (tests/test_cli_args.py checks both messages against NVML scenarios)
    gpu = hwprof("run", "mlp", "--device", "gpu:999")
    assert gpu.returncode == 2, gpu.stderr
    assert gpu.stderr.startswith("hwprof run: gpu:999: ")
    assert "no NVIDIA GPU can be used here" in gpu.stderr or "this machine has" in gpu.stderr
    listed = hwprof("run", "--list")
    assert listed.returncode == 0 and "transformer" in listed.stdout


def test_cli_table_and_save(tmp_path: Path) -> None:
    target = tmp_path / "one.hwprof.json"
    done = hwprof("run", "mlp", "--mode", "infer", "--size", "16", "--steps", "10",
                  "--save", str(target))
    assert done.returncode == 0, done.stderr
    assert "throughput" in done.stdout and "latency" in done.stdout and "p99.9" in done.stdout
    from hwprof.core.snapshot import load_snapshot

    snap = load_snapshot(target)
    assert len(snap.runs) == 1 and snap.runs[0].result.ok
    # --save without a file name: into the data folder, where `hwprof snapshots` finds it
    done = hwprof("run", "mlp", "--mode", "infer", "--size", "16", "--steps", "5", "--save")
    assert done.returncode == 0, done.stderr
    listed = json.loads(hwprof("snapshots", "--json").stdout)
    assert len(listed) == 1 and listed[0]["runs"] == 1
    assert listed[0]["path"].endswith(".hwprof") and "-mlp-" in listed[0]["path"]


def test_ctrl_c_cancels_cleanly() -> None:
    import signal

    proc = subprocess.Popen(
        [sys.executable, "-m", "hwprof", "run", "matmul", "--size", "64", "--duration", "120",
         "--no-steady-stop"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert proc.stderr is not None
    for line in proc.stderr:
        if "step" in line and "steps" in line:
            break
    proc.send_signal(signal.SIGINT)
    out, _err = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert "CANCELLED" in out and "timed" in out


def test_the_warm_up_is_bounded_by_the_duration_and_says_so() -> None:
    """A huge batch once warmed up for minutes before a 3-second measurement."""
    spec = RunSpec(workload="matmul", mode="infer", size=1024, batch_size=8, warmup_steps=200,
                   duration_seconds=0.5, steady_cv=None)
    r = execute_run(spec).result
    assert r.ok, r.reason
    rep = r.report
    assert rep is not None and 1 <= rep.warmup_steps < 200
    step = max(rep.steps.seconds)
    assert rep.warmup_steps * min(rep.steps.seconds) <= 0.5 + 2 * step  # within the budget
    (note,) = [n for n in rep.notes if n.startswith("warm-up cut to")]
    assert f"warm-up cut to {rep.warmup_steps} of 200 steps" in note and "(--duration)" in note
    # a step count alone sets no time budget: every warm-up step asked for runs
    counted = RunSpec(workload="matmul", mode="infer", size=64, warmup_steps=7, steps=3,
                      duration_seconds=None)
    rep = execute_run(counted).result.report
    assert rep is not None and rep.warmup_steps == 7 and not rep.notes


def test_a_worker_slow_to_exit_after_its_result_keeps_the_result(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """TensorFlow's teardown (a MirroredStrategy's threads, say) can outlast the wait for exit:
    the result was sent whole, so it stands, with a note; before, it was "crashed (SIGTERM)"."""
    from hwprof.core import events
    from hwprof.core.results import StepTimings
    from hwprof.runner import launch, run

    report = WorkerReport(tensorflow_version="2.21.0", tf_device="/CPU:0", batch_size=4,
                          samples_per_step=4, time_to_first_step_s=0.1, warmup_steps=0,
                          steps=StepTimings(start_s=(1.0, 1.5), seconds=(0.5, 0.5)))
    line = events.encode(events.RESULT, report=report.model_dump(mode="json"))
    program = (f"import os, sys, time; sys.stdout.write({line!r} + '\\n'); sys.stdout.flush(); "
               "os.close(1); time.sleep(60)")
    monkeypatch.setattr(launch, "child_command", lambda *a: [sys.executable, "-c", program])
    monkeypatch.setattr(run, "EXIT_WAIT_S", 0.5)
    spec = RunSpec(workload="mlp", mode="infer", size=8, batch_size=4, steps=2,
                   duration_seconds=None, warmup_steps=0)
    t0 = time.monotonic()
    out = WorkerRun(spec).wait()
    assert isinstance(out, WorkerReport), out
    assert out.steps == report.steps and "was ended" in out.notes[-1]
    assert time.monotonic() - t0 < 10

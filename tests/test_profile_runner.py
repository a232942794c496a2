"""A profile's tests in persistent suite workers: one process for many tests, and isolation kept.

Real worker processes running TensorFlow on the CPU, with the cheapest tests of the suite and
about a second of timing each: a profile of three tests runs in one process; a test that hangs,
runs out of memory or crashes its worker is that test's outcome and a new worker runs the rest;
cancel is quick; the numerics check passes in fp32 and bf16 and catches a wrong device.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from hwprof.core.devices import DetectReport
from hwprof.core.profile import NUMERICS_TOLERANCE, score_profile
from hwprof.core.suite import plan
from hwprof.services import profile as prof
from hwprof.services.profile import (
    WORKER_START_S,
    EtaClock,
    ProfileEvent,
    device_caps,
    run_profile,
)
from hwprof.workloads.worker import FAULT_ENV

tf = pytest.mark.tf


@pytest.fixture(scope="module")
def machine() -> Iterator[DetectReport]:
    from hwprof.services.detect import detect_all

    yield detect_all(with_tensorflow=False)


def worker_pids(seen: list[ProfileEvent]) -> dict[str, int]:
    """The worker pid each test ran in (from its ``started`` event)."""
    return {e.test_id: e.data["pid"] for e in seen
            if isinstance(e, prof.TestWorkerEvent) and e.data.get("event") == "started"}


@tf
def test_three_tests_run_in_one_worker_with_telemetry_and_numerics(
        machine: DetectReport) -> None:
    seen: list[ProfileEvent] = []
    only = ["matmul.fp32", "mlp.train", "transformer.latency"]
    snap = run_profile("cpu", machine=machine, only=only, timed_seconds=1.0,
                       on_event=seen.append)
    record = snap.profile
    assert record is not None
    assert [t.status for t in record.tests] == ["ok", "ok", "ok"], [t.reason for t in record.tests]
    pids = worker_pids(seen)
    assert set(pids) == set(only) and len(set(pids.values())) == 1  # one process for all three
    # only the first test paid for the worker's start (TensorFlow's import)
    starts = [t.phases.start for t in record.tests]
    assert starts[0] > 0.5 and starts[1:] == [0.0, 0.0]
    # every test has its own telemetry, on the worker's process tree
    for run in snap.runs:
        assert run.telemetry is not None and run.telemetry.sample_count >= 1
        assert run.result.report is not None and len(run.result.report.steps) > 0
    # models get a numerics check, fp32 on the CPU matches itself; matmul has none
    checks = {t.test_id: t.numerics for t in record.tests}
    assert checks["matmul.fp32"] is None
    for tid in ("mlp.train", "transformer.latency"):
        check = checks[tid]
        assert check is not None and check.passed and check.max_relative_error is not None
        assert check.max_relative_error <= NUMERICS_TOLERANCE["fp32"]
        assert next(t for t in record.tests if t.test_id == tid).phases.numerics > 0
    # a valid profile scores (against itself: 1000)
    reference = {t.test_id: t.value for t in record.tests if t.value is not None}
    overall = score_profile(record, reference).overall
    assert overall is not None and overall.value == pytest.approx(1000.0)
    split = record.overhead
    assert split is not None and split.phases.timed > 0 and 0 < split.outside_fraction < 1
    # the ETA expected the worker's start before the first test
    first = next(e for e in seen if isinstance(e, prof.TestStarted))
    assert first.eta_seconds >= WORKER_START_S
    assert isinstance(seen[-1], prof.TestFinished) and seen[-1].eta_seconds == 0.0


@tf
def test_a_hang_an_oom_and_a_crash_each_end_one_test_and_new_workers_run_the_rest(
        machine: DetectReport, monkeypatch: pytest.MonkeyPatch) -> None:
    # in the suite's order
    only = ["matmul.fp32", "bandwidth", "mlp.train", "transformer.infer", "transformer.latency"]
    faults = "hang@bandwidth;abort@mlp.train;oom_above_batch=16@transformer.infer"
    seen: list[ProfileEvent] = []
    t0 = time.monotonic()
    # a new worker's TensorFlow import may be silent for longer (start_stall_s)
    snap = run_profile("cpu", machine=machine, only=only, timed_seconds=1.0, stall_s=8.0,
                       env={FAULT_ENV: faults}, on_event=seen.append)
    assert time.monotonic() - t0 < 120
    record = snap.profile
    assert record is not None
    assert [t.test_id for t in record.tests] == only
    by_id = {t.test_id: t for t in record.tests}
    assert by_id["matmul.fp32"].status == "ok"
    hung = by_id["bandwidth"]
    assert hung.status == "failed" and "sent nothing for 8 s" in (hung.reason or "")
    crashed = by_id["mlp.train"]
    assert crashed.status == "failed" and "crashed (SIGABRT)" in (crashed.reason or "")
    oom = by_id["transformer.infer"]
    assert oom.status == "out_of_memory" and "OOM when allocating" in (oom.reason or "")
    assert by_id["transformer.latency"].status == "ok"  # the profile went on to the end
    pids = worker_pids(seen)
    # the hung worker was ended, the crashed one died, the one out of memory was replaced:
    # each of the last four tests ran in a worker of its own
    assert pids["matmul.fp32"] == pids["bandwidth"]
    assert len({pids[t] for t in only[1:]}) == 4
    assert [t.phases.start > 0 for t in record.tests] == [True, False, True, True, True]


@tf
def test_cancel_ends_the_worker_within_seconds_and_marks_the_rest_cancelled(
        machine: DetectReport) -> None:
    cancel = threading.Event()
    measuring = threading.Event()

    def on_event(event: ProfileEvent) -> None:
        if isinstance(event, prof.TestWorkerEvent) and event.data.get("event") == "steps":
            measuring.set()

    box: dict[str, object] = {}
    only = ["matmul.fp32", "mlp.train", "transformer.latency"]
    thread = threading.Thread(target=lambda: box.update(snap=run_profile(
        "cpu", machine=machine, only=only, timed_seconds=60.0, on_event=on_event,
        cancel=cancel)))
    thread.start()
    try:
        assert measuring.wait(90), "no timed steps within 90 s"
        t0 = time.monotonic()
        cancel.set()
        thread.join(15)
        assert not thread.is_alive()
        assert time.monotonic() - t0 < 5
    finally:
        cancel.set()
        thread.join(30)
    record = box["snap"].profile  # type: ignore[attr-defined]
    assert [t.status for t in record.tests] == ["cancelled"] * 3
    assert "stopped before this test" in (record.tests[1].reason or "")


@tf
def test_numerics_pass_in_bf16_and_a_wrong_device_fails_and_loses_its_score(
        machine: DetectReport) -> None:
    caps = device_caps("cpu", machine)
    mixed = plan("cpu", caps, only=["transformer.train.mixed"])[0]
    if mixed.spec is None:
        pytest.skip(f"this CPU runs no bf16 test: {mixed.skip_reason}")
    only = ["mlp.train", "transformer.latency", "transformer.train.mixed"]
    faults = "wrong_numerics@mlp.train;broken_numerics@transformer.latency"
    snap = run_profile("cpu", machine=machine, only=only, timed_seconds=1.0,
                       env={FAULT_ENV: faults})
    record = snap.profile
    assert record is not None
    wrong, unchecked, bf16 = record.tests
    # a check that cannot run leaves the measurement standing, without a check, and says why
    assert unchecked.status == "ok" and unchecked.numerics is None and unchecked.valid
    notes = snap.runs[1].result.report.notes  # type: ignore[union-attr]
    assert any("numerics check could not run" in n for n in notes)
    assert wrong.status == "ok" and wrong.numerics is not None and not wrong.numerics.passed
    assert "computes wrong answers" in wrong.numerics.detail
    assert bf16.status == "ok" and bf16.precision == "mixed_bfloat16"
    assert bf16.numerics is not None and bf16.numerics.passed, bf16.numerics
    assert 0 < (bf16.numerics.max_relative_error or 0) <= NUMERICS_TOLERANCE["mixed_bfloat16"]
    # the wrong device measured as fast as ever, yet gets no overall score
    reference = {t.test_id: t.value for t in record.tests if t.value is not None}
    scored = score_profile(record, reference)
    assert scored.overall is None and "mlp.train" in (scored.invalid_reason or "")
    assert not wrong.valid and bf16.valid


def test_the_eta_expects_a_worker_start_and_keeps_a_sane_scale(machine: DetectReport) -> None:
    planned = plan("cpu", device_caps("cpu", machine),
                   only=["matmul.fp32", "mlp.train", "transformer.infer"], timed_seconds=2.0)
    eta = EtaClock(planned)
    expected = sum(p.expected_seconds for p in planned)
    assert eta.remaining() == pytest.approx(expected + WORKER_START_S)
    # the first test took its expectation plus a slow 9 s start: the start is learnt, the scale
    # is not thrown by it
    eta.finished(0, planned[0].expected_seconds + 9.0, start_seconds=9.0)
    assert eta.scale == pytest.approx(1.0)
    assert eta.remaining() == pytest.approx(expected - planned[0].expected_seconds)
    # a test that ended its worker: the next one starts a new one (as long as the last did)
    eta.finished(1, 30.0, worker_left=False)
    assert 1.0 < eta.scale <= 3.0
    assert eta.remaining() == pytest.approx(planned[2].expected_seconds * eta.scale + 9.0)
    assert eta.remaining(running=2, running_for=1e6) == 0.0
    # one worker process per test (the old way): every test pays a start
    assert EtaClock(planned, start_every_test=True).remaining() == pytest.approx(
        expected + 3 * WORKER_START_S)


def test_a_warm_up_cut_short_still_counts_as_warm_up() -> None:
    """The warm-up ends at its last step, all of them or fewer (cut to the time budget)."""
    from hwprof.core.results import RunResult, StepTimings, WorkerReport
    from hwprof.core.snapshot import SnapshotRun
    from hwprof.core.spec import RunSpec

    clock = prof._PhaseClock()
    clock.on_event({"event": "ready"})
    clock.on_event({"event": "compiled", "time_to_first_step_s": 0.0})
    time.sleep(0.05)
    clock.on_event({"event": "warmup", "done": 1, "total": 2})  # cut after one of two
    report = WorkerReport(batch_size=1, samples_per_step=1, steps=StepTimings(start_s=(0.0,),
                                                                              seconds=(0.01,)))
    run = SnapshotRun(spec=RunSpec(workload="mlp", steps=1, duration_seconds=None),
                      result=RunResult(status="ok", report=report))
    assert clock.phases(run, wall=1.0).warmup >= 0.04

"""hwprof's own cost while a run goes: the parent waits for events instead of polling, and the
worker sends its steps in few messages (the process tree's listing: test_sampling.py).

No TensorFlow here: fake workers (a few lines of Python) stand in for the real one.
"""

from __future__ import annotations

import queue
import sys
import threading
import time
import types
from typing import Any

import pytest

from hwprof.core import events
from hwprof.core.results import RunResult
from hwprof.core.spec import RunSpec
from hwprof.runner import launch, run
from hwprof.runner.run import WorkerRun
from hwprof.workloads import worker

SPEC = RunSpec(workload="mlp", mode="infer", size=8, batch_size=4, steps=2,
               duration_seconds=None, warmup_steps=0)


def fake_worker(monkeypatch: pytest.MonkeyPatch, program: str) -> None:
    """Runs start ``python -c program`` instead of the real worker."""
    monkeypatch.setattr(launch, "child_command", lambda *a: [sys.executable, "-c", program])


STARTED_THEN_SILENT = (
    "import os, sys, time; "
    f"sys.stdout.write({events.encode(events.STARTED, pid=0, t=0.0)!r} + '\\n'); "
    "sys.stdout.flush(); time.sleep(60)"
)


class CountingQueue(queue.Queue[Any]):
    """A queue that counts how often its reader woke up."""

    gets = 0

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        CountingQueue.gets += 1
        return super().get(block, timeout)


def test_a_silent_worker_does_not_keep_the_parent_awake(monkeypatch: pytest.MonkeyPatch) -> None:
    """Before, the parent woke ten times a second to look for a cancel (about 20 times here)."""
    fake_worker(monkeypatch, STARTED_THEN_SILENT)
    counting = types.SimpleNamespace(Queue=CountingQueue, Empty=queue.Empty)
    monkeypatch.setattr(run, "queue", counting)
    CountingQueue.gets = 0
    cancel = threading.Event()
    timer = threading.Timer(2.0, cancel.set)
    timer.start()
    try:
        out = WorkerRun(SPEC, cancel=cancel).wait()
    finally:
        timer.cancel()
    assert isinstance(out, RunResult) and out.error_kind == "cancelled"
    # 2 s of silence at one look per CANCEL_POLL_S (0.5 s), the started event, the cancel
    assert CountingQueue.gets <= 8, CountingQueue.gets


def test_a_cancel_from_outside_is_seen_within_the_poll(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_worker(monkeypatch, STARTED_THEN_SILENT)
    cancel = threading.Event()
    wr = WorkerRun(SPEC, cancel=cancel)
    threading.Timer(0.5, cancel.set).start()
    out = wr.wait()
    assert isinstance(out, RunResult) and out.error_kind == "cancelled"
    # cancelled at 0.5 s, seen within CANCEL_POLL_S, the fake worker ends at SIGTERM
    assert out.wall_seconds is not None and out.wall_seconds < 0.5 + run.CANCEL_POLL_S + 2.0


def test_cancel_and_stall_need_no_polling(monkeypatch: pytest.MonkeyPatch) -> None:
    """WorkerRun.cancel() wakes the wait at once, and a stall is waited for to the moment."""
    monkeypatch.setattr(run, "CANCEL_POLL_S", 60.0)
    fake_worker(monkeypatch, STARTED_THEN_SILENT)
    wr = WorkerRun(SPEC)
    threading.Timer(0.5, wr.cancel).start()
    t0 = time.monotonic()
    out = wr.wait()
    assert isinstance(out, RunResult) and out.error_kind == "cancelled"
    assert time.monotonic() - t0 < 10

    t0 = time.monotonic()
    out = WorkerRun(SPEC, stall_s=1.0).wait()
    assert isinstance(out, RunResult) and "sent nothing for 1 s" in out.reason
    assert time.monotonic() - t0 < 10


# -- the worker's messages -------------------------------------------------------------------------
class FakeChannel:
    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def send(self, event: str, **data: Any) -> None:
        self.sent.append((event, data))


class FakeResult:
    def numpy(self) -> float:
        return 1.0


class FakeBuilt:
    samples_per_step = 4

    def step(self) -> FakeResult:
        time.sleep(0.01)
        return FakeResult()


def test_the_timed_loop_sends_every_step_in_few_messages() -> None:
    """Each message wakes two threads of the parent; before, four went a second (seven here)."""
    spec = RunSpec(workload="matmul", mode="infer", duration_seconds=1.6, steady_cv=None)
    chan = FakeChannel()
    starts, seconds, reason, loss = worker.timed_loop(spec, FakeBuilt(), chan)  # type: ignore[arg-type]
    assert reason == "duration" and loss == 1.0
    batches = [data for event, data in chan.sent if event == events.STEPS]
    assert 3 <= len(batches) <= 5
    assert [s for b in batches for s in b["seconds"]] == seconds
    assert [s for b in batches for s in b["start_s"]] == starts
    assert all(s >= 0.009 for s in seconds)  # each step timed to its end

"""Profiles without TensorFlow, for the tests of the profile session and pages.

:class:`FakeProfile` has ``run_profile``'s signature and sends its typed events (planned, each
test started, the worker's events with timed steps, finished) in the caller's thread, then returns
a snapshot of kind profile, as the real one does; :func:`profile_snapshot` makes such a snapshot
directly (for the Profiles page).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any

from hwprof.core.devices import DetectReport
from hwprof.core.profile import NumericsCheck, OverheadSplit, PhaseTimes, ProfileRecord
from hwprof.core.profile import TestOutcome as Outcome
from hwprof.core.snapshot import Snapshot, new_snapshot
from hwprof.core.suite import SUITE_VERSION, plan
from hwprof.services import profile as sp

# what each test measures in the fakes: unit, value, 95% low and high
VALUES: dict[str, tuple[str, float, float, float]] = {
    "matmul.fp32": ("GFLOP/s", 120.0, 110.0, 130.0),
    "bandwidth": ("GB/s", 9.0, 8.5, 9.5),
    "mlp.train": ("samples/s", 25000.0, 24000.0, 26000.0),
    "transformer.infer": ("samples/s", 800.0, 760.0, 840.0),
    "transformer.latency": ("ms", 12.0, 11.5, 12.6),
}


def outcome(test_id: str, status: str = "ok", *, scale: float = 1.0, reason: str | None = None,
            numerics: NumericsCheck | None = None) -> Outcome:
    """A test's outcome: the fakes' value times ``scale``, or a failure with its reason."""
    if status != "ok":
        return Outcome(test_id=test_id, status=status, reason=reason)  # type: ignore[arg-type]
    unit, value, low, high = VALUES[test_id]
    return Outcome(test_id=test_id, status="ok", unit=unit, value=value * scale,
                   low=low * scale, high=high * scale, windows=6, precision="fp32",
                   percent_of_ceiling=31.0 if test_id == "matmul.fp32" else None,
                   ceiling_source="CPU fp32 peak estimate" if test_id == "matmul.fp32" else None,
                   numerics=numerics, phases=PhaseTimes(timed=1.0))


def profile_snapshot(machine: DetectReport, outcomes: list[Outcome], *, device: str = "cpu",
                     label: str = "Test CPU", title: str | None = None,
                     created_at: str | None = None) -> Snapshot:
    """A profile snapshot holding these outcomes (no runs: the pages do not need them)."""
    record = ProfileRecord(suite=SUITE_VERSION, length="quick", device=device,
                           device_label=label, partial=True, started_at="",
                           tests=tuple(outcomes),
                           overhead=OverheadSplit(wall_seconds=42.0, phases=PhaseTimes()))
    snap = new_snapshot(machine, title=f"Profile of {label}" if title is None else title,
                        tags=(sp.PROFILE_TAG,))
    update: dict[str, Any] = {"kind": "profile", "profile": record}
    if created_at is not None:
        update["created_at"] = created_at
    return snap.model_copy(update=update)


class FakeProfile:
    """A profile function with ``run_profile``'s signature and no TensorFlow.

    ``fail``: test id -> (status, reason) for tests that fail; ``hold``: the first test measures
    until it is set (or the profile is cancelled). ``label`` overrides the device's name.
    """

    def __init__(self, fail: Mapping[str, tuple[str, str]] | None = None,
                 hold: threading.Event | None = None, label: str | None = None) -> None:
        self.fail = dict(fail or {})
        self.hold = hold
        self.label = label
        self.calls: list[dict[str, Any]] = []

    def __call__(self, device: str, *, machine: DetectReport, length: Any = "quick",
                 intra_op_threads: int | None = None, inter_op_threads: int | None = None,
                 only: Any = None, timed_seconds: float | None = None, on_event: Any = None,
                 cancel: threading.Event | None = None, sampler: Any = None,
                 env: Any = None, deploy: bool = False) -> Snapshot:
        self.calls.append({"device": device, "only": only, "timed_seconds": timed_seconds,
                           "length": length, **({"deploy": True} if deploy else {})})
        cancel = cancel or threading.Event()
        emit = on_event or (lambda _e: None)
        label = self.label or sp.device_label(machine, device)
        planned = plan(device, sp.device_caps(device, machine), length, only=only,
                       timed_seconds=timed_seconds, deploy=deploy)
        emit(sp.ProfilePlanned(device, label, tuple(
            sp.PlannedState(p.test.test_id, p.test.title, "waiting" if p.spec else "skipped",
                            p.skip_reason, p.expected_seconds) for p in planned), 3.0))
        outcomes: list[Outcome] = []
        for i, p in enumerate(planned):
            tid = p.test.test_id
            if p.spec is None:
                outcomes.append(Outcome(test_id=tid, status="skipped", reason=p.skip_reason))
                continue
            if cancel.is_set():
                outcomes.append(Outcome(test_id=tid, status="cancelled",
                                        reason="the profile was stopped before this test"))
                continue
            emit(sp.TestStarted(i, len(planned), tid, p.test.title, 2.0))
            for data in ({"event": "ready", "tensorflow_version": "2.99", "tf_device": "/CPU:0"},
                         {"event": "compiled", "time_to_first_step_s": 0.1,
                          "samples_per_step": 4, "bytes_per_sample": 1.0},
                         {"event": "warmup", "done": 1, "total": 1}):
                emit(sp.TestWorkerEvent(i, tid, data))
            k = 0
            while not cancel.is_set() and (k < 3 or (i == 0 and self.hold is not None
                                                      and not self.hold.is_set())):
                now = time.monotonic()
                emit(sp.TestWorkerEvent(i, tid, {"event": "steps", "start_s": [now - 0.01],
                                                  "seconds": [0.01 * (1 + k % 2)]}))
                k += 1
                cancel.wait(0.02)
            if cancel.is_set():
                result = Outcome(test_id=tid, status="cancelled", reason="stopped by you")
            elif tid in self.fail:
                status, reason = self.fail[tid]
                result = outcome(tid, status, reason=reason)
            else:
                result = outcome(tid)
            outcomes.append(result)
            emit(sp.TestFinished(i, len(planned), result, 1.0))
        return profile_snapshot(machine, outcomes, device=device, label=label)

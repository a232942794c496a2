"""The session model without Qt: typed events, the queue, results, snapshots, detection, progress.

These tests drive :class:`hwprof.services.session.Session` with its synchronous executor and a
fake run function (a worker's events, then a result), so they need neither Qt nor TensorFlow.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from gui_helpers import quick_functions

from hwprof.core import events
from hwprof.core.progress import RunProgress, fmt_throughput
from hwprof.core.results import RunResult
from hwprof.core.session import (
    CeilingsUpdated,
    DetectionFinished,
    DetectionProgressed,
    QueueChanged,
    ResultsChanged,
    RunFinished,
    RunProgressed,
    SessionEvent,
)
from hwprof.core.snapshot import SnapshotRun, load_snapshot, new_snapshot, save_snapshot
from hwprof.core.spec import RunSpec
from hwprof.core.stats import histogram_edges
from hwprof.core.units import fmt_si
from hwprof.services.session import SaveConflict, Session, SessionError

REPO = Path(__file__).resolve().parent.parent


def spec(workload: str = "mlp", **kw: Any) -> RunSpec:
    return RunSpec(workload=workload, mode="infer", size=16, duration_seconds=1.0, **kw)


class FakeRuns:
    """A run function with ``execute_run``'s signature: a worker's events, then a result."""

    def __init__(self, steps: int = 3, on_step: Callable[[int], None] | None = None) -> None:
        self.steps = steps
        self.on_step = on_step
        self.ran: list[RunSpec] = []

    def __call__(self, s: RunSpec, *, on_event: Callable[[dict[str, Any]], None],
                 cancel: threading.Event, sampler: object = None,
                 env: object = None) -> SnapshotRun:
        self.ran.append(s)
        on_event({"event": "started", "pid": 1, "t": 0.0})
        on_event({"event": "ready", "tensorflow_version": "2.99", "tf_device": "/CPU:0"})
        on_event({"event": "compiled", "time_to_first_step_s": 0.2, "samples_per_step": 4,
                  "bytes_per_sample": 1e6})
        on_event({"event": "warmup", "done": s.warmup_steps, "total": s.warmup_steps})
        for k in range(self.steps):
            if cancel.is_set():
                break
            on_event({"event": "steps", "start_s": [float(k)], "seconds": [0.5]})
            if self.on_step is not None:
                self.on_step(k)
        if cancel.is_set():
            return SnapshotRun(spec=s, result=RunResult(status="cancelled", reason="cancelled",
                                                        error_kind="cancelled"))
        flops = 2e10 if s.workload == "matmul" else None
        unit = "bytes" if s.workload == "bandwidth" else "samples"
        return SnapshotRun(spec=s, result=RunResult(status="ok", throughput_per_second=8e9,
                                                    unit=unit, achieved_flops=flops))


def recorder(session: Session) -> list[SessionEvent]:
    seen: list[SessionEvent] = []
    session.subscribe(seen.append)
    return seen


@pytest.fixture
def session() -> Any:
    s = Session(run_function=FakeRuns(), detect_functions=quick_functions())
    yield s
    s.close()


def test_the_model_imports_no_qt() -> None:
    code = ("import sys, hwprof.services.session, hwprof.core.session; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'shiboken6', "
            "'pyqtgraph') or m.startswith('hwprof.gui')]; print(bad); sys.exit(1 if bad else 0)")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_runs_publish_typed_events_in_order(session: Session) -> None:
    seen = recorder(session)
    items = session.enqueue([spec(), spec("matmul")])
    assert [i.id for i in items] == [1, 2]
    kinds = [type(e).__name__ for e in seen if not isinstance(e, RunProgressed | QueueChanged)]
    assert kinds == ["RunStarted", "ResultsChanged", "RunFinished"] * 2
    progressed = [e for e in seen if isinstance(e, RunProgressed)]
    assert {type(e.event) for e in progressed} >= {events.Started, events.Ready, events.Compiled,
                                                   events.Steps}
    marks = [e.delta.mark for e in progressed if e.delta.mark]
    assert marks[0] == "warm-up done"
    finished = [e for e in seen if isinstance(e, RunFinished)]
    assert [e.entry.key for e in finished if e.entry] == [1, 2]
    assert [e.run.spec.workload for e in session.results] == ["mlp", "matmul"]
    assert not session.busy and not session.pending


def test_remove_a_waiting_run_and_skip_the_current_one(session: Session) -> None:
    runs = FakeRuns(steps=3)
    s = Session(run_function=runs)
    removed: list[bool] = []

    def on_step(k: int) -> None:
        if k == 0 and len(runs.ran) == 1:
            # while the first run goes: the second waiting run is taken off, then the first ends
            removed.append(s.remove_pending(3))
            assert s.skip_current()

    runs.on_step = on_step
    s.enqueue([spec(), spec("matmul"), spec("conv", batch_size=2)])
    assert removed == [True]
    assert [r.workload for r in runs.ran] == ["mlp", "matmul"]  # the queue went on
    statuses = [e.run.result.status for e in s.results]
    assert statuses == ["cancelled", "ok"]
    s.close()


def test_stop_all_empties_the_queue() -> None:
    runs = FakeRuns(steps=3)
    s = Session(run_function=runs)
    runs.on_step = lambda k: s.stop_all() if k == 1 else None
    s.enqueue([spec(), spec("matmul"), spec("conv")])
    assert [r.workload for r in runs.ran] == ["mlp"] and not s.pending
    assert s.results[0].run.result.status == "cancelled"
    s.close()


def test_ceiling_runs_are_not_the_persons_runs(session: Session) -> None:
    seen = recorder(session)
    session.measure_ceilings("cpu", 0.5)
    updates = [e for e in seen if isinstance(e, CeilingsUpdated)]
    assert updates[0].measuring and updates[0].planned == 3
    assert updates[-1].ceilings is not None and updates[-1].ceilings.peak_flops == 2e10
    assert not session.results and not session.session_runs()
    assert not any(isinstance(e, ResultsChanged) for e in seen)


def test_the_sessions_own_autosave_cannot_be_opened(session: Session, tmp_path: Path) -> None:
    session.detect()
    session.enqueue([spec()])
    session.flush()
    assert session.autosave_path is not None
    with pytest.raises(SessionError, match="own autosave"):
        session.open_snapshot(session.autosave_path)
    # another file opens; opening it again replaces its runs instead of adding them twice
    other = tmp_path / "other.hwprof.json"
    snap = session.snapshot
    assert snap is not None
    save_snapshot(snap, other)
    session.open_snapshot(other)
    session.open_snapshot(other)
    assert [e.source for e in session.results] == ["this session", "other.hwprof.json"]


def test_save_as_never_replaces_a_file_unasked(session: Session, tmp_path: Path) -> None:
    session.detect()
    session.enqueue([spec()])
    opened = tmp_path / "input.hwprof.json"
    snap = session.snapshot
    assert snap is not None
    save_snapshot(new_snapshot(snap.machine), opened)
    session.open_snapshot(opened)
    with pytest.raises(SaveConflict) as conflict:
        session.save_as(opened)
    assert conflict.value.kind == "input" and "open in this session" in str(conflict.value)
    assert load_snapshot(opened).runs == ()  # untouched
    existing = tmp_path / "exists.hwprof.json"
    existing.write_text("keep me")
    with pytest.raises(SaveConflict) as conflict:
        session.save_as(existing)
    assert conflict.value.kind == "exists" and existing.read_text() == "keep me"
    session.save_as(existing, replace_existing=True)
    assert len(load_snapshot(existing).runs) == 1
    session.save_as(opened, replace_input=True)
    assert len(load_snapshot(opened).runs) == 1


def test_detection_reports_each_part_as_it_arrives(session: Session) -> None:
    seen = recorder(session)
    assert session.detect()
    steps = [e.report for e in seen if isinstance(e, DetectionProgressed)]
    assert steps[0].host is None  # "Detecting host and NVIDIA GPUs…"
    assert steps[1].host is not None and steps[1].cpus is None
    assert steps[2].cpus is not None and steps[2].tensorflow is None
    done = [e for e in seen if isinstance(e, DetectionFinished)]
    assert len(done) == 1 and done[0].report.complete and session.machine.complete
    assert session.device_label("gpu:7") == "gpu:7"


def test_run_progress_accumulates_the_workers_events() -> None:
    s = RunSpec(workload="bandwidth", mode="infer", duration_seconds=4.0, warmup_steps=0)
    p = RunProgress(s)
    assert p.phase == "starting" and p.fraction is None
    p.update(events.Ready("2.99", "/CPU:0"))
    delta = p.update(events.Compiled(0.1, 2.0, None, 1e6))
    assert delta.mark == "timed" and p.units_per_step == 2e6
    delta = p.update(events.Steps((0.0, 0.5), (0.5, 0.5)))
    assert delta.points[0].per_second == pytest.approx(4e6) and p.rate == pytest.approx(4e6)
    assert p.fraction == pytest.approx(0.25)
    assert "4 MB/s" in p.status() and fmt_throughput(9.1e9, s) == "9.1 GB/s"
    assert events.parse({"event": "steps", "start_s": [1], "seconds": "x"}) is None  # malformed
    assert events.parse({"event": "nonsense"}) is None


def test_numbers_take_si_prefixes_never_exponents() -> None:
    assert fmt_si(9e9, "B/s") == "9 GB/s"
    assert fmt_si(2.6e9, "Hz") == "2.6 GHz"
    assert fmt_si(42310, "img/s") == "42.3k img/s"
    assert fmt_si(999.96, "W") == "1 kW"
    assert fmt_si(0.0042, "J") == "4.2 mJ"
    assert fmt_si(None) == "n/a" and fmt_si(float("nan"), "W") == "n/a"
    assert "e+" not in fmt_si(1.23e17, "FLOP/s")


def test_histogram_bins_show_the_body_of_the_steps() -> None:
    rng = np.random.default_rng(1)
    steps = np.concatenate([rng.normal(0.010, 0.0005, 500), [0.5, 0.6]])  # two stalls
    edges, beyond = histogram_edges(steps)
    assert 8 <= len(edges) - 1 <= 50
    assert beyond == 2 and edges[-1] < 0.02  # the stalls do not squeeze the body into one bar

"""Profiling a device: the suite (:mod:`hwprof.core.suite`) run test by test into a profile.

:func:`run_profile` plans the suite for a device, runs its tests one after another in a persistent
worker process (:mod:`hwprof.runner.suite`: TensorFlow's start-up is paid once; a crash, a hang or
an out-of-memory error in one test is that test's outcome, its worker is replaced and the profile
goes on), measures each (:func:`hwprof.core.profile.measure`), checks each model's numbers against
the CPU's fp32 result, and returns a snapshot of kind ``profile`` holding every run with its steps
and telemetry. Progress goes to ``on_event`` as typed events, the same for the
command line and the window. Scores come from :func:`score` against the reference profile shipped
in ``resources/reference/``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from hwprof.core.devices import DetectReport
from hwprof.core.paths import profiles_dir, resources_dir
from hwprof.core.profile import (
    DeploySection,
    NumericsCheck,
    OverheadSplit,
    PhaseTimes,
    ProfileRecord,
    ProfileScore,
    TestOutcome,
    measure,
    score_profile,
)
from hwprof.core.snapshot import Snapshot, SnapshotRun, new_snapshot, utc_now
from hwprof.core.spec import RunSpec
from hwprof.core.suite import SUITE_VERSION, DeviceCaps, Length, PlannedTest, plan
from hwprof.runner.run import DEFAULT_STALL_SECONDS, EventCallback
from hwprof.runner.suite import SuiteRunner
from hwprof.sampling.recorder import TelemetryRecorder
from hwprof.sampling.sampler import Sampler
from hwprof.services.detect import device_label
from hwprof.services.runs import device_peak, execute_run, finish, pin_gpu, watching
from hwprof.services.snapshots import new_snapshot_path
from hwprof.services.studies import adopt_profile_ceilings

TestState = Literal["waiting", "running", "done", "failed", "skipped", "cancelled"]
PROFILE_TAG = "profile"


# -- events ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PlannedState:
    """A test as a progress list shows it."""

    test_id: str
    title: str
    state: TestState
    reason: str | None = None
    expected_seconds: float = 0.0


@dataclass(frozen=True)
class ProfilePlanned:
    """The profile's tests, before the first starts."""

    device: str
    device_label: str
    tests: tuple[PlannedState, ...]
    eta_seconds: float


@dataclass(frozen=True)
class TestStarted:
    """A test began (its worker is starting or already warm)."""

    index: int
    total: int
    test_id: str
    title: str
    eta_seconds: float


@dataclass(frozen=True)
class TestWorkerEvent:
    """A worker event of the running test (steps, warm-up), for a live chart."""

    index: int
    test_id: str
    data: dict[str, Any]


@dataclass(frozen=True)
class TestFinished:
    """A test ended: done, failed (with the reason), out of memory, cancelled."""

    index: int
    total: int
    outcome: TestOutcome
    eta_seconds: float


ProfileEvent = ProfilePlanned | TestStarted | TestWorkerEvent | TestFinished
ProfileCallback = Callable[[ProfileEvent], None]


# -- planning --------------------------------------------------------------------------------------
def device_caps(device: str, machine: DetectReport | None) -> DeviceCaps:
    """What the suite needs of ``device`` from detection."""
    if device == "cpu":
        flags: set[str] = set()
        for cpu in machine.cpus if machine else ():
            flags |= set(cpu.flags)
        return DeviceCaps("cpu", cpu_flags=frozenset(flags))
    index = int(device.split(":")[1])
    gpu = next((g for g in (machine.gpus if machine else ()) if g.index == index), None)
    return DeviceCaps("gpu", compute_capability=gpu.compute_capability if gpu else None)


# A new worker's start-up here (2-core Xeon): Python, hwprof and TensorFlow imported, the device set
WORKER_START_S = 4.0
# How many seconds of expectation the ETA's scale starts from: one fast or slow test moves it a
# little, a dozen move it most of the way
ETA_PRIOR_SECONDS = 10.0
ETA_SCALE_RANGE = (0.5, 3.0)


class EtaClock:
    """The time left: the planned tests' expected seconds, scaled by how the finished ones went.

    A worker's start-up is expected apart (about :data:`WORKER_START_S`, then as measured), once
    for the first test and again after a test that ended its worker; the scale compares the
    finished tests' own time (start-up excluded) with what was expected of them, shrunk towards
    1 while few tests have finished.
    """

    def __init__(self, planned: Sequence[PlannedTest], worker_start_s: float = WORKER_START_S,
                 start_every_test: bool = False) -> None:
        self.expected = [p.expected_seconds for p in planned]
        self.actual: dict[int, float] = {}
        self.worker_start_s = worker_start_s
        self.start_pending = True  # the next test starts a worker
        self.start_every_test = start_every_test  # one worker process per test

    def finished(self, index: int, seconds: float, start_seconds: float = 0.0,
                 worker_left: bool = True) -> None:
        """Test ``index`` took ``seconds``, ``start_seconds`` of them starting its worker.

        ``worker_left``: its worker runs the next test (else the next starts one).
        """
        self.actual[index] = max(0.0, seconds - start_seconds)
        if start_seconds > 0:
            self.worker_start_s = start_seconds
        if self.expected[index] > 0:  # a skipped test starts nothing
            self.start_pending = not worker_left

    @property
    def scale(self) -> float:
        """How much longer (>1) or shorter the finished tests took than expected."""
        done = [i for i in self.actual if self.expected[i] > 0]
        expected = sum(self.expected[i] for i in done) + ETA_PRIOR_SECONDS
        actual = sum(self.actual[i] for i in done) + ETA_PRIOR_SECONDS
        low, high = ETA_SCALE_RANGE
        return min(max(actual / expected, low), high)

    def remaining(self, running: int | None = None, running_for: float = 0.0) -> float:
        """Seconds left, with test ``running`` under way for ``running_for`` seconds."""
        scale = self.scale
        left = 0.0
        start = self.worker_start_s if self.start_pending else 0.0
        for i, e in enumerate(self.expected):
            if i in self.actual or e <= 0:
                continue
            if i == running:
                left += max(0.0, e * scale + start - running_for)
            else:
                left += e * scale + start
            start = self.worker_start_s if self.start_every_test else 0.0
        return left


# -- one test --------------------------------------------------------------------------------------
@dataclass
class _PhaseClock:
    """When the worker's events arrived: the phases of one test."""

    t0: float = field(default_factory=time.monotonic)
    ready: float | None = None
    compiled: float | None = None
    first_step: float = 0.0
    warmup_end: float | None = None
    numerics: float = 0.0

    def on_event(self, data: dict[str, Any]) -> None:
        now = time.monotonic()
        kind = data.get("event")
        if kind == "ready":
            self.ready = now
        elif kind == "compiled":
            self.compiled = now
            self.first_step = float(data.get("time_to_first_step_s") or 0.0)
        elif kind == "warmup":  # the last one ends it, whether all ran or it was cut short
            self.warmup_end = now
        elif kind == "numerics" and isinstance(data.get("seconds"), int | float):
            self.numerics = max(0.0, float(data["seconds"]))

    def phases(self, run: SnapshotRun, wall: float, new_worker: bool = True) -> PhaseTimes:
        """The split of ``wall``; ``new_worker``: the test started its worker (else no start)."""
        rep = run.result.report
        timed = float(sum(rep.steps.seconds)) if rep is not None else 0.0
        start = (self.ready - self.t0) if self.ready is not None and new_worker else 0.0
        build = 0.0
        if self.ready is not None and self.compiled is not None:
            build = max(0.0, self.compiled - self.ready - self.first_step)
        warmup = 0.0
        if self.compiled is not None and self.warmup_end is not None:
            warmup = max(0.0, self.warmup_end - self.compiled)
        known = start + build + self.first_step + warmup + timed + self.numerics
        return PhaseTimes(start=start, build=build, first_step=self.first_step, warmup=warmup,
                          timed=timed, numerics=self.numerics, other=max(0.0, wall - known))


def numerics_of(check: dict[str, Any] | None) -> NumericsCheck | None:
    """The worker's numerics check, validated (None when there was none or it is malformed)."""
    if check is None:
        return None
    try:
        return NumericsCheck.model_validate(check)
    except ValidationError:
        return None


def outcome_of(planned: PlannedTest, run: SnapshotRun | None, phases: PhaseTimes,
               numerics: NumericsCheck | None = None) -> TestOutcome:
    """A test's outcome from its run (None: skipped) and its numerics check."""
    test = planned.test
    if planned.spec is None or run is None:
        return TestOutcome(test_id=test.test_id, status="skipped", reason=planned.skip_reason)
    result = run.result
    base: dict[str, Any] = {"test_id": test.test_id, "run_id": run.run_id,
                            "precision": planned.spec.precision, "phases": phases}
    if result.status == "cancelled":
        return TestOutcome(status="cancelled", reason=result.reason, **base)
    if not result.ok:
        status = "out_of_memory" if result.error_kind == "out_of_memory" else "failed"
        return TestOutcome(status=status, reason=result.reason, **base)
    m = measure(test, result)
    if m is None:
        return TestOutcome(status="failed", reason="no usable timed steps", **base)
    percent, source = None, None
    if result.percent_of_peak is not None and result.percent_of_peak <= 100.0:
        percent, source = result.percent_of_peak, result.peak_source
    tflite = result.report.tflite if result.report is not None else None
    if tflite is not None:  # a deployment test: its accuracy and model size, measured by the run
        base.update(accuracy=tflite.accuracy, model_bytes=tflite.model_bytes)
    return TestOutcome(status="ok", unit=m.unit, value=m.value, low=m.low, high=m.high,
                       windows=m.windows, latency_ms=m.latency_ms, percent_of_ceiling=percent,
                       ceiling_source=source, numerics=numerics, **base)


# -- the profile -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class _TestRun:
    """One test as run: its snapshot run, whether it started a worker, whether one is left."""

    run: SnapshotRun
    new_worker: bool = True
    worker_left: bool = False
    numerics: NumericsCheck | None = None


def _suite_test(runner: SuiteRunner, planned: PlannedTest, live: Sampler,
                peak: tuple[float | None, str], on_event: EventCallback) -> _TestRun:
    """One test in the runner's worker, with its telemetry (the worker's process tree)."""
    spec = planned.spec
    assert spec is not None
    t0 = time.monotonic()
    with TelemetryRecorder(live) as recorder:
        with watching(live, runner.prepare(spec)):
            # a TFLite test's accuracy against TensorFlow fp32 is its run's own (TfliteInfo)
            numerics = planned.test.is_model and not planned.test.deployment
            test = runner.run(spec, planned.test.test_id, numerics=numerics,
                              on_event=on_event)
        telemetry = recorder.record()
    result = finish(spec, test.outcome, peak[0], peak[1], telemetry, time.monotonic() - t0)
    return _TestRun(SnapshotRun(spec=spec, result=result, telemetry=telemetry),
                    test.new_worker, not test.worker_ended, numerics_of(test.numerics))


def run_profile(
    device: str,
    *,
    machine: DetectReport,
    length: Length = "quick",
    intra_op_threads: int | None = None,
    inter_op_threads: int | None = None,
    only: Sequence[str] | None = None,
    timed_seconds: float | None = None,
    on_event: ProfileCallback | None = None,
    cancel: threading.Event | None = None,
    sampler: Sampler | None = None,
    env: Mapping[str, str] | None = None,
    stall_s: float = DEFAULT_STALL_SECONDS,
    one_process_per_test: bool = False,
    deploy: bool = False,
) -> Snapshot:
    """Profile ``device``: every planned test in turn; a snapshot of kind ``profile``.

    The tests run in one worker process (:class:`~hwprof.runner.suite.SuiteRunner`). A failed
    test (a crash, out of memory, a hang: no event for ``stall_s``) is recorded with its reason,
    its worker is replaced and the profile goes on; ``cancel`` ends the running test and skips
    the rest (the snapshot then holds what was done, each remaining test marked cancelled).
    Never raises for a failed test. ``one_process_per_test``: the old way, a fresh worker per
    test and no numerics check (kept to measure what the persistent worker saves).
    ``deploy``: the deployment section too (TFLite on the CPU; on another device each of its
    tests is skipped with the reason); a deployment test named in ``only`` runs without it.
    """
    cancel = cancel or threading.Event()
    label = device_label(machine, device)
    planned = plan(device, device_caps(device, machine), length,
                   intra_op_threads=intra_op_threads, inter_op_threads=inter_op_threads,
                   only=only, timed_seconds=timed_seconds, deploy=deploy)
    # each test's worker is pinned by the GPU's vendor (an AMD GPU by HIP's numbering)
    planned = [dataclasses.replace(p, spec=pin_gpu(p.spec, machine.gpus)) if p.spec else p
               for p in planned]
    emit = on_event or (lambda _e: None)
    eta = EtaClock(planned, start_every_test=one_process_per_test)
    emit(ProfilePlanned(device, label, tuple(
        PlannedState(p.test.test_id, p.test.title, "waiting" if p.spec else "skipped",
                     p.skip_reason, p.expected_seconds) for p in planned), eta.remaining()))
    started_at = utc_now()
    t_begin = time.monotonic()
    own_sampler = sampler is None
    live = sampler if sampler is not None else Sampler(0.25).start()
    outcomes: list[TestOutcome] = []
    runs: list[SnapshotRun] = []
    total = len(planned)
    peaks: dict[str, tuple[float | None, str]] = {}
    try:
        with contextlib.closing(SuiteRunner(env=env, stall_s=stall_s, cancel=cancel)) as runner:
            for i, p in enumerate(planned):
                if p.spec is None:
                    outcomes.append(outcome_of(p, None, PhaseTimes()))
                    eta.finished(i, 0.0)
                    continue
                if cancel.is_set():
                    outcomes.append(TestOutcome(test_id=p.test.test_id, status="cancelled",
                                                reason="the profile was stopped before this test"))
                    continue
                emit(TestStarted(i, total, p.test.test_id, p.test.title, eta.remaining(i)))
                clock = _PhaseClock()

                def forward(data: dict[str, Any], index: int = i, tid: str = p.test.test_id,
                            c: _PhaseClock = clock) -> None:
                    c.on_event(data)
                    emit(TestWorkerEvent(index, tid, data))

                if one_process_per_test:
                    test = _TestRun(execute_run(p.spec, on_event=forward, cancel=cancel,
                                                sampler=live, env=env, stall_s=stall_s))
                else:
                    if p.spec.precision not in peaks:
                        peaks[p.spec.precision] = machine_peak(p.spec, machine)
                    test = _suite_test(runner, p, live, peaks[p.spec.precision], forward)
                run = test.run.model_copy(update={"tags": (PROFILE_TAG, p.test.test_id)})
                wall = time.monotonic() - clock.t0
                phases = clock.phases(run, wall, test.new_worker)
                outcome = outcome_of(p, run, phases, test.numerics)
                runs.append(run)
                outcomes.append(outcome)
                eta.finished(i, wall, phases.start, test.worker_left)
                emit(TestFinished(i, total, outcome, eta.remaining()))
    finally:
        if own_sampler:
            live.stop()
    wall_total = time.monotonic() - t_begin
    phases = sum_phases([o.phases for o in outcomes])
    settings = {}
    if intra_op_threads is not None:
        settings["intra-op threads"] = str(intra_op_threads)
    if inter_op_threads is not None:
        settings["inter-op threads"] = str(inter_op_threads)
    ref = load_reference()
    deploy_ids = {p.test.test_id for p in planned if p.test.deployment}
    section = None
    if deploy_ids:
        section = DeploySection(tests=tuple(o for o in outcomes if o.test_id in deploy_ids))
    record = ProfileRecord(
        suite=SUITE_VERSION, length=length, device=device, device_label=label,
        settings=settings, partial=bool(only), started_at=started_at,
        tests=tuple(o for o in outcomes if o.test_id not in deploy_ids),
        overhead=OverheadSplit(wall_seconds=wall_total, phases=phases),
        reference=ref.name if ref else None, deployment=section,
    )
    # the ceilings it measured go into the ceilings cache; % of peak is against them from now on
    adopted = adopt_profile_ceilings(record, runs)
    record, runs = adopted.record, list(adopted.runs)
    snap = new_snapshot(machine, title=f"Profile of {label}", tags=(PROFILE_TAG,))
    return snap.model_copy(update={"kind": "profile", "profile": record, "runs": tuple(runs)})


def machine_peak(spec: RunSpec, machine: DetectReport) -> tuple[float | None, str]:
    """The peak estimate for ``spec``'s device and precision, from detection."""
    return device_peak(spec, cpu=machine.cpus[0] if machine.cpus else None, gpus=machine.gpus)


def sum_phases(phases: Sequence[PhaseTimes]) -> PhaseTimes:
    """The phases of many tests, added up."""
    names = ("start", "build", "first_step", "warmup", "timed", "numerics", "other")
    return PhaseTimes(**{n: sum(getattr(p, n) for p in phases) for n in names})


def default_profile_path(device: str) -> Path:
    """A new file in the profiles folder: ``HOST-profile-cpu-YYYYmmdd-HHMMSS.hwprof``."""
    return new_snapshot_path(f"profile-{device.replace(':', '')}", profiles_dir())


# -- the reference and scores ----------------------------------------------------------------------
REFERENCE_FILE = "reference/hwprof-suite-1.json"


@dataclass(frozen=True)
class Reference:
    """The profile every score is relative to (1000 = this machine)."""

    name: str
    suite: str
    machine: str  # in words: CPU model, cores, TensorFlow version
    values: dict[str, float]


def load_reference(path: Path | None = None) -> Reference | None:
    """The shipped reference (None when the file is missing or unreadable)."""
    p = path or (resources_dir() / REFERENCE_FILE)
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
        values = {str(k): float(v) for k, v in doc["values"].items()}
        if any(not (v > 0 and v < float("inf")) for v in values.values()):
            return None
        return Reference(str(doc["name"]), str(doc["suite"]), str(doc["machine"]), values)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def score(snapshot: Snapshot, reference: Reference | None = None) -> ProfileScore | None:
    """A profile snapshot's scores against the reference (None: no profile, or no reference)."""
    record = snapshot.profile
    ref = reference or load_reference()
    if record is None or ref is None or ref.suite != record.suite:
        return None
    return score_profile(record, ref.values)

"""The session model, without Qt: runs, opened snapshots, the queue, detection, studies, autosave.

It holds this session's runs and opened snapshots, the run queue, detection, the study in
progress, the roofline's measuring runs and the autosave.

Views subscribe to its typed events (:mod:`hwprof.core.session`) and call its methods; they hold no
state another view needs. Work that takes time (detection, each run, an export) goes to an
:class:`Executor`, which runs it off the caller's thread and calls back on the thread that owns the
model: the window's executor moves work into a QThread (:mod:`hwprof.gui.tasks`), tests and
headless callers use :class:`SyncExecutor`. So every change of the model's state, and every event,
happens on one thread; only :class:`~hwprof.core.session.Autosaved` and the autosave's
:class:`~hwprof.core.session.Problem` are handed over through :meth:`Executor.post`.

Runs never overlap (they would share the machine and spoil each other's numbers). A run's
worker events are read once, here, into typed events and a
:class:`~hwprof.core.progress.RunProgress`.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from hwprof.core import events
from hwprof.core.devices import DetectReport, PartialReport
from hwprof.core.outputs import OutputPathError, check_output, same_file
from hwprof.core.progress import RunProgress
from hwprof.core.results import failed_result
from hwprof.core.session import (
    THIS_SESSION,
    Autosaved,
    CeilingsUpdated,
    DetectionFinished,
    DetectionProgressed,
    OpenedSnapshot,
    Problem,
    QueueChanged,
    QueuedRun,
    ResultEntry,
    ResultsChanged,
    RunFinished,
    RunProgressed,
    RunPurpose,
    RunStarted,
    SessionEvent,
    SnapshotOpened,
    StudyUpdated,
    TaskProgressed,
)
from hwprof.core.snapshot import (
    DEFAULT_SUFFIX,
    SUFFIXES,
    Snapshot,
    SnapshotRun,
    load_snapshot,
    new_snapshot,
    utc_now,
)
from hwprof.core.snapshot_io import SnapshotError
from hwprof.core.spec import RunSpec
from hwprof.core.study import PlannedRun, Study
from hwprof.services.profile_session import ProfileSession, ProfileSessionEvent

if TYPE_CHECKING:  # detection's back ends are imported when detection starts, not at start-up
    from hwprof.services.detect import DetectFunctions

Work = Callable[[Callable[[Any], None]], Any]  # work(report) -> result; report(x) yields x
AnyEvent = SessionEvent | ProfileSessionEvent
Subscriber = Callable[[AnyEvent], None]
CEILING_TAG = "roofline-ceiling"


class Executor(Protocol):
    """Runs work off the model's thread; every callback comes back on the model's thread."""

    def submit(
        self,
        name: str,
        work: Work,
        *,
        on_yield: Callable[[Any], None] | None = None,
        on_done: Callable[[Any], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
    ) -> None:
        """Start ``work(report)``; ``report(x)`` in it calls ``on_yield(x)`` (model's thread)."""
        ...

    def post(self, fn: Callable[[], None]) -> None:
        """Call ``fn()`` on the model's thread soon (safe to call from any thread)."""
        ...

    def wait(self, timeout_s: float) -> bool:
        """Wait until every task has ended and its callbacks ran; False on timeout."""
        ...


class SyncExecutor:
    """Runs work at once, on the caller's thread: for tests and scripts (nothing to wait for)."""

    def submit(
        self,
        name: str,
        work: Work,
        *,
        on_yield: Callable[[Any], None] | None = None,
        on_done: Callable[[Any], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
    ) -> None:
        """Run ``work`` now."""
        try:
            result = work(on_yield or (lambda _x: None))
        except Exception as err:
            if on_error is None:
                raise
            on_error(err)
            return
        if on_done is not None:
            on_done(result)

    def post(self, fn: Callable[[], None]) -> None:
        """Call ``fn`` now."""
        fn()

    def wait(self, timeout_s: float) -> bool:
        """Nothing runs in the background."""
        return True


def merge_session(on_disk: Snapshot | None, mine: Snapshot, removed: frozenset[str]) -> Snapshot:
    """The session's snapshot file after an autosave.

    The file's runs stay in their order (this session's as they are now, those the person removed
    dropped, other processes' kept), then this session's new runs follow.
    """
    if on_disk is None:
        return mine
    current = {r.run_id: r for r in mine.runs}
    kept = [current.pop(r.run_id, r) for r in on_disk.runs if r.run_id not in removed]
    return mine.model_copy(update={"runs": (*kept, *current.values())})


class SessionError(ValueError):
    """Something the session refuses, with a message for the person."""


class SaveConflict(SessionError):
    """Saving there would replace a file; ask, then save again with the matching permission.

    ``kind``: "exists" (a file that is not open here) or "input" (a snapshot open in this session).
    """

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass
class _CeilingJob:
    device: str
    label: str
    ids: list[int]
    runs: list[SnapshotRun] = field(default_factory=list)


class Session:
    """The session of one window (see the module's description).

    ``sampler``: the running sampler runs record their telemetry from (the window's); ``None``
    makes one per run. ``detect_functions`` makes the detection steps (tests pass quick ones).
    ``autosave``: write this session's runs to :attr:`autosave_path` after every change.
    ``run_function``: what runs one spec (``execute_run``'s signature; tests pass a fake).
    """

    def __init__(
        self,
        executor: Executor | None = None,
        *,
        sampler: Any = None,
        detect_functions: Callable[[], DetectFunctions] | None = None,
        autosave: bool = True,
        title: str = "",
        run_function: Callable[..., SnapshotRun] | None = None,
    ) -> None:
        self.executor: Executor = executor or SyncExecutor()
        self.sampler = sampler
        self._detect_functions = detect_functions
        self.run_function = run_function
        self._subscribers: list[Subscriber] = []
        self.title = title
        # detection
        self.machine = PartialReport()
        self.detecting = False
        self._detect_cancel: threading.Event | None = None
        self._detect_generation = 0
        # the queue
        self.env: dict[str, str] | None = None  # extra worker environment (tests inject faults)
        self.pending: list[QueuedRun] = []
        self.current: QueuedRun | None = None
        self.progress: RunProgress | None = None
        self._cancel: threading.Event | None = None
        self._next_id = 1
        self._closed = False
        # results
        self.results: list[ResultEntry] = []
        self.opened: dict[str, OpenedSnapshot] = {}
        self._next_key = 1
        # studies and ceilings
        self.study: Study | None = None
        self._study_plan: dict[int, PlannedRun] = {}
        self._ceiling: _CeilingJob | None = None
        # autosave
        self.autosave = autosave
        self.autosave_path: Path | None = None
        self._created_at: str | None = None
        # runs of this session the person took out of Results: the autosave drops them from the
        # file, and keeps every other run it finds there (another process may have appended)
        self._removed_ids: set[str] = set()
        self._machine_report: DetectReport | None = None
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="hwprof-autosave")
        self._saves: list[Future[None]] = []
        self.exporting = False
        # profiles: the suite on one device, the profiles folder, comparisons
        self.profiles = ProfileSession(self, on_idle=self._next)

    # -- events ---------------------------------------------------------------------------------
    def subscribe(self, callback: Subscriber) -> None:
        """Call ``callback(event)`` for every event, on the model's thread."""
        self._subscribers.append(callback)

    def unsubscribe(self, callback: Subscriber) -> None:
        """Stop calling ``callback``."""
        if callback in self._subscribers:
            self._subscribers.remove(callback)

    def _emit(self, event: AnyEvent) -> None:
        for callback in list(self._subscribers):
            try:
                callback(event)
            except Exception:  # one broken view must not stop the queue or the other views
                sys.excepthook(*sys.exc_info())

    # -- detection ------------------------------------------------------------------------------
    def detect(self) -> bool:
        """Detect the hardware in the background (False when a detection already runs)."""
        if self.detecting or self._closed:
            return False
        self.detecting = True
        self.machine = PartialReport()
        cancel = threading.Event()
        self._detect_cancel = cancel
        self._detect_generation += 1
        generation = self._detect_generation
        make = self._detect_functions

        def work(report: Callable[[Any], None]) -> PartialReport:
            from hwprof.services.detect import detect_progressively

            try:
                functions = make() if make is not None else None
            except Exception as err:  # a broken install must still leave a usable window
                return PartialReport(errors=(f"detection could not start: {err!r}",))
            return detect_progressively(functions, cancel=cancel,
                                        on_progress=lambda r, m: report((r, m)))

        def on_yield(item: tuple[PartialReport, str]) -> None:
            if generation == self._detect_generation and not cancel.is_set():
                self.machine = item[0]
                self._emit(DetectionProgressed(item[0], item[1]))

        def on_done(report: PartialReport) -> None:
            if generation != self._detect_generation:
                return
            self.detecting = False
            self._detect_cancel = None
            if cancel.is_set():
                return
            self.machine = report
            full = report.to_report()
            if full is not None:
                self._machine_report = full
            self._emit(DetectionFinished(report))
            if self.session_runs():
                self._autosave()  # runs that ended before detection did are saved with it now

        self.executor.submit("hwprof-detect", work, on_yield=on_yield, on_done=on_done,
                             on_error=lambda err: on_done(PartialReport(errors=(repr(err),))))
        return True

    def stop_detection(self) -> None:
        """Cancel the detection in progress (its probe child ends within a second or so)."""
        if self._detect_cancel is not None:
            self._detect_cancel.set()
        self.detecting = False

    def device_label(self, device: str) -> str:
        """The model of ``device`` ("cpu", "gpu:0") as detection found it."""
        from hwprof.services.detect import device_label

        return device_label(self.machine, device)

    # -- the queue ------------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        """Whether a run is in progress."""
        return self.current is not None

    def enqueue(self, specs: Sequence[RunSpec], tags: tuple[str, ...] = (),
                purpose: RunPurpose = "user") -> list[QueuedRun]:
        """Queue runs; the first starts at once when nothing runs."""
        items = self._push(specs, tags, purpose)
        self._next()
        return items

    def _push(self, specs: Sequence[RunSpec], tags: tuple[str, ...],
              purpose: RunPurpose) -> list[QueuedRun]:
        if self._closed:
            return []
        items = []
        for spec in specs:
            items.append(QueuedRun(self._next_id, spec, tuple(tags), purpose))
            self._next_id += 1
        self.pending.extend(items)
        self._queue_changed()
        return items

    def remove_pending(self, run_id: int) -> bool:
        """Take a run that has not started off the queue."""
        for i, item in enumerate(self.pending):
            if item.id == run_id:
                del self.pending[i]
                self._forget(item)
                self._queue_changed()
                return True
        return False

    def skip_current(self) -> bool:
        """End the run in progress; the queue goes on with the next run.

        What the run measured is kept as a cancelled result.
        """
        if self._cancel is None or self.current is None:
            return False
        self._cancel.set()
        return True

    def stop_all(self) -> None:
        """Empty the queue and end the run in progress; a study in progress stops too."""
        if self.study is not None:
            self.stop_study()
        dropped = list(self.pending)
        self.pending.clear()
        for item in dropped:
            self._forget(item)
        if dropped:
            self._queue_changed()
        self.skip_current()

    def _forget(self, item: QueuedRun) -> None:
        """A queued run that will not run: its study or ceiling job no longer waits for it."""
        self._study_plan.pop(item.id, None)
        job = self._ceiling
        if job is not None and item.id in job.ids:
            self._ceiling = None
            self._emit(CeilingsUpdated(job.device, error="the measuring runs were taken off "
                                       "the queue"))

    def _queue_changed(self) -> None:
        self._emit(QueueChanged(tuple(self.pending), self.current))

    def _next(self) -> None:
        if self.current is not None or not self.pending or self._closed or self.profiles.busy:
            return  # a profile has the machine to itself: the queue waits for it
        item = self.pending.pop(0)
        self.current = item
        self.progress = progress = RunProgress(item.spec)
        cancel = threading.Event()
        self._cancel = cancel
        sampler, env = self.sampler, dict(self.env) if self.env else None
        run = self.run_function
        self._queue_changed()
        self._emit(RunStarted(item, progress, time.monotonic()))

        def work(report: Callable[[Any], None]) -> SnapshotRun:
            from hwprof.services.runs import execute_run

            try:
                return (run or execute_run)(item.spec, on_event=report, cancel=cancel,
                                            sampler=sampler, env=env)
            except Exception as err:  # the window must survive anything a run does
                return SnapshotRun(spec=item.spec, result=failed_result(
                    f"the run could not start: {err!r}", "start_failed"))

        def on_yield(data: dict[str, Any]) -> None:
            event = events.parse(data)
            if event is None or self.current is not item:
                return
            delta = progress.update(event)
            self._emit(RunProgressed(item, event, progress, delta, time.monotonic()))

        self.executor.submit("hwprof-run", work, on_yield=on_yield,
                             on_done=lambda record: self._on_run_done(item, record))

    def _on_run_done(self, item: QueuedRun, record: SnapshotRun) -> None:
        if item.tags:
            record = record.model_copy(update={"tags": tuple(record.tags) + tuple(
                t for t in item.tags if t not in record.tags)})
        self.current, self.progress, self._cancel = None, None, None
        entry = None
        if item.purpose != "ceiling":
            entry = self._add_entries([record], THIS_SESSION, None)[0]
        self._emit(RunFinished(item, record, entry, time.monotonic()))
        if item.purpose == "study":
            self._study_run_done(item, record)
        elif item.purpose == "ceiling":
            self._ceiling_run_done(item, record)
        if entry is not None:
            self._autosave()
        self._queue_changed()
        self._next()

    # -- results --------------------------------------------------------------------------------
    def _add_entries(self, runs: Iterable[SnapshotRun], source: str,
                     path: Path | None) -> list[ResultEntry]:
        added = []
        for run in runs:
            added.append(ResultEntry(self._next_key, source, run, path))
            self._next_key += 1
        self.results.extend(added)
        self._emit(ResultsChanged(added=tuple(added)))
        return added

    def entry(self, key: int) -> ResultEntry | None:
        """The result with this key."""
        return next((e for e in self.results if e.key == key), None)

    def session_runs(self) -> list[SnapshotRun]:
        """The runs made in this session that are still in Results, in order."""
        return [e.run for e in self.results if e.mine]

    def remove_results(self, keys: Iterable[int]) -> int:
        """Take runs out of Results (a run of this session leaves its snapshot too)."""
        wanted = set(keys)
        gone = [e for e in self.results if e.key in wanted]
        if not gone:
            return 0
        self.results = [e for e in self.results if e.key not in wanted]
        self._removed_ids.update(e.run.run_id for e in gone if e.mine)
        self._emit(ResultsChanged(removed=tuple(e.key for e in gone)))
        if any(e.mine for e in gone):
            self._autosave()
        return len(gone)

    def others(self) -> list[tuple[str, Snapshot]]:
        """The opened snapshots (name, snapshot with the runs still in Results): other machines."""
        out = []
        for name, opened in self.opened.items():
            runs = tuple(e.run for e in self.results if e.path == opened.path)
            if runs:
                out.append((name, opened.snapshot.model_copy(update={"runs": runs})))
        return out

    # -- snapshots ------------------------------------------------------------------------------
    @property
    def snapshot(self) -> Snapshot | None:
        """The session's runs as a snapshot (None until a run ended and the machine is known)."""
        runs = self.session_runs()
        machine = self._machine_report
        if machine is None or (not runs and self._created_at is None):
            return None
        if self._created_at is None:
            self._created_at = utc_now()
        return self._snapshot_of(machine, runs, self._created_at)

    def _snapshot_of(self, machine: DetectReport, runs: Sequence[SnapshotRun],
                     created_at: str) -> Snapshot:
        title = self.title or f"hwprof session on {machine.host.hostname}"
        snap = new_snapshot(machine, title=title)
        return snap.model_copy(update={"created_at": created_at, "runs": tuple(runs)})

    def open_snapshot(self, path: Path) -> OpenedSnapshot:
        """Add a snapshot's runs to Results; opening a file again replaces its runs.

        SnapshotError for a bad file; SessionError for this session's own autosave.
        """
        path = Path(path)
        if self.autosave_path is not None and same_file(path, self.autosave_path):
            raise SessionError(f"{path.name} is this session's own autosave: its runs are "
                               "already in Results")
        snapshot = load_snapshot(path)
        resolved = path.resolve()
        name = path.name
        for other in self.opened.values():
            if other.name == name and other.path != resolved:
                name = f"{path.parent.name}/{path.name}"  # two files of one name: say which
        removed = [e.key for e in self.results if e.path == resolved]
        self.opened = {k: v for k, v in self.opened.items() if v.path != resolved}
        if removed:
            self.results = [e for e in self.results if e.path != resolved]
            self._emit(ResultsChanged(removed=tuple(removed)))
        opened = OpenedSnapshot(name, resolved, snapshot)
        self.opened[name] = opened
        self._add_entries(snapshot.runs, name, resolved)
        self._emit(SnapshotOpened(opened))
        return opened

    def input_paths(self) -> list[Path]:
        """The files this session reads: its opened snapshots."""
        return [o.path for o in self.opened.values()]

    def save_as(self, path: Path, *, replace_existing: bool = False,
                replace_input: bool = False) -> Path:
        """Write this session's runs to ``path`` (".hwprof" is added when no suffix is there).

        Never replaces a file unasked: :class:`SaveConflict` says what is there ("exists", or
        "input": a snapshot open in this session); call again with the permission once the person
        said yes. OutputPathError / SessionError / SnapshotError for what cannot be written.
        """
        path = Path(path)
        if not str(path).endswith(SUFFIXES):
            path = path.with_name(path.name + DEFAULT_SUFFIX)
        target = check_output(path, force=True)  # the folder is there; links are followed
        snapshot = self.snapshot
        if snapshot is None:
            if self.session_runs():
                raise SessionError("the machine is still being detected; save again in a moment")
            raise SessionError("No run has finished in this session yet.")
        if self.autosave_path is not None and same_file(target, self.autosave_path):
            self.flush()
            return target  # the autosave is this very file, and it is up to date
        for source in self.input_paths():
            if same_file(target, source) and not replace_input:
                n = sum(1 for e in self.results if e.path == source)
                raise SaveConflict("input", f"{target.name} is open in this session ({n} runs in "
                                   "Results). Saving here replaces that file with this session's "
                                   "runs.")
        if (target.exists() and not replace_existing
                and not any(same_file(target, s) for s in self.input_paths())):
            raise SaveConflict("exists", f"{target.name} exists. Saving here replaces it.")
        if target.exists() and not target.is_file():
            raise OutputPathError(f"{target}: that is not a regular file")
        from hwprof.core.snapshot import save_snapshot

        save_snapshot(snapshot, target)
        return target

    # -- autosave -------------------------------------------------------------------------------
    def _autosave(self) -> None:
        if not self.autosave:
            return
        runs = tuple(self.session_runs())
        if not runs and self.autosave_path is None:
            return
        if self.autosave_path is None:
            from hwprof.services.snapshots import new_snapshot_path

            self.autosave_path = new_snapshot_path("session")
        if self._created_at is None:
            self._created_at = utc_now()
        path, machine, created_at = self.autosave_path, self._machine_report, self._created_at
        removed = frozenset(self._removed_ids)

        def write() -> None:
            from hwprof.core.snapshot import update_snapshot

            try:
                known = machine
                if known is None:  # a run ended before detection did: ask the OS, not TensorFlow
                    from hwprof.services.detect import detect_all

                    known = detect_all(with_tensorflow=False)
                mine = self._snapshot_of(known, runs, created_at)
                # one read-change-write under the file's lock, so a run that another process
                # appended to this file meanwhile (`hwprof run --append`) is kept
                update_snapshot(path, lambda on_disk: merge_session(on_disk, mine, removed))
            except (SnapshotError, OSError, RuntimeError) as err:
                problem = Problem("hwprof — autosave failed", f"autosave failed: {err}")
                self.executor.post(lambda: self._emit(problem))
                return
            self.executor.post(lambda: self._emit(Autosaved(path)))

        if self._closed:  # a run that ended as the window closed: write it now
            write()
            return
        self._saves = [f for f in self._saves if not f.done()]
        self._saves.append(self._pool.submit(write))

    def flush(self) -> None:
        """Wait until the saves in progress are on disk."""
        for f in list(self._saves):
            f.result()
        self._saves.clear()

    # -- studies --------------------------------------------------------------------------------
    def start_study(self, study: Study) -> None:
        """Run a study's runs through the queue, one after another (SessionError if one runs)."""
        if self.study is not None:
            raise SessionError("a study is running: stop it first")
        self.study = study
        self._study_plan.clear()
        self._emit(StudyUpdated(study))
        self._study_next()

    def stop_study(self) -> None:
        """End the study: its queued runs go, the one in progress ends, what was measured stays."""
        study = self.study
        if study is None:
            return
        self.study = None
        ids = set(self._study_plan)
        self._study_plan.clear()
        if any(i.id in ids for i in self.pending):
            self.pending = [i for i in self.pending if i.id not in ids]
            self._queue_changed()
        if self.current is not None and self.current.purpose == "study":
            self.skip_current()
        self._emit(StudyUpdated(study, finished=True, stopped=True))

    def _study_next(self) -> None:
        study = self.study
        if study is None:
            return
        planned = study.next_run()
        if planned is None:
            self.study = None
            self._emit(StudyUpdated(study, finished=True))
            return
        for item in self._push([planned.spec], study.tags_for(planned), "study"):
            self._study_plan[item.id] = planned
        self._next()

    def _study_run_done(self, item: QueuedRun, record: SnapshotRun) -> None:
        planned = self._study_plan.pop(item.id, None)
        study = self.study
        if study is None or planned is None:
            return
        study.record(planned, record)
        self._emit(StudyUpdated(study))
        self._study_next()

    # -- roofline ceilings ----------------------------------------------------------------------
    @property
    def measuring_ceilings(self) -> str | None:
        """The device whose ceilings are being measured, if any."""
        return self._ceiling.device if self._ceiling is not None else None

    def measure_ceilings(self, device: str, seconds: float | None = None) -> None:
        """Queue the runs that measure ``device``'s compute and bandwidth ceilings."""
        from hwprof.services.studies import ceiling_specs

        if self._ceiling is not None:
            raise SessionError(f"the ceilings of {self._ceiling.device} are being measured")
        specs = ceiling_specs(device, seconds)
        job = _CeilingJob(device, self.device_label(device), [])
        self._ceiling = job
        self._emit(CeilingsUpdated(device, measuring=True, planned=len(specs)))
        items = self._push(specs, (f"{CEILING_TAG}:{device}",), "ceiling")
        job.ids = [i.id for i in items]
        self._next()

    def _ceiling_run_done(self, item: QueuedRun, record: SnapshotRun) -> None:
        job = self._ceiling
        if job is None or item.id not in job.ids:
            return
        job.runs.append(record)
        if not record.result.ok:
            self._ceiling = None
            rest = [i for i in self.pending if i.id in job.ids]
            if rest:
                self.pending = [i for i in self.pending if i.id not in job.ids]
            self._emit(CeilingsUpdated(job.device, error=f"{record.spec.workload} "
                                       f"{record.result.status}: {record.result.reason}"))
            return
        if len(job.runs) < len(job.ids):
            self._emit(CeilingsUpdated(job.device, measuring=True, done=len(job.runs),
                                       planned=len(job.ids)))
            return
        from hwprof.services.studies import ceilings_from_runs, measuring_warnings

        self._ceiling = None
        try:
            ceilings = ceilings_from_runs(job.device, job.label, job.runs)
        except (ValueError, OSError) as err:
            self._emit(CeilingsUpdated(job.device, error=str(err)))
            return
        self._emit(CeilingsUpdated(job.device, ceilings=ceilings,
                                   warnings=tuple(measuring_warnings(job.runs))))

    # -- reports --------------------------------------------------------------------------------
    def export_report(self, path: Path, *, replace_existing: bool = False) -> None:
        """Write this session's runs as one HTML page in the background (TaskProgressed events).

        OutputPathError at once when ``path`` may not be written; SessionError when there is
        nothing to report or an export already runs.
        """
        if self.exporting:
            raise SessionError("a report is being written; wait for it to finish")
        snapshot = self.snapshot
        if snapshot is None:
            raise SessionError("No run has finished in this session yet." if not
                               self.session_runs() else "the machine is still being detected; "
                               "export again in a moment")
        target = check_output(path, inputs=self.input_paths(), force=replace_existing)
        self.exporting = True

        def work(report: Callable[[Any], None]) -> Path:
            from hwprof.services.report import write_html

            return write_html(snapshot, target, source=THIS_SESSION,
                              on_progress=lambda done, total: report((done, total)))

        def on_yield(step: tuple[int, int]) -> None:
            self._emit(TaskProgressed("report", step[0], step[1]))

        def on_done(written: Path) -> None:
            self.exporting = False
            n = len(snapshot.runs)
            self._emit(TaskProgressed("report", n, n, finished=True, path=written))

        def on_error(err: BaseException) -> None:
            self.exporting = False
            self._emit(TaskProgressed("report", 0, 0, finished=True, error=str(err), path=target))

        self.executor.submit("hwprof-report", work, on_yield=on_yield, on_done=on_done,
                             on_error=on_error)

    # -- the end --------------------------------------------------------------------------------
    def close(self, timeout_s: float = 15.0) -> None:
        """End detection and the runs, wait for them, and write what is left to write."""
        self.stop_detection()
        self.stop_all()
        self.profiles.stop()
        self.executor.wait(timeout_s)
        self._closed = True
        self._pool.shutdown(wait=True)
        self._saves.clear()

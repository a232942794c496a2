"""Profiles in the session model: profile a device, keep the profile, list and compare profiles.

:class:`ProfileSession` belongs to the :class:`~hwprof.services.session.Session`
(``session.profiles``) and, like it, knows nothing of Qt. It runs
:func:`hwprof.services.profile.run_profile` on the session's executor, keeps the state a view
shows (each test's state and reason, the running test's throughput, the time left), forwards the
profile's typed events (:class:`~hwprof.services.profile.ProfilePlanned`,
:class:`~hwprof.services.profile.TestStarted`, :class:`ProfileTestProgressed` around a
:class:`~hwprof.services.profile.TestWorkerEvent`,
:class:`~hwprof.services.profile.TestFinished`) as session events, and saves a finished profile
into the profiles folder under the file's lock. It lists the profiles there, and the profile
snapshots opened from other machines, renames, tags and deletes them, and sets them side by side.

A profile never overlaps a run: the session's queue waits while a profile runs, and a profile
does not start while a run is in progress.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from hwprof.core import events
from hwprof.core.devices import INTEL_EXTENSION_HINT, METAL_PLUGIN_HINT
from hwprof.core.paths import profiles_dir
from hwprof.core.profile import ProfileComparison, ProfileRecord, ProfileScore, compare_profiles
from hwprof.core.progress import ProgressDelta, RunProgress
from hwprof.core.session import Problem, SnapshotOpened
from hwprof.core.snapshot import Snapshot, load_snapshot, save_snapshot, update_snapshot, utc_now
from hwprof.core.snapshot_io import SnapshotError
from hwprof.core.spec import RunSpec
from hwprof.core.suite import DeviceCaps, Length, PlannedTest, plan
from hwprof.services.profile import (
    ProfilePlanned,
    Reference,
    TestFinished,
    TestStarted,
    TestState,
    TestWorkerEvent,
    default_profile_path,
    device_caps,
    load_reference,
    score,
)
from hwprof.services.snapshots import delete_snapshot, find_snapshots

if TYPE_CHECKING:
    from hwprof.core.devices import DetectReport
    from hwprof.services.session import Session

ProfileSource = Literal["profiles", "opened"]
STATE_OF_STATUS: dict[str, TestState] = {
    "ok": "done", "failed": "failed", "out_of_memory": "failed", "skipped": "skipped",
    "cancelled": "cancelled",
}


# -- the profile in progress -----------------------------------------------------------------------
@dataclass
class TestRow:
    """One test of the profile in progress, as its list shows it."""

    __test__ = False  # not a pytest class, despite its name

    test_id: str
    title: str
    state: TestState
    reason: str | None = None
    expected_seconds: float = 0.0
    outcome: Any = None  # hwprof.core.profile.TestOutcome once it ended


@dataclass
class ActiveProfile:
    """A profile being made (or just made): its tests, the running one, the time left, the end."""

    id: int
    device: str
    length: Length
    device_label: str
    tests: list[TestRow]
    specs: dict[str, RunSpec]
    started_s: float = field(default_factory=time.monotonic)
    current: int | None = None
    progress: RunProgress | None = None  # the running test's
    eta_seconds: float | None = None
    eta_at_s: float = 0.0
    stopping: bool = False
    # the end
    ended: bool = False
    stopped: bool = False
    snapshot: Snapshot | None = None
    score: ProfileScore | None = None
    path: Path | None = None
    error: str | None = None
    save_error: str | None = None
    ended_s: float | None = None

    def eta_now(self, now_s: float | None = None) -> float | None:
        """Seconds left now: the last estimate, counted down since it came."""
        if self.ended:
            return 0.0
        if self.eta_seconds is None:
            return None
        now = time.monotonic() if now_s is None else now_s
        return max(0.0, self.eta_seconds - (now - self.eta_at_s))

    def elapsed(self, now_s: float | None = None) -> float:
        """Seconds since the profile started (until it ended)."""
        end = self.ended_s if self.ended_s is not None else (
            time.monotonic() if now_s is None else now_s)
        return max(0.0, end - self.started_s)

    def fraction(self, now_s: float | None = None) -> float | None:
        """How far it has got, 0..1, by time: elapsed over elapsed plus the time left."""
        if self.ended:
            return 1.0
        left = self.eta_now(now_s)
        if left is None:
            return None
        spent = self.elapsed(now_s)
        return spent / (spent + left) if spent + left > 0 else 0.0

    @property
    def current_row(self) -> TestRow | None:
        """The running test's row."""
        if self.current is None or not 0 <= self.current < len(self.tests):
            return None
        return self.tests[self.current]

    def _set_eta(self, seconds: float) -> None:
        self.eta_seconds, self.eta_at_s = seconds, time.monotonic()


# -- the profiles list -----------------------------------------------------------------------------
@dataclass(frozen=True)
class ProfileEntry:
    """A profile in the list: from the profiles folder, or a file opened from another machine."""

    path: Path
    source: ProfileSource
    title: str
    tags: tuple[str, ...]
    hostname: str
    created_at: str
    record: ProfileRecord
    score: ProfileScore | None
    tensorflow_version: str | None = None
    app_version: str = ""
    environment: tuple[tuple[str, str], ...] = ()

    @property
    def name(self) -> str:
        """What the profile is called: its title, else its device on its machine."""
        return self.title or f"{self.device_label} on {self.hostname}"

    @property
    def device_label(self) -> str:
        """The device's model ("Intel(R) Xeon(R) Processor", "NVIDIA H100")."""
        return self.record.device_label or self.record.device

    @property
    def wall_seconds(self) -> float | None:
        """How long the profile took."""
        return self.record.overhead.wall_seconds if self.record.overhead else None

    @property
    def tests_ok(self) -> int:
        """How many of its tests measured something."""
        return sum(1 for t in self.record.tests if t.status == "ok")


def entry_of(path: Path, snapshot: Snapshot, source: ProfileSource,
             reference: Reference | None) -> ProfileEntry | None:
    """The list's entry for a profile snapshot (None for a snapshot that is not a profile)."""
    record = snapshot.profile
    if record is None:
        return None
    tf = snapshot.machine.tensorflow
    return ProfileEntry(
        path=path, source=source, title=snapshot.title, tags=tuple(snapshot.tags),
        hostname=snapshot.hostname, created_at=snapshot.created_at, record=record,
        score=score(snapshot, reference) if reference is not None else None,
        tensorflow_version=tf.version if tf is not None else None,
        app_version=snapshot.app_version,
        environment=tuple(sorted(snapshot.environment_variables.items())))


def list_profiles(folder: Path, reference: Reference | None
                  ) -> tuple[list[ProfileEntry], list[tuple[Path, str]]]:
    """The profiles in ``folder``, newest first, and the files there that could not be read."""
    entries: list[ProfileEntry] = []
    unreadable: list[tuple[Path, str]] = []
    try:
        paths = find_snapshots(folder)
    except OSError as err:
        return [], [(folder, str(err))]
    for path in paths:
        try:
            snap = load_snapshot(path)
        except SnapshotError as err:
            unreadable.append((path, err.problem))
            continue
        entry = entry_of(path.resolve(), snap, "profiles", reference)
        if entry is not None:
            entries.append(entry)
    entries.sort(key=lambda e: e.created_at, reverse=True)
    return entries, unreadable


def comparison_names(entries: Sequence[ProfileEntry]) -> list[str]:
    """A distinct name per profile: its name, with its date (then a number) where two share one."""
    plain = [e.name for e in entries]
    dated = [f"{e.name} ({local_time(e.created_at)})" if plain.count(e.name) > 1 else e.name
             for e in entries]
    seen: dict[str, int] = {}
    names = []
    for n in dated:
        seen[n] = seen.get(n, 0) + 1
        names.append(f"{n} #{seen[n]}" if dated.count(n) > 1 else n)
    return names


def local_time(created_at: str) -> str:
    """An ISO 8601 time as this machine's local "YYYY-MM-DD HH:MM" (the text when unreadable)."""
    try:
        when = dt.datetime.fromisoformat(created_at)
    except ValueError:
        return created_at
    if when.tzinfo is not None:
        when = when.astimezone()
    return when.strftime("%Y-%m-%d %H:%M")


def differences(entries: Sequence[ProfileEntry]) -> list[str]:
    """What differs between the profiles' machines, software and settings, one line each."""
    facts: dict[str, Callable[[ProfileEntry], str]] = {
        "device": lambda e: e.device_label,
        "machine": lambda e: e.hostname,
        "TensorFlow": lambda e: e.tensorflow_version or "unknown",
        "hwprof": lambda e: e.app_version or "unknown",
        "length": lambda e: e.record.length,
        "suite": lambda e: e.record.suite,
        "settings": lambda e: ", ".join(f"{k} {v}" for k, v in sorted(
            e.record.settings.items())) or "defaults",
        "environment": lambda e: ", ".join(f"{k}={v}" for k, v in e.environment) or "none set",
    }
    lines = []
    for what, of in facts.items():
        values = [of(e) for e in entries]
        if len(set(values)) > 1:
            lines.append(f"{what}: {' vs '.join(values)}")
    return lines


# -- events ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ProfileStarted:
    """A profile was asked for: its tests as planned here (ProfilePlanned follows from the run)."""

    profile: ActiveProfile


@dataclass(frozen=True)
class ProfileTestProgressed:
    """A worker event of the running test (``worker``), and what it changed in its progress."""

    profile: ActiveProfile
    worker: TestWorkerEvent
    progress: RunProgress
    delta: ProgressDelta


@dataclass(frozen=True)
class ProfileEnded:
    """The profile ended: finished (and saved, or why not), stopped, or failed to run."""

    profile: ActiveProfile


@dataclass(frozen=True)
class ProfilesChanged:
    """The profiles list changed; ``unreadable``: files of the profiles folder that are not."""

    entries: tuple[ProfileEntry, ...]
    unreadable: tuple[tuple[Path, str], ...] = ()


ProfileSessionEvent = (ProfileStarted | ProfilePlanned | TestStarted | TestFinished
                       | ProfileTestProgressed | ProfileEnded | ProfilesChanged)


@dataclass(frozen=True)
class _Finished:
    snapshot: Snapshot
    score: ProfileScore | None
    path: Path | None
    save_error: str | None
    stopped: bool


class ProfileSession:
    """The session's profiles (see the module's description).

    ``run_function``: what runs a profile (``run_profile``'s signature; tests may pass another).
    ``reference``: the profile scores are relative to (the shipped one; None: no scores).
    """

    def __init__(self, session: Session, on_idle: Callable[[], None]) -> None:
        self._session = session
        self._on_idle = on_idle
        self.run_function: Callable[..., Snapshot] | None = None
        self.reference: Reference | None = load_reference()
        self.active: ActiveProfile | None = None  # the profile running or last made
        self._cancel: threading.Event | None = None
        self._next_id = 1
        self.entries: list[ProfileEntry] = []
        self.unreadable: list[tuple[Path, str]] = []
        self._opened: dict[Path, ProfileEntry] = {}
        self._listing = 0
        session.subscribe(self._on_session_event)

    def _emit(self, event: ProfileSessionEvent | Problem) -> None:
        self._session._emit(event)

    # -- profiling ---------------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        """Whether a profile is running."""
        return self.active is not None and not self.active.ended

    def plan(self, device: str, length: Length = "quick", *, only: Sequence[str] | None = None,
             timed_seconds: float | None = None, deploy: bool = False) -> list[PlannedTest]:
        """The tests a profile of ``device`` would run here (from what detection knows so far).

        ``deploy``: with the deployment section (TFLite on the CPU).
        """
        known = self._session.machine
        if device == "cpu":
            flags = frozenset(f for cpu in known.cpus or () for f in cpu.flags)
            caps = DeviceCaps("cpu", cpu_flags=flags)
        else:
            gpu = next((g for g in known.gpus or () if f"gpu:{g.index}" == device), None)
            caps = DeviceCaps("gpu", compute_capability=gpu.compute_capability if gpu else None)
        return plan(device, caps, length, only=only, timed_seconds=timed_seconds, deploy=deploy)

    def start(
        self,
        device: str,
        length: Length = "quick",
        *,
        only: Sequence[str] | None = None,
        timed_seconds: float | None = None,
        intra_op_threads: int | None = None,
        inter_op_threads: int | None = None,
        deploy: bool = False,
    ) -> ActiveProfile:
        """Profile ``device`` in the background; SessionError says why it cannot start now.

        ``only`` and ``timed_seconds`` make a short partial profile (tests use them);
        ``deploy``: with the deployment section.
        """
        from hwprof.services.profile import run_profile
        from hwprof.services.session import SessionError

        s = self._session
        if self.busy:
            raise SessionError("a profile is running: stop it first")
        if s.busy:
            raise SessionError("a run is in progress: profile once it has ended, so that the "
                               "profile has the machine to itself")
        machine = s.machine.to_report()
        if machine is None:
            raise SessionError("the machine is still being detected: profile in a moment")
        check_device(device, machine)
        try:
            planned = plan(device, device_caps(device, machine), length,
                           intra_op_threads=intra_op_threads, inter_op_threads=inter_op_threads,
                           only=only, timed_seconds=timed_seconds, deploy=deploy)
        except ValueError as err:
            raise SessionError(str(err)) from err
        active = ActiveProfile(
            id=self._next_id, device=device, length=length,
            device_label=s.device_label(device),
            tests=[TestRow(p.test.test_id, p.test.title, "waiting" if p.spec else "skipped",
                           p.skip_reason, p.expected_seconds) for p in planned],
            specs={p.test.test_id: p.spec for p in planned if p.spec is not None})
        active._set_eta(sum(p.expected_seconds for p in planned))
        self._next_id += 1
        cancel = threading.Event()
        self.active, self._cancel = active, cancel
        run = self.run_function or run_profile
        sampler, env = s.sampler, dict(s.env) if s.env else None
        reference = self.reference

        def work(report: Callable[[Any], None]) -> _Finished:
            snap = run(device, machine=machine, length=length, intra_op_threads=intra_op_threads,
                       inter_op_threads=inter_op_threads, only=only, timed_seconds=timed_seconds,
                       on_event=report, cancel=cancel, sampler=sampler, env=env, deploy=deploy)
            return finish_profile(snap, reference)

        self._emit(ProfileStarted(active))
        s.executor.submit("hwprof-profile", work, on_yield=lambda e: self._on_yield(active, e),
                          on_done=lambda f: self._on_done(active, f),
                          on_error=lambda err: self._on_error(active, err))
        return active

    def stop(self) -> bool:
        """End the running test and skip the rest; what was measured is shown, not saved."""
        if not self.busy or self._cancel is None or self.active is None:
            return False
        self.active.stopping = True
        self._cancel.set()
        return True

    def _on_yield(self, active: ActiveProfile, event: object) -> None:
        if self.active is not active or active.ended:
            return
        if isinstance(event, ProfilePlanned):
            active.device_label = event.device_label
            active.tests = [TestRow(t.test_id, t.title, t.state, t.reason, t.expected_seconds)
                            for t in event.tests]
            active._set_eta(event.eta_seconds)
            self._emit(event)
        elif isinstance(event, TestStarted):
            active.current = event.index
            row = active.current_row
            if row is not None:
                row.state = "running"
            spec = active.specs.get(event.test_id)
            active.progress = RunProgress(spec) if spec is not None else None
            active._set_eta(event.eta_seconds)
            self._emit(event)
        elif isinstance(event, TestWorkerEvent):
            parsed = events.parse(event.data)
            progress = active.progress
            if parsed is None or progress is None or event.index != active.current:
                return
            delta = progress.update(parsed)
            self._emit(ProfileTestProgressed(active, event, progress, delta))
        elif isinstance(event, TestFinished):
            if 0 <= event.index < len(active.tests):
                row = active.tests[event.index]
                row.state = STATE_OF_STATUS.get(event.outcome.status, "failed")
                row.reason, row.outcome = event.outcome.reason, event.outcome
            if active.current == event.index:
                active.current = None
            active._set_eta(event.eta_seconds)
            self._emit(event)

    def _on_done(self, active: ActiveProfile, finished: _Finished) -> None:
        record = finished.snapshot.profile
        by_id = {t.test_id: t for t in record.tests} if record is not None else {}
        for row in active.tests:  # the record is the truth (stopped tests were never announced)
            outcome = by_id.get(row.test_id)
            if outcome is not None:
                row.state = STATE_OF_STATUS.get(outcome.status, "failed")
                row.reason, row.outcome = outcome.reason, outcome
        active.snapshot, active.score = finished.snapshot, finished.score
        active.path, active.save_error = finished.path, finished.save_error
        active.stopped = finished.stopped
        entry = None
        if finished.path is not None:
            entry = entry_of(finished.path.resolve(), finished.snapshot, "profiles",
                             self.reference)
        self._end(active)
        if entry is not None:
            self.entries.insert(0, entry)
            self._changed()
        if finished.save_error:
            self._emit(Problem("hwprof — the profile was not saved", finished.save_error))

    def _on_error(self, active: ActiveProfile, err: BaseException) -> None:
        active.error = f"the profile could not run: {err}"
        self._end(active)

    def _end(self, active: ActiveProfile) -> None:
        active.ended, active.current, active.progress = True, None, None
        active.ended_s = time.monotonic()
        self._cancel = None
        self._emit(ProfileEnded(active))
        self._on_idle()  # the runs that waited for the profile go on

    # -- the list ----------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Read the profiles folder again, in the background (then :class:`ProfilesChanged`)."""
        self._listing += 1
        generation = self._listing
        folder, reference = profiles_dir(), self.reference

        def work(_report: Callable[[Any], None]) -> Any:
            return list_profiles(folder, reference)

        def on_done(result: tuple[list[ProfileEntry], list[tuple[Path, str]]]) -> None:
            if generation != self._listing:
                return  # a later refresh is under way
            self.entries, self.unreadable = result[0], result[1]
            self._changed()

        def on_error(err: BaseException) -> None:
            self._emit(Problem("hwprof — profiles", f"the profiles folder could not be read: "
                               f"{err}"))

        self._session.executor.submit("hwprof-profiles", work, on_done=on_done,
                                      on_error=on_error)

    def all_entries(self) -> list[ProfileEntry]:
        """The profiles folder's, then those opened from elsewhere."""
        mine = {e.path for e in self.entries}
        return [*self.entries, *(e for p, e in self._opened.items() if p not in mine)]

    def entry(self, path: Path) -> ProfileEntry | None:
        """The entry of a file."""
        return next((e for e in self.all_entries() if e.path == path), None)

    def _changed(self) -> None:
        self._emit(ProfilesChanged(tuple(self.all_entries()), tuple(self.unreadable)))

    def _on_session_event(self, event: object) -> None:
        if isinstance(event, SnapshotOpened) and isinstance(event.opened.snapshot, Snapshot):
            self._add(event.opened.path, event.opened.snapshot)

    def _add(self, path: Path, snapshot: Snapshot) -> ProfileEntry | None:
        path = path.resolve()
        in_folder = path.parent == profiles_dir().resolve()
        entry = entry_of(path, snapshot, "profiles" if in_folder else "opened", self.reference)
        if entry is None:
            return None
        if in_folder:
            self.entries = [entry if e.path == path else e for e in self.entries]
            if all(e.path != path for e in self.entries):
                self.entries.insert(0, entry)
        else:
            self._opened[path] = entry
        self._changed()
        return entry

    def open_file(self, path: Path) -> ProfileEntry:
        """Add a profile file (from another machine, say) to the list.

        SnapshotError for a bad file; SessionError for a snapshot that is not a profile.
        """
        from hwprof.services.session import SessionError

        snapshot = load_snapshot(path)
        entry = self._add(Path(path), snapshot)
        if entry is None:
            raise SessionError(f"{Path(path).name} holds a session's runs, not a profile: open "
                               "it with File ▸ Open to see its runs in Results")
        return entry

    def rename(self, path: Path, title: str) -> None:
        """Give a profile a new name (its title; the file keeps its name), in the background."""
        self._update(path, {"title": " ".join(title.split())}, "rename")

    def set_tags(self, path: Path, tags: Iterable[str]) -> None:
        """Give a profile these tags, in the background."""
        self._update(path, {"tags": tuple(tags)}, "tag")

    def _update(self, path: Path, changes: dict[str, Any], what: str) -> None:
        old = self.entry(path)
        if old is None:
            return

        def change(on_disk: Snapshot | None) -> Snapshot:
            if on_disk is None:
                raise SnapshotError(path, "is gone")
            return on_disk.model_copy(update={**changes, "modified_at": utc_now()})

        def work(_report: Callable[[Any], None]) -> Snapshot:
            # read, change and write under the file's lock: another process may write it too
            return update_snapshot(path, change)

        def on_done(snapshot: Snapshot) -> None:
            if old.source == "profiles":
                self._add(path, snapshot)
            else:
                self._replace_opened(path, snapshot)

        def on_error(err: BaseException) -> None:
            self._emit(Problem(f"hwprof — cannot {what} the profile", str(err)))

        self._session.executor.submit("hwprof-profile-file", work, on_done=on_done,
                                      on_error=on_error)

    def _replace_opened(self, path: Path, snapshot: Snapshot) -> None:
        entry = entry_of(path, snapshot, "opened", self.reference)
        if entry is not None:
            self._opened[path] = entry
            self._changed()

    def delete(self, path: Path) -> None:
        """Delete a profile of the profiles folder for good (ValueError/OSError say why not).

        One opened from elsewhere only leaves the list: its file is not hwprof's to delete.
        """
        entry = self.entry(path)
        if entry is not None and entry.source == "profiles":
            delete_snapshot(path)
        self.forget(path)

    def forget(self, path: Path) -> None:
        """Take a profile off the list (its file was moved to the trash, say)."""
        self.entries = [e for e in self.entries if e.path != path]
        self._opened.pop(path, None)
        self._changed()

    # -- comparisons -------------------------------------------------------------------------------
    def compare(self, paths: Sequence[Path]) -> tuple[ProfileComparison, list[ProfileEntry]]:
        """The profiles of ``paths`` side by side, against the first; SessionError says why not."""
        from hwprof.services.session import SessionError

        entries = [e for p in paths if (e := self.entry(p)) is not None]
        if len(entries) < 2:
            raise SessionError("select two or more profiles to compare")
        suites = {e.record.suite for e in entries}
        if len(suites) > 1:
            raise SessionError(f"these profiles ran different suites ({', '.join(sorted(suites))})"
                               ": their tests do not measure the same things")
        comparison = compare_profiles([e.record for e in entries], comparison_names(entries))
        return comparison, entries


def check_device(device: str, machine: DetectReport) -> None:
    """SessionError unless ``device`` is "cpu" or a GPU detection found."""
    from hwprof.services.session import SessionError

    if device == "cpu":
        return
    gpus = {f"gpu:{g.index}" for g in machine.gpus}
    if device not in gpus:
        raise SessionError(f"no device {device} on this machine (it has: cpu"
                           f"{''.join(', ' + g for g in sorted(gpus))})")
    gpu = next(g for g in machine.gpus if f"gpu:{g.index}" == device)
    if gpu.vendor == "amd" and not machine.tensorflow.built_with_rocm:
        # detection said what to install (rocm_install_hint): refuse before a worker starts
        raise SessionError(f"{device}: {gpu.tensorflow_missing_reason or 'no ROCm TensorFlow'}")
    if gpu.vendor == "intel" and gpu.tensorflow_missing_reason == INTEL_EXTENSION_HINT:
        # detection found no Intel Extension for TensorFlow: no worker could use this GPU
        raise SessionError(f"{device}: {INTEL_EXTENSION_HINT}")
    if gpu.vendor == "apple" and gpu.tensorflow_missing_reason == METAL_PLUGIN_HINT:
        # detection found no tensorflow-metal plug-in: no worker could use the Mac's GPU
        raise SessionError(f"{device}: {METAL_PLUGIN_HINT}")


def finish_profile(snapshot: Snapshot, reference: Reference | None) -> _Finished:
    """Score a profile and save it into the profiles folder (unless it was stopped).

    Runs in the profile's worker thread: the file is written under its lock, never over another.
    """
    record = snapshot.profile
    stopped = record is not None and any(t.status == "cancelled" for t in record.tests)
    scored = score(snapshot, reference) if reference is not None else None
    if stopped or record is None:
        return _Finished(snapshot, scored, None, None, stopped)
    path = default_profile_path(record.device)
    try:
        save_snapshot(snapshot, path, overwrite=False)
    except (SnapshotError, OSError) as err:
        return _Finished(snapshot, scored, None, f"the profile could not be saved: {err}", False)
    return _Finished(snapshot, scored, path, None, False)


"""The session's plain data, and the typed events its model publishes to the views that show it.

The model (:class:`hwprof.services.session.Session`) holds the runs of this session and of opened
snapshots, the run queue, detection, the study in progress and the roofline measurements; views
subscribe to these events (napari's model/view split) instead of reaching into each other. Every
event is a frozen dataclass; a view's slot for event ``Foo`` is named ``_on_foo``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from hwprof.core.devices import PartialReport
from hwprof.core.events import WorkerEvent
from hwprof.core.progress import ProgressDelta, RunProgress
from hwprof.core.roofline import Ceilings
from hwprof.core.snapshot import SnapshotRun
from hwprof.core.spec import RunSpec

# Why a run was queued. Only "user" and "study" runs are the person's results: a "ceiling" run
# measures the roofline's ceilings, and is kept apart (neither in Results nor in the snapshot).
RunPurpose = Literal["user", "study", "ceiling"]
THIS_SESSION = "this session"


@dataclass(frozen=True)
class QueuedRun:
    """A run waiting its turn or in progress. ``id`` is unique in the session."""

    id: int
    spec: RunSpec
    tags: tuple[str, ...] = ()
    purpose: RunPurpose = "user"

    def label(self) -> str:
        """What the queue shows: the spec, and what the run is for when it is not the user's."""
        why = {"study": " (study)", "ceiling": " (measuring the roofline)"}.get(self.purpose, "")
        return f"{self.spec.label()}{why}"


@dataclass(frozen=True)
class ResultEntry:
    """One run in Results: from this session, or from an opened snapshot (``path``)."""

    key: int  # unique in the session, in the order the runs arrived
    source: str  # "this session", or the snapshot's file name
    run: SnapshotRun
    path: Path | None = None

    @property
    def mine(self) -> bool:
        """Whether the run was made in this session."""
        return self.path is None


@dataclass(frozen=True)
class OpenedSnapshot:
    """A snapshot opened in the window: its file and what it holds."""

    name: str
    path: Path
    snapshot: Any  # hwprof.core.snapshot.Snapshot (Any keeps this module light to import)


# -- events -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DetectionProgressed:
    """Detection learnt something: what is known so far, and a line for the status bar."""

    report: PartialReport
    message: str


@dataclass(frozen=True)
class DetectionFinished:
    """Detection is complete (not sent when it was cancelled)."""

    report: PartialReport


@dataclass(frozen=True)
class QueueChanged:
    """A run was queued, removed or started; ``pending`` in order, ``current`` if one runs."""

    pending: tuple[QueuedRun, ...]
    current: QueuedRun | None


@dataclass(frozen=True)
class RunStarted:
    """A run's worker is being started."""

    item: QueuedRun
    progress: RunProgress
    t_s: float  # monotonic


@dataclass(frozen=True)
class RunProgressed:
    """A worker event of the run in progress, and what it changed."""

    item: QueuedRun
    event: WorkerEvent
    progress: RunProgress
    delta: ProgressDelta
    t_s: float


@dataclass(frozen=True)
class RunFinished:
    """A run ended (finished, failed or cancelled); ``entry`` is its place in Results, if any."""

    item: QueuedRun
    record: SnapshotRun
    entry: ResultEntry | None
    t_s: float


@dataclass(frozen=True)
class ResultsChanged:
    """Results gained or lost runs."""

    added: tuple[ResultEntry, ...] = ()
    removed: tuple[int, ...] = ()  # keys


@dataclass(frozen=True)
class SnapshotOpened:
    """A snapshot's runs joined Results."""

    opened: OpenedSnapshot


@dataclass(frozen=True)
class Autosaved:
    """The session's runs are on disk."""

    path: Path


@dataclass(frozen=True)
class Problem:
    """Something the person should read (a file could not be written, a run could not start)."""

    title: str
    message: str


@dataclass(frozen=True)
class StudyUpdated:
    """A study run was recorded (``finished``: the study is over; ``stopped``: by the person)."""

    study: Any  # hwprof.core.study.Study
    finished: bool = False
    stopped: bool = False


@dataclass(frozen=True)
class CeilingsUpdated:
    """A device's roofline ceilings: being measured, measured, or failed.

    Being measured: ``measuring``, ``done`` runs of ``planned``. Measured: ``ceilings``, with
    ``warnings``. Failed: ``error``.
    """

    device: str
    ceilings: Ceilings | None = None
    measuring: bool = False
    done: int = 0
    planned: int = 0
    error: str | None = None
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class TaskProgressed:
    """A background task (an export) moved on: ``done`` of ``total`` steps, then finished."""

    task: str
    done: int
    total: int
    finished: bool = False
    error: str | None = None
    path: Path | None = None


SessionEvent = (DetectionProgressed | DetectionFinished | QueueChanged | RunStarted | RunProgressed
                | RunFinished | ResultsChanged | SnapshotOpened | Autosaved | Problem
                | StudyUpdated | CeilingsUpdated | TaskProgressed)

"""Runs from the window: a queue, and a worker object in a QThread for the run in progress.

:class:`RunWorker` lives in a QThread (moved there) and calls
:func:`hwprof.services.runs.execute_run`, which starts the workload's own process; the worker's
events come back as Qt signals, delivered to slots on the GUI thread. :class:`RunQueue` runs the
queued specs one after another (never two runs at once: they would share the machine and spoil
each other's numbers), and Stop ends the run in progress within seconds.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from PySide6.QtCore import QCoreApplication, QEventLoop, QObject, QThread, Signal, Slot

from hwprof.core.snapshot import SnapshotRun
from hwprof.core.spec import RunSpec
from hwprof.sampling.sampler import Sampler


class RunWorker(QObject):
    """Runs one spec (in its QThread): ``progress(dict)`` per event, then ``done(SnapshotRun)``."""

    progress = Signal(object)
    done = Signal(object)
    finished = Signal()

    def __init__(self, spec: RunSpec, sampler: Sampler | None, env: dict[str, str] | None,
                 tags: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.spec = spec
        self.tags = tags
        self.sampler = sampler
        self.env = env
        self.cancel = threading.Event()
        self.owner_thread: QThread | None = None

    @Slot()
    def run(self) -> None:
        """Run the spec to its end; never raises (a failure is a failed result)."""
        from hwprof.core.results import failed_result
        from hwprof.services.runs import execute_run

        try:
            record = execute_run(self.spec, on_event=self.progress.emit, cancel=self.cancel,
                                 sampler=self.sampler, env=self.env)
        except Exception as err:  # the window must survive anything a run does
            record = SnapshotRun(spec=self.spec,
                                 result=failed_result(f"the run could not start: {err!r}",
                                                      "start_failed"))
        if self.tags:
            record = record.model_copy(update={"tags": tuple(record.tags) + self.tags})
        self.done.emit(record)
        self.finished.emit()


class RunQueue(QObject):
    """Pending runs and the one in progress.

    Signals: ``queue_changed()``, ``started(RunSpec)``, ``run_event(RunSpec, dict)``,
    ``finished(SnapshotRun)`` and ``idle()`` once the queue is empty and nothing runs.
    """

    queue_changed = Signal()
    started = Signal(object)
    run_event = Signal(object, object)
    finished = Signal(object)
    idle = Signal()

    def __init__(self, sampler: Sampler | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.sampler = sampler
        self.pending: list[RunSpec] = []
        self.pending_tags: list[tuple[str, ...]] = []  # beside pending: each run's snapshot tags
        self.current: RunSpec | None = None
        self.env: dict[str, str] | None = None  # extra worker environment (tests use it)
        self._thread: QThread | None = None
        self._worker: RunWorker | None = None

    @property
    def busy(self) -> bool:
        """Whether a run is in progress."""
        return self.current is not None

    def add(self, specs: list[RunSpec], tags: tuple[str, ...] = ()) -> None:
        """Queue runs (``tags`` go on their records); the first starts at once if nothing runs."""
        self.pending.extend(specs)
        self.pending_tags.extend([tags] * len(specs))
        self.queue_changed.emit()
        self._next()

    def remove_pending(self, index: int) -> None:
        """Drop a run that has not started."""
        if 0 <= index < len(self.pending):
            del self.pending[index]
            del self.pending_tags[index]
            self.queue_changed.emit()

    def stop(self, *, clear_queue: bool = True) -> None:
        """End the run in progress (its partial result is kept) and, by default, the queue."""
        if clear_queue and self.pending:
            self.pending.clear()
            self.pending_tags.clear()
            self.queue_changed.emit()
        if self._worker is not None:
            self._worker.cancel.set()

    def wait(self, timeout_ms: int = 15_000) -> bool:
        """Wait until the run in progress has ended (after :meth:`stop`); for closing.

        Events are processed meanwhile: the signal that ends the run's thread is delivered on
        this (the GUI) thread, so a plain blocking wait would never see it.
        """
        deadline = time.monotonic() + timeout_ms / 1000
        while self._thread is not None and time.monotonic() < deadline:
            QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
            thread = self._thread
            if thread is not None:
                thread.wait(20)
        return self._thread is None

    def run_thread(self) -> QThread | None:
        """The QThread of the run in progress (tests check it ends)."""
        return self._thread

    def _next(self) -> None:
        if self.current is not None or not self.pending:
            return
        spec = self.pending.pop(0)
        tags = self.pending_tags.pop(0) if self.pending_tags else ()
        self.current = spec
        thread = QThread(self)
        thread.setObjectName("hwprof-run")
        worker = RunWorker(spec, self.sampler, self.env, tags)
        worker.moveToThread(thread)
        worker.owner_thread = thread
        thread.started.connect(worker.run)
        worker.progress.connect(self._on_event)
        worker.done.connect(self._on_done)
        worker.finished.connect(thread.quit)
        thread.finished.connect(worker.deleteLater)
        thread.finished.connect(self._on_thread_finished)
        self._thread, self._worker = thread, worker
        self.queue_changed.emit()
        self.started.emit(spec)
        thread.start()

    @Slot(object)
    def _on_event(self, event: dict[str, Any]) -> None:
        if self.current is not None:
            self.run_event.emit(self.current, event)

    @Slot(object)
    def _on_done(self, record: SnapshotRun) -> None:
        self.finished.emit(record)

    @Slot()
    def _on_thread_finished(self) -> None:
        thread = self._thread
        self._thread, self._worker = None, None
        self.current = None
        if thread is not None:
            thread.deleteLater()
        self.queue_changed.emit()
        if self.pending:
            self._next()
        else:
            self.idle.emit()

"""Work off the GUI thread: one small helper that moves a function into a QThread.

:class:`QtExecutor` is the session model's executor in the window: each piece of work (detection,
a run, an export) gets its own QThread with a worker object moved into it (never a QThread
subclass); what the work reports and returns comes back as queued signals, so every callback runs
on the GUI thread. :meth:`QtExecutor.post` hands a call from any thread to the GUI thread.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QCoreApplication, QEventLoop, QObject, QThread, Signal, Slot

Work = Callable[[Callable[[Any], None]], Any]


class _Worker(QObject):
    """Calls the work in its thread; signals what it yields, returns or raises, then finished."""

    yielded = Signal(object)
    returned = Signal(object)
    errored = Signal(object)
    finished = Signal()

    def __init__(self, work: Work) -> None:
        super().__init__()
        self._work = work

    @Slot()
    def run(self) -> None:
        try:
            result = self._work(self.yielded.emit)
        except Exception as err:  # reported as a value, on the GUI thread
            self.errored.emit(err)
        else:
            self.returned.emit(result)
        finally:
            # Home to the GUI thread before the end, so that this object is destroyed there. A
            # QObject destroyed in its worker thread holds one of Qt's signal-slot locks while
            # its Python wrapper waits for the GIL; the GUI thread, holding the GIL, could wait
            # for that same lock (they are shared between objects): the window froze that way.
            app = QCoreApplication.instance()
            if app is not None:
                self.moveToThread(app.thread())
            self.finished.emit()


class _Task(QObject):
    """Lives on the GUI thread: the worker's queued signals land in its slots."""

    def __init__(self, parent: QtExecutor, on_yield: Callable[[Any], None] | None,
                 on_done: Callable[[Any], None] | None,
                 on_error: Callable[[BaseException], None] | None) -> None:
        super().__init__(parent)
        self._on_yield, self._on_done, self._on_error = on_yield, on_done, on_error
        self.qthread: QThread | None = None

    @Slot(object)
    def yielded(self, value: object) -> None:
        if self._on_yield is not None:
            self._on_yield(value)

    @Slot(object)
    def returned(self, value: object) -> None:
        if self._on_done is not None:
            self._on_done(value)

    @Slot()
    def ended(self) -> None:
        parent = self.parent()
        if isinstance(parent, QtExecutor):
            parent._ended(self)

    @Slot(object)
    def errored(self, err: object) -> None:
        if self._on_error is not None and isinstance(err, BaseException):
            self._on_error(err)
        elif isinstance(err, BaseException):
            raise err


class QtExecutor(QObject):
    """The session model's executor: each submitted work runs in a QThread of its own."""

    _posted = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._tasks: list[_Task] = []
        self._posted.connect(self._run_posted)

    def submit(
        self,
        name: str,
        work: Work,
        *,
        on_yield: Callable[[Any], None] | None = None,
        on_done: Callable[[Any], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
    ) -> None:
        """Start ``work`` in a new QThread named ``name``."""
        task = _Task(self, on_yield, on_done, on_error)
        thread = QThread(self)
        thread.setObjectName(name)
        worker = _Worker(work)
        worker.moveToThread(thread)
        thread.started.connect(worker.run)
        worker.yielded.connect(task.yielded)
        worker.returned.connect(task.returned)
        worker.errored.connect(task.errored)
        worker.finished.connect(thread.quit)
        thread.finished.connect(task.ended)
        task.qthread = thread
        task.worker = worker  # type: ignore[attr-defined]  # kept alive until the thread ends
        self._tasks.append(task)
        thread.start()

    def _ended(self, task: _Task) -> None:
        """On the GUI thread once the task's thread has finished: everything goes, here."""
        if task in self._tasks:
            self._tasks.remove(task)
        worker = getattr(task, "worker", None)
        if worker is not None:
            worker.deleteLater()  # it lives on this thread again (see _Worker.run)
            task.worker = None  # type: ignore[attr-defined]
        if task.qthread is not None:
            task.qthread.deleteLater()
            task.qthread = None
        task.deleteLater()

    def post(self, fn: Callable[[], None]) -> None:
        """Call ``fn`` on the GUI thread (a queued signal when called from another thread)."""
        self._posted.emit(fn)

    @Slot(object)
    def _run_posted(self, fn: Callable[[], None]) -> None:
        fn()

    def threads(self) -> list[QThread]:
        """The QThreads still running work (tests check they end)."""
        return [t.qthread for t in self._tasks if t.qthread is not None]

    @property
    def busy(self) -> bool:
        """Whether any work is still running."""
        return bool(self._tasks)

    def wait(self, timeout_s: float) -> bool:
        """Wait, processing events, until every task has ended and its callbacks ran.

        Events must flow meanwhile: the signals that end a task are delivered on this (the GUI)
        thread, so a plain blocking wait would never see them.
        """
        deadline = time.monotonic() + timeout_s
        while self._tasks and time.monotonic() < deadline:
            QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
            for task in list(self._tasks):
                if task.qthread is not None:
                    task.qthread.wait(10)
        QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
        return not self._tasks

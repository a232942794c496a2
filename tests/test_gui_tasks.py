"""The window's executor: work in a QThread, every callback and every deletion on the GUI thread."""

from __future__ import annotations

import threading
from typing import Any

from PySide6.QtCore import QCoreApplication, QEvent, Qt
from pytestqt.qtbot import QtBot

from hwprof.gui.tasks import QtExecutor


def test_a_task_reports_on_the_gui_thread_and_its_worker_dies_there(qtbot: QtBot) -> None:
    """A worker destroyed in its own thread deadlocked the window (a Qt lock against the GIL)."""
    executor = QtExecutor()
    gui = threading.get_ident()
    seen: dict[str, Any] = {}

    def work(report: Any) -> int:
        seen["work"] = threading.get_ident()
        report("half")
        return 42

    def note(key: str) -> Any:
        return lambda value: seen.setdefault(key, (value, threading.get_ident()))

    executor.submit("hwprof-test", work, on_yield=note("yield"), on_done=note("done"))
    (task,) = executor._tasks
    task.worker.destroyed.connect(lambda: seen.setdefault("destroyed", threading.get_ident()),
                                  Qt.ConnectionType.DirectConnection)
    assert executor.wait(30)
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    assert seen["work"] != gui
    assert seen["yield"] == ("half", gui) and seen["done"] == (42, gui)
    assert seen["destroyed"] == gui
    assert not executor.busy and executor.threads() == []


def test_a_failing_task_reports_its_error_and_ends(qtbot: QtBot) -> None:
    executor = QtExecutor()
    errors: list[BaseException] = []

    def work(_report: Any) -> None:
        raise ValueError("bad input")

    executor.submit("hwprof-test", work, on_error=errors.append)
    assert executor.wait(30)
    assert [str(e) for e in errors] == ["bad input"] and not executor.busy

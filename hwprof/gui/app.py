"""The desktop window's entry point: ``hwprof`` with no command.

The window shows at once; detection (NVML, py-cpuinfo, the TensorFlow probe child) runs on a
worker in a QThread and fills it in. The GUI process never imports TensorFlow, and imports
nothing heavy before the window is on screen.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from hwprof.gui.file_open import FileOpenFilter

# Set when a benchmark or test wants to know the moment the window is on screen.
REPORT_SHOWN_ENV = "HWPROF_REPORT_SHOWN"
SHOWN_MARKER = "hwprof: window shown"


def make_application(argv: list[str]) -> QApplication:
    """The QApplication (or the existing one), named and with its icon."""
    from hwprof.gui.resources import app_icon

    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(["hwprof", *argv])
    app.setApplicationName("hwprof")
    app.setApplicationDisplayName("hwprof")
    app.setOrganizationName("hwprof")
    app.setDesktopFileName("hwprof")  # Wayland and taskbars match the window to hwprof.desktop
    app.setWindowIcon(app_icon())  # an empty icon when the files are missing: never an error
    return app


def main(argv: list[str], files: list[str] | None = None) -> int:
    """Open the window (and ``files``, snapshots), start detection, run the event loop."""
    app = make_application(argv)
    from hwprof.gui.main_window import QtMainWindow

    # the shell first (Devices, Home): the other tabs are built right after the first paint
    window = QtMainWindow(staged=True)
    # SIGTERM and Ctrl-C close the window cleanly (ending the probe child) instead of killing
    # Python; the timer lets the interpreter run its signal handlers while Qt's loop waits.
    signal.signal(signal.SIGTERM, lambda *_: window.close())
    signal.signal(signal.SIGINT, lambda *_: window.close())
    ticker = QTimer(window)
    ticker.timeout.connect(lambda: None)
    ticker.start(200)
    window.show()
    if os.environ.get(REPORT_SHOWN_ENV):
        # after the first paint, not merely after show()
        QTimer.singleShot(0, lambda: print(SHOWN_MARKER, file=sys.stderr, flush=True))
    # detection starts once the event loop runs, so the first paint is not delayed by it
    QTimer.singleShot(0, window.start_detection)
    QTimer.singleShot(0, window.build_panels)
    for f in files or []:  # from the desktop entry: a snapshot double-clicked in a file manager
        QTimer.singleShot(0, lambda path=f: window.open_snapshot(Path(path)))
    # macOS hands double-clicked snapshots to the running app as events, not arguments
    app.installEventFilter(FileOpenFilter(window.open_snapshot, parent=window))
    return int(app.exec())

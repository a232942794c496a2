"""The window's files: open, save, browse and export snapshots and reports, and the recent list.

A controller over the session model: it asks where (a file dialog that starts in the folder last
used, with a name that says what the file holds), asks before replacing a file, and reports what
happened in the status bar or a message box. Reading and writing are the model's job; the HTML
report is written in the background with its progress in the status bar.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QMimeData, QObject, Signal, Slot
from PySide6.QtWidgets import QFileDialog, QMenu, QWidget

from hwprof.core.outputs import OutputPathError
from hwprof.core.paths import snapshots_dir
from hwprof.core.session import TaskProgressed
from hwprof.core.snapshot import DEFAULT_SUFFIX, SUFFIXES
from hwprof.core.snapshot_io import SnapshotError
from hwprof.gui import dialogs
from hwprof.gui.session_adapter import QtSessionEvents
from hwprof.gui.settings import last_folder, open_settings, remember_folder
from hwprof.gui.snapshots import SNAPSHOT_FILTER, QtSnapshotBrowser
from hwprof.services.session import SaveConflict, Session, SessionError
from hwprof.services.snapshots import safe_host_name

MAX_RECENT = 8


def dropped_snapshots(mime: QMimeData) -> list[Path]:
    """The snapshot files of a drag and drop (none when any dropped file is not one)."""
    paths = [Path(u.toLocalFile()) for u in mime.urls()]
    return paths if paths and all(p.name.endswith(SUFFIXES) for p in paths) else []


def suggested_name(session: Session, ending: str) -> str:
    """A file name that says what it holds: ``host-2026-11-24-matmul-mlp.hwprof``."""
    workloads: list[str] = []
    for run in session.session_runs():
        if run.spec.workload not in workloads:
            workloads.append(run.spec.workload)
    what = "-".join(workloads[:3]) or "session"
    return f"{safe_host_name()}-{dt.date.today().isoformat()}-{what}{ending}"


class QtFileController(QObject):
    """Open, save, browse, export and the recent files, for the window ``parent``.

    Signal ``message(str, int)``: a line for the status bar and how long to show it (ms);
    ``report_written(str)`` once a report is on disk (its path) or failed (the reason).
    """

    message = Signal(str, int)
    report_written = Signal(object)

    def __init__(self, session: Session, events: QtSessionEvents, window: QWidget,
                 warn: Callable[[str, str], None]) -> None:
        super().__init__(window)
        self.session = session
        self.window = window
        self.warn = warn
        # how the controller asks "replace?" (tests answer it)
        self.ask: Callable[[str, str], bool] = self._ask
        events.on(TaskProgressed, self._on_task, self)

    # -- opening --------------------------------------------------------------------------------
    def open_snapshot(self, path: Path) -> bool:
        """Add a snapshot's runs to Results; a bad file gets a message, never an exception."""
        try:
            opened = self.session.open_snapshot(path)
        except (SnapshotError, SessionError, OSError) as err:
            self.warn("Cannot open the snapshot", str(err))
            return False
        self.remember_recent(path)
        remember_folder(Path(path).resolve().parent)
        n = len(opened.snapshot.runs)
        self.message.emit(f"Opened {path}: {n} run{'s' if n != 1 else ''}", 5000)
        return True

    @Slot()
    def open_dialog(self) -> None:
        """Ctrl+O."""
        path, _ = QFileDialog.getOpenFileName(self.window, "Open snapshot", str(last_folder()),
                                              f"{SNAPSHOT_FILTER};;All files (*)")
        if path:
            self.open_snapshot(Path(path))

    def browser(self) -> QtSnapshotBrowser:
        """The snapshot browser on the data folder, without this session's own autosave."""
        exclude = (self.session.autosave_path,) if self.session.autosave_path else ()
        return QtSnapshotBrowser(snapshots_dir(), self.window, exclude=exclude)

    @Slot()
    def browse(self) -> Path | None:
        """The data folder's snapshots (not this session's own); open the one picked."""
        dialog = self.browser()
        if dialog.exec() and dialog.chosen is not None:
            self.open_snapshot(dialog.chosen)
        return dialog.chosen

    # -- saving ---------------------------------------------------------------------------------
    def save_session(self, path: Path) -> bool:
        """Save this session's runs to ``path``, asking before a file is replaced."""
        replace_existing = replace_input = False
        while True:
            try:
                written = self.session.save_as(path, replace_existing=replace_existing,
                                               replace_input=replace_input)
            except SaveConflict as conflict:
                if not self.ask("Replace the file?", f"{conflict} Replace it?"):
                    self.message.emit("Not saved", 4000)
                    return False
                if conflict.kind == "input":
                    replace_input = True
                else:
                    replace_existing = True
                continue
            except SessionError as err:
                self.warn("Nothing to save", str(err))
                return False
            except (OutputPathError, SnapshotError, OSError) as err:
                self.warn("Cannot save the snapshot", str(err))
                return False
            break
        self.remember_recent(written)
        remember_folder(written.parent)
        self.message.emit(f"Saved {written}", 5000)
        return True

    @Slot()
    def save_dialog(self) -> None:
        """Ctrl+S: where to save, starting in the last folder with a name that says what it is."""
        start = last_folder() / suggested_name(self.session, DEFAULT_SUFFIX)
        dialog = QFileDialog(self.window, "Save snapshot", str(start), SNAPSHOT_FILTER)
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        # the controller asks itself, with the reason (a file open in this session is special)
        dialog.setOption(QFileDialog.Option.DontConfirmOverwrite, True)
        dialog.selectFile(start.name)
        if dialog.exec() and dialog.selectedFiles():
            self.save_session(Path(dialog.selectedFiles()[0]))

    def _ask(self, title: str, text: str) -> bool:
        return dialogs.ask(self.window, title, text)

    # -- the report -----------------------------------------------------------------------------
    @Slot()
    def export_report_dialog(self) -> None:
        """Ask where, then write the session's runs as an HTML page (in the background)."""
        if not self.session.session_runs():
            self.warn("Nothing to report", "No run has finished in this session yet.")
            return
        start = last_folder() / suggested_name(self.session, ".html")
        path, _ = QFileDialog.getSaveFileName(self.window, "Export report", str(start),
                                              "HTML page (*.html)")
        if path:
            self.export_report(Path(path), replace_existing=True)  # the dialog asked

    def export_report(self, path: Path, *, replace_existing: bool = False) -> bool:
        """Start writing the session's report to ``path``; False (and why) when it cannot."""
        try:
            self.session.export_report(path, replace_existing=replace_existing)
        except SessionError as err:
            self.warn("Nothing to report", str(err))
            return False
        except (OutputPathError, OSError) as err:
            self.warn("Cannot write the report", str(err))
            return False
        remember_folder(Path(path).parent)
        self.message.emit(f"Writing the report to {path}…", 0)
        return True

    def _on_task(self, e: TaskProgressed) -> None:
        if e.task != "report":
            return
        if not e.finished:
            self.message.emit(f"Writing the report: {e.done} of {e.total} parts…", 0)
            return
        if e.error is not None:
            self.warn("Cannot write the report", e.error)
            self.report_written.emit(e.error)
            return
        self.message.emit(f"Wrote {e.path}", 5000)
        self.report_written.emit(e.path)

    # -- recent files ---------------------------------------------------------------------------
    def remember_recent(self, path: Path) -> None:
        """Put ``path`` first in File ▸ Open recent."""
        resolved = str(Path(path).resolve())
        recent = [resolved] + [p for p in self.recent_files() if p != resolved]
        open_settings().setValue("files/recent", recent[:MAX_RECENT])

    def fill_recent_menu(self, menu: QMenu, open_snapshot: Callable[[Path], object]) -> None:
        """The recent files as a menu's actions; a click opens one."""
        menu.clear()
        files = self.recent_files()
        if not files:
            menu.addAction("(none yet)").setEnabled(False)
        for f in files:
            action = menu.addAction(f)
            action.triggered.connect(lambda _c=False, p=f: open_snapshot(Path(p)))

    def recent_files(self) -> list[str]:
        """Recently opened or saved snapshots, newest first."""
        value = open_settings().value("files/recent", [])
        if isinstance(value, str):
            return [value]
        return [str(v) for v in value] if isinstance(value, list) else []

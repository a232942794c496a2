"""Snapshots in the window: the session's autosave, and a browser of the data folder.

Each finished run is added to the session's snapshot and the file is brought up to date,
atomically and under the file's lock, on a background thread (a long session's telemetry takes a
fraction of a second to write, which the window must not spend): closing the window or a crash
loses at most the run that was still going. Runs another process added to the file meanwhile
(`hwprof run --append` onto it) are kept.
"""

from __future__ import annotations

import datetime as dt
import socket
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from hwprof.core.devices import DetectReport
from hwprof.core.paths import snapshots_dir
from hwprof.core.snapshot import (
    DEFAULT_SUFFIX,
    Snapshot,
    SnapshotRun,
    new_snapshot,
    update_snapshot,
)
from hwprof.core.snapshot_io import SnapshotError
from hwprof.gui.widgets import readonly_table
from hwprof.services.snapshots import list_snapshots

SNAPSHOT_FILTER = "hwprof snapshots (*.hwprof *.hwprof.json *.hwprof.json.gz)"


def session_path() -> Path:
    """Where this session's runs are autosaved."""
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    host = "".join(c if c.isalnum() or c in "-_" else "_" for c in socket.gethostname())
    return snapshots_dir() / f"{host}-session-{stamp}{DEFAULT_SUFFIX}"


class SessionSnapshot(QObject):
    """The runs of this window's session, kept in a snapshot file that is rewritten after each run.

    Signals ``saved(str)`` with the path, ``failed(str)`` with the reason (on the GUI thread).
    """

    saved = Signal(str)
    failed = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.snapshot: Snapshot | None = None
        self.path: Path | None = None
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="hwprof-autosave")
        self._pending: list[Future[None]] = []
        self._closed = False

    def add(self, run: SnapshotRun, machine: DetectReport) -> None:
        """Add a run and save the whole session in the background."""
        if self.snapshot is None:
            title = f"hwprof session on {machine.host.hostname}"
            self.snapshot = new_snapshot(machine, title=title)
        self.snapshot = self.snapshot.with_run(run)
        if self.path is None:
            self.path = session_path()
        snapshot, path = self.snapshot, self.path
        if self._closed:  # a run that ended as the window closed: write it now
            self._write(snapshot, path)
            return
        self._pending.append(self._pool.submit(self._write, snapshot, path))

    def _write(self, snapshot: Snapshot, path: Path) -> None:
        try:  # the file gains this session's runs it lacks; nothing on it is dropped
            update_snapshot(path, lambda on_disk: snapshot if on_disk is None
                            else on_disk.with_new_runs(snapshot.runs))
        except SnapshotError as err:
            self.failed.emit(f"autosave failed: {err}")
            return
        self.saved.emit(str(path))

    def flush(self) -> None:
        """Wait for the saves in progress."""
        for f in self._pending:
            f.result()
        self._pending.clear()

    def close(self) -> None:
        """Finish writing and end the background thread."""
        self._closed = True
        self._pool.shutdown(wait=True)


class QtSnapshotBrowser(QDialog):
    """The snapshots in the data folder: pick one to open (double-click or Open)."""

    def __init__(self, folder: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("hwprof — snapshots")
        self.resize(900, 420)
        self.chosen: Path | None = None
        rows = list_snapshots(folder)
        self.table = readonly_table(
            "snapshot_table", ["created (UTC)", "file", "host", "devices", "runs", "tags"],
            rows=len(rows), select_rows=True, stretch_last=True)
        for i, r in enumerate(rows):
            name = Path(r["path"]).name
            if r["error"]:
                cells = ["", name, f"unreadable: {r['error']}", "", "", ""]
            else:
                cells = [r["created_at"].replace("T", " ").replace("+00:00", ""), name, r["host"],
                         ", ".join(r["devices"]), str(r["runs"]), ", ".join(r["tags"])]
            for j, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, r["path"])
                self.table.setItem(i, j, item)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Open
                                   | QDialogButtonBox.StandardButton.Close)
        buttons.accepted.connect(self._open)
        buttons.rejected.connect(self.reject)
        self.table.doubleClicked.connect(lambda _i: self._open())
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(f"Snapshots in {folder}" if rows
                                else f"No snapshots in {folder} yet: every run you make is saved "
                                "there (File ▸ Save snapshot… saves elsewhere)"))
        layout.addWidget(self.table)
        layout.addWidget(buttons)

    def _open(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return
        item = self.table.item(rows[0].row(), 1)
        if item is not None:
            self.chosen = Path(str(item.data(Qt.ItemDataRole.UserRole)))
            self.accept()

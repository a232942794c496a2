"""Snapshots the system hands to the running app: macOS' Finder sends them as QFileOpenEvent.

On macOS a double-clicked file never reaches ``sys.argv``: Launch Services starts the app (or
finds it running) and sends an "open documents" event, which Qt turns into a ``QFileOpenEvent``
on the application object. :class:`FileOpenFilter` catches those and calls the window's open
function. On Linux and Windows files come on the command line and this filter never fires.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QEvent, QObject
from PySide6.QtGui import QFileOpenEvent


class FileOpenFilter(QObject):
    """An application event filter that opens files the system asks the app to open."""

    def __init__(self, open_file: Callable[[Path], object], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._open_file = open_file

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Open the file of a QFileOpenEvent; let every other event through."""
        if event.type() == QEvent.Type.FileOpen and isinstance(event, QFileOpenEvent):
            name = event.file() or event.url().toLocalFile()
            if name:
                self._open_file(Path(name))
                return True
        return super().eventFilter(watched, event)

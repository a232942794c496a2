"""The snapshot browser: the snapshots of a folder, to open, rename, tag or delete.

It lists the data folder (where every session is autosaved) or any other folder the person picks;
the live session's own autosave is left out (opening it would show every run twice). Every name,
host and tag is shown as plain text.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from hwprof.core.outputs import same_file
from hwprof.core.snapshot_io import SnapshotError
from hwprof.gui import dialogs
from hwprof.gui.widgets import readonly_table
from hwprof.services.snapshots import (
    delete_snapshot,
    list_snapshots,
    parse_tags,
    rename_snapshot,
    set_snapshot_tags,
)

SNAPSHOT_FILTER = "hwprof snapshots (*.hwprof *.hwprof.json *.hwprof.json.gz)"
PATH_ROLE = Qt.ItemDataRole.UserRole


class QtSnapshotBrowser(QDialog):
    """The snapshots of a folder: open (double-click), rename, tag, delete, or pick a folder.

    ``exclude``: files not to list (the live session's autosave). ``ask``: how the dialog asks
    yes/no questions (tests answer them).
    """

    def __init__(self, folder: Path, parent: QWidget | None = None, *,
                 exclude: tuple[Path, ...] = ()) -> None:
        super().__init__(parent)
        self.setWindowTitle("Snapshots")
        self.resize(960, 440)
        self.folder = folder
        self.exclude = exclude
        self.chosen: Path | None = None
        self.ask: Callable[[str, str], bool] = self._ask
        self.heading = QLabel()
        self.heading.setTextFormat(Qt.TextFormat.PlainText)
        self.heading.setWordWrap(True)
        self.table = readonly_table(
            "snapshot_table", ["created (UTC)", "file", "host", "devices", "runs", "tags"],
            select_rows=True, stretch_last=True)
        self.folder_button = QPushButton("Other folder…")
        self.folder_button.setToolTip("List the snapshots of another folder")
        self.rename_button = QPushButton("Rename…")
        self.tags_button = QPushButton("Tags…")
        self.tags_button.setToolTip("Words to find the snapshot by, separated by commas")
        self.delete_button = QPushButton("Delete…")
        self.delete_button.setToolTip("Delete the selected snapshot file (asks first)")
        actions = QHBoxLayout()
        for b in (self.folder_button, self.rename_button, self.tags_button, self.delete_button):
            actions.addWidget(b)
        actions.addStretch(1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Open
                                   | QDialogButtonBox.StandardButton.Close)
        buttons.accepted.connect(self._open)
        buttons.rejected.connect(self.reject)
        self.table.doubleClicked.connect(lambda _i: self._open())
        self.folder_button.clicked.connect(self._pick_folder)
        self.rename_button.clicked.connect(self._rename_dialog)
        self.tags_button.clicked.connect(self._tags_dialog)
        self.delete_button.clicked.connect(self._delete_dialog)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addWidget(self.table)
        layout.addLayout(actions)
        layout.addWidget(buttons)
        self.fill()

    # -- the list -------------------------------------------------------------------------------
    def fill(self) -> None:
        """List the folder's snapshots again."""
        rows = [r for r in list_snapshots(self.folder)
                if not any(same_file(Path(r["path"]), e) for e in self.exclude)]
        self.table.setSortingEnabled(False)
        self.table.setRowCount(len(rows))
        for i, r in enumerate(rows):
            name = Path(r["path"]).name
            if r["error"]:
                cells = ["", name, f"unreadable: {r['error']}", "", "", ""]
            else:
                cells = [r["created_at"].replace("T", " ").replace("+00:00", ""), name, r["host"],
                         ", ".join(r["devices"]), str(r["runs"]), ", ".join(r["tags"])]
            for j, text in enumerate(cells):
                item = QTableWidgetItem(text)  # table items are plain text
                item.setData(PATH_ROLE, r["path"])
                item.setToolTip(text)
                self.table.setItem(i, j, item)
        self.heading.setText(f"Snapshots in {self.folder}" if rows else
                             f"No snapshots in {self.folder} yet: every run you make is saved in "
                             "hwprof's data folder (File ▸ Save snapshot… saves elsewhere)")
        self._update_buttons()

    def rows(self) -> dict[str, str]:
        """File name -> host (or why it is unreadable), as listed."""
        out = {}
        for r in range(self.table.rowCount()):
            name, host = self.table.item(r, 1), self.table.item(r, 2)
            if name is not None and host is not None:
                out[name.text()] = host.text()
        return out

    def select_file(self, name: str) -> bool:
        """Select the row of the file called ``name``."""
        for r in range(self.table.rowCount()):
            item = self.table.item(r, 1)
            if item is not None and item.text() == name:
                self.table.selectRow(r)
                return True
        return False

    def selected_path(self) -> Path | None:
        """The selected snapshot's file."""
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return None
        item = self.table.item(rows[0].row(), 1)
        return Path(str(item.data(PATH_ROLE))) if item is not None else None

    @Slot()
    def _update_buttons(self) -> None:
        chosen = self.selected_path() is not None
        for b in (self.rename_button, self.tags_button, self.delete_button):
            b.setEnabled(chosen)

    def show_folder(self, folder: Path) -> None:
        """List another folder."""
        self.folder = folder
        self.fill()

    # -- actions --------------------------------------------------------------------------------
    def _open(self) -> None:
        path = self.selected_path()
        if path is not None:
            self.chosen = path
            self.accept()

    def rename(self, path: Path, new_name: str) -> Path | None:
        """Rename a snapshot; a refusal is shown in the heading, never raised."""
        try:
            target = rename_snapshot(path, new_name)
        except (ValueError, OSError) as err:
            self.heading.setText(f"Cannot rename {path.name}: {err}")
            return None
        self.fill()
        self.select_file(target.name)
        return target

    def set_tags(self, path: Path, text: str) -> bool:
        """Tag a snapshot ("a, b"); a refusal is shown in the heading."""
        try:
            set_snapshot_tags(path, parse_tags(text))
        except (SnapshotError, OSError) as err:
            self.heading.setText(f"Cannot tag {path.name}: {err}")
            return False
        self.fill()
        self.select_file(path.name)
        return True

    def delete(self, path: Path) -> bool:
        """Delete a snapshot after asking."""
        if not self.ask("Delete the snapshot?", f"{path.name} will be deleted for good."):
            return False
        try:
            delete_snapshot(path)
        except (ValueError, OSError) as err:
            self.heading.setText(f"Cannot delete {path.name}: {err}")
            return False
        self.fill()
        return True

    def _ask(self, title: str, text: str) -> bool:
        return dialogs.ask(self, title, text)

    @Slot()
    def _rename_dialog(self) -> None:
        path = self.selected_path()
        if path is None:
            return
        name, ok = QInputDialog.getText(self, "Rename snapshot", "New file name:",
                                        QLineEdit.EchoMode.Normal, path.name)
        if ok and name:
            self.rename(path, name)

    @Slot()
    def _tags_dialog(self) -> None:
        path = self.selected_path()
        if path is None:
            return
        row = self.table.currentRow()
        tags_item = self.table.item(row, 5)
        current = tags_item.text() if tags_item is not None else ""
        text, ok = QInputDialog.getText(self, "Snapshot tags", "Tags, separated by commas:",
                                        QLineEdit.EchoMode.Normal, current)
        if ok:
            self.set_tags(path, text)

    @Slot()
    def _delete_dialog(self) -> None:
        path = self.selected_path()
        if path is not None:
            self.delete(path)

    @Slot()
    def _pick_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Snapshots in…", str(self.folder))
        if folder:
            self.show_folder(Path(folder))

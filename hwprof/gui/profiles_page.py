"""The Profiles page: every profile, sortable and filterable, and two or more side by side.

A view of the session's profiles list (the profiles folder, and profile files opened from other
machines). The table is a Qt model over the list's entries behind a QSortFilterProxyModel:
numbers sort as numbers, and the filter matches any column. One selected profile shows its score
card and table below; "Compare selected" sets two or more against the first. Rename and tags
change the profile's file (under its lock, in the background); Delete moves a profile to the
trash where the system has one, and otherwise deletes it after asking.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QFile,
    QItemSelectionModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    Signal,
    Slot,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLineEdit,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from hwprof.core.profile_text import DASH, fmt_duration, fmt_score
from hwprof.core.snapshot_io import SnapshotError
from hwprof.core.text import printable
from hwprof.gui import dialogs
from hwprof.gui.profile_views import QtProfileComparison, QtProfileResult
from hwprof.gui.session_adapter import QtSessionEvents
from hwprof.gui.snapshots import SNAPSHOT_FILTER
from hwprof.gui.widgets import EmptyState, plain_label
from hwprof.services.profile_session import ProfileEntry, ProfilesChanged, local_time
from hwprof.services.session import Session, SessionError
from hwprof.services.snapshots import parse_tags

SORT_ROLE = Qt.ItemDataRole.UserRole
PATH_ROLE = Qt.ItemDataRole.UserRole + 1
COLUMNS: tuple[tuple[str, str], ...] = (
    ("name", "The profile's name (Rename changes it; the file keeps its name)"),
    ("device", "The device profiled"),
    ("machine", "The machine's host name"),
    ("date", "When the profile was made (local time)"),
    ("score", "Overall score with its 95% interval; 1000 = the reference machine"),
    ("suite", "The suite version: profiles compare test by test within one version"),
    ("length", "quick or full"),
    ("tests", "Tests that measured something, of the tests in the profile"),
    ("took", "How long the profile took"),
    ("tags", "Your tags (Tags… changes them)"),
    ("from", "The profiles folder, or a file opened from elsewhere (another machine)"),
)
EMPTY_TEXT = ("Select a profile to see its score and table; select two or more (Ctrl+click) and "
              "press Compare selected to set them side by side.")
NO_PROFILES = ("No profiles yet. Profile this device on the Home tab, or add a profile file from "
               "another machine.")


def cells(entry: ProfileEntry) -> list[tuple[str, Any]]:
    """(text, sort key) for each column of one profile."""
    overall = entry.score.overall if entry.score is not None else None
    withheld = entry.score is not None and entry.score.invalid_reason is not None
    record = entry.record
    return [
        (entry.name, entry.name.lower()),
        (entry.device_label, entry.device_label.lower()),
        (entry.hostname, entry.hostname.lower()),
        (local_time(entry.created_at), entry.created_at),
        ("withheld" if withheld else fmt_score(overall), overall.value if overall else -1.0),
        (record.suite, record.suite),
        (record.length, record.length),
        (f"{entry.tests_ok} of {len(record.tests)}", entry.tests_ok),
        (fmt_duration(entry.wall_seconds) if entry.wall_seconds is not None else DASH,
         entry.wall_seconds or 0.0),
        (", ".join(entry.tags), ", ".join(entry.tags).lower()),
        ("profiles folder" if entry.source == "profiles" else "opened file", entry.source),
    ]


class ProfilesModel(QAbstractTableModel):
    """The profiles list as a table: text to show, a key to sort by, the file per row."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.entries: list[ProfileEntry] = []
        self._cells: list[list[tuple[str, Any]]] = []

    def set_entries(self, entries: list[ProfileEntry]) -> None:
        """Show these profiles."""
        self.beginResetModel()
        self.entries = list(entries)
        self._cells = [cells(e) for e in self.entries]
        self.endResetModel()

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex | None = None) -> int:
        """Profiles."""
        return 0 if parent is not None and parent.isValid() else len(self.entries)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex | None = None) -> int:
        """Columns."""
        return 0 if parent is not None and parent.isValid() else len(COLUMNS)

    def data(self, index: QModelIndex | QPersistentModelIndex,
             role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        """Text (plain: the view never reads it as markup), sort key, tooltip, path."""
        if not index.isValid():
            return None
        text, key = self._cells[index.row()][index.column()]
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return printable(text)
        if role == SORT_ROLE:
            return key
        if role == PATH_ROLE:
            return str(self.entries[index.row()].path)
        if role == Qt.ItemDataRole.TextAlignmentRole and index.column() in (4, 7, 8):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        """Column names and what they mean."""
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(COLUMNS):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section][0]
        if role == Qt.ItemDataRole.ToolTipRole:
            return COLUMNS[section][1]
        return None


def move_to_trash(path: Path) -> bool:
    """Move a file to the system's trash; False where there is none (the file stays)."""
    ok, _where = QFile.moveToTrash(str(path))
    return bool(ok)


class QtProfilesPage(QWidget):
    """Every profile: filter, sort, rename, tag, delete, open, compare.

    Signal ``open_requested(Path)``: show the profile's runs in Results (the window opens it).
    ``ask(title, text)`` and ``trash(path)`` are how the page asks and trashes (tests answer).
    """

    open_requested = Signal(object)

    def __init__(self, session: Session, events: QtSessionEvents,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.profiles = session.profiles
        self.ask: Callable[[str, str], bool] = lambda title, text: dialogs.ask(self, title, text)
        self.trash: Callable[[Path], bool] = move_to_trash
        self.model = ProfilesModel(self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(SORT_ROLE)
        self.proxy.setFilterKeyColumn(-1)  # any column
        self.proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.filter = QLineEdit()
        self.filter.setObjectName("profiles_filter")
        self.filter.setPlaceholderText("Filter: name, device, machine, tag…")
        self.filter.setClearButtonEnabled(True)
        self.filter.textChanged.connect(self.proxy.setFilterFixedString)
        self.view = QTableView()
        self.view.setObjectName("profiles_table")
        self.view.setModel(self.proxy)
        self.view.setSortingEnabled(True)
        self.view.sortByColumn(3, Qt.SortOrder.DescendingOrder)  # newest first
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.verticalHeader().setVisible(False)
        self.view.setWordWrap(False)
        header = self.view.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        self.view.doubleClicked.connect(lambda _i: self.show_selected())
        self.buttons: dict[str, QPushButton] = {}
        row = QHBoxLayout()
        row.addWidget(self.filter, 1)
        for key, text, tip, slot in (
            ("compare", "Compare selected", "Set the selected profiles side by side, each "
             "against the first", self.compare_selected),
            ("rename", "Rename…", "Give the selected profile a name", self._rename_dialog),
            ("tags", "Tags…", "Tag the selected profiles", self._tags_dialog),
            ("delete", "Delete…", "Move the selected profiles to the trash (or delete them "
             "after asking); an opened file only leaves the list", self.delete_selected),
            ("runs", "Runs in Results", "Open the selected profile's runs in Results: steps, "
             "histograms, telemetry", self._open_runs),
            ("add", "Add profile file…", "Add a profile from another machine to the list",
             self._add_dialog),
        ):
            button = QPushButton(text)
            button.setObjectName(f"profiles_{key}")
            button.setToolTip(tip)
            button.clicked.connect(slot)
            row.addWidget(button)
            self.buttons[key] = button
        self.note = plain_label("", name="profiles_note")
        self.note.hide()
        self.empty = EmptyState(NO_PROFILES)
        self.list_stack = QStackedWidget()
        self.list_stack.addWidget(self.empty)
        self.list_stack.addWidget(self.view)
        self.result = QtProfileResult()
        self.comparison = QtProfileComparison()
        self.detail = QStackedWidget()
        self.detail_empty = EmptyState(EMPTY_TEXT)
        for w in (self.detail_empty, self.result, self.comparison):
            self.detail.addWidget(w)
        top = QWidget()
        tl = QVBoxLayout(top)
        tl.setContentsMargins(0, 0, 0, 0)
        tl.addLayout(row)
        tl.addWidget(self.note)
        tl.addWidget(self.list_stack, 1)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(top)
        splitter.addWidget(self.detail)
        splitter.setSizes([220, 580])
        layout = QVBoxLayout(self)
        layout.addWidget(splitter)
        self.view.selectionModel().selectionChanged.connect(self._on_selection)
        events.on(ProfilesChanged, self._on_profiles_changed, self)
        self._set_entries(self.profiles.all_entries())
        self._update_buttons()

    # -- the list ---------------------------------------------------------------------------------
    def _on_profiles_changed(self, e: ProfilesChanged) -> None:
        self._set_entries(list(e.entries))
        if e.unreadable:
            names = ", ".join(printable(p.name) for p, _ in e.unreadable[:3])
            more = len(e.unreadable) - 3
            self.note.setText(f"{len(e.unreadable)} file(s) in the profiles folder could not be "
                              f"read: {names}" + (f" and {more} more" if more > 0 else ""))
            self.note.setToolTip("\n".join(printable(f"{p}: {why}") for p, why in e.unreadable))
            self.note.show()

    def _set_entries(self, entries: list[ProfileEntry]) -> None:
        chosen = self.selected_paths()
        self.model.set_entries(entries)
        self.list_stack.setCurrentWidget(self.view if entries else self.empty)
        self.view.resizeColumnsToContents()
        for col in (0, 1, 2):  # a long name or device elides (its tooltip has it all)
            self.view.setColumnWidth(col, min(self.view.columnWidth(col), 260))
        self.select_paths(chosen)
        self._update_buttons()

    def visible_paths(self) -> list[Path]:
        """The profiles the filter lets through, in the table's order."""
        return [Path(str(self.proxy.index(r, 0).data(PATH_ROLE)))
                for r in range(self.proxy.rowCount())]

    def selected_paths(self) -> list[Path]:
        """The selected profiles' files, in the table's order."""
        rows = sorted(i.row() for i in self.view.selectionModel().selectedRows())
        return [Path(str(self.proxy.index(r, 0).data(PATH_ROLE))) for r in rows]

    def select_paths(self, paths: list[Path]) -> None:
        """Select these profiles (those the filter shows)."""
        sel = self.view.selectionModel()
        sel.clearSelection()
        wanted = {str(p) for p in paths}
        for r in range(self.proxy.rowCount()):
            index = self.proxy.index(r, 0)
            if index.data(PATH_ROLE) in wanted:
                sel.select(index, QItemSelectionModel.SelectionFlag.Select
                           | QItemSelectionModel.SelectionFlag.Rows)

    def _update_buttons(self) -> None:
        n = len(self.selected_paths())
        self.buttons["compare"].setEnabled(n >= 2)
        for key in ("rename", "runs"):
            self.buttons[key].setEnabled(n == 1)
        for key in ("tags", "delete"):
            self.buttons[key].setEnabled(n >= 1)

    @Slot()
    def _on_selection(self) -> None:
        self._update_buttons()
        paths = self.selected_paths()
        if len(paths) == 1:
            self.show_selected()
        elif not paths:
            self.detail.setCurrentWidget(self.detail_empty)

    def show_selected(self) -> None:
        """Show the (first) selected profile's score card and table."""
        paths = self.selected_paths()
        entry = self.profiles.entry(paths[0]) if paths else None
        if entry is None:
            return
        self.result.show_entry(entry, self.profiles.reference)
        self.detail.setCurrentWidget(self.result)

    def _say(self, text: str) -> None:
        self.note.setText(printable(text))
        self.note.setToolTip("")
        self.note.show()

    # -- actions ----------------------------------------------------------------------------------
    @Slot()
    def compare_selected(self) -> bool:
        """Set the selected profiles side by side, against the first in the table."""
        try:
            comparison, entries = self.profiles.compare(self.selected_paths())
        except SessionError as err:
            self._say(str(err))
            return False
        self.comparison.show_comparison(comparison, entries)
        self.detail.setCurrentWidget(self.comparison)
        return True

    def rename(self, path: Path, name: str) -> None:
        """Give a profile a new name (the list updates once the file is written)."""
        self.profiles.rename(path, name)

    def set_tags(self, path: Path, text: str) -> None:
        """Tag a profile ("a, b")."""
        self.profiles.set_tags(path, parse_tags(text))

    def delete(self, path: Path) -> bool:
        """Take a profile away (True when it is gone from the list).

        An opened file leaves the list (the file stays); one of the profiles folder goes to the
        trash or, where there is none, is deleted after asking.
        """
        entry = self.profiles.entry(path)
        if entry is None:
            return False
        if entry.source == "opened":
            self.profiles.forget(path)
            self._say(f"{entry.name} left the list; its file {path} stays where it is.")
            return True
        if self.trash(path):
            self.profiles.forget(path)
            self._say(f"{entry.name} was moved to the trash.")
            return True
        if not self.ask("Delete the profile?", printable(
                f"{entry.name} ({path.name}) will be deleted for good: there is no trash to move "
                "it to here.")):
            return False
        try:
            self.profiles.delete(path)
        except (ValueError, OSError) as err:
            self._say(f"Cannot delete {path.name}: {err}")
            return False
        return True

    @Slot()
    def delete_selected(self) -> None:
        """Delete (or trash) each selected profile."""
        for path in self.selected_paths():
            self.delete(path)

    @Slot()
    def _rename_dialog(self) -> None:
        paths = self.selected_paths()
        entry = self.profiles.entry(paths[0]) if paths else None
        if entry is None:
            return
        name, ok = QInputDialog.getText(self, "Rename profile", "Name:",
                                        QLineEdit.EchoMode.Normal, entry.name)
        if ok:
            self.rename(entry.path, name)

    @Slot()
    def _tags_dialog(self) -> None:
        paths = self.selected_paths()
        entry = self.profiles.entry(paths[0]) if paths else None
        if entry is None:
            return
        text, ok = QInputDialog.getText(self, "Profile tags", "Tags, separated by commas:",
                                        QLineEdit.EchoMode.Normal, ", ".join(entry.tags))
        if ok:
            for path in paths:
                self.set_tags(path, text)

    @Slot()
    def _open_runs(self) -> None:
        paths = self.selected_paths()
        if paths:
            self.open_requested.emit(paths[0])

    def add_file(self, path: Path) -> bool:
        """Add a profile file from elsewhere to the list (a refusal shows above the list)."""
        try:
            entry = self.profiles.open_file(path)
        except (SnapshotError, SessionError, OSError) as err:
            self._say(str(err))
            return False
        self.select_paths([entry.path])
        return True

    @Slot()
    def _add_dialog(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self, "Add a profile", str(Path.home()),
                                              f"{SNAPSHOT_FILTER};;All files (*)")
        if name:
            self.add_file(Path(name))

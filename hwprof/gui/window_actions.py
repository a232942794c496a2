"""The window's actions and menus, and the list of keyboard shortcuts shown in Help.

Every action has a tooltip; the shortcuts are the platform's where one exists (Open, Save, Quit).
Stop is deliberate: it has no Escape shortcut (Escape belongs to text fields and dialogs), it ends
only the run in progress, and the window asks before it does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QVBoxLayout, QWidget

from hwprof.core.session import QueueChanged
from hwprof.gui.theme import THEME_MODES
from hwprof.gui.widgets import readonly_table

if TYPE_CHECKING:
    from hwprof.gui.main_window import QtMainWindow

TABS = (("home", "Home"), ("profiles", "Profiles"), ("run", "Run"), ("live", "Live"),
        ("results", "Results"), ("compare", "Compare"), ("roofline", "Roofline"))
TIPS = {
    "home": "Profile this device: the suite, a score, and a table of every test",
    "profiles": "Every profile: sort, filter, rename, tag, delete, and compare side by side",
    "run": "Run a TensorFlow workload on a device",
    "live": "Live utilization, memory, power, clocks and throughput",
    "results": "Every run's numbers, sortable, with details",
    "compare": "Compare targets (devices, precision, XLA, threads) or sweep an axis",
    "roofline": "Each device's compute and bandwidth ceilings, and where runs sit",
}
STOP_SHORTCUT = "Ctrl+."


@dataclass
class WindowActions:
    """Every action of the window's menus."""

    open: QAction
    save: QAction
    browse: QAction
    export_report: QAction
    export_charts: QAction
    quit: QAction
    run: QAction
    stop: QAction
    stop_all: QAction
    refresh: QAction
    about: QAction
    shortcuts: QAction
    tabs: list[QAction] = field(default_factory=list)
    themes: dict[str, QAction] = field(default_factory=dict)


def _action(parent: QWidget, text: str, tip: str,
            shortcut: QKeySequence | QKeySequence.StandardKey | Qt.Key | str | None = None
            ) -> QAction:
    action = QAction(text, parent)
    action.setToolTip(tip)
    if shortcut is not None:
        action.setShortcut(QKeySequence(shortcut))
    return action


def make_actions(w: QtMainWindow) -> WindowActions:
    """The window's actions, connected to it."""
    a = WindowActions(
        open=_action(w, "&Open snapshot…", "Open a snapshot: its runs join the Results tab",
                     QKeySequence.StandardKey.Open),
        save=_action(w, "&Save snapshot…", "Save this session's runs as a snapshot file to keep "
                     "or share (they are also saved in the data folder after every run)",
                     QKeySequence.StandardKey.Save),
        browse=_action(w, "&Browse snapshots…", "The snapshots in hwprof's data folder (or "
                       "another): open, rename, tag, delete", "Ctrl+B"),
        export_report=_action(w, "Export &report (HTML)…", "This session's runs as one "
                              "self-contained HTML page", "Ctrl+E"),
        export_charts=_action(w, "Export &charts (PNG/SVG)…", "The live charts as an image"),
        quit=_action(w, "&Quit", "Close hwprof (asks first while a run goes)", "Ctrl+Q"),
        run=_action(w, "&Run", "Queue the workload of the Run tab on the ticked devices",
                    "Ctrl+R"),
        stop=_action(w, "&Stop the run…", "End the run in progress (asks first); what it "
                     "measured is kept as a cancelled result and the queue goes on",
                     STOP_SHORTCUT),
        stop_all=_action(w, "Stop and clear the &queue…", "End the run in progress and take "
                         "every waiting run off the queue (asks first)"),
        refresh=_action(w, "&Refresh devices", "Detect the CPU, the GPUs and TensorFlow's view "
                        "again", Qt.Key.Key_F5),
        about=_action(w, "&About hwprof", "Versions of hwprof, Python, Qt, TensorFlow, CUDA, "
                      "driver"),
        shortcuts=_action(w, "&Keyboard shortcuts", "Every shortcut of the window", "F1"),
    )
    a.quit.setMenuRole(QAction.MenuRole.QuitRole)
    a.about.setMenuRole(QAction.MenuRole.AboutRole)
    a.open.triggered.connect(w.files.open_dialog)
    a.save.triggered.connect(w.files.save_dialog)
    a.browse.triggered.connect(w.files.browse)
    a.export_report.triggered.connect(w.files.export_report_dialog)
    a.export_charts.triggered.connect(lambda: w.live_panel.export_dialog())
    a.quit.triggered.connect(w.close)
    a.run.triggered.connect(lambda: w.run_panel.request_run())
    for action in (a.run, a.export_charts):  # on once the panels are built
        action.setEnabled(w.panels_built)
    a.stop.triggered.connect(w.request_stop)
    a.stop_all.triggered.connect(w.request_stop_all)
    a.refresh.triggered.connect(w.refresh_devices)
    a.about.triggered.connect(w.show_about)
    a.shortcuts.triggered.connect(w.show_shortcuts)
    for action in (a.stop, a.stop_all):
        action.setEnabled(False)

    def on_queue(e: QueueChanged) -> None:  # Stop is there only when there is something to stop
        a.stop.setEnabled(e.current is not None)
        a.stop_all.setEnabled(e.current is not None or bool(e.pending))

    w.events.on(QueueChanged, on_queue, w)
    for i, (key, title) in enumerate(TABS):
        action = _action(w, f"&{title}", f"Show the {title} tab", f"Ctrl+{i + 1}")
        action.triggered.connect(lambda _c=False, k=key: w.show_tab(k))
        a.tabs.append(action)
    group = QActionGroup(w)
    group.setExclusive(True)
    labels = {"system": "&System", "light": "&Light", "dark": "&Dark"}
    tips = {"system": "Follow the desktop's light or dark setting", "light": "Always light",
            "dark": "Always dark"}
    for mode in THEME_MODES:
        action = _action(w, labels[mode], tips[mode])
        action.setCheckable(True)
        action.setData(mode)
        action.triggered.connect(lambda _checked=False, m=mode: w.set_theme(m))
        group.addAction(action)
        a.themes[mode] = action
    return a


def make_menus(w: QtMainWindow, a: WindowActions) -> None:
    """File, Run, View and Help."""
    bar = w.menuBar()
    file_menu = bar.addMenu("&File")
    file_menu.setToolTipsVisible(True)
    file_menu.addAction(a.open)
    recent = file_menu.addMenu("Open &recent")
    recent.aboutToShow.connect(w.fill_recent_menu)
    w.recent_menu = recent
    file_menu.addAction(a.browse)
    file_menu.addAction(a.save)
    file_menu.addSeparator()
    file_menu.addAction(a.export_report)
    file_menu.addAction(a.export_charts)
    file_menu.addSeparator()
    file_menu.addAction(a.quit)
    run_menu = bar.addMenu("&Run")
    run_menu.setToolTipsVisible(True)
    for action in (a.run, a.stop, a.stop_all):
        run_menu.addAction(action)
    view_menu = bar.addMenu("&View")
    view_menu.setToolTipsVisible(True)
    theme_menu = view_menu.addMenu("&Theme")
    theme_menu.setToolTipsVisible(True)
    for action in a.themes.values():
        theme_menu.addAction(action)
    view_menu.addSeparator()
    for action in a.tabs:
        view_menu.addAction(action)
    view_menu.addSeparator()
    view_menu.addAction(a.refresh)
    help_menu = bar.addMenu("&Help")
    help_menu.setToolTipsVisible(True)
    help_menu.addAction(a.shortcuts)
    help_menu.addAction(a.about)


def shortcut_rows(a: WindowActions) -> list[tuple[str, str]]:
    """(keys, what they do) for every action with a shortcut, in menu order."""
    actions = [a.open, a.save, a.browse, a.export_report, a.quit, a.run, a.stop, *a.tabs,
               a.refresh, a.shortcuts]
    rows = [(action.shortcut().toString(QKeySequence.SequenceFormat.NativeText),
             action.text().replace("&", "").rstrip("…")) for action in actions
            if not action.shortcut().isEmpty()]
    rows += [("Delete", "Remove the selected waiting run (Run tab) or results (Results tab)"),
             ("Ctrl+C", "Copy the selected results as tab-separated text")]
    return rows


class QtShortcutsDialog(QDialog):
    """Help ▸ Keyboard shortcuts: a table of every key and what it does."""

    def __init__(self, rows: list[tuple[str, str]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        self.table = readonly_table("shortcuts_table", ["keys", "what it does"], rows=len(rows),
                                    stretch_last=True)
        from PySide6.QtWidgets import QTableWidgetItem

        for i, (keys, what) in enumerate(rows):
            self.table.setItem(i, 0, QTableWidgetItem(keys))
            self.table.setItem(i, 1, QTableWidgetItem(what))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(buttons)
        self.resize(520, 480)

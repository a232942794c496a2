"""The main window: Devices on the left; Run, Live and Results tabs on the right.

Detection runs on a :class:`~hwprof.gui.detection.DetectWorker` in a QThread and fills the
Devices panel in as it goes; the window shows at once and stays responsive throughout. Geometry,
splitters, the current tab and the theme are remembered in the settings file.
"""

from __future__ import annotations

import socket
from collections.abc import Callable

from PySide6.QtCore import QByteArray, Qt, QThread, Signal, Slot
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QLabel,
    QMainWindow,
    QProgressBar,
    QSplitter,
    QTabWidget,
    QWidget,
)

from hwprof.gui.about import QtAboutDialog
from hwprof.gui.detection import (
    DetectFunctions,
    DetectWorker,
    PartialReport,
    default_detect_functions,
)
from hwprof.gui.devices_panel import QtDevicesPanel
from hwprof.gui.placeholders import QtPlaceholderPanel
from hwprof.gui.resources import app_icon
from hwprof.gui.settings import open_settings
from hwprof.gui.theme import THEME_MODES, apply_theme

SNAPSHOTS_LATER = "arrives with snapshots"
TABS = (("run", "Run"), ("live", "Live"), ("results", "Results"))


def ready_message(report: PartialReport) -> str:
    """The status line once detection is done: "Ready: 1 CPU, 0 GPUs (no NVIDIA driver: ...)"."""
    cpus = len(report.cpus or ())
    gpus = len(report.gpus or ())
    text = f"Ready: {cpus} CPU{'s' if cpus != 1 else ''}, {gpus} GPU{'s' if gpus != 1 else ''}"
    if report.nvml is not None and not report.nvml.available:
        text += f" ({report.nvml.message})"
    elif report.gpus and report.tensorflow and report.tensorflow.status == "ok":
        seen = sum(1 for g in report.gpus if g.tensorflow_device)
        text += f", {seen} usable by TensorFlow"
    if report.errors:
        text += f"; problems: {'; '.join(report.errors)}"
    return text


class QtMainWindow(QMainWindow):
    """hwprof's window.

    ``detect_functions`` makes the detection steps (tests pass quick fakes); it is called in the
    worker thread. Signal ``detection_finished(PartialReport)`` fires once detection is complete.
    """

    detection_finished = Signal(object)

    def __init__(
        self,
        detect_functions: Callable[[], DetectFunctions] = default_detect_functions,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._detect_functions = detect_functions
        self._thread: QThread | None = None
        self._worker: DetectWorker | None = None
        self.report = PartialReport()
        self.detecting = False
        self.setWindowTitle(f"hwprof — {socket.gethostname()}")
        self.setWindowIcon(app_icon())
        self.setObjectName("hwprof_main_window")

        self.devices_panel = QtDevicesPanel()
        self.tabs = QTabWidget()
        self.tabs.setObjectName("main_tabs")
        self.tabs.setDocumentMode(True)
        self.panels: dict[str, QWidget] = {}
        tips = {
            "run": "Run a TensorFlow workload on a device",
            "live": "Live utilization, memory, power and clocks",
            "results": "Compare the runs' results",
        }
        for key, title in TABS:
            panel = QtPlaceholderPanel(key)
            self.panels[key] = panel
            index = self.tabs.addTab(panel, title)
            self.tabs.setTabToolTip(index, tips[key])
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName("main_splitter")
        self.splitter.addWidget(self.devices_panel)
        self.splitter.addWidget(self.tabs)
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setChildrenCollapsible(False)
        self.setCentralWidget(self.splitter)

        self.status_label = QLabel("Starting…")
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)  # an indeterminate "working" bar
        self.busy.setMaximumWidth(120)
        self.busy.setMaximumHeight(14)
        self.busy.setTextVisible(False)
        self.busy.setToolTip("Detecting hardware")
        self.statusBar().addWidget(self.status_label, 1)
        self.statusBar().addPermanentWidget(self.busy)

        self._make_actions()
        self._make_menus()
        self._restore_settings()

    # -- actions and menus ---------------------------------------------------------------------
    def _make_actions(self) -> None:
        self.open_action = QAction("&Open snapshot…", self)
        self.open_action.setShortcut(QKeySequence.StandardKey.Open)
        self.save_action = QAction("&Save snapshot…", self)
        self.save_action.setShortcut(QKeySequence.StandardKey.Save)
        for action in (self.open_action, self.save_action):
            action.setEnabled(False)
            action.setToolTip(SNAPSHOTS_LATER)
            action.setStatusTip(SNAPSHOTS_LATER)
        self.quit_action = QAction("&Quit", self)
        self.quit_action.setShortcut(QKeySequence("Ctrl+Q"))
        self.quit_action.setMenuRole(QAction.MenuRole.QuitRole)
        self.quit_action.setToolTip("Close hwprof (ends any detection or run in progress)")
        self.quit_action.triggered.connect(self.close)

        self.refresh_action = QAction("&Refresh devices", self)
        self.refresh_action.setShortcut(QKeySequence(Qt.Key.Key_F5))
        self.refresh_action.setToolTip("Detect the CPU, the GPUs and TensorFlow's view again")
        self.refresh_action.triggered.connect(self.refresh_devices)

        self.theme_group = QActionGroup(self)
        self.theme_group.setExclusive(True)
        self.theme_actions: dict[str, QAction] = {}
        labels = {"system": "&System", "light": "&Light", "dark": "&Dark"}
        tips = {
            "system": "Follow the desktop's light or dark setting",
            "light": "Always light",
            "dark": "Always dark",
        }
        for mode in THEME_MODES:
            action = QAction(labels[mode], self, checkable=True)
            action.setData(mode)
            action.setToolTip(tips[mode])
            action.triggered.connect(lambda _checked=False, m=mode: self.set_theme(m))
            self.theme_group.addAction(action)
            self.theme_actions[mode] = action

        self.about_action = QAction("&About hwprof", self)
        self.about_action.setMenuRole(QAction.MenuRole.AboutRole)
        self.about_action.setToolTip("Versions of hwprof, Python, Qt, TensorFlow, CUDA, driver")
        self.about_action.triggered.connect(self.show_about)

    def _make_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.setToolTipsVisible(True)
        file_menu.addAction(self.open_action)
        file_menu.addAction(self.save_action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        view_menu = bar.addMenu("&View")
        view_menu.setToolTipsVisible(True)
        theme_menu = view_menu.addMenu("&Theme")
        theme_menu.setToolTipsVisible(True)
        for action in self.theme_actions.values():
            theme_menu.addAction(action)
        view_menu.addSeparator()
        view_menu.addAction(self.refresh_action)
        help_menu = bar.addMenu("&Help")
        help_menu.setToolTipsVisible(True)
        help_menu.addAction(self.about_action)

    # -- panels -----------------------------------------------------------------------------------
    def set_panel(self, key: str, widget: QWidget) -> None:
        """Put a real panel in place of a tab's placeholder ("run", "live", "results")."""
        old = self.panels[key]
        index = self.tabs.indexOf(old)
        title, tip = self.tabs.tabText(index), self.tabs.tabToolTip(index)
        self.tabs.removeTab(index)
        self.tabs.insertTab(index, widget, title)
        self.tabs.setTabToolTip(index, tip)
        self.panels[key] = widget
        old.deleteLater()

    # -- detection --------------------------------------------------------------------------------
    @Slot()
    def refresh_devices(self) -> None:
        """Detect again (F5); does nothing while a detection is already running."""
        if self.detecting:
            self.statusBar().showMessage("Detection is already running", 3000)
            return
        self.start_detection()

    def start_detection(self) -> None:
        """Detect the hardware in the background; the Devices panel fills in as parts arrive."""
        self.stop_detection()
        self.report = PartialReport()
        self.devices_panel.set_report(self.report)
        thread = QThread(self)
        thread.setObjectName("hwprof-detect")
        worker = DetectWorker(self._detect_functions)
        worker.moveToThread(thread)
        thread.started.connect(worker.run)
        worker.progress.connect(self._on_detect_progress)
        worker.yielded.connect(self._on_detect_yielded)
        worker.returned.connect(self._on_detect_returned)
        worker.finished.connect(thread.quit)
        # queued to this (GUI) thread: a bound slot of the window, never a lambda, which would
        # run in the worker's thread and touch widgets from there
        worker.finished.connect(self._on_detect_worker_finished)
        thread.finished.connect(worker.deleteLater)
        worker.owner_thread = thread
        self._thread, self._worker = thread, worker
        self.detecting = True
        self.busy.show()
        self.refresh_action.setEnabled(False)
        thread.start()

    def stop_detection(self, timeout_ms: int = 5000) -> bool:
        """Cancel detection and wait for its thread (and the probe child) to end."""
        thread, worker = self._thread, self._worker
        self._thread = self._worker = None
        if thread is None or worker is None:
            return True
        # The worker is deleted once its thread finishes: only touch it while the thread runs.
        if thread.isRunning():
            worker.cancel.set()
            # results still queued for the GUI thread must not land after a cancel
            worker.progress.disconnect(self._on_detect_progress)
            worker.yielded.disconnect(self._on_detect_yielded)
            worker.returned.disconnect(self._on_detect_returned)
        thread.quit()
        ended = thread.wait(timeout_ms)
        self._detection_ended()
        return bool(ended)

    @Slot()
    def _on_detect_worker_finished(self) -> None:
        worker = self.sender()
        thread = getattr(worker, "owner_thread", None)
        if not isinstance(thread, QThread):
            return
        thread.wait(5000)  # quit() is already asked; the thread ends at once
        if worker is self._worker:
            self._thread = self._worker = None
            self._detection_ended()
        thread.deleteLater()

    def detection_thread(self) -> QThread | None:
        """The QThread of the detection in progress, if any (tests check it ends)."""
        return self._thread

    def _detection_ended(self) -> None:
        self.detecting = False
        self.busy.hide()
        self.refresh_action.setEnabled(True)

    @Slot(str)
    def _on_detect_progress(self, message: str) -> None:
        self.status_label.setText(message)

    @Slot(object)
    def _on_detect_yielded(self, report: PartialReport) -> None:
        self.report = report
        self.devices_panel.set_report(report)

    @Slot(object)
    def _on_detect_returned(self, report: PartialReport) -> None:
        self.report = report
        self.devices_panel.set_report(report)
        self.status_label.setText(ready_message(report))
        self._detection_ended()
        self.detection_finished.emit(report)

    # -- theme and about --------------------------------------------------------------------------
    def set_theme(self, mode: str) -> None:
        """Switch to "system", "light" or "dark" and remember the choice."""
        if mode not in THEME_MODES:
            mode = "system"
        self.theme_mode = mode
        self.theme_actions[mode].setChecked(True)
        app = QApplication.instance()
        if isinstance(app, QApplication):
            self.theme = apply_theme(app, mode)
        open_settings().setValue("view/theme", mode)

    @Slot()
    def _on_color_scheme_changed(self) -> None:
        if self.theme_mode == "system":
            self.set_theme("system")

    def show_about(self) -> QtAboutDialog:
        """Open the About dialog (non-modal) and return it."""
        dialog = QtAboutDialog(self.report, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    # -- settings -------------------------------------------------------------------------------
    def _restore_settings(self) -> None:
        s = open_settings()
        geometry = s.value("window/geometry")
        if isinstance(geometry, QByteArray) and self.restoreGeometry(geometry):
            pass
        else:
            self._default_geometry()
        state = s.value("window/state")
        if isinstance(state, QByteArray):
            self.restoreState(state)
        for key, splitter in (
            ("window/main_splitter", self.splitter),
            ("window/devices_splitter", self.devices_panel.splitter),
        ):
            value = s.value(key)
            if not (isinstance(value, QByteArray) and splitter.restoreState(value)):
                self._default_splitter(splitter)
        tab = s.value("window/tab", "run")
        for i, (key, _title) in enumerate(TABS):
            if key == tab:
                self.tabs.setCurrentIndex(i)
        self.theme_mode = str(s.value("view/theme", "system"))
        self.set_theme(self.theme_mode)
        hints = QGuiApplication.styleHints()
        if hasattr(hints, "colorSchemeChanged"):
            hints.colorSchemeChanged.connect(self._on_color_scheme_changed)

    def _default_geometry(self) -> None:
        screen = self.screen() or QGuiApplication.primaryScreen()
        avail = screen.availableGeometry() if screen else None
        if avail is None:
            self.resize(1280, 800)
            return
        # 1440x900 on a 1600x1000 screen; 90% of a 1280x800 one
        width = min(1440, int(avail.width() * 0.9))
        height = min(900, int(avail.height() * 0.9))
        self.resize(width, height)
        self.move(
            avail.x() + (avail.width() - width) // 2, avail.y() + (avail.height() - height) // 2
        )

    def _default_splitter(self, splitter: QSplitter) -> None:
        if splitter is self.splitter:
            width = self.width()
            left = max(420, min(640, int(width * 0.42)))
            splitter.setSizes([left, max(300, width - left)])
        else:
            height = self.height()
            splitter.setSizes([int(height * 0.3), int(height * 0.7)])

    def save_settings(self) -> None:
        """Remember geometry, window state, splitters, tab and theme."""
        s = open_settings()
        s.setValue("window/geometry", self.saveGeometry())
        s.setValue("window/state", self.saveState())
        s.setValue("window/main_splitter", self.splitter.saveState())
        s.setValue("window/devices_splitter", self.devices_panel.splitter.saveState())
        index = self.tabs.currentIndex()
        if 0 <= index < len(TABS):
            s.setValue("window/tab", TABS[index][0])
        s.setValue("view/theme", self.theme_mode)
        s.sync()

    # -- events ---------------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:
        """Save settings, end detection (the probe child is killed), then close."""
        self.save_settings()
        self.stop_detection()
        super().closeEvent(event)

"""The main window: Devices on the left; Run, Live and Results tabs on the right.

Detection runs on a :class:`~hwprof.gui.detection.DetectWorker` in a QThread and fills the
Devices panel in as it goes; the window shows at once and stays responsive throughout. Geometry,
splitters, the current tab and the theme are remembered in the settings file.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import shiboken6
from PySide6.QtCore import QByteArray, Qt, QThread, Signal, Slot
from PySide6.QtGui import (
    QAction,
    QActionGroup,
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QGuiApplication,
    QKeySequence,
)
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QWidget,
)

from hwprof.core import events
from hwprof.core.paths import snapshots_dir
from hwprof.core.snapshot import (
    DEFAULT_SUFFIX,
    SUFFIXES,
    Snapshot,
    SnapshotRun,
    load_snapshot,
    save_snapshot,
)
from hwprof.core.snapshot_io import SnapshotError
from hwprof.core.spec import RunSpec
from hwprof.gui.about import QtAboutDialog
from hwprof.gui.detection import (
    DetectFunctions,
    DetectWorker,
    PartialReport,
    default_detect_functions,
)
from hwprof.gui.devices_panel import QtDevicesPanel
from hwprof.gui.live_panel import QtLivePanel
from hwprof.gui.resources import app_icon
from hwprof.gui.results_panel import QtResultsPanel
from hwprof.gui.roofline_panel import QtRooflinePanel
from hwprof.gui.run_panel import QtRunPanel
from hwprof.gui.runs import RunQueue
from hwprof.gui.settings import open_settings
from hwprof.gui.snapshots import SNAPSHOT_FILTER, QtSnapshotBrowser, SessionSnapshot
from hwprof.gui.study_panel import QtStudyPanel
from hwprof.gui.theme import THEME_MODES, apply_theme
from hwprof.sampling.sampler import Sampler

TABS = (("run", "Run"), ("live", "Live"), ("results", "Results"), ("compare", "Compare"),
        ("roofline", "Roofline"))
MAX_RECENT = 8
LIVE_INTERVAL_S = 0.5  # 7200 ticks of ring buffer = the charts' longest window, 1 h


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
    worker thread. ``sampler``: True makes the live telemetry sampler (stopped when the window
    closes), False charts nothing. Signal ``detection_finished(PartialReport)`` fires once
    detection is complete; ``run_finished(SnapshotRun)`` after each run, once it is in Results.
    """

    detection_finished = Signal(object)
    run_finished = Signal(object)

    def __init__(
        self,
        detect_functions: Callable[[], DetectFunctions] = default_detect_functions,
        parent: QWidget | None = None,
        *,
        sampler: bool = True,
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
        self.sampler: Sampler | None = Sampler(LIVE_INTERVAL_S).start() if sampler else None
        self.queue = RunQueue(self.sampler, self)
        self.run_panel = QtRunPanel(self.queue)
        self.live_panel = QtLivePanel(self.sampler)
        self.results_panel = QtResultsPanel()
        self.opened_snapshots: dict[str, Snapshot] = {}  # file name -> snapshot, for comparisons
        self.opened_paths: list[Path] = []  # never overwritten by Save or Export from here
        self.study_panel = QtStudyPanel(
            self.queue, self.run_panel.base_spec,
            others=lambda: list(self.opened_snapshots.items()),
            this_machine=lambda: self.session.snapshot)
        self.roofline_panel = QtRooflinePanel(
            self.queue, runs=lambda: [r for _, r in self.results_panel.runs],
            device_label=self._device_label)
        run_scroll = QScrollArea()  # the form scrolls on a small screen instead of growing
        run_scroll.setWidget(self.run_panel)
        run_scroll.setWidgetResizable(True)
        run_scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        study_scroll = QScrollArea()
        study_scroll.setWidget(self.study_panel)
        study_scroll.setWidgetResizable(True)
        study_scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        self.panels: dict[str, QWidget] = {
            "run": run_scroll, "live": self.live_panel, "results": self.results_panel,
            "compare": study_scroll, "roofline": self.roofline_panel,
        }
        tips = {
            "run": "Run a TensorFlow workload on a device",
            "live": "Live utilization, memory, power and clocks",
            "results": "Every run's numbers, sortable, with details",
            "compare": "Compare targets (devices, precision, XLA, threads) or sweep an axis",
            "roofline": "Each device's compute and bandwidth ceilings, and where runs sit",
        }
        for key, title in TABS:
            index = self.tabs.addTab(self.panels[key], title)
            self.tabs.setTabToolTip(index, tips[key])
        self.session = SessionSnapshot(self)
        self.session.saved.connect(self._on_autosaved)
        self.session.failed.connect(self._on_autosave_failed)
        self.queue.started.connect(self._on_run_started)
        self.queue.run_event.connect(self._on_run_event)
        self.queue.finished.connect(self._on_run_finished)
        # after the window's own handler: the run is in Results and the session first
        self.queue.finished.connect(self.study_panel.on_run_finished)
        self.queue.finished.connect(self.roofline_panel.on_run_finished)
        self.queue.queue_changed.connect(self._update_run_actions)
        self.tabs.currentChanged.connect(self._on_tab_changed)
        self._units_per_step = 1.0
        self.confirm_close: Callable[[], bool] = self._ask_to_stop_run
        self.setAcceptDrops(True)
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
        self.open_action.setToolTip("Open a snapshot: its runs join the Results tab")
        self.open_action.triggered.connect(self.open_dialog)
        self.save_action = QAction("&Save snapshot…", self)
        self.save_action.setShortcut(QKeySequence.StandardKey.Save)
        self.save_action.setToolTip("Save this session's runs as a snapshot file to keep or share"
                                    " (they are also saved in the data folder after every run)")
        self.save_action.triggered.connect(self.save_dialog)
        self.browse_action = QAction("&Browse snapshots…", self)
        self.browse_action.setShortcut(QKeySequence("Ctrl+B"))
        self.browse_action.setToolTip("The snapshots in hwprof's data folder")
        self.browse_action.triggered.connect(self.browse_snapshots)
        self.export_report_action = QAction("Export &report (HTML)…", self)
        self.export_report_action.setToolTip("This session's runs as one self-contained HTML page")
        self.export_report_action.triggered.connect(self.export_report_dialog)
        self.export_charts_action = QAction("Export &charts (PNG/SVG)…", self)
        self.export_charts_action.setToolTip("The live charts as an image")
        self.export_charts_action.triggered.connect(lambda: self.live_panel.export_dialog())
        self.run_action = QAction("&Run", self)
        self.run_action.setShortcut(QKeySequence("Ctrl+R"))
        self.run_action.setToolTip("Queue the workload of the Run tab on the ticked devices")
        self.run_action.triggered.connect(self.run_panel.request_run)
        self.stop_action = QAction("&Stop", self)
        self.stop_action.setShortcut(QKeySequence(Qt.Key.Key_Escape))
        self.stop_action.setToolTip("End the run in progress and clear the queue")
        self.stop_action.triggered.connect(self.queue.stop)
        self.stop_action.setEnabled(False)
        self.tab_actions: list[QAction] = []
        for i, (key, title) in enumerate(TABS):
            action = QAction(f"&{title}", self)
            action.setShortcut(QKeySequence(f"Ctrl+{i + 1}"))
            action.setToolTip(f"Show the {title} tab")
            action.triggered.connect(lambda _c=False, k=key: self.show_tab(k))
            self.tab_actions.append(action)
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
        self.recent_menu = file_menu.addMenu("Open &recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        file_menu.addAction(self.browse_action)
        file_menu.addAction(self.save_action)
        file_menu.addSeparator()
        file_menu.addAction(self.export_report_action)
        file_menu.addAction(self.export_charts_action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        run_menu = bar.addMenu("&Run")
        run_menu.setToolTipsVisible(True)
        run_menu.addAction(self.run_action)
        run_menu.addAction(self.stop_action)
        view_menu = bar.addMenu("&View")
        view_menu.setToolTipsVisible(True)
        theme_menu = view_menu.addMenu("&Theme")
        theme_menu.setToolTipsVisible(True)
        for action in self.theme_actions.values():
            theme_menu.addAction(action)
        view_menu.addSeparator()
        for action in self.tab_actions:
            view_menu.addAction(action)
        view_menu.addSeparator()
        view_menu.addAction(self.refresh_action)
        help_menu = bar.addMenu("&Help")
        help_menu.setToolTipsVisible(True)
        help_menu.addAction(self.about_action)

    # -- panels -----------------------------------------------------------------------------------
    def set_panel(self, key: str, widget: QWidget) -> None:
        """Put another panel in place of a tab's ("run", "live", "results", ...)."""
        old = self.panels[key]
        index = self.tabs.indexOf(old)
        title, tip = self.tabs.tabText(index), self.tabs.tabToolTip(index)
        self.tabs.removeTab(index)
        self.tabs.insertTab(index, widget, title)
        self.tabs.setTabToolTip(index, tip)
        self.panels[key] = widget
        timer = getattr(old, "timer", None)
        if timer is not None:
            timer.stop()  # a replaced live panel stops drawing
        old.deleteLater()

    def show_tab(self, key: str) -> None:
        """Bring a tab to the front ("run", "live", "results", "compare", "roofline")."""
        self.tabs.setCurrentWidget(self.panels[key])

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
        self.run_panel.set_devices(report)

    @Slot(object)
    def _on_detect_returned(self, report: PartialReport) -> None:
        self.report = report
        self.devices_panel.set_report(report)
        self.run_panel.set_devices(report)
        self.roofline_panel.set_devices(self.run_panel.runnable_devices())
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
            left = max(380, min(560, int(width * 0.34)))
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
        """Ask first during a run; then end it, detection and the sampler, save, and close."""
        if (self.queue.busy or self.queue.pending) and not self.confirm_close():
            event.ignore()
            return
        self.save_settings()
        self.queue.stop()
        self.queue.wait()
        self.stop_detection()
        if shiboken6.isValid(self.live_panel):
            self.live_panel.timer.stop()
        self.session.close()
        if self.sampler is not None:
            self.sampler.stop()
        super().closeEvent(event)

    def _ask_to_stop_run(self) -> bool:
        answer = QMessageBox.question(
            self,
            "hwprof — a run is in progress",
            "A workload is running. Stop it and quit?\n\nWhat it measured so far is saved as a "
            "cancelled result.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    # -- runs -----------------------------------------------------------------------------------
    @Slot()
    def _update_run_actions(self) -> None:
        self.stop_action.setEnabled(self.queue.busy or bool(self.queue.pending))

    @Slot(object)
    def _on_run_started(self, spec: RunSpec) -> None:
        self._units_per_step = 1.0
        unit = "B/s" if spec.info.throughput_unit == "bytes" else f"{spec.info.sample_label}/s"
        self.live_panel.start_throughput(f"{spec.label()}, {unit}")
        self.live_panel.add_marker(time.monotonic(), f"start {spec.workload}")
        if self.tabs.currentWidget() is self.panels["run"]:
            self.show_tab("live")  # the run is what the person wants to watch now
        self.status_label.setText(f"Running {spec.label()}")

    @Slot(object, object)
    def _on_run_event(self, spec: RunSpec, event: dict[str, Any]) -> None:
        kind = event.get("event")
        if kind == events.COMPILED:
            per = float(event.get("samples_per_step") or 1)
            if spec.info.throughput_unit == "bytes":
                per *= float(event.get("bytes_per_sample") or 1)
            self._units_per_step = per
            if spec.warmup_steps == 0:
                self.live_panel.add_marker(time.monotonic(), "timed")
        elif kind == events.WARMUP and event.get("done") == event.get("total"):
            self.live_panel.add_marker(time.monotonic(), "warm-up done")
        elif kind == events.STEPS:
            self.live_panel.add_steps(event.get("start_s") or [], event.get("seconds") or [],
                                      self._units_per_step)

    @Slot(object)
    def _on_run_finished(self, record: SnapshotRun) -> None:
        r = record.result
        self.live_panel.add_marker(time.monotonic(), "end" if r.ok else r.status)
        self.results_panel.add_run(record)
        self.results_panel.select_run(len(self.results_panel.runs) - 1)
        machine = self.report.to_report()
        if machine is None:
            from hwprof.services.detect import detect_all

            machine = detect_all(with_tensorflow=False)
        self.session.add(record, machine)
        if r.ok:
            self.status_label.setText(f"Finished {record.spec.label()}")
        else:
            self.status_label.setText(f"{record.spec.label()}: {r.status}: {r.reason}")
        self.run_finished.emit(record)

    @Slot(str)
    def _on_autosaved(self, path: str) -> None:
        self.statusBar().showMessage(f"Saved in {path}", 4000)

    @Slot(str)
    def _on_autosave_failed(self, message: str) -> None:
        self.status_label.setText(message)

    def _device_label(self, device: str) -> str:
        """The model of ``device`` ("cpu", "gpu:0") as detection found it."""
        if device == "cpu":
            cpus = self.report.cpus or ()
            return (cpus[0].model_name if cpus else None) or "CPU"
        index = int(device.split(":")[1])
        gpu = next((g for g in self.report.gpus or () if g.index == index), None)
        return (gpu.name if gpu else None) or device

    @Slot(int)
    def _on_tab_changed(self, _index: int) -> None:
        widget = self.tabs.currentWidget()
        if widget is self.panels["compare"]:
            self.study_panel.refresh_base()  # the Run tab's settings may have changed
        elif widget is self.panels["roofline"]:
            self.roofline_panel.refresh()

    # -- snapshots ------------------------------------------------------------------------------
    def open_snapshot(self, path: Path) -> bool:
        """Add a snapshot's runs to Results; a bad file gets a message, never an exception."""
        try:
            snapshot = load_snapshot(path)
        except SnapshotError as err:
            self._warn("hwprof — cannot open the snapshot", str(err))
            return False
        source = path.name
        self.opened_snapshots[source] = snapshot
        self.opened_paths.append(path)
        self.results_panel.clear_source(source)
        for run in snapshot.runs:
            self.results_panel.add_run(run, source)
        self._remember_recent(path)
        self.tabs.setCurrentWidget(self.results_panel)
        self.statusBar().showMessage(f"Opened {path}: {len(snapshot.runs)} runs", 5000)
        return True

    def save_session(self, path: Path) -> bool:
        """Save this session's runs to ``path``."""
        self.session.flush()
        snapshot = self.session.snapshot
        if snapshot is None:
            self._warn("hwprof — nothing to save", "No run has finished in this session yet.")
            return False
        if not str(path).endswith(SUFFIXES):
            path = path.with_name(path.name + DEFAULT_SUFFIX)
        if self._refuse_opened(path, "cannot save the snapshot"):
            return False
        try:
            save_snapshot(snapshot, path)  # the file dialog asked before overwriting
        except SnapshotError as err:
            self._warn("hwprof — cannot save the snapshot", str(err))
            return False
        self._remember_recent(path)
        self.statusBar().showMessage(f"Saved {path}", 5000)
        return True

    def _refuse_opened(self, path: Path, what: str) -> bool:
        """Warn and say True when ``path`` is a snapshot this window opened or autosaves to."""
        from hwprof.core.outputs import same_file

        own = [*self.opened_paths, *([self.session.path] if self.session.path else [])]
        if any(same_file(path, p) for p in own):
            self._warn(f"hwprof — {what}", f"{path} is a snapshot this window has open or saves "
                       "its runs to; writing there would replace its runs. Choose another file.")
            return True
        return False

    def _warn(self, title: str, text: str) -> None:
        box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok,
                          self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()  # not modal to the event loop: runs and charts go on
        self.status_label.setText(text)

    @Slot()
    def open_dialog(self) -> None:
        """Ctrl+O."""
        path, _ = QFileDialog.getOpenFileName(self, "Open snapshot", str(snapshots_dir()),
                                              f"{SNAPSHOT_FILTER};;All files (*)")
        if path:
            self.open_snapshot(Path(path))

    @Slot()
    def save_dialog(self) -> None:
        """Ctrl+S."""
        path, _ = QFileDialog.getSaveFileName(self, "Save snapshot",
                                              str(Path.home() / f"hwprof{DEFAULT_SUFFIX}"),
                                              SNAPSHOT_FILTER)
        if path:
            self.save_session(Path(path))

    @Slot()
    def browse_snapshots(self) -> None:
        """The data folder's snapshots; open the one picked."""
        dialog = QtSnapshotBrowser(snapshots_dir(), self)
        if dialog.exec() and dialog.chosen is not None:
            self.open_snapshot(dialog.chosen)

    @Slot()
    def export_report_dialog(self) -> None:
        """Ask where, then write the session's runs as an HTML page."""
        if self.session.snapshot is None:
            self._warn("hwprof — nothing to report", "No run has finished in this session yet.")
            return
        path, _ = QFileDialog.getSaveFileName(self, "Export report",
                                              str(Path.home() / "hwprof-report.html"),
                                              "HTML page (*.html)")
        if path:
            self.export_report(Path(path))

    def export_report(self, path: Path) -> bool:
        """Write the session's runs as one self-contained HTML page."""
        self.session.flush()
        if self.session.snapshot is None:
            self._warn("hwprof — nothing to report", "No run has finished in this session yet.")
            return False
        from hwprof.services.report import write_html

        if self._refuse_opened(path, "cannot write the report"):
            return False
        try:
            write_html(self.session.snapshot, path, source="this session")
        except (OSError, SnapshotError) as err:
            self._warn("hwprof — cannot write the report", str(err))
            return False
        self.statusBar().showMessage(f"Wrote {path}", 5000)
        return True

    def _remember_recent(self, path: Path) -> None:
        s = open_settings()
        recent = [str(path.resolve())] + [p for p in self.recent_files()
                                          if p != str(path.resolve())]
        s.setValue("files/recent", recent[:MAX_RECENT])

    def recent_files(self) -> list[str]:
        """Recently opened or saved snapshots, newest first."""
        value = open_settings().value("files/recent", [])
        if isinstance(value, str):
            return [value]
        return [str(v) for v in value] if isinstance(value, list) else []

    @Slot()
    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        files = self.recent_files()
        if not files:
            self.recent_menu.addAction("(none yet)").setEnabled(False)
        for f in files:
            action = self.recent_menu.addAction(f)
            action.triggered.connect(lambda _c=False, p=f: self.open_snapshot(Path(p)))

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        """Accept snapshot files dropped on the window."""
        urls = event.mimeData().urls()
        if urls and all(u.toLocalFile().endswith(SUFFIXES) for u in urls):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        """Open each dropped snapshot."""
        for url in event.mimeData().urls():
            self.open_snapshot(Path(url.toLocalFile()))
        event.acceptProposedAction()

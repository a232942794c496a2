"""The main window: a shell around the session model and the panels that show it.

The window makes the session model (:class:`~hwprof.services.session.Session`), its executor
(work in QThreads, :mod:`hwprof.gui.tasks`) and the Qt adapter the panels subscribe to; the
panels hold no state another panel needs. Devices sit on the left; Home (profile this device),
Profiles, Run, Live, Results, Compare and Roofline are tabs on the right. The window itself keeps
only the shell's concerns: the status bar, the theme, the settings, asking before a run is
stopped or the window closes.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import shiboken6
from PySide6.QtCore import Qt, QThread, Signal, Slot
from PySide6.QtGui import (
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
)
from PySide6.QtWidgets import (
    QApplication,
    QLabel,
    QMainWindow,
    QMenu,
    QTabWidget,
    QWidget,
)

from hwprof.core.devices import PartialReport
from hwprof.core.session import (
    DetectionFinished,
    Problem,
    RunFinished,
    RunStarted,
)
from hwprof.gui import dialogs, window_panels, window_state
from hwprof.gui.about import QtAboutDialog
from hwprof.gui.devices_panel import QtDevicesPanel
from hwprof.gui.files import QtFileController, dropped_snapshots
from hwprof.gui.home_page import QtHomePage
from hwprof.gui.resources import app_icon
from hwprof.gui.session_adapter import QtSessionEvents
from hwprof.gui.settings import open_settings
from hwprof.gui.status_bar import QtStatusBar
from hwprof.gui.tasks import QtExecutor
from hwprof.gui.theme import THEME_MODES, apply_theme
from hwprof.gui.window_actions import (
    TABS,
    TIPS,
    QtShortcutsDialog,
    make_actions,
    make_menus,
    shortcut_rows,
)
from hwprof.sampling.sampler import Sampler
from hwprof.services.session import Session

if TYPE_CHECKING:
    from hwprof.core.spec import RunSpec
    from hwprof.gui.live_panel import QtLivePanel
    from hwprof.gui.profiles_page import QtProfilesPage
    from hwprof.gui.results_panel import QtResultsPanel
    from hwprof.gui.roofline_panel import QtRooflinePanel
    from hwprof.gui.run_panel import QtRunPanel
    from hwprof.gui.study_panel import QtStudyPanel
    from hwprof.services.detect import DetectFunctions

LIVE_INTERVAL_S = 0.5  # 7200 ticks of ring buffer = the charts' longest window, 1 h


class QtMainWindow(QMainWindow):
    """hwprof's window.

    ``detect_functions`` makes the detection steps (tests pass quick fakes; called in the worker
    thread). ``sampler``: True makes the live telemetry sampler (stopped when the window closes).
    Signals: ``detection_finished(PartialReport)``; ``run_finished(SnapshotRun)`` after each run,
    once Results and the session have it.
    """

    detection_finished = Signal(object)
    run_finished = Signal(object)
    # made by build_panels(): at once, or right after the first paint (staged)
    profiles_page: QtProfilesPage
    run_panel: QtRunPanel
    live_panel: QtLivePanel
    results_panel: QtResultsPanel
    study_panel: QtStudyPanel
    roofline_panel: QtRooflinePanel

    def __init__(self, detect_functions: Callable[[], DetectFunctions] | None = None,
                 parent: QWidget | None = None, *, sampler: bool = True,
                 staged: bool = False) -> None:
        super().__init__(parent)
        # the hostname only: Qt adds the application's name ("host — hwprof")
        self.setWindowTitle(socket.gethostname())
        self.setWindowIcon(app_icon())
        self.setObjectName("hwprof_main_window")
        self.sampler: Sampler | None = Sampler(LIVE_INTERVAL_S).start() if sampler else None
        self.executor = QtExecutor(self)
        self.session = Session(self.executor, sampler=self.sampler,
                               detect_functions=detect_functions)
        self.events = events = QtSessionEvents(self.session, self)
        self.devices_panel = QtDevicesPanel(events=events)
        self.home_page = QtHomePage(self.session, events)
        self.tabs = QTabWidget()
        self.tabs.setObjectName("main_tabs")
        self.tabs.setDocumentMode(True)
        # The other tabs hold a placeholder until build_panels() puts the real panel in its place
        self.panels: dict[str, QWidget] = {"home": window_panels.scroll(self.home_page)}
        for key, title in TABS:
            if key not in self.panels:
                self.panels[key] = QLabel("Loading…", alignment=Qt.AlignmentFlag.AlignCenter)
            self.tabs.setTabToolTip(self.tabs.addTab(self.panels[key], title), TIPS[key])
        self.panels_built = False
        self.closed = False  # the window was closed: its session and sampler have ended
        self.splitter = window_state.main_splitter(self.devices_panel, self.tabs)
        self.setCentralWidget(self.splitter)
        self.setAcceptDrops(True)
        self.status = QtStatusBar(events, self)
        self.setStatusBar(self.status)
        self.status_label, self.busy = self.status.label, self.status.busy
        self.files = QtFileController(self.session, events, self, self._warn)
        self.files.message.connect(lambda text, ms: self.statusBar().showMessage(text, ms))
        self.recent_menu: QMenu | None = None
        self.actions_ = make_actions(self)
        a = self.actions_
        self.open_action, self.save_action, self.browse_action = a.open, a.save, a.browse
        self.export_report_action, self.export_charts_action = a.export_report, a.export_charts
        self.run_action, self.stop_action, self.stop_all_action = a.run, a.stop, a.stop_all
        self.quit_action, self.refresh_action, self.about_action = a.quit, a.refresh, a.about
        self.tab_actions, self.theme_actions = a.tabs, a.themes
        make_menus(self, a)
        self.home_page.stop_requested.connect(self.request_stop_profile)
        self.tabs.currentChanged.connect(self._on_tab_changed)
        events.on(DetectionFinished, self._on_detection_finished, self)
        events.on(RunStarted, self._on_run_started, self)
        events.on(RunFinished, self._on_run_finished, self)
        events.on(Problem, lambda e: self._warn(e.title, e.message), self)
        window_state.restore_shell(self)
        if not staged:
            self.build_panels()

    # -- panels -----------------------------------------------------------------------------------
    def build_panels(self) -> None:
        """Make the tabs behind Home (their imports and charts cost about a third of a second).

        The app shows the window first (``staged``) and calls this right after the first paint;
        until then those tabs say "Loading…" and the actions that need them are off. Tests and
        other callers get every panel from the constructor.
        """
        if not self.panels_built and not self.closed:
            window_panels.build_panels(self)
            self.panels_built = True
            window_panels.connect_panels(self)
            window_state.restore_panels(self)
            self.session.profiles.refresh()
            self._on_tab_changed(self.tabs.currentIndex())

    def set_panel(self, key: str, widget: QWidget) -> None:
        """Put another panel in place of a tab's ("run", "live", "results", ...)."""
        old = window_panels.replace_tab(self, key, widget)
        timer = getattr(old, "timer", None)
        if timer is not None:
            timer.stop()  # a replaced live panel stops drawing
        old.deleteLater()

    def show_tab(self, key: str) -> None:
        """Bring a tab to the front ("home", "profiles", "run", "live", "results", ...)."""
        self.tabs.setCurrentWidget(self.panels[key])

    @Slot(int)
    def _on_tab_changed(self, _index: int) -> None:
        if not self.panels_built:
            return
        widget = self.tabs.currentWidget()
        if widget is self.panels["compare"]:
            self.study_panel.refresh_base()  # the Run tab's settings may have changed
        elif widget is self.panels["roofline"]:
            self.roofline_panel.refresh()

    def on_compare_requested(self, keys: list[int]) -> None:
        """Results asked to compare these runs: on the Compare tab."""
        entries = [e for k in keys if (e := self.session.entry(k)) is not None]
        self.study_panel.compare_runs(entries)
        self.show_tab("compare")

    def on_trace_compare(self, spec: RunSpec, targets: list[str]) -> None:
        """A traced run's verdict asked to measure its advice: a study on the Compare tab."""
        problem = self.study_panel.start_comparison(spec, targets)
        if problem:
            self._warn("Cannot run the comparison", problem)
            return
        self.show_tab("compare")

    # -- detection --------------------------------------------------------------------------------
    @property
    def report(self) -> PartialReport:
        """What detection has found so far."""
        return self.session.machine

    @property
    def detecting(self) -> bool:
        """Whether detection runs."""
        return self.session.detecting

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
        if self.session.detect():
            self.status.busy.show()
            self.refresh_action.setEnabled(False)

    def stop_detection(self) -> None:
        """Cancel the detection in progress (its probe child ends)."""
        self.session.stop_detection()
        self.status.busy.hide()
        self.refresh_action.setEnabled(True)

    def detection_thread(self) -> QThread | None:
        """The QThread of the detection in progress, if any (tests check it ends)."""
        return next((t for t in self.executor.threads() if t.objectName() == "hwprof-detect"),
                    None)

    def _on_detection_finished(self, e: DetectionFinished) -> None:
        self.refresh_action.setEnabled(True)
        self.detection_finished.emit(e.report)

    # -- runs -----------------------------------------------------------------------------------
    @Slot()
    def request_stop(self) -> bool:
        """Stop the run in progress after asking; the queue goes on. True when it was stopped."""
        current = self.session.current
        if current is None:
            return False
        left = len(self.session.pending)
        text = (f"Stop {current.spec.label()}?\n\nWhat it measured so far is kept as a "
                f"cancelled result." + (f" The {left} waiting run{'s' if left != 1 else ''} "
                                        "will go on." if left else ""))
        if not self.confirm_stop(text):
            return False
        return self.session.skip_current()

    @Slot()
    def request_stop_profile(self) -> bool:
        """Stop the profile in progress after asking. True when it was stopped."""
        if not self.session.profiles.busy or not self.confirm_stop(
                "Stop the profile?\n\nThe running test ends and the rest are skipped; what was "
                "measured is shown, and the profile is not saved."):
            return False
        return self.session.profiles.stop()

    @Slot()
    def request_stop_all(self) -> bool:
        """Stop the run in progress and empty the queue, after asking."""
        n = len(self.session.pending) + (1 if self.session.busy else 0)
        if not n or not self.confirm_stop(f"Stop the run in progress and take every waiting run "
                                          f"off the queue ({n} run{'s' if n != 1 else ''})?"):
            return False
        self.session.stop_all()
        return True

    def _on_run_started(self, _e: RunStarted) -> None:
        # the run is what the person wants to watch now (not over a profile's score card)
        shown = self.tabs.currentWidget()
        if shown is self.panels["run"] or (shown is self.panels["home"]
                                           and self.session.profiles.active is None):
            self.show_tab("live")

    def _on_run_finished(self, e: RunFinished) -> None:
        if e.entry is not None:
            self.results_panel.select_key(e.entry.key)
        self.run_finished.emit(e.record)

    # -- files (delegated to the controller) ------------------------------------------------------
    def open_snapshot(self, path: Path) -> bool:
        """Add a snapshot's runs to Results; a bad file gets a message, never an exception."""
        if self.files.open_snapshot(path):
            self.show_tab("results")
            return True
        return False

    def save_session(self, path: Path) -> bool:
        """Save this session's runs to ``path`` (asks before replacing a file)."""
        return self.files.save_session(path)

    def export_report(self, path: Path) -> bool:
        """Start writing the session's runs as one HTML page (signal ``files.report_written``)."""
        return self.files.export_report(path)

    def recent_files(self) -> list[str]:
        """Recently opened or saved snapshots, newest first."""
        return self.files.recent_files()

    @Slot()
    def fill_recent_menu(self) -> None:
        """File ▸ Open recent."""
        if self.recent_menu is not None:
            self.files.fill_recent_menu(self.recent_menu, self.open_snapshot)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        """Accept snapshot files dropped on the window."""
        if dropped_snapshots(event.mimeData()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        """Open each dropped snapshot."""
        for path in dropped_snapshots(event.mimeData()):
            self.open_snapshot(path)
        event.acceptProposedAction()

    def _warn(self, title: str, text: str) -> None:
        dialogs.warn(self, title, text)
        self.status_label.setText(text)

    def _ask(self, title: str, text: str) -> bool:
        return dialogs.ask(self, title, text)

    # methods, not lambdas kept on the window: no reference cycle keeps a closed window for the
    # garbage collector (tests replace them with answers)
    def confirm_close(self) -> bool:
        """Ask whether to stop the run in progress and quit."""
        return self._ask("A run is in progress", "A workload is running. Stop it and quit?\n\n"
                         "What it measured so far is saved as a cancelled result.")

    def confirm_stop(self, text: str) -> bool:
        """Ask whether to stop (``text`` says what)."""
        return self._ask("Stop?", text)

    # -- theme, about, shortcuts ------------------------------------------------------------------
    def set_theme(self, mode: str) -> None:
        """Switch to "system", "light" or "dark" and remember the choice."""
        mode = mode if mode in THEME_MODES else "system"
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

    def show_shortcuts(self) -> QtShortcutsDialog:
        """Help ▸ Keyboard shortcuts (non-modal)."""
        dialog = QtShortcutsDialog(shortcut_rows(self.actions_), self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog


    def save_settings(self) -> None:
        """Remember geometry, window state, splitters, tab, theme and the Run form."""
        window_state.save(self)

    # -- closing --------------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:
        """Ask first during a run; then end it, detection and the sampler, save, and close."""
        if (self.session.busy or self.session.pending or self.session.profiles.busy) and \
                not self.confirm_close():
            event.ignore()
            return
        self.save_settings()
        # a test may have put another panel in its place
        if self.panels_built and shiboken6.isValid(self.live_panel):
            self.live_panel.timer.stop()
        self.closed = True
        self.session.close()
        self.events.detach()
        if self.sampler is not None:
            self.sampler.stop()
        super().closeEvent(event)

    def run_threads(self) -> list[Any]:
        """The QThreads still running work (tests check none is left)."""
        return self.executor.threads()

"""The Home page: what a new user sees first, with "Profile this device" as its one action.

A view of the session's profiles (:class:`~hwprof.services.profile_session.ProfileSession`):
before a profile it says what a profile does and how long it takes, and lists the tests it would
run; while one runs, each test's state (waiting, running, done, failed or skipped with the reason),
the running test's throughput live and the time left, with Stop; at the end, the score card and
the table of every test. The page holds no state of its own beyond what it draws.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QSplitter,
    QStackedWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from hwprof.core.devices import PartialReport
from hwprof.core.profile_text import fmt_duration, fmt_outcome
from hwprof.core.progress import fmt_throughput, throughput_unit
from hwprof.core.session import DetectionFinished, DetectionProgressed
from hwprof.core.suite import LENGTH_SETTINGS, LENGTHS, SUITE_VERSION, Length
from hwprof.core.text import printable
from hwprof.gui.chart_style import QtChart, ValueAxis, set_title
from hwprof.gui.profile_views import QtProfileResult, bigger
from hwprof.gui.session_adapter import QtSessionEvents
from hwprof.gui.widgets import plain_label, readonly_table
from hwprof.services.profile import ProfilePlanned, TestFinished, TestStarted
from hwprof.services.profile_session import (
    ActiveProfile,
    ProfileEnded,
    ProfileStarted,
    ProfileTestProgressed,
    TestRow,
)
from hwprof.services.session import Session, SessionError

STATE_WORDS = {"waiting": "waiting", "running": "running…", "done": "done", "failed": "failed",
               "skipped": "skipped", "cancelled": "cancelled"}
WHAT_IT_DOES = (
    "A profile runs the {suite} tests on one device: the matrix-multiply and memory-bandwidth "
    "ceilings, training and inference of standard models (MLP, CIFAR-10 CNN, MobileNet-V2, "
    "ResNet-50, LSTM, Transformer) and single-stream latency. It gives a score with its 95% "
    "interval (1000 = the reference machine) and a table of every test, and keeps the profile "
    "in the profiles folder to set beside other devices."
)


class QtHomePage(QWidget):
    """Profile this device: pick the device and the length, press the button, watch, read.

    ``only`` and ``timed_seconds`` make the next profile a short partial one (tests, screenshots).
    Signal ``stop_requested``: the person pressed Stop (the window asks, then stops the profile).
    """

    stop_requested = Signal()

    def __init__(self, session: Session, events: QtSessionEvents,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.profiles = session.profiles
        self.only: list[str] | None = None
        self.timed_seconds: float | None = None
        heading = bigger(plain_label("Profile this device", wrap=False, name="home_heading"), 1.7)
        self.intro = plain_label(WHAT_IT_DOES.format(suite=SUITE_VERSION), name="home_intro")
        self.duration = plain_label("", name="home_duration")
        self.device = QComboBox()
        self.device.setObjectName("home_device")
        self.device.setToolTip("The device to profile (the CPU, or a GPU detection found)")
        self.device.setMinimumContentsLength(16)
        self.device.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.quick = QRadioButton("Quick")
        self.full = QRadioButton("Full")
        self.quick.setToolTip(LENGTH_SETTINGS["quick"].description)
        self.full.setToolTip(LENGTH_SETTINGS["full"].description)
        self.quick.setChecked(True)
        # the deployment section: opt-in, as on the command line (--deploy)
        self.deploy = QCheckBox("Deployment (TFLite)")
        self.deploy.setObjectName("home_deploy")
        self.deploy.setToolTip("Add the deployment section (hwprof-deploy/1): MobileNet-V2 as "
                               "TFLite fp32 and int8 on the CPU, against the TensorFlow fp32 "
                               "test, with accuracy and model size; skipped on a GPU")
        self.length_group = QButtonGroup(self)
        for b in (self.quick, self.full):
            self.length_group.addButton(b)
        self.start_button = QPushButton("Profile this device")
        self.start_button.setObjectName("profile_button")
        self.start_button.setDefault(True)
        self.start_button.setToolTip("Run the suite on the chosen device; the profile is saved "
                                     "in the profiles folder")
        bigger(self.start_button, 1.25)
        self.start_button.setMinimumHeight(44)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setObjectName("profile_stop")
        self.stop_button.setToolTip("End the running test and skip the rest (asks first)")
        self.stop_button.hide()
        self.status = plain_label("", name="home_status")
        self.bar = QProgressBar()
        self.bar.setRange(0, 1000)
        self.bar.setTextVisible(False)
        self.bar.hide()
        self.tests = readonly_table("home_tests", ["test", "state", "detail"], select_rows=True)
        self.tests.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.tests.setWordWrap(False)
        self.chart = QtChart("home_chart", axisItems={"left": ValueAxis("si")})
        self.chart.setLabel("bottom", "seconds measured")
        self.chart.redraw = self._redraw_chart
        self.curve = self.chart.plot([], [])
        self._points: list[tuple[float, float]] = []
        self._unit, self._scale = "", 1.0  # the running test's unit, and its points' factor
        self._chart_title = "the running test's throughput appears here"
        self.result = QtProfileResult()
        self.result.setObjectName("home_result")
        running = QSplitter(Qt.Orientation.Horizontal)
        running.addWidget(self.tests)
        running.addWidget(self.chart)
        running.setSizes([560, 440])
        self.chart.hide()  # until a profile runs: the list of tests takes the width
        self.stack = QStackedWidget()
        self.stack.addWidget(running)
        self.stack.addWidget(self.result)
        controls = QHBoxLayout()
        controls.addWidget(QLabel("Device"))
        controls.addWidget(self.device)
        controls.addSpacing(12)
        controls.addWidget(self.quick)
        controls.addWidget(self.full)
        controls.addWidget(self.deploy)
        controls.addSpacing(12)
        controls.addWidget(self.start_button)
        controls.addWidget(self.stop_button)
        controls.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(heading)
        layout.addWidget(self.intro)
        layout.addWidget(self.duration)
        layout.addLayout(controls)
        layout.addWidget(self.status)
        layout.addWidget(self.bar)
        layout.addWidget(self.stack, 1)
        self.timer = QTimer(self)
        self.timer.setInterval(1000)
        self.timer.timeout.connect(self._tick)
        self.start_button.clicked.connect(self.request_profile)
        self.stop_button.clicked.connect(self.stop_requested)
        self.device.currentIndexChanged.connect(self._preview)
        self.length_group.buttonToggled.connect(self._preview)
        self.deploy.toggled.connect(self._preview)
        events.on(DetectionProgressed, lambda e: self.set_devices(e.report), self)
        events.on(DetectionFinished, lambda e: self.set_devices(e.report), self)
        events.on(ProfileStarted, self._on_profile_started, self)
        events.on(ProfilePlanned, self._on_profile_planned, self)
        events.on(TestStarted, self._on_test_started, self)
        events.on(ProfileTestProgressed, self._on_test_progressed, self)
        events.on(TestFinished, self._on_test_finished, self)
        events.on(ProfileEnded, self._on_profile_ended, self)
        self.set_devices(session.machine)
        self._redraw_chart()

    # -- the form ---------------------------------------------------------------------------------
    def set_devices(self, report: PartialReport) -> None:
        """The devices detection found: the CPU, and each GPU TensorFlow can use."""
        chosen = self.device.currentData() or "cpu"
        self.device.blockSignals(True)
        self.device.clear()
        cpu = (report.cpus[0].model_name if report.cpus else None) or "CPU"
        self.device.addItem(printable(f"cpu — {cpu}"), "cpu")
        for g in report.gpus or ():
            if g.error is None and not g.tensorflow_missing_reason:
                self.device.addItem(printable(f"gpu:{g.index} — {g.name or 'GPU'}"),
                                    f"gpu:{g.index}")
        index = self.device.findData(chosen)
        self.device.setCurrentIndex(max(0, index))
        self.device.blockSignals(False)
        self._update_buttons()
        self._preview()
        if not report.complete:
            self.status.setText("Waiting for detection (TensorFlow's short probe) to finish…")
        elif self.profiles.active is None:
            self.status.setText("")

    @property
    def length(self) -> Length:
        """Quick or full."""
        return "full" if self.full.isChecked() else "quick"

    def _update_buttons(self) -> None:
        busy = self.profiles.busy
        known = self.session.machine.complete
        self.start_button.setEnabled(not busy and known)
        self.start_button.setToolTip("Run the suite on the chosen device; the profile is saved "
                                     "in the profiles folder" if known else
                                     "Waiting for detection to finish")
        self.stop_button.setVisible(busy)
        self.stop_button.setEnabled(busy and not (self.profiles.active is not None
                                                  and self.profiles.active.stopping))
        for w in (self.device, self.quick, self.full, self.deploy):
            w.setEnabled(not busy)

    @Slot()
    def _preview(self) -> None:
        """Before a profile: how long it takes, and the tests it would run (or skip, and why)."""
        device = self.device.currentData() or "cpu"
        times = {}
        for length in LENGTHS:
            planned = self.profiles.plan(device, length, only=self.only,
                                         timed_seconds=self.timed_seconds,
                                         deploy=self.deploy.isChecked())
            times[length] = sum(p.expected_seconds for p in planned)
        planned = self.profiles.plan(device, self.length, only=self.only,
                                     timed_seconds=self.timed_seconds,
                                     deploy=self.deploy.isChecked())
        runs = sum(1 for p in planned if p.spec is not None)
        self.duration.setText(f"On this device a quick profile ({runs} tests) takes about "
                              f"{fmt_duration(times['quick'])}, a full one about "
                              f"{fmt_duration(times['full'])}. Nothing else should run meanwhile.")
        if self.profiles.active is not None:
            return  # the tests' list shows the profile running or last made
        self._fill_tests([TestRow(p.test.test_id, p.test.title,
                                  "waiting" if p.spec else "skipped", p.skip_reason,
                                  p.expected_seconds) for p in planned], preview=True)

    @Slot()
    def request_profile(self) -> None:
        """Start a profile of the chosen device (the reason shows when it cannot start)."""
        device = self.device.currentData() or "cpu"
        try:
            self.profiles.start(device, self.length, only=self.only,
                                timed_seconds=self.timed_seconds,
                                deploy=self.deploy.isChecked())
        except SessionError as err:
            self.status.setText(f"Cannot profile now: {err}")

    # -- the tests --------------------------------------------------------------------------------
    def _fill_tests(self, rows: list[TestRow], preview: bool = False) -> None:
        self.tests.setRowCount(len(rows))
        for i, row in enumerate(rows):
            self._set_row(i, row, preview)

    def _set_row(self, i: int, row: TestRow, preview: bool = False) -> None:
        state = ("will run" if row.state == "waiting" else "skipped") if preview else \
            STATE_WORDS.get(row.state, row.state)
        if row.state == "done" and row.outcome is not None:
            detail = fmt_outcome(row.outcome)
        elif row.state == "running":
            progress = self.profiles.active.progress if self.profiles.active else None
            detail = progress.phase if progress is not None else "starting"
            if progress is not None and progress.rate is not None:
                detail += f", {fmt_throughput(progress.rate, progress.spec)}"
        elif row.state == "waiting":
            detail = f"about {fmt_duration(row.expected_seconds)}"
        else:
            detail = row.reason or ""
        detail = printable(detail)
        cells = [QTableWidgetItem(row.title), QTableWidgetItem(state), QTableWidgetItem(detail)]
        cells[0].setToolTip(row.test_id)
        cells[2].setToolTip(detail)
        for col, item in enumerate(cells):
            self.tests.setItem(i, col, item)

    def _row(self, index: int) -> None:
        active = self.profiles.active
        if active is not None and 0 <= index < len(active.tests):
            self._set_row(index, active.tests[index])

    # -- the profile's events ---------------------------------------------------------------------
    def _on_profile_started(self, e: ProfileStarted) -> None:
        self.stack.setCurrentIndex(0)
        self.chart.show()
        self._fill_tests(e.profile.tests)
        self._points = []
        self._chart_title = "the running test's throughput appears here"
        self._redraw_chart()
        self.bar.show()
        self.timer.start()
        self._update_buttons()
        self._tick()

    def _on_profile_planned(self, _e: ProfilePlanned) -> None:
        active = self.profiles.active
        if active is not None:
            self._fill_tests(active.tests)
        self._tick()

    def _on_test_started(self, e: TestStarted) -> None:
        self._row(e.index)
        self._points = []
        active = self.profiles.active
        self._unit = throughput_unit(active.progress.spec) if active and active.progress else ""
        self._scale = 1.0
        self._chart_title = f"{e.title}: throughput ({self._unit}), live"
        self._redraw_chart()
        item = self.tests.item(e.index, 0)
        if item is not None:
            self.tests.scrollToItem(item)
        self._tick()

    def _on_test_progressed(self, e: ProfileTestProgressed) -> None:
        flops = e.worker.data.get("flops_per_sample")
        if (e.worker.data.get("event") == "compiled" and isinstance(flops, int | float)
                and flops > 0 and e.progress.spec.workload == "matmul"):
            # the table gives a matrix multiply in FLOP/s: so does its live chart
            self._scale, self._unit = float(flops), "FLOP/s"
            self._chart_title = f"{self._title_of(e)}: throughput ({self._unit}), live"
        if e.delta.points or e.delta.mark:
            first = e.progress.points[0].t_s if e.progress.points else 0.0
            self._points = [(p.t_s - first, p.per_second * self._scale)
                            for p in e.progress.points]
            self._redraw_chart()
        self._row(e.worker.index)  # its phase, its throughput so far

    def _on_test_finished(self, e: TestFinished) -> None:
        self._row(e.index)
        self._tick()

    def _on_profile_ended(self, e: ProfileEnded) -> None:
        self.timer.stop()
        self.bar.hide()
        active = e.profile
        self._fill_tests(active.tests)
        self._update_buttons()
        took = fmt_duration(active.elapsed())
        if active.error is not None:
            self.status.setText(printable(active.error))
            return
        snapshot = active.snapshot
        record = snapshot.profile if snapshot is not None else None
        if record is None:
            self.status.setText("The profile ended without a result.")
            return
        if active.stopped:
            where = "Stopped: what it measured is shown here, and not saved."
        elif active.path is not None:
            where = f"Saved in {active.path}"
        else:
            where = active.save_error or "Not saved."
        self.status.setText(printable(f"The profile of {active.device_label} is done."
                                      if not active.stopped else f"Stopped after {took}."))
        self.result.show_profile(record, active.score, self.profiles.reference,
                                 name=snapshot.title if snapshot else "",
                                 hostname=snapshot.hostname if snapshot else "",
                                 created_at=snapshot.created_at if snapshot else "", extra=where)
        self.stack.setCurrentIndex(1)

    @Slot()
    def _tick(self) -> None:
        """The line above the tests: which test runs, and the time left."""
        active = self.profiles.active
        if active is None or active.ended:
            return
        runnable = [r for r in active.tests if r.state != "skipped"]
        row = active.current_row
        eta = active.eta_now()
        left = f"about {fmt_duration(eta)} left" if eta is not None else ""
        if active.stopping:
            what = "Stopping…"
        elif row is not None:
            number = runnable.index(row) + 1 if row in runnable else active.current
            what = f"Test {number} of {len(runnable)}: {row.title}"
        else:
            what = f"Profiling {active.device_label}"
        self.status.setText(printable(" · ".join(x for x in (what, left) if x)))
        fraction = active.fraction()
        self.bar.setValue(int(1000 * fraction) if fraction is not None else 0)
        self._update_buttons()

    def eta_text(self) -> str:
        """The status line (tests read it)."""
        return self.status.text()

    # -- the chart --------------------------------------------------------------------------------
    def _redraw_chart(self) -> None:
        colors = self.chart.colors
        set_title(self.chart.getPlotItem(), self._chart_title, colors)
        self.curve.setPen(colors.series_color(0), width=2)
        xs = [p[0] for p in self._points]
        ys = [p[1] for p in self._points]
        self.curve.setData(xs, ys)
        # from zero, so that a 10% dip looks like one; a new test starts on a clean frame
        self.chart.setYRange(0, max(ys) * 1.15 if ys else 1.0, padding=0)
        self.chart.setXRange(0, max(xs[-1], 1.0) if xs else 1.0, padding=0.02)

    def _title_of(self, e: ProfileTestProgressed) -> str:
        row = e.profile.tests[e.worker.index] if 0 <= e.worker.index < len(e.profile.tests) \
            else None
        return row.title if row is not None else e.worker.test_id

    @property
    def active(self) -> ActiveProfile | None:
        """The profile running or last made."""
        return self.profiles.active

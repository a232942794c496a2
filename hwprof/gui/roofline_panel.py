"""The Roofline tab: a device's measured ceilings, and the runs of Results placed under them.

The ceilings (matmul fp32 and bf16 for compute, bandwidth for memory) are measured once per device
by the session model and cached in the data folder; "Measure again" refreshes them. The measuring
runs are not the person's runs: they appear neither in Results nor in the session's snapshot.
Runs whose memory traffic is known (matmul, bandwidth, mlp, conv) sit at their arithmetic
intensity; no run is ever shown above 100% of its roof: one that goes above says the ceilings are
too low (measured while the machine was busy) and asks for a new measurement.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from hwprof.core.roofline import Ceilings, RooflinePoint, place
from hwprof.core.session import CeilingsUpdated, DetectionFinished, ResultsChanged
from hwprof.core.targets import SHORT_PRECISION
from hwprof.core.units import NA, fmt_si
from hwprof.gui.session_adapter import QtSessionEvents
from hwprof.gui.widgets import EmptyState, readonly_table, static_plot
from hwprof.services.session import Session, SessionError
from hwprof.services.studies import roof_text

EMPTY_TEXT = ("Nothing to place yet.\n\nMeasure this device's ceilings (the button above), then "
              "every run of Results that measured FLOP/s (matmul, conv, mlp, bandwidth...) appears "
              "under them, with its share of what the device can do.")


class PlainLogAxis(pg.AxisItem):
    """A log axis labelled 0.1, 1, 10, 300, 1k rather than 10^-1 ... 3x10^2."""

    def __init__(self, orientation: str) -> None:
        super().__init__(orientation)
        # the ticks carry their own prefix (100G): no "(x1e+09)" after the axis title
        self.enableAutoSIPrefix(False)

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:
        """Plain numbers (SI prefixes above 1000) for a log axis."""
        if not self.logMode:
            return list(super().tickStrings(values, scale, spacing))
        return [fmt_si(10**v) for v in values]


def group_of(p: RooflinePoint) -> str:
    """Runs of one workload, mode and precision share a colour and a legend entry."""
    words = p.label.split()
    precision = next((w for w in words if w in SHORT_PRECISION), "fp32")
    return f"{words[0]} {words[1]} {SHORT_PRECISION[precision]}"


class QtRooflinePanel(QWidget):
    """Device picker, Measure, the log-log roofline and the table of placed runs."""

    def __init__(self, session: Session, events: QtSessionEvents,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.ceilings: Ceilings | None = None
        self.seconds: float | None = None  # each measuring run's length (None: the default, 6 s)
        self.warnings: list[str] = []
        self.device = QComboBox()
        self.device.addItem("cpu", "cpu")
        self.device.setToolTip("Whose roofline to show")
        self.measure_button = QPushButton("Measure ceilings")
        self.measure_button.setObjectName("roofline_measure")
        self.summary = QLabel()
        self.summary.setObjectName("roofline_summary")
        self.summary.setTextFormat(Qt.TextFormat.PlainText)  # a device name is never markup
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.warning = QLabel()
        self.warning.setObjectName("roofline_warning")
        self.warning.setTextFormat(Qt.TextFormat.PlainText)
        self.warning.setWordWrap(True)
        self.warning.setStyleSheet("color: #e53935")
        self.warning.hide()
        self.chart = static_plot("roofline_chart", axisItems={"left": PlainLogAxis("left"),
                                                              "bottom": PlainLogAxis("bottom")})
        self.chart.setLogMode(x=True, y=True)
        self.chart.setLabel("bottom", "arithmetic intensity (FLOPs per byte of memory traffic)")
        self.chart.setLabel("left", "FLOP/s")
        self.chart.setToolTip("Lines: what the device can do at each intensity (bandwidth-bound "
                              "left of the ridge, compute-bound right of it). Dots: your runs.")
        self.chart.redraw = self.refresh
        self.table = readonly_table("roofline_table",
                                    ["run", "FLOP/byte", "achieved", "% of roof", "bound by"])
        self.empty = EmptyState(EMPTY_TEXT)
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Device"))
        bar.addWidget(self.device)
        bar.addWidget(self.measure_button)
        bar.addStretch(1)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.chart)
        split.addWidget(self.table)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty)
        self.stack.addWidget(split)
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.summary)
        layout.addWidget(self.warning)
        layout.addWidget(self.stack, 1)
        self.device.currentIndexChanged.connect(self.refresh)
        self.measure_button.clicked.connect(self.measure)
        events.on(CeilingsUpdated, self._on_ceilings, self)
        events.on(ResultsChanged, lambda _e: self.refresh() if self.isVisible() else None, self)
        events.on(DetectionFinished, lambda _e: self.set_devices(self.runnable()), self)
        self._set_measure_tip()

    def runnable(self) -> list[str]:
        """Devices TensorFlow can run on, from the session's detection."""
        out = ["cpu"]
        for g in self.session.machine.gpus or ():
            if g.error is None and not g.tensorflow_missing_reason:
                out.append(f"gpu:{g.index}")
        return out

    def set_devices(self, devices: list[str]) -> None:
        """The devices TensorFlow can run on ("cpu", "gpu:0", ...)."""
        current = self.current_device
        self.device.blockSignals(True)
        self.device.clear()
        for d in devices:
            self.device.addItem(d, d)
        i = self.device.findData(current)
        self.device.setCurrentIndex(max(i, 0))
        self.device.blockSignals(False)
        self.refresh()

    @property
    def current_device(self) -> str:
        """The device shown."""
        return str(self.device.currentData() or "cpu")

    def _set_measure_tip(self) -> None:
        from hwprof.services.studies import ceiling_time_estimate

        self.measure_button.setToolTip(
            "Run matmul (fp32, bf16) and bandwidth on this device and keep the result in the data "
            f"folder: {ceiling_time_estimate(self.current_device, self.seconds)}. Best on an idle "
            "machine. The measuring runs are not added to Results.")

    # -- measuring --------------------------------------------------------------------------------
    @Slot()
    def measure(self) -> None:
        """Ask the session to measure the ceilings of the device shown."""
        try:
            self.session.measure_ceilings(self.current_device, self.seconds)
        except SessionError as err:
            self.summary.setText(str(err))

    def _on_ceilings(self, e: CeilingsUpdated) -> None:
        from hwprof.services.studies import ceiling_time_estimate

        if e.device != self.current_device:
            self.device.setCurrentIndex(max(0, self.device.findData(e.device)))
        if e.measuring:
            self.measure_button.setEnabled(False)
            self.summary.setText(
                f"Measuring {e.device}'s ceilings: run {e.done + 1} of {e.planned} (matmul fp32 "
                f"and bf16, then bandwidth), {ceiling_time_estimate(e.device, self.seconds)}. "
                "Leave the machine idle meanwhile: other work makes the ceilings low.")
            return
        self.measure_button.setEnabled(True)
        if e.error is not None:
            self.summary.setText(f"Could not measure the ceilings: {e.error}")
            return
        self.warnings = list(e.warnings)
        self.refresh()

    # -- showing ----------------------------------------------------------------------------------
    @Slot()
    def refresh(self) -> None:
        """Read the cached ceilings and place the runs."""
        from hwprof.services.studies import cached_ceilings, ceiling_summary, roof_warnings

        self._set_measure_tip()
        device = self.current_device
        self.ceilings = cached_ceilings(device)
        c = self.ceilings
        if self.session.measuring_ceilings == device:
            pass  # the progress line stays until the measurement ends
        elif c is None:
            self.summary.setText(f"{device}: the ceilings are not measured yet. Measure them, "
                                 "then every run with FLOP/s appears below them.")
            self.measure_button.setText("Measure ceilings")
        else:
            self.summary.setText(ceiling_summary(c, device))
            self.measure_button.setText("Measure again")
        runs = [e.run for e in self.session.results if e.run.spec.device == device]
        points = [p for r in runs if (p := place(r, c))]
        warnings = [*self.warnings, *roof_warnings(points)] if c is not None else []
        self.warning.setText("\n".join(f"⚠ {w}" for w in warnings))
        self.warning.setVisible(bool(warnings))
        self.stack.setCurrentIndex(1 if c is not None or points else 0)
        self._draw(c, points)
        self._fill(points)

    def _draw(self, c: Ceilings | None, points: list[RooflinePoint]) -> None:
        self.chart.clear()
        plot = self.chart.getPlotItem()
        colors = self.chart.colors
        if plot.legend is None:
            # top left: above the bandwidth roof, where no run can be (a run there would be
            # faster than the memory allows), so the legend never covers a run's dot
            plot.addLegend(offset=(10, 10), labelTextColor=colors.text)
        else:
            plot.legend.clear()
            plot.legend.setLabelTextColor(colors.text)
        known = [p for p in points if p.intensity]
        if c is not None:
            lo = min([0.05, *[p.intensity / 4 for p in known if p.intensity]])
            hi = max([1000.0, *[p.intensity * 4 for p in known if p.intensity]])
            bw = c.bandwidth_bytes_per_second
            roofs = [("fp32", c.peak_flops), *c.reduced_precision_flops.items()]
            top = max(peak for _, peak in roofs)
            # the bandwidth slope up to the highest ceiling, then each compute ceiling from its
            # own ridge: a run left of a ridge is bound by memory, right of it by compute
            self.chart.plot(np.array([lo, top / bw]), np.array([lo * bw, top]),
                            name=f"memory {fmt_si(bw, 'B/s')}",
                            pen=pg.mkPen(colors.muted, width=2))
            for i, (prec, peak) in enumerate(roofs):
                self.chart.plot(np.array([peak / bw, hi]), np.array([peak, peak]),
                                name=f"{SHORT_PRECISION.get(prec, prec)} compute "
                                f"{fmt_si(peak, 'FLOP/s')}",
                                pen=pg.mkPen(colors.series_color(i), width=2))
        groups: dict[str, list[RooflinePoint]] = {}
        for p in known:
            groups.setdefault(group_of(p), []).append(p)
        for j, (name, pts) in enumerate(groups.items()):
            color = colors.series_color(j + 2)
            self.chart.plot([p.intensity for p in pts], [p.achieved_flops for p in pts],
                            pen=None, symbol="o", symbolSize=9, symbolBrush=color,
                            symbolPen=pg.mkPen(colors.text), name=name)

    def _fill(self, points: list[RooflinePoint]) -> None:
        self.table.setRowCount(len(points))
        for i, p in enumerate(points):
            cells = [p.label, f"{p.intensity:.2f}" if p.intensity else "unknown",
                     fmt_si(p.achieved_flops, "FLOP/s"), roof_text(p), p.bound or NA]
            for j, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if j == 3 and p.percent_of_roof is not None and p.percent_of_roof > 100:
                    item.setToolTip(f"{p.percent_of_roof:.0f}% of the measured roof: the ceilings "
                                    "are too low. Measure them again on an idle machine.")
                self.table.setItem(i, j, item)

"""The Roofline tab: a device's measured ceilings, and every run of Results placed under them.

The ceilings (matmul fp32 and bf16 for compute, bandwidth for memory) are measured once per device
through the run queue and cached in the data folder; "Measure again" refreshes them. Runs whose
memory traffic is known (matmul, bandwidth, mlp, conv) sit at their arithmetic intensity; the table
lists every run with FLOP/s, including those whose intensity is unknown.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from hwprof.core.roofline import Ceilings, RooflinePoint, place
from hwprof.core.snapshot import SnapshotRun
from hwprof.core.targets import SHORT_PRECISION
from hwprof.core.units import NA, fmt_flops, fmt_rate
from hwprof.gui.live_panel import COLORS
from hwprof.gui.runs import RunQueue
from hwprof.gui.widgets import readonly_table, static_plot

CEILING_TAG = "roofline-ceiling"


class PlainLogAxis(pg.AxisItem):
    """A log axis labelled 0.1, 1, 10, 300 rather than 10^-1 ... 3x10^2."""

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:
        """Plain numbers for a log axis."""
        if not self.logMode:
            return list(super().tickStrings(values, scale, spacing))
        return [f"{10 ** v:g}" for v in values]


def group_of(p: RooflinePoint) -> str:
    """Runs of one workload, mode and precision share a colour and a legend entry."""
    words = p.label.split()
    precision = next((w for w in words if w in SHORT_PRECISION), "fp32")
    return f"{words[0]} {words[1]} {SHORT_PRECISION[precision]}"


class QtRooflinePanel(QWidget):
    """Device picker, Measure, the log-log roofline and the table of placed runs."""

    def __init__(
        self,
        queue: RunQueue,
        runs: Callable[[], list[SnapshotRun]],
        device_label: Callable[[str], str],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.queue = queue
        self.runs = runs
        self.device_label = device_label
        self.ceilings: Ceilings | None = None
        self.seconds: float | None = None  # each measuring run's length (None: the default, 6 s)
        self._measuring: list[SnapshotRun] = []
        self._expected = 0
        self.device = QComboBox()
        self.device.addItem("cpu", "cpu")
        self.device.setToolTip("Whose roofline to show")
        self.measure_button = QPushButton("Measure ceilings")
        self.measure_button.setObjectName("roofline_measure")
        self.measure_button.setToolTip("Run matmul (fp32, bf16) and bandwidth on this device, "
                                       "about 6 s each, and keep the result in the data folder")
        self.summary = QLabel()
        self.summary.setObjectName("roofline_summary")
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.chart = static_plot(axisItems={"left": PlainLogAxis("left"),
                                            "bottom": PlainLogAxis("bottom")})
        self.chart.setLogMode(x=True, y=True)
        self.chart.setLabel("bottom", "arithmetic intensity (FLOPs per byte of memory traffic)")
        self.chart.setLabel("left", "GFLOP/s")
        self.chart.setToolTip("Lines: what the device can do at each intensity (bandwidth-bound "
                              "left of the ridge, compute-bound right of it). Dots: your runs.")
        self.table = readonly_table("roofline_table",
                                    ["run", "FLOP/byte", "achieved", "% of roof", "bound by"])
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
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.summary)
        layout.addWidget(split, 1)
        self.device.currentIndexChanged.connect(self.refresh)
        self.measure_button.clicked.connect(self.measure)

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

    # -- measuring --------------------------------------------------------------------------------
    @Slot()
    def measure(self) -> None:
        """Queue the measuring runs for the device shown."""
        from hwprof.services.studies import ceiling_specs

        specs = ceiling_specs(self.current_device, self.seconds)
        self._measuring = []
        self._expected = len(specs)
        self.measure_button.setEnabled(False)
        self.summary.setText(f"Measuring {self.current_device}'s ceilings: matmul fp32 and bf16, "
                             "then bandwidth…")
        self.queue.add(specs, tags=(f"{CEILING_TAG}:{self.current_device}",))

    @Slot(object)
    def on_run_finished(self, record: SnapshotRun) -> None:
        """A run ended: collect a measuring run, or place a new run."""
        tag = f"{CEILING_TAG}:{self.current_device}"
        if tag not in record.tags or not self._expected:
            if self.isVisible():
                self.refresh()
            return
        self._measuring.append(record)
        if not record.result.ok:
            self.queue.stop()
            self._expected = 0
            self.measure_button.setEnabled(True)
            self.summary.setText(f"Could not measure the ceilings: {record.spec.workload} "
                                 f"{record.result.status}: {record.result.reason}")
            return
        if len(self._measuring) < self._expected:
            return
        from hwprof.services.studies import ceilings_from_runs

        self._expected = 0
        self.measure_button.setEnabled(True)
        try:
            ceilings_from_runs(self.current_device, self.device_label(self.current_device),
                               self._measuring)
        except (ValueError, OSError) as err:
            self.summary.setText(f"Could not measure the ceilings: {err}")
            return
        self.refresh()

    # -- showing ----------------------------------------------------------------------------------
    @Slot()
    def refresh(self) -> None:
        """Read the cached ceilings and place the runs."""
        from hwprof.services.studies import cached_ceilings

        device = self.current_device
        self.ceilings = cached_ceilings(device)
        c = self.ceilings
        if c is None:
            self.summary.setText(f"{device}: the ceilings are not measured yet. Measure them "
                                 "(about 20 s), then every run with FLOP/s appears below them.")
            self.measure_button.setText("Measure ceilings")
        else:
            reduced = "".join(f", {SHORT_PRECISION.get(p, p)} {fmt_flops(v)}"
                              for p, v in c.reduced_precision_flops.items())
            self.summary.setText(
                f"{c.device_label} ({device}): compute fp32 {fmt_flops(c.peak_flops)}{reduced} "
                f"(matmul); memory {fmt_rate(c.bandwidth_bytes_per_second, 'B/s')} (bandwidth); "
                f"ridge at {c.ridge_intensity:.1f} FLOP/byte. Measured {c.measured_at}.")
            self.measure_button.setText("Measure again")
        points = [p for r in self.runs() if r.spec.device == device and (p := place(r, c))]
        self._draw(c, points)
        self._fill(points)

    def _draw(self, c: Ceilings | None, points: list[RooflinePoint]) -> None:
        self.chart.clear()
        plot = self.chart.getPlotItem()
        if plot.legend is None:
            plot.addLegend(offset=(-10, -10))
        else:
            plot.legend.clear()
        known = [p for p in points if p.intensity]
        if c is not None:
            lo = min([0.05, *[p.intensity / 4 for p in known if p.intensity]])
            hi = max([1000.0, *[p.intensity * 4 for p in known if p.intensity]])
            bw = c.bandwidth_bytes_per_second
            roofs = [("fp32", c.peak_flops), *c.reduced_precision_flops.items()]
            top = max(peak for _, peak in roofs)
            # the bandwidth slope up to the highest ceiling, then each compute ceiling from its
            # own ridge: a run left of a ridge is bound by memory, right of it by compute
            self.chart.plot(np.array([lo, top / bw]), np.array([lo * bw, top]) / 1e9,
                            name=f"memory {fmt_rate(bw, 'B/s')}",
                            pen=pg.mkPen("#555", width=2))
            for i, (prec, peak) in enumerate(roofs):
                self.chart.plot(np.array([peak / bw, hi]), np.array([peak, peak]) / 1e9,
                                name=f"{SHORT_PRECISION.get(prec, prec)} compute "
                                f"{fmt_flops(peak)}",
                                pen=pg.mkPen(COLORS[i % len(COLORS)], width=2))
        groups: dict[str, list[RooflinePoint]] = {}
        for p in known:
            groups.setdefault(group_of(p), []).append(p)
        for j, (name, pts) in enumerate(groups.items()):
            color = COLORS[(j + 2) % len(COLORS)]
            self.chart.plot([p.intensity for p in pts], [p.achieved_flops / 1e9 for p in pts],
                            pen=None, symbol="o", symbolSize=9, symbolBrush=color, name=name)

    def _fill(self, points: list[RooflinePoint]) -> None:
        self.table.setRowCount(len(points))
        for i, p in enumerate(points):
            cells = [p.label, f"{p.intensity:.2f}" if p.intensity else "unknown",
                     fmt_flops(p.achieved_flops),
                     f"{p.percent_of_roof:.0f}%" if p.percent_of_roof is not None
                     and math.isfinite(p.percent_of_roof) else NA, p.bound or NA]
            for j, text in enumerate(cells):
                self.table.setItem(i, j, QTableWidgetItem(text))

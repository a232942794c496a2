"""The Live tab: utilization, memory, power, temperature, clocks and throughput on one time axis.

The charts read the window's sampler (its ring buffer) on a timer of their own, 4 times a second
and only while the tab is visible, so drawing never competes with a run for long; pyqtgraph
downsamples (peak mode) and clips to the view, so an hour of readings draws as fast as a minute. A
missing reading is NaN and shows as a gap. Runs mark their start, the end of warm-up and their end
on every chart; a GPU's clock slowdowns (power cap, thermal, ...) show as red marks on the clocks
chart. The mouse shows every value at its time below the charts.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtGui import QColor, QPalette, QPen
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QGraphicsItem,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from hwprof.core.decimate import peak_decimate
from hwprof.core.telemetry import clock_event_reason_labels, metric_info
from hwprof.gui.svg_export import export_svg
from hwprof.sampling.sampler import Sampler

WINDOWS = (("1 min", 60.0), ("10 min", 600.0), ("1 h", 3600.0))
REDRAW_MS = 500  # the window's sampler reads every 0.5 s: drawing faster shows nothing new
GIB = 2.0**30
# NVML clock-event bits that mean "slowed down" (not idle, not an application clock setting)
SLOWDOWN_MASK = 0x4 | 0x8 | 0x20 | 0x40 | 0x80 | 0x200 | 0x400
COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf")


@dataclass
class ChartSpec:
    """One chart: its title, unit, scale and the metric templates it draws ({n}: GPU index)."""

    key: str
    title: str
    unit: str
    templates: tuple[str, ...]
    scale: float = 1.0
    tip: str = ""
    min_span: float = 0.0  # the least the y axis spans, in the metric's own unit
    names: list[str] = field(default_factory=list)


CHARTS = (
    ChartSpec("util", "Utilization", "%",
              ("cpu.util_percent", "proc.cpu_percent", "gpu{n}.util_percent"),
              tip="How busy each device is. Workload CPU counts the run's process tree and can "
              "exceed 100% (one core = 100%)."),
    ChartSpec("memory", "Memory", "GiB",
              ("host.memory_used_bytes", "proc.rss_bytes", "gpu{n}.memory_used_bytes"),
              scale=1 / GIB, min_span=GIB / 4,
              tip="Memory in use: the machine's, the run's (resident), each GPU's."),
    ChartSpec("power", "Power", "W", ("cpu.package_power_watts", "gpu{n}.power_watts"),
              min_span=10,
              tip="Power draw: the CPU package (RAPL) and each GPU (NVML)."),
    ChartSpec("temperature", "Temperature", "°C", ("cpu.temperature_c", "gpu{n}.temperature_c"),
              min_span=10,
              tip="CPU package and GPU core temperatures, where sensors exist."),
    ChartSpec("clocks", "Clocks", "MHz",
              ("cpu.freq_mhz", "gpu{n}.sm_clock_mhz", "gpu{n}.memory_clock_mhz"),
              min_span=200,
              tip="Current clocks. Red marks: the GPU slowed its clocks (power cap, thermal, "
              "...)."),
    ChartSpec("throughput", "Throughput", "per s", (),
              tip="The running workload's throughput, per quarter second of timed steps."),
)


class ClockAxis(pg.DateAxisItem):
    """A time axis for x values counted from a moment: labels show the wall-clock time."""

    def __init__(self, unix_at_zero: Callable[[], float]) -> None:
        super().__init__(orientation="bottom")
        self.unix_at_zero = unix_at_zero

    def tickValues(self, minVal: float, maxVal: float, size: float) -> list[Any]:
        """Ticks where the wall clock is round, in the chart's own x."""
        shift = self.unix_at_zero()
        levels = super().tickValues(minVal + shift, maxVal + shift, size)
        return [(spacing, [v - shift for v in values]) for spacing, values in levels]

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:
        """Wall-clock labels for the chart's x values."""
        shift = self.unix_at_zero()
        return list(super().tickStrings([v + shift for v in values], scale, spacing))


class QtLivePanel(QWidget):
    """Live charts of a sampler, plus the throughput of the run in progress."""

    def __init__(self, sampler: Sampler | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.sampler = sampler
        # x on the charts is seconds since this moment: small numbers keep full float precision,
        # on screen and in SVG exports (epoch seconds, ~1.8e9, lose sub-second steps there)
        self.t0 = time.monotonic()
        self.window_seconds = WINDOWS[0][1]
        self.redraws = 0
        pg.setConfigOptions(antialias=False, background=None, foreground="k")
        self.window_box = QComboBox()
        for label, seconds in WINDOWS:
            self.window_box.addItem(label, seconds)
        self.window_box.setToolTip("How much history the charts show")
        self.export_button = QPushButton("Export charts…")
        self.export_button.setToolTip("Save the charts as PNG or SVG")
        self.note = QLabel()
        self.note.setObjectName("live_note")
        self.note.setWordWrap(True)
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Show the last"))
        bar.addWidget(self.window_box)
        bar.addStretch(1)
        bar.addWidget(self.export_button)
        self.graphics = pg.GraphicsLayoutWidget()
        self.readout = QLabel("Move the mouse over a chart to read its values")
        self.readout.setObjectName("readout")
        self.readout.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.note)
        layout.addWidget(self.graphics, 1)
        layout.addWidget(self.readout)

        self.plots: dict[str, pg.PlotItem] = {}
        self._util_top = 100.0
        self.curves: dict[str, pg.PlotCurveItem] = {}
        self.markers: list[tuple[float, str]] = []  # (monotonic time, label)
        self._marker_items: list[tuple[pg.PlotItem, pg.InfiniteLine]] = []
        self.throughput_t: list[float] = []
        self.throughput_v: list[float] = []
        self.throughput_label = "per second"
        # what the charts read from the sampler: their own series and the GPUs' slowdown masks
        self.charted: list[str] = []
        self._build_charts()
        sampled = set(self.sampler.names) if self.sampler else set()
        self.charted += sorted(n for n in sampled if n.endswith(".clock_event_reasons"))
        self.slowdowns = pg.ScatterPlotItem(symbol="t", size=9, brush=pg.mkBrush("#d62728"),
                                            pen=None)
        if "clocks" in self.plots:
            self.plots["clocks"].addItem(self.slowdowns)
        self._drawn: tuple[object, ...] = ()
        self.window_box.currentIndexChanged.connect(self._on_window_changed)
        self.export_button.clicked.connect(self.export_dialog)
        self._mouse = pg.SignalProxy(self.graphics.scene().sigMouseMoved, rateLimit=20,
                                     slot=self._on_mouse)
        self.timer = QTimer(self)
        self.timer.setInterval(REDRAW_MS)
        self.timer.timeout.connect(self.redraw)
        self.timer.start()
        if sampler is None or sampler.gpu_unavailable_reason:
            why = sampler.gpu_unavailable_reason if sampler else "no sampler"
            self.note.setText(f"NVIDIA GPUs are not charted: {why}")

    # -- building -----------------------------------------------------------------------------
    def _offset(self) -> float:
        return self.sampler.unix_offset_s if self.sampler else time.time() - time.monotonic()

    def _unix_at_zero(self) -> float:
        return self.t0 + self._offset()

    def _build_charts(self) -> None:
        names = set(self.sampler.names) if self.sampler else set()
        gpus = sorted({int(n[3:n.index(".")]) for n in names if n.startswith("gpu")
                       and n[3:n.index(".")].isdigit()})
        first: pg.PlotItem | None = None
        for spec in CHARTS:
            spec.names = []
            for template in spec.templates:
                for n in (gpus if "{n}" in template else [None]):
                    name = template.format(n=n) if n is not None else template
                    if name in names:
                        spec.names.append(name)
            if not spec.names and spec.key not in ("throughput", "util", "memory"):
                continue  # e.g. no power reading at all on this machine: no empty chart
            plot = self.graphics.addPlot(axisItems={"bottom": ClockAxis(self._unix_at_zero)})
            self.graphics.nextRow()
            plot.setTitle(f"{spec.title} ({spec.unit})", justify="left", size="9pt")
            plot.showGrid(x=True, y=True, alpha=0.25)
            plot.setMouseEnabled(x=False, y=False)
            plot.hideButtons()
            plot.getAxis("left").setWidth(56)  # equal widths keep the time axes aligned
            plot.setToolTip(spec.tip)
            legend = plot.addLegend(offset=(5, 5), labelTextSize="8pt")
            legend.setToolTip(spec.tip)
            if first is None:
                first = plot
            else:
                plot.setXLink(first)
            self.plots[spec.key] = plot
            if spec.key == "util":
                # percentages have a natural scale: 0-100 reads at a glance, and an axis that
                # seldom rescales is drawn once and kept; it grows only for the workload's CPU,
                # which counts every core it uses (up to 100% per core)
                plot.setYRange(0, 100, padding=0.02)
                plot.enableAutoRange(axis="y", enable=False)
                self._util_top = 100.0
            elif spec.min_span:
                # a flat reading (a fixed clock) should look flat, not like noise on a
                # magnified axis: the axis never spans less than this
                plot.setLimits(minYRange=spec.min_span * spec.scale)
            for i, name in enumerate(spec.names):
                self.add_curve(spec.key, name, metric_info(name).label, i)
            if spec.key == "throughput":
                self.throughput_curve = plot.plot([], [], name="workload",
                                                  pen=pg.mkPen(COLORS[0], width=1.5),
                                                  symbol="o", symbolSize=3)
                self.throughput_curve.setDownsampling(auto=True, method="peak")
        # one time scale under the stack of x-linked charts: the axes above keep their grid lines
        # but no labels (axis text is most of a repaint's cost in software rendering)
        for plot in list(self.plots.values())[:-1]:
            plot.getAxis("bottom").setStyle(showValues=False)
            plot.getAxis("bottom").setHeight(6)
        for plot in self.plots.values():
            # a y axis, a title and a legend change seldom: each is kept as a pixmap, redrawn
            # only when it changes, not at every new reading
            for item in (plot.getAxis("left"), plot.titleLabel, plot.legend):
                item.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)

    def add_curve(self, chart: str, name: str, label: str, color: int) -> pg.PlotCurveItem:
        """Chart the sampler's metric ``name`` on ``chart`` (a key of :attr:`plots`)."""
        # a bare PlotCurveItem: the data come decimated already (see redraw), so PlotDataItem's
        # own downsampling and clipping would only add work to every frame
        curve = pg.PlotCurveItem(name=label, pen=self._pen(color))
        curve.color_index = color
        self.plots[chart].addItem(curve)
        self.curves[name] = curve
        if name not in self.charted:
            self.charted.append(name)
        return curve

    def _pen(self, color: int) -> QPen:
        # 1.5 px reads well for the minute view's few points; with many points a thin line
        # reads better and costs a third of the wide-line stroker's time to draw
        return pg.mkPen(COLORS[color % len(COLORS)], width=1.5 if self.window_seconds <= 60 else 1)

    # -- runs -----------------------------------------------------------------------------------
    def add_marker(self, t_monotonic: float, label: str) -> None:
        """A dashed vertical line with a label on every chart (run start, warm-up end, end)."""
        self.markers.append((t_monotonic, label))
        x = t_monotonic - self.t0
        height = (0.92, 0.72, 0.52)[len(self.markers) % 3]  # neighbours' labels do not overlap
        for plot in self.plots.values():
            pen = pg.mkPen("#888", style=Qt.PenStyle.DashLine)
            line = pg.InfiniteLine(pos=x, angle=90, pen=pen,
                                   label=label if plot is self.plots.get("util") else None,
                                   labelOpts={"position": height, "color": "#666"})
            plot.addItem(line, ignoreBounds=True)
            self._marker_items.append((plot, line))

    def start_throughput(self, label: str) -> None:
        """A new run's throughput curve starts (the old one is cleared)."""
        self.throughput_t.clear()
        self.throughput_v.clear()
        self.throughput_label = label
        plot = self.plots.get("throughput")
        if plot is not None:
            plot.setTitle(f"Throughput ({label})", justify="left", size="9pt")

    def add_steps(self, start_s: Sequence[float], seconds: Sequence[float],
                  units_per_step: float) -> None:
        """Timed steps of the running workload: one throughput point per batch of them."""
        if not seconds:
            return
        busy = float(sum(seconds))
        if busy <= 0:
            return
        self.throughput_t.append(float(start_s[-1]) + float(seconds[-1]))
        self.throughput_v.append(units_per_step * len(seconds) / busy)

    # -- drawing --------------------------------------------------------------------------------
    @Slot()
    def redraw(self, force: bool = False) -> None:
        """Update every curve from the sampler (skipped while the tab is hidden)."""
        if not force and not self.isVisible():
            return
        # paint only what changed: a new reading, a new throughput point, a marker or another
        # time window (each repaint costs the workload's cores some milliseconds of drawing)
        state = (self.sampler.ticks if self.sampler else 0, len(self.throughput_t),
                 len(self.markers), self.window_seconds)
        if not force and state == self._drawn:
            return
        self._drawn = state
        self.redraws += 1
        end = time.monotonic()
        if self.sampler is not None and self.charted:
            w = self.sampler.window(since=end - self.window_seconds, names=self.charted)
            first = next(iter(self.plots.values()))
            bins = max(100, int(first.vb.width()) // 2)  # a (min, max) pair per 2 pixels
            t, values = peak_decimate(w.timestamps, w.values, bins)
            x = t - self.t0
            for spec in CHARTS:
                for name in spec.names:
                    curve = self.curves.get(name)
                    if curve is not None:
                        curve.setData(x, values[name] * spec.scale, connect="finite")
            self._fit_util(values)
            self._draw_slowdowns(w.timestamps - self.t0, w.values)
        if self.throughput_t:
            self.throughput_curve.setData(np.asarray(self.throughput_t) - self.t0,
                                          np.asarray(self.throughput_v))
        first = next(iter(self.plots.values()), None)
        if first is not None:
            first.setXRange(end - self.window_seconds - self.t0, end - self.t0, padding=0)

    def _fit_util(self, values: dict[str, np.ndarray]) -> None:
        plot = self.plots.get("util")
        if plot is None:
            return
        highs = [float(np.nanmax(values[n])) for n in CHARTS[0].names
                 if n in values and np.isfinite(values[n]).any()]
        top = max([100.0, *highs])
        top = 100.0 if top <= 100 else math.ceil(top / 50) * 50  # steps of 50: few rescales
        if top != self._util_top:
            self._util_top = top
            plot.setYRange(0, top, padding=0.02)

    def _draw_slowdowns(self, x: np.ndarray, values: dict[str, np.ndarray]) -> None:
        xs: list[np.ndarray] = []
        ys: list[np.ndarray] = []
        tips: list[str] = []
        for name, col in values.items():
            if not name.endswith(".clock_event_reasons"):
                continue
            gpu = name.split(".")[0]
            finite = np.isfinite(col)
            masks = np.where(finite, col, 0).astype(np.int64)
            hits = np.flatnonzero(finite & (masks & SLOWDOWN_MASK != 0))
            if not hits.size:
                continue
            clock = values.get(f"{gpu}.sm_clock_mhz")
            y = clock[hits] if clock is not None else np.zeros(hits.size)
            xs.append(x[hits])
            ys.append(np.where(np.isfinite(y), y, 0.0))
            tips.extend(f"{gpu}: " + ", ".join(clock_event_reason_labels(int(m)))
                        for m in masks[hits])
        if xs:
            self.slowdowns.setData(x=np.concatenate(xs), y=np.concatenate(ys), data=tips)
        else:
            self.slowdowns.setData(x=[], y=[])

    @Slot()
    def _on_window_changed(self) -> None:
        self.window_seconds = float(self.window_box.currentData())
        for curve in self.curves.values():
            curve.setPen(self._pen(curve.color_index))
        self.redraw(force=True)

    def _on_mouse(self, args: Any) -> None:
        pos = args[0]
        first = next(iter(self.plots.values()), None)
        if first is None or self.sampler is None:
            return
        x = first.vb.mapSceneToView(pos).x()
        t = x + self.t0
        half = self.sampler.interval_s
        w = self.sampler.window(since=t - half, until=t + half)
        if len(w) == 0:
            return
        i = int(np.argmin(np.abs(w.timestamps - t)))
        parts = [time.strftime("%H:%M:%S", time.localtime(float(w.timestamps[i])
                                                           + self._offset()))]
        for spec in CHARTS:
            for name in spec.names:
                v = w.values[name][i]
                if math.isfinite(v):
                    parts.append(f"{metric_info(name).label} {v * spec.scale:.3g} {spec.unit}")
        self.readout.setText(" · ".join(parts))

    # -- export ---------------------------------------------------------------------------------
    def export(self, path: str) -> None:
        """Save the charts as PNG or SVG (by the file name's ending); OSError when it cannot."""
        import pyqtgraph.exporters as exporters

        self.redraw(force=True)
        scene = self.graphics.scene()
        if path.lower().endswith(".svg"):
            folder = Path(path).parent
            if not folder.is_dir():
                raise OSError(f"{path}: could not be written (the folder {folder} does not exist)")
            export_svg(scene, path, background=self._background())
            return
        exporter = exporters.ImageExporter(scene)
        exporter.parameters()["background"] = self._background()
        image = exporter.export(toBytes=True)
        if not image.save(path):  # QImage.save says only yes or no
            raise OSError(f"{path}: could not be written (is the folder there and writable?)")

    def _background(self) -> QColor:
        # the charts draw on the window's own colour (background=None): files get it filled in,
        # else a PNG's black text would sit on a transparent (black in most viewers) ground
        return self.palette().color(QPalette.ColorRole.Base)

    @Slot()
    def export_dialog(self) -> None:
        """Ask where, then export; a failure is a message, never a crash."""
        path, _ = QFileDialog.getSaveFileName(self, "Export charts", "hwprof-charts.png",
                                              "PNG image (*.png);;SVG drawing (*.svg)")
        if not path:
            return
        try:
            self.export(path)
        except OSError as err:
            QMessageBox.warning(self, "hwprof — cannot export the charts", str(err))

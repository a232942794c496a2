"""The Live tab: every reading on one time axis, with the value of each series beside its chart.

Utilization, the workload's CPU, each core, memory, power, temperature, clocks and throughput.

The charts read the window's sampler (its ring buffer) on a timer of their own, twice a second
and only while the tab is visible, so drawing never competes with a run for long; readings are
peak-decimated to the chart's width, so an hour draws as fast as a minute. A missing reading is
NaN and shows as a gap. Runs are marked (start, end of warm-up, end) by dashed lines on every
chart, with their labels in a track of their own above the charts so they never cover a line or a
legend; each run's throughput stays on its chart, labelled, when the next one starts. Every
colour follows the theme, on screen and in exported images. A chart with no reading on this
machine (power, temperature) says why instead.
"""

from __future__ import annotations

import html
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QRectF, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QColor, QFont, QFontMetrics
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QGraphicsItem,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from hwprof.core.decimate import BinnedHistory, mean_bins
from hwprof.core.progress import throughput_unit
from hwprof.core.session import RunFinished, RunProgressed, RunStarted
from hwprof.core.telemetry import clock_event_reason_labels, metric_info
from hwprof.core.units import fmt_si
from hwprof.gui.chart_lines import ChartLines, Line, PaintedView
from hwprof.gui.chart_style import (
    GRID_ALPHA,
    AxisKind,
    ChartColors,
    ValueAxis,
    chart_colors,
    set_title,
    style_axes,
)
from hwprof.gui.session_adapter import QtSessionEvents
from hwprof.gui.svg_export import export_svg
from hwprof.sampling.sampler import Sampler

WINDOWS = (("1 min", 60.0), ("10 min", 600.0), ("1 h", 3600.0))
REDRAW_MS = 500  # the window's sampler reads every 0.5 s: drawing faster shows nothing new
MAX_REDRAW_MS = 2000  # the slowest cadence, on a machine where drawing is expensive
CHART_SHARE = 0.05  # of one core, at most, for the charts: the rest is the workload's
GIB = 2.0**30
# NVML clock-event bits that mean "slowed down" (not idle, not an application clock setting)
SLOWDOWN_MASK = 0x4 | 0x8 | 0x20 | 0x40 | 0x80 | 0x200 | 0x400
LEGEND_WIDTH = 180  # the column of current values beside the charts
LEGEND_POINT_SIZE = 8.0
MAX_RUNS_SHOWN = 8  # throughput lines kept on the chart
MIN_CHART_HEIGHT = 96  # below this a chart is a sliver: the charts scroll instead


@dataclass(frozen=True)
class ChartSpec:
    """One chart: its title, unit, scale and the metric templates it draws ({n}: GPU index).

    ``scale`` turns the metric's unit into the chart's (MHz to Hz, bytes to GiB, percent of a
    core to cores). ``missing``: the sampler notes that explain an absent chart.
    """

    key: str
    title: str
    unit: str
    templates: tuple[str, ...]
    scale: float = 1.0
    axis: AxisKind = "plain"
    tip: str = ""
    min_span: float = 0.0  # the least the y axis spans, in the chart's unit
    missing: tuple[str, ...] = ()


CHARTS: tuple[ChartSpec, ...] = (
    ChartSpec("util", "Utilization", "%",
              ("cpu.util_percent", "gpu{n}.util_percent", "tpu{n}.util_percent"),
              axis="percent",
              tip="How busy each device is, 0-100%: the whole machine's CPU, each GPU and each "
              "TPU chip (its TensorCores' duty cycle)."),
    ChartSpec("workload", "Workload CPU", "cores", ("proc.cpu_percent",), scale=0.01,
              axis="cores",
              tip="The running workload's process tree, in cores: 1 = one core fully busy, the "
              "top of the chart = every core of the machine."),
    ChartSpec("cores", "CPU cores", "%", ("cpu.core{n}.util_percent",),
              tip="Each logical CPU, one row each: dark = idle, bright = busy (as htop's "
              "meters)."),
    ChartSpec("memory", "Memory", "GiB",
              ("host.memory_used_bytes", "proc.rss_bytes", "gpu{n}.memory_used_bytes",
               "tpu{n}.memory_used_bytes"),
              scale=1 / GIB, min_span=0.25,
              tip="Memory in use: the machine's, the run's (resident), each GPU's, each TPU "
              "chip's HBM."),
    ChartSpec("power", "Power", "W", ("cpu.package_power_watts", "gpu{n}.power_watts"),
              min_span=10, missing=("CPU package power",),
              tip="Power draw: the CPU package (RAPL) and each GPU (NVML, amdgpu, i915/xe)."),
    ChartSpec("temperature", "Temperature", "°C", ("cpu.temperature_c", "gpu{n}.temperature_c"),
              min_span=10, missing=("CPU temperature",),
              tip="CPU package and GPU core temperatures, where sensors exist."),
    ChartSpec("clocks", "Clocks", "Hz",
              ("cpu.freq_mhz", "gpu{n}.sm_clock_mhz", "gpu{n}.memory_clock_mhz"),
              scale=1e6, axis="si", min_span=200e6,
              tip="Current clocks. Red marks: the GPU slowed its clocks (power cap, thermal, "
              "...)."),
    ChartSpec("throughput", "Throughput", "", (), axis="si",
              tip="Each run's throughput, per batch of timed steps (a few points a second)."),
)
ALWAYS = ("util", "memory", "throughput")  # shown even before anything is known


def fmt_value(value: float | None, spec: ChartSpec) -> str:
    """A reading as the chart's legend shows it: "43%", "1.5 cores", "2.6 GHz", "3.2 GiB"."""
    if value is None or not math.isfinite(value):
        return "–"
    if spec.axis == "percent":
        return f"{value:.0f}%"
    if spec.axis == "cores":
        return f"{value:.2f} cores" if value < 10 else f"{value:.1f} cores"
    if spec.axis == "si":
        return fmt_si(value, spec.unit)
    return f"{value:.3g} {spec.unit}" if abs(value) < 1000 else f"{value:,.0f} {spec.unit}"


TickLevels = list[tuple[float, list[float]]]


class ClockAxis(pg.DateAxisItem):
    """A time axis for x values counted from a moment: labels show the wall-clock time.

    ``shared``: ticks already worked out by the other time axes of the same x range (the charts
    are x-linked: one computes the ticks of a step, the others reuse them).
    """

    def __init__(self, unix_at_zero: Callable[[], float],
                 shared: dict[tuple[float, float, float], tuple[TickLevels, Any]] | None = None,
                 ) -> None:
        super().__init__(orientation="bottom")
        self.unix_at_zero = unix_at_zero
        self.shared = shared if shared is not None else {}

    def tickValues(self, minVal: float, maxVal: float, size: float) -> list[Any]:
        """Ticks where the wall clock is round, in the chart's own x."""
        shift = self.unix_at_zero()
        key = (minVal + shift, maxVal + shift, size)
        known = self.shared.get(key)
        if known is None:
            levels = super().tickValues(minVal + shift, maxVal + shift, size)
            if len(self.shared) > 16:  # old ranges are never asked again
                self.shared.clear()
            known = self.shared[key] = (levels, getattr(self, "zoomLevel", None))
        levels, zoom = known
        self.zoomLevel = zoom  # tickStrings reads the zoom level that tickValues chose
        return [(spacing, [v - shift for v in values]) for spacing, values in levels]

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:
        """Wall-clock labels for the chart's x values."""
        shift = self.unix_at_zero()
        return list(super().tickStrings([v + shift for v in values], scale, spacing))


class LegendLabel(pg.LabelItem):
    """The values beside a chart: a label of fixed width whose text never resizes its column.

    pyqtgraph's LabelItem sets its minimum size to its text's on every resize and asks the layout
    again; with text that changes twice a second that is a relayout per redraw, and it can feed
    back into itself. This one asks only when its height (the number of lines) changes. Its text
    never runs past the column: a row too long for one line puts its label on a line of its own,
    shortened in the middle if need be, and the tooltip says every row in full.
    """

    def __init__(self) -> None:
        self._height = -1.0
        super().__init__("", justify="left", size=f"{LEGEND_POINT_SIZE:g}pt")
        # a guard: should a row still be wider than measured, it wraps rather than being cut
        self.item.setTextWidth(LEGEND_WIDTH)
        font = QFont(self.item.font())
        font.setPointSizeF(LEGEND_POINT_SIZE)
        self._plain = QFontMetrics(font)
        font.setBold(True)
        self._bold = QFontMetrics(font)
        # what a row may take: the column less the text's margins and a few pixels for the
        # difference between measuring a string and laying out rich text
        margin = self.item.document().documentMargin()
        self._room = LEGEND_WIDTH - 2 * margin - 6
        self._widths: dict[tuple[str, bool], int] = {}
        self._value_room = 0
        self._shown: tuple[str, str] | None = None  # the (text, colour) shown

    def row(self, colour: str, value: str, label: str) -> str:
        """One series' row (rich text): its colour, its value in bold, then its label.

        The label goes on a line of its own when value and label do not fit on one, and is
        shortened in the middle ("workload me…y (RSS)") when it does not fit on a line either.
        """
        swatch = f"<span style='color:{colour}'>■</span> <b>{html.escape(value)}</b>"
        lead = self._width("■ ")
        # room for the widest value seen yet: a row keeps its number of lines while its value
        # changes, so the column's height (and every chart's layout) stays as it is
        self._value_room = max(self._value_room, self._width(value + " ", bold=True))
        if lead + self._value_room + self._width(label) <= self._room:
            return f"{swatch} {html.escape(label)}"
        short = self._plain.elidedText(label, Qt.TextElideMode.ElideMiddle, int(self._room - lead))
        # an invisible swatch indents the label under the value
        return f"{swatch}<br><span style='color:transparent'>■</span> {html.escape(short)}"

    def _width(self, text: str, *, bold: bool = False) -> int:
        """A string's width in the legend's font (kept: the same few strings come every redraw)."""
        key = (text, bold)
        width = self._widths.get(key)
        if width is None:
            if len(self._widths) > 512:  # values change; labels stay: start afresh now and then
                self._widths.clear()
            metrics = self._bold if bold else self._plain
            width = self._widths[key] = metrics.horizontalAdvance(text)
        return width

    def updateMin(self) -> None:
        """A fixed width; the text's height."""
        height = float(self.itemRect().height())
        if height == self._height:
            return
        self._height = height
        self.setMinimumWidth(LEGEND_WIDTH)
        self.setMaximumWidth(LEGEND_WIDTH)
        self.setMinimumHeight(height)
        self._sizeHint = {
            Qt.SizeHint.MinimumSize: (LEGEND_WIDTH, height),
            Qt.SizeHint.PreferredSize: (LEGEND_WIDTH, height),
            Qt.SizeHint.MaximumSize: (LEGEND_WIDTH, -1),
            Qt.SizeHint.MinimumDescent: (0, 0),
        }
        self.updateGeometry()

    def show_text(self, text: str, color: str, tip: str = "") -> None:
        """Set the text and the tooltip (nothing happens when they are the same).

        Not through LabelItem.setText: that asks the whole chart layout to be worked out again
        at every call, which moves and repaints every chart twice a second.
        """
        if (text, color) != self._shown:
            self._shown = (text, color)
            self.text = text
            self.opts["color"] = color
            css = pg.mkColor(color).name(QColor.NameFormat.HexArgb)
            self.item.setHtml(f"<span style='color: {css}; font-size: {LEGEND_POINT_SIZE:g}pt'>"
                              f"{text}</span>")
            self.updateMin()  # asks for a new layout only when the number of lines changed
        if tip != self.toolTip():
            self.setToolTip(tip)


class TimedGraphics(PaintedView):
    """The charts' view, counting the CPU time its painting takes (for the redraw cadence)."""

    def __init__(self) -> None:
        super().__init__()
        self.cost_s = 0.0  # painting (and redrawing) since the last take_cost()

    def paintEvent(self, ev: Any) -> None:
        """Paint, and count the time it took."""
        start = time.thread_time()
        super().paintEvent(ev)
        self.cost_s += time.thread_time() - start

    def take_cost(self) -> float:
        """The time counted since the last call."""
        cost, self.cost_s = self.cost_s, 0.0
        return cost


@dataclass
class RunLine:
    """One run's throughput on the chart."""

    number: int
    label: str
    unit: str
    curve: Any
    t: list[float] = field(default_factory=list)
    v: list[float] = field(default_factory=list)
    running: bool = True
    drawn: int = 0  # the points its curve shows


class QtLivePanel(QWidget):
    """Live charts of a sampler, the runs' throughput, and the current value of every series.

    ``events``: the session's events (runs start, progress and end); None charts telemetry only.
    Signal ``stop_requested`` asks the window to stop the run in progress (it asks first).
    """

    stop_requested = Signal()

    def __init__(self, sampler: Sampler | None, events: QtSessionEvents | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.sampler = sampler
        # x on the charts is seconds since this moment: small numbers keep full float precision,
        # on screen and in SVG exports (epoch seconds, ~1.8e9, lose sub-second steps there)
        self.clock: Callable[[], float] = time.monotonic  # the sampler's clock (tests set it)
        self.t0 = self.clock()
        self._history: BinnedHistory | None = None  # the charts' readings, binned (see redraw)
        self.window_seconds = WINDOWS[0][1]
        self.redraws = 0
        self.colors = chart_colors(self.palette())
        self.window_box = QComboBox()
        for label, seconds in WINDOWS:
            self.window_box.addItem(label, seconds)
        self.window_box.setToolTip("How much history the charts show")
        self.export_button = QPushButton("Export charts…")
        self.export_button.setToolTip("Save the charts as PNG or SVG, in the theme's colours")
        self.run_status = QLabel("No run in progress. Start one on the Run tab (Ctrl+R).")
        self.run_status.setObjectName("live_run_status")
        self.run_status.setTextFormat(Qt.TextFormat.PlainText)
        self.run_status.setWordWrap(True)  # a long run label never widens the window
        self.run_status.setMinimumWidth(80)
        self.run_progress = QProgressBar()
        self.run_progress.setObjectName("live_progress")
        self.run_progress.setMaximumWidth(160)
        self.run_progress.setMaximumHeight(16)
        self.run_progress.hide()
        self.stop_button = QPushButton("Stop run…")
        self.stop_button.setToolTip("End the run in progress (asks first); queued runs go on")
        self.stop_button.hide()
        self.note = QLabel()
        self.note.setObjectName("live_note")
        self.note.setTextFormat(Qt.TextFormat.PlainText)
        self.note.setWordWrap(True)
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Show the last"))
        bar.addWidget(self.window_box)
        bar.addStretch(1)
        bar.addWidget(self.export_button)
        run_bar = QHBoxLayout()  # the run in progress, on a line of its own
        run_bar.addWidget(self.run_status, 1)
        run_bar.addWidget(self.run_progress)
        run_bar.addWidget(self.stop_button)
        self.graphics = TimedGraphics()
        self.graphics.setBackground(None)  # the palette's own colour, light or dark
        self.readout = QLabel("Move the mouse over a chart to read every value at that moment")
        self.readout.setObjectName("readout")
        self.readout.setTextFormat(Qt.TextFormat.PlainText)
        self.readout.setWordWrap(True)
        # on a small window the charts scroll rather than shrink to slivers
        self.chart_scroll = QScrollArea()
        self.chart_scroll.setWidget(self.graphics)
        self.chart_scroll.setWidgetResizable(True)
        self.chart_scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        self.chart_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addLayout(run_bar)
        layout.addWidget(self.note)
        layout.addWidget(self.chart_scroll, 1)
        layout.addWidget(self.readout)

        self.plots: dict[str, pg.PlotItem] = {}
        self.legends: dict[str, Any] = {}  # chart key -> its LegendLabel ("track": a title)
        self.missing: dict[str, str] = {}  # chart key -> why it is not charted here
        self.series: dict[str, list[str]] = {}  # chart key -> metric names drawn on it
        self.curves: dict[str, Line] = {}  # metric name -> its line
        self._lines: dict[str, ChartLines] = {}  # chart key -> the item that draws its lines
        self.markers: list[tuple[float, str]] = []  # (monotonic time, label)
        self._marker_lines: list[tuple[pg.PlotItem, pg.InfiniteLine]] = []
        self._marker_texts: list[pg.TextItem] = []
        self.runs: list[RunLine] = []
        self._current: RunLine | None = None
        self.charted: list[str] = []  # what redraw reads from the sampler
        self.core_names: list[str] = []
        self.heat: pg.ImageItem | None = None
        self.heat_tail: pg.ImageItem | None = None
        self._cores_total = 1
        self.track: pg.PlotItem | None = None
        self._ticks: dict[tuple[float, float, float], tuple[TickLevels, Any]] = {}
        self._build_charts()
        sampled = set(self.sampler.names) if self.sampler else set()
        self.charted += sorted(n for n in sampled if n.endswith(".clock_event_reasons"))
        self.slowdowns = pg.ScatterPlotItem(symbol="t", size=9, pen=None)
        if "clocks" in self.plots:
            self.plots["clocks"].addItem(self.slowdowns)
        self._drawn: tuple[object, ...] = ()
        self.apply_theme()
        self.window_box.currentIndexChanged.connect(self._on_window_changed)
        self.export_button.clicked.connect(self.export_dialog)
        self.stop_button.clicked.connect(self.stop_requested.emit)
        self._mouse = pg.SignalProxy(self.graphics.scene().sigMouseMoved, rateLimit=20,
                                     slot=self._on_mouse)
        self.timer = QTimer(self)
        self.timer.setInterval(REDRAW_MS)
        self.timer.timeout.connect(self._on_timer)
        self._cost_s = 0.0  # what a redraw and its painting cost, smoothed (see _on_timer)
        self.timer.start()
        # what is not charted here, and why, once at the top (a label that wraps)
        lines = list(self.missing.values())
        if sampler is None:
            lines.insert(0, "GPUs are not charted: no sampler")
        elif (summary := sampler.gpu_summary("charted")) is not None:
            # per vendor: an AMD GPU is charted although NVIDIA has no driver
            lines.insert(0, summary if sampler.gpu_count else f"No GPU is charted. {summary}")
        if sampler is not None and sampler.tpu is not None and sampler.tpu.status().telemetry_note:
            lines.append(f"TPU chips have no live readings: {sampler.tpu.status().telemetry_note}")
        self.note.setText("\n".join(lines))
        self.note.setVisible(bool(lines))
        if events is not None:
            events.on(RunStarted, self._on_run_started, self)
            events.on(RunProgressed, self._on_run_progressed, self)
            events.on(RunFinished, self._on_run_finished, self)

    # -- building -----------------------------------------------------------------------------
    def _offset(self) -> float:
        return self.sampler.unix_offset_s if self.sampler else time.time() - time.monotonic()

    def _unix_at_zero(self) -> float:
        return self.t0 + self._offset()

    def _names_for(self, spec: ChartSpec, names: set[str]) -> list[str]:
        out: list[str] = []
        for template in spec.templates:
            if "{n}" not in template:
                if template in names:
                    out.append(template)
                continue
            head, tail = template.split("{n}")
            found = [n for n in names if n.startswith(head) and n.endswith(tail)
                     and n[len(head):len(n) - len(tail)].isdigit()]
            out += sorted(found, key=lambda n: int(n[len(head):len(n) - len(tail)]))
        return out

    def _build_charts(self) -> None:
        names = set(self.sampler.names) if self.sampler else set()
        notes = self.sampler.notes if self.sampler else ("no sampler",)
        names_gpu = any(n.startswith("gpu") for n in names)
        row = 0
        # the runs' marker labels live in a track of their own: they never cover data or legends
        self.track = self.graphics.addPlot(row=row, col=0,
                                           axisItems={"bottom": ClockAxis(self._unix_at_zero,
                                                                     self._ticks)})
        self.track.hideAxis("bottom")
        self.track.getAxis("left").setWidth(56)
        self.track.getAxis("left").setStyle(showValues=False)
        self.track.getAxis("left").setPen(pg.mkPen(None))
        self.track.setMouseEnabled(x=False, y=False)
        self.track.hideButtons()
        self.track.setYRange(0, 3, padding=0)
        self.track.setMaximumHeight(44)
        self.track.setMinimumHeight(44)
        self.track.setToolTip("When each run started, finished warming up and ended")
        track_title = pg.LabelItem("runs", justify="left")
        self.graphics.addItem(track_title, row=row, col=1)
        self.legends["track"] = track_title
        row += 1
        first = self.track
        for spec in CHARTS:
            chart_names = self._names_for(spec, names)
            self.series[spec.key] = chart_names if spec.key != "cores" else []
            if not chart_names and spec.key not in ALWAYS:
                if spec.missing:  # e.g. no power reading on this machine: say why
                    why = [n.split(": ", 1)[-1].split(" (")[0] for n in notes
                           if n.startswith(spec.missing[0])]
                    if not names_gpu:
                        why.append("no GPU")
                    self.missing[spec.key] = (f"{spec.title} is not charted: "
                                              + ("; ".join(why) or "no sensor reports it here"))
                continue
            axis = ValueAxis(spec.axis)
            plot = self.graphics.addPlot(row=row, col=0, axisItems={
                "bottom": ClockAxis(self._unix_at_zero, self._ticks), "left": axis})
            legend = LegendLabel()
            self.graphics.addItem(legend, row=row, col=1)
            self.legends[spec.key] = legend
            row += 1
            plot.showGrid(x=True, y=True, alpha=GRID_ALPHA)
            plot.setMouseEnabled(x=False, y=False)
            plot.hideButtons()
            plot.getAxis("left").setWidth(56)  # equal widths keep the time axes aligned
            plot.setToolTip(spec.tip)
            plot.setXLink(first)
            plot.setMinimumHeight(MIN_CHART_HEIGHT)
            self.plots[spec.key] = plot
            if spec.key == "util":
                # 0-100 with room above and below: a reading at 100% sits on a labelled line
                # inside the chart, not on its frame, and 0 and 100 keep their labels
                plot.setYRange(-15, 115, padding=0)
                plot.enableAutoRange(axis="y", enable=False)
                axis.setTicks([[(v, f"{v:g}") for v in (0, 25, 50, 75, 100)]])
            elif spec.key == "workload":
                self._cores_total = len(self._names_for(CHARTS[2], names)) or (os.cpu_count() or 1)
                top = float(self._cores_total)
                plot.setYRange(-0.15 * top, 1.15 * top, padding=0)
                plot.enableAutoRange(axis="y", enable=False)
                step = max(1, math.ceil(top / 4))
                axis.setTicks([[(float(v), str(v)) for v in range(0, int(top) + 1, step)]
                               + ([(top, f"{top:g}")] if int(top) % step else [])])
            elif spec.key == "cores":
                self._build_heat(plot, chart_names)
                continue
            elif spec.min_span:
                # a flat reading (a fixed clock) should look flat, not like noise on a
                # magnified axis: the axis never spans less than this
                plot.setLimits(minYRange=spec.min_span)
            for i, name in enumerate(chart_names):
                self.add_curve(spec.key, name, metric_info(name).label, i)
        # one time scale under the stack of x-linked charts: the axes above keep their grid lines
        # but no labels (axis text is most of a repaint's cost in software rendering)
        plots = list(self.plots.values())
        for plot in plots[:-1]:
            plot.getAxis("bottom").setStyle(showValues=False)
            plot.getAxis("bottom").setHeight(6)
        self.graphics.ci.layout.setColumnFixedWidth(1, LEGEND_WIDTH)
        heights = [int(p.minimumHeight()) for p in plots] + [44]
        self.graphics.setMinimumHeight(sum(heights) + 40)
        for plot in plots:
            # a y axis and a title change seldom: each is kept as a pixmap, redrawn only when it
            # changes, not at every new reading
            for item in (plot.getAxis("left"), plot.titleLabel):
                item.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)

    def _build_heat(self, plot: pg.PlotItem, names: list[str]) -> None:
        self.core_names = names
        n = max(1, len(names))
        self.heat = pg.ImageItem()
        self.heat_tail = pg.ImageItem()  # the bin still filling (see _draw_heat)
        for item in (self.heat, self.heat_tail):
            item.setLevels((0.0, 100.0))
            plot.addItem(item)
        plot.setYRange(0, n, padding=0)
        plot.enableAutoRange(axis="y", enable=False)
        plot.showGrid(x=True, y=False, alpha=GRID_ALPHA)
        ticks = [(0.5, "0")] + ([(n - 0.5, str(n - 1))] if n > 2 else [])
        plot.getAxis("left").setTicks([ticks])
        height = int(min(150, 56 + 10 * n))  # a title, and a readable row per core
        plot.setMaximumHeight(height)
        plot.setMinimumHeight(height)
        self.charted += [nm for nm in names if nm not in self.charted]

    def add_curve(self, chart: str, name: str, label: str, color: int) -> Line:
        """Chart the sampler's metric ``name`` on ``chart`` (a key of :attr:`plots`).

        ``label`` names it beside the chart.
        """
        # one item draws every line of a chart (see chart_lines): the data come decimated
        # already (see redraw), so pyqtgraph's per-curve downsampling would only add work
        lines = self._lines.get(chart)
        if lines is None:
            lines = self._lines[chart] = ChartLines()
            self.plots[chart].addItem(lines)
            self.plots[chart].addItem(lines.tails)
        curve = lines.line(name, color)
        curve.label = label
        curve.setPen(self._pen(color))
        self.curves[name] = curve
        if name not in self.series.setdefault(chart, []):
            self.series[chart].append(name)
        if name not in self.charted:
            self.charted.append(name)
        return curve

    def _pen(self, color: int, width: float | None = None) -> Any:
        # 1.5 px reads well for the minute view's few points; with many points a thin line
        # reads better and costs a third of the wide-line stroker's time to draw
        w = width if width is not None else (1.5 if self.window_seconds <= 60 else 1)
        return pg.mkPen(self.colors.series_color(color), width=w)

    # -- theme --------------------------------------------------------------------------------
    def apply_theme(self) -> None:
        """Every colour from the palette: axes, titles, legends, lines, markers, the heat strip."""
        c = self.colors = chart_colors(self.palette())
        for spec in CHARTS:
            plot = self.plots.get(spec.key)
            if plot is None:
                continue
            style_axes(plot, c)
            set_title(plot, self._title(spec), c)
        if self.track is not None:
            style_axes(self.track, c)
            self.track.getAxis("left").setPen(pg.mkPen(None))
        for curve in self.curves.values():
            curve.setPen(self._pen(curve.color_index))
        for run in self.runs:
            run.curve.setPen(self._run_pen(run))
            run.curve.setSymbolBrush(pg.mkBrush(c.series_color(run.number)))
        self.slowdowns.setBrush(pg.mkBrush(c.warning))
        for _plot, line in self._marker_lines:
            line.setPen(pg.mkPen(c.muted, style=Qt.PenStyle.DashLine))
        if self.heat is not None:
            cmap = pg.ColorMap([0.0, 0.5, 1.0], [c.background.lighter(130 if c.dark else 96),
                                                 QColor("#3d8bfd"), QColor("#ff5a36")])
            for item in (self.heat, self.heat_tail):
                if item is not None:
                    item.setLookupTable(cmap.getLookupTable(nPts=256))
        self._layout_marker_labels()
        self._update_legends()

    def changeEvent(self, event: QEvent) -> None:
        """Follow the theme when the palette changes."""
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange and hasattr(self, "slowdowns"):
            self.apply_theme()

    def _title(self, spec: ChartSpec) -> str:
        if spec.key == "throughput":
            unit = self.runs[-1].unit if self.runs else "per second"
            return f"Throughput ({unit})"
        if spec.key == "workload":
            return f"Workload CPU (cores, of {self._cores_total})"
        if spec.key == "cores":
            return f"CPU cores ({len(self.core_names)}, % busy)"
        return f"{spec.title} ({spec.unit})"

    # -- runs -----------------------------------------------------------------------------------
    def _on_run_started(self, e: RunStarted) -> None:
        self.start_run(e.item.id, e.item.spec.label(), throughput_unit(e.item.spec))
        self.add_marker(e.t_s, f"start {e.item.spec.workload}")
        self._show_progress(e.progress.status(), None)

    def _on_run_progressed(self, e: RunProgressed) -> None:
        if e.delta.mark:
            self.add_marker(e.t_s, e.delta.mark)
        for p in e.delta.points:
            self.add_point(p.t_s, p.per_second)
        self._show_progress(e.progress.status(), e.progress.fraction)

    def _on_run_finished(self, e: RunFinished) -> None:
        r = e.record.result
        self.add_marker(e.t_s, "end" if r.ok else r.status)
        if self._current is not None:
            self._current.running = False
            self._current = None
        self.run_progress.hide()
        self.stop_button.hide()
        rate = fmt_si(r.throughput_per_second, throughput_unit(e.item.spec))
        what = f"{r.status}: {r.reason}" if not r.ok else f"finished, {rate}"
        self.run_status.setText(f"No run in progress. Last: {e.item.spec.label()} {what}")
        self._update_legends()

    def _show_progress(self, text: str, fraction: float | None) -> None:
        self.run_status.setText(text)
        self.run_progress.show()
        self.stop_button.show()
        if fraction is None:
            self.run_progress.setRange(0, 0)  # working, length unknown yet
        else:
            self.run_progress.setRange(0, 100)
            self.run_progress.setValue(int(100 * fraction))

    def start_run(self, number: int, label: str, unit: str) -> RunLine:
        """A new run's throughput line; earlier runs' lines stay (those of another unit go)."""
        plot = self.plots.get("throughput")
        if self.runs and self.runs[-1].unit != unit:
            for old in self.runs:  # bytes/s and images/s on one axis would mislead
                if plot is not None:
                    plot.removeItem(old.curve)
            self.runs.clear()
        while len(self.runs) >= MAX_RUNS_SHOWN:
            old = self.runs.pop(0)
            if plot is not None:
                plot.removeItem(old.curve)
        curve = pg.PlotDataItem([], [], symbol="o", symbolSize=3, symbolPen=None)
        run = RunLine(number, label, unit, curve)
        curve.setPen(self._run_pen(run))
        curve.setSymbolBrush(pg.mkBrush(self.colors.series_color(number)))
        if plot is not None:
            plot.addItem(curve)
            set_title(plot, f"Throughput ({unit})", self.colors)
        self.runs.append(run)
        self._current = run
        self._update_legends()
        return run

    def _run_pen(self, run: RunLine) -> Any:
        return pg.mkPen(self.colors.series_color(run.number), width=1.5)

    def add_point(self, t_monotonic: float, per_second: float) -> None:
        """One throughput point of the run in progress."""
        if self._current is None:
            return
        self._current.t.append(t_monotonic)
        self._current.v.append(per_second)

    def add_marker(self, t_monotonic: float, label: str) -> None:
        """A dashed vertical line on every chart, labelled in the runs track."""
        self.markers.append((t_monotonic, label))
        x = t_monotonic - self.t0
        pen = pg.mkPen(self.colors.muted, style=Qt.PenStyle.DashLine)
        for plot in self.plots.values():
            line = pg.InfiniteLine(pos=x, angle=90, pen=pen)
            line.setToolTip(label)
            plot.addItem(line, ignoreBounds=True)
            self._marker_lines.append((plot, line))
        if self.track is not None:
            text = pg.TextItem(label, anchor=(0, 0.5), color=self.colors.text)
            text.setToolTip(label)
            self.track.addItem(text, ignoreBounds=True)
            self._marker_texts.append(text)
        self._layout_marker_labels()

    def _layout_marker_labels(self) -> None:
        """Each label on the first of three rows where it overlaps no other; hidden if none."""
        track = self.track
        if track is None or not self._marker_texts:
            return
        lo, hi = track.vb.viewRange()[0]
        width_px = max(1.0, track.vb.width())
        per_px = (hi - lo) / width_px if hi > lo else 1.0
        metrics = QFontMetrics(QFont())
        rows_end = [-math.inf, -math.inf, -math.inf]
        for (t, label), text in zip(self.markers, self._marker_texts, strict=True):
            x = t - self.t0
            text.setColor(self.colors.text)
            if x < lo or x > hi:
                text.hide()
                continue
            at_px = (x - lo) / per_px
            width = metrics.horizontalAdvance(label) + 8
            # right of the line, or left of it near the chart's right edge (the newest marks)
            flip = at_px + width > width_px
            text.setAnchor((1, 0.5) if flip else (0, 0.5))
            left_px, right_px = (at_px - width, at_px) if flip else (at_px, at_px + width)
            for r in range(3):
                if left_px > rows_end[r]:
                    rows_end[r] = right_px
                    text.setPos(x, 2.5 - r)
                    text.show()
                    break
            else:
                text.hide()  # no room: the line's tooltip still says what it was

    # -- drawing --------------------------------------------------------------------------------
    def _seconds_per_pixel(self) -> float:
        first = next(iter(self.plots.values()), None)
        width = float(first.vb.width()) if first is not None else 0.0
        return self.window_seconds / max(200.0, width)

    @Slot()
    def _on_timer(self) -> None:
        """Redraw, then set the next redraw's delay from what drawing costs (see CHART_SHARE)."""
        start = time.thread_time()
        self.redraw()
        self.graphics.cost_s += time.thread_time() - start
        # the cost of the last redraw and its painting, smoothed: at most CHART_SHARE of a core
        cost = self.graphics.take_cost()
        self._cost_s = 0.7 * self._cost_s + 0.3 * cost if cost else self._cost_s
        interval = int(min(MAX_REDRAW_MS, max(REDRAW_MS, 1000 * self._cost_s / CHART_SHARE)))
        if interval != self.timer.interval():
            self.timer.setInterval(interval)

    @Slot()
    def redraw(self, force: bool = False) -> None:
        """Update every curve from the sampler (skipped while the tab is hidden)."""
        if not force and not self.isVisible():
            return
        end = self.clock()
        # the charts move by whole pixels: between two steps (4 s at a time in the hour's view)
        # the axes, grids and the binned history stay as they are, and nothing shimmers
        px = self._seconds_per_pixel()
        x_end = math.ceil((end - self.t0) / px) * px
        x_start = x_end - self.window_seconds
        # paint only what changed: a new reading, a new throughput point, a marker, a step of the
        # time axis or another window (each repaint costs the workload's cores some milliseconds)
        points = sum(len(r.t) for r in self.runs)
        state = (self.sampler.ticks if self.sampler else 0, points, len(self.runs),
                 len(self.markers), self.window_seconds, x_end)
        if not force and state == self._drawn:
            return
        self._drawn = state
        self.redraws += 1
        self._latest: dict[str, float] = {}
        if self.sampler is not None and self.charted:
            self._draw_readings(self.sampler, x_start, x_end, px)
        for run in self.runs:
            if len(run.t) != run.drawn:  # an ended run's line is not drawn again
                run.drawn = len(run.t)
                run.curve.setData(np.asarray(run.t) - self.t0, np.asarray(run.v))
        self._fit_throughput()
        first_plot = self.track or next(iter(self.plots.values()), None)
        if first_plot is not None:
            lo, hi = first_plot.vb.viewRange()[0]
            if abs(lo - x_start) + abs(hi - x_end) > px / 100:  # the same range: no axis redrawn
                first_plot.setXRange(x_start, x_end, padding=0)
                # move the charts now, not while painting (pyqtgraph's default): what moves is
                # then known before the paint, and the charts are painted once, not twice
                for plot in (first_plot, *self.plots.values()):
                    plot.vb.prepareForPaint()
        self._layout_marker_labels()
        self._update_legends()

    def _draw_readings(self, sampler: Sampler, x_start: float, x_end: float, px: float) -> None:
        """The sampler's readings from ``x_start`` to ``x_end`` onto the lines and the heat strip.

        Where a chart has more readings than pixels, each pair of pixels shows the (min, max) of
        its readings, from a history binned on a fixed grid and kept between redraws (only new
        readings are binned). Fewer readings are drawn as they are.
        """
        line_names = [n for n in self.charted if n in self.curves]
        names = line_names + [n for n in self.core_names if n not in line_names]
        width = 2 * px
        interval = sampler.interval_s
        if width >= 2 * interval:  # two readings or more a bin: bin them
            h = self._history
            if h is None or h.width_s != width or h.names != tuple(names) \
                    or h.keep * width < self.window_seconds:
                h = self._history = BinnedHistory(names, width, self.window_seconds)
            since = max(h.last_t, x_start) + self.t0
            w = sampler.window(since=since, names=names)
            h.add(w.timestamps - self.t0, w.values)
            t, values = h.peaks(x_start, x_end)
            # the bin still filling (the last) and the newest reading make each line's tail;
            # the bins before it change only when one is complete or the chart steps
            cut = max(0, len(t) - 2)
            newest = np.isfinite(h.last_t)  # false only before the first reading
            tail_t = np.append(t[max(0, cut - 1):], [h.last_t] if newest else [])
            tails = {n: np.append(v[max(0, cut - 1):], [h.last_values[i]] if newest else [])
                     for i, (n, v) in enumerate(values.items())}
            t, values = t[:cut], {n: v[:cut] for n, v in values.items()}
            fresh = h.latest_t >= h.last_t - 8 * interval  # "the last before a short gap"
            self._latest = {n: float(h.latest[i]) for i, n in enumerate(names) if fresh[i]}
            heat_t, heat = h.means(x_start, x_end, self.core_names)
        else:
            self._history = None
            w = sampler.window(since=x_start + self.t0, names=names)
            t, values = w.timestamps - self.t0, w.values
            tail_t, tails = t[:0], {n: v[:0] for n, v in values.items()}
            for name in names:
                # the newest reading: the last one, or the last before a short gap
                tail = w.values[name][-8:]
                finite = tail[np.isfinite(tail)]
                if finite.size:
                    self._latest[name] = float(finite[-1])
            heat_t, heat = mean_bins(t, [values[n] for n in self.core_names],
                                     max(20, int(self.window_seconds / width)))
        for spec in CHARTS:
            for name in self.series.get(spec.key, []):
                curve = self.curves.get(name)
                if curve is not None:
                    curve.owner.set_data(curve, t, values[name] * spec.scale, tail_t,
                                         tails[name] * spec.scale)
        self._draw_heat(heat_t, heat, width)
        reasons = [n for n in self.charted if n.endswith(".clock_event_reasons")]
        if reasons:  # bit masks: read as they are, never binned
            r = sampler.window(since=x_start + self.t0,
                               names=reasons + [f"{n.split('.')[0]}.sm_clock_mhz"
                                                for n in reasons
                                                if f"{n.split('.')[0]}.sm_clock_mhz"
                                                in sampler.names])
            self._draw_slowdowns(r.timestamps - self.t0, r.values)

    def _draw_heat(self, t: np.ndarray, means: np.ndarray, step: float) -> None:
        """Each core's mean per bin (bins starting at ``t``, ``step`` wide) as a strip of colour.

        With binned readings the last bin (still filling) is an image of its own: a new reading
        repaints that column, not the whole strip (as the lines' tails).
        """
        if self.heat is None or self.heat_tail is None or not self.core_names or len(t) < 2:
            return
        image = np.nan_to_num(means, nan=0.0)
        if self._history is None:  # bins of raw readings: as wide as they are apart
            step = float(np.median(np.diff(t)))
            settled, tail = image, image[:0]
        else:
            settled, tail = image[:-1], image[-1:]
        rows = float(len(self.core_names))
        for item, part, x0 in ((self.heat, settled, float(t[0])),
                               (self.heat_tail, tail, float(t[len(settled)]) if tail.size
                                else 0.0)):
            if not part.size:
                item.hide()
                continue
            item.show()
            rect = QRectF(x0, 0.0, step * len(part), rows)
            shown = item.image
            if shown is None or shown.shape != part.shape or not np.array_equal(shown, part) \
                    or item.mapRectToParent(item.boundingRect()) != rect:
                item.setImage(part, autoLevels=False, levels=(0.0, 100.0))
                item.setRect(rect)

    def _fit_throughput(self) -> None:
        plot = self.plots.get("throughput")
        tops = [max(r.v) for r in self.runs if r.v]
        if plot is None or not tops:
            return
        plot.setYRange(0, max(tops) * 1.1, padding=0)  # from zero: a 5% dip looks like one

    def _update_legends(self) -> None:
        c = self.colors
        text_css, muted_css = c.css(), c.css(c.muted)
        latest = getattr(self, "_latest", {})
        for spec in CHARTS:
            legend = self.legends.get(spec.key)
            if legend is None:
                continue
            rows: list[str] = []
            tips: list[str] = []  # every row in full, for the tooltip
            if spec.key == "throughput":
                if not self.runs:
                    rows.append(f"<span style='color:{muted_css}'>no run yet</span>")
                for run in self.runs[-5:]:
                    value = fmt_si(run.v[-1], run.unit) if run.v else "starting"
                    label = f"#{run.number} {run.label}{'' if run.running else ' (ended)'}"
                    rows.append(legend.row(c.series_color(run.number), value, label))
                    tips.append(f"{value}  {label}")
            elif spec.key == "cores":
                rows.append(f"<span style='color:{muted_css}'>idle</span> "
                            "<span style='color:#3d8bfd'>■</span> "
                            f"<span style='color:#ff5a36'>■</span> "
                            f"<span style='color:{muted_css}'>busy</span>")
            else:
                for name in self.series.get(spec.key, []):
                    curve = self.curves.get(name)
                    if curve is None:
                        continue
                    raw = latest.get(name)
                    value = fmt_value(raw * spec.scale if raw is not None else None, spec)
                    label = curve.label
                    rows.append(legend.row(c.series_color(curve.color_index), value, label))
                    tips.append(f"{value}  {label}")
            legend.show_text("<br>".join(rows), text_css, "\n".join(tips))
        track = self.legends.get("track")
        if track is not None and track.opts.get("color") != muted_css:
            track.setText("runs", color=muted_css)

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
            y = clock[hits] * 1e6 if clock is not None else np.zeros(hits.size)
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

    def set_window_seconds(self, seconds: float) -> None:
        """Show the last ``seconds`` (one of :data:`WINDOWS`; others are ignored)."""
        i = self.window_box.findData(seconds)
        if i >= 0:
            self.window_box.setCurrentIndex(i)

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
            for name in self.series.get(spec.key, []):
                v = w.values[name][i]
                if math.isfinite(v):
                    parts.append(f"{metric_info(name).label} {fmt_value(v * spec.scale, spec)}")
        self.readout.setText(" · ".join(parts))

    # -- export ---------------------------------------------------------------------------------
    def export(self, path: str) -> None:
        """Save the charts as PNG or SVG (by the file name's ending); OSError when it cannot.

        The file has the theme's colours: its background is the charts' own, so text and lines
        keep their contrast in any viewer.
        """
        import pyqtgraph.exporters as exporters

        self.redraw(force=True)
        scene = self.graphics.scene()
        if path.lower().endswith(".svg"):
            folder = Path(path).parent
            if not folder.is_dir():
                raise OSError(f"{path}: could not be written (the folder {folder} does not exist)")
            export_svg(scene, path, background=self.colors.background)
            return
        exporter = exporters.ImageExporter(scene)
        exporter.parameters()["background"] = self.colors.background
        image = exporter.export(toBytes=True)
        if not image.save(path):  # QImage.save says only yes or no
            raise OSError(f"{path}: could not be written (is the folder there and writable?)")

    @Slot()
    def export_dialog(self) -> None:
        """Ask where, then export; a failure is a message, never a crash."""
        from hwprof.gui.settings import last_folder, remember_folder

        start = str(last_folder() / f"hwprof-charts-{time.strftime('%Y%m%d-%H%M%S')}.png")
        path, _ = QFileDialog.getSaveFileName(self, "Export charts", start,
                                              "PNG image (*.png);;SVG drawing (*.svg)")
        if not path:
            return
        try:
            self.export(path)
        except OSError as err:
            QMessageBox.warning(self, "hwprof — cannot export the charts", str(err))
            return
        remember_folder(Path(path).parent)


def chart_keys(panel: QtLivePanel) -> Sequence[str]:
    """The charts a panel shows, top to bottom (tests and the benchmark use it)."""
    return list(panel.plots)


__all__ = ["CHARTS", "ChartColors", "ChartSpec", "QtLivePanel", "chart_keys", "fmt_value"]

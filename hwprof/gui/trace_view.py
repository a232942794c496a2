"""Where the time goes: a traced run's verdict, op categories, top ops and each step's split.

A view of one run's :class:`~hwprof.core.trace.TraceSummary` (``hwprof run --trace``, or the
Run tab's Trace switch): the verdict and the advice in words at the top, the op categories as
horizontal bars (share of all op time), the top ops as a table that sorts (numbers as numbers),
and each traced step as a stacked bar (device compute, device idle, host, input wait) placed at
the wall-clock time it ran, the time axis of the Live charts. Every name here comes from
TensorFlow or a file and is shown as text, never markup. The kept Chrome trace is exported
through :mod:`hwprof.services.traces` and never replaces a file unasked.
"""

from __future__ import annotations

import html
import re
import shlex
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    Signal,
    Slot,
)
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from hwprof.core.outputs import OutputPathError, check_output
from hwprof.core.snapshot import SUFFIXES, SnapshotRun
from hwprof.core.spec import RunSpec
from hwprof.core.text import printable
from hwprof.core.trace import OpTime, TraceError, TraceSummary
from hwprof.core.units import fmt_seconds
from hwprof.gui import dialogs
from hwprof.gui.settings import last_folder, remember_folder
from hwprof.gui.widgets import plain_label, static_plot
from hwprof.services.traces import TRACE_SUFFIX, write_trace

SORT_ROLE = Qt.ItemDataRole.UserRole
# the step split's parts, bottom to top, with what each means (the legend and the tooltips)
SPLIT_PARTS = (
    ("device_compute_s", "device compute", "some op runs on the device"),
    ("device_idle_s", "device idle", "between the step's first and last op, nothing runs"),
    ("host_s", "host", "before the first op and after the last: Python, dispatch, copies"),
    ("input_wait_s", "input wait", "only an input-pipeline op runs"),
)
OP_COLUMNS = (
    ("op", "The op's name in the model's graph"),
    ("type", "The TensorFlow op type (oneDNN and fused variants keep their own names)"),
    ("category", "matmul/conv, elementwise, normalization, data movement, collectives, input "
     "pipeline or host/other"),
    ("where", "host: a CPU thread; device: a GPU stream"),
    ("self time", "Time in the op itself, less the ops it called, over all traced steps"),
    ("share", "Of all ops' self time"),
    ("count", "Runs over all traced steps"),
    ("per run", "Self time per run"),
)
NO_TRACE_TEXT = ("This run was not traced. Tick Trace on the Run tab (or `hwprof run --trace`) "
                 "to see which ops take the time and what bounds the run.")


def _safe(text: str) -> str:
    """A name from TensorFlow or a file, with control characters made visible."""
    return printable(text)


class OpsModel(QAbstractTableModel):
    """The top ops of a summary as a table: text shown, numbers kept for sorting."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._ops: tuple[OpTime, ...] = ()
        self._total_s = 0.0

    def set_summary(self, summary: TraceSummary | None) -> None:
        """Show this summary's ops (None: none)."""
        self.beginResetModel()
        self._ops = summary.ops if summary is not None else ()
        self._total_s = summary.op_time_s if summary is not None else 0.0
        self.endResetModel()

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex | None = None) -> int:
        """One row per op (a table: no children)."""
        return 0 if parent is not None and parent.isValid() else len(self._ops)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex | None = None) -> int:
        """The columns of :data:`OP_COLUMNS`."""
        return 0 if parent is not None and parent.isValid() else len(OP_COLUMNS)

    def _cell(self, op: OpTime, column: int) -> tuple[str, Any]:
        share = op.self_time_s / self._total_s if self._total_s > 0 else None
        per_run = op.self_time_s / op.count if op.count else None
        cells: tuple[tuple[str, Any], ...] = (
            (_safe(op.name), _safe(op.name).lower()),
            (_safe(op.op_type), _safe(op.op_type).lower()),
            (op.category, op.category),
            (op.where, op.where),
            (fmt_seconds(op.self_time_s), op.self_time_s),
            (f"{100 * share:.1f}%" if share is not None else "n/a", share or 0.0),
            (f"{op.count:,}", op.count),
            (fmt_seconds(per_run), per_run or 0.0),
        )
        return cells[column]

    def data(self, index: QModelIndex | QPersistentModelIndex,
             role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        """The cell's text (display, tooltip), its sort key, or its alignment."""
        if not index.isValid() or not 0 <= index.row() < len(self._ops):
            return None
        text, key = self._cell(self._ops[index.row()], index.column())
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return text
        if role == SORT_ROLE:
            return key
        if role == Qt.ItemDataRole.TextAlignmentRole and index.column() >= 4:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        """Column names and what each means."""
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(OP_COLUMNS):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return OP_COLUMNS[section][0]
        if role == Qt.ItemDataRole.ToolTipRole:
            return OP_COLUMNS[section][1]
        return None


def command_targets(command: str | None, spec: RunSpec) -> list[str]:
    """The ``--target`` values of a verdict's ``hwprof compare`` command, or [].

    [] when the command is not a comparison of this run's workload and mode (then it can only
    be copied).
    """
    try:
        words = shlex.split(command or "")
    except ValueError:
        return []
    if words[:2] != ["hwprof", "compare"]:
        return []
    pairs = dict(zip(words[2::2], words[3::2], strict=False))
    if pairs.get("--workload") != spec.workload or pairs.get("--mode") != spec.mode:
        return []
    targets = [words[i + 1] for i, w in enumerate(words[:-1]) if w == "--target"]
    return targets if len(targets) >= 2 else []


def verdict_lines(summary: TraceSummary) -> tuple[str, str]:
    """The headline (the verdict) and the facts under it, as plain text."""
    v = summary.verdict
    head = v.text if v is not None else "no verdict (the capture was too short to judge)"
    facts = [f"{summary.steps_traced} traced steps, ops on {summary.where_ops_run}"]
    if summary.ops_per_step is not None and summary.median_op_s is not None:
        facts[0] += (f"; {summary.ops_per_step:,.0f} ops per step, median op "
                     f"{summary.median_op_s * 1e6:.1f} µs")
    if v is not None:
        facts.append(f"What may help: {v.advice}")
        if v.command:
            facts.append(f"Measure it: {v.command}")
    if summary.tracing_overhead is not None:
        cost = summary.tracing_overhead - 1
        said = (f"tracing cost {100 * cost:.0f}% speed" if cost > 0
                else "tracing cost no measurable speed")
        facts.append(f"{said} (traced step median {fmt_seconds(summary.traced_step_median_s)}, "
                     f"untraced {fmt_seconds(summary.untraced_step_median_s)}); the run's timed "
                     "figures are untraced steps")
    if summary.chrome_trace_dropped:
        facts.append(f"the kept trace dropped its {summary.chrome_trace_dropped:,} shortest "
                     "events to stay within its size cap")
    facts.extend(f"note: {n}" for n in summary.notes)
    return _safe(head), "\n".join(_safe(f) for f in facts)


class StepAxis(pg.DateAxisItem):
    """The steps' time axis: wall-clock labels, or plain seconds when the clock is not known."""

    def __init__(self) -> None:
        super().__init__(orientation="bottom")
        self.clock = True

    def tickValues(self, minVal: float, maxVal: float, size: float) -> list[Any]:
        """Round clock times, or round seconds."""
        if self.clock:
            return list(super().tickValues(minVal, maxVal, size))
        return list(pg.AxisItem.tickValues(self, minVal, maxVal, size))

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:
        """Clock times (as on the Live charts), or seconds."""
        if self.clock:
            return list(super().tickStrings(values, scale, spacing))
        return list(pg.AxisItem.tickStrings(self, values, scale, spacing))


class QtTraceView(QWidget):
    """One run's "where the time goes", or what to do when the run was not traced.

    Signals: ``message(str, int)``, a line for the status bar and how long to show it (ms);
    ``compare_requested(RunSpec, list)``, the run's spec and the targets its verdict offers to
    measure (the window runs them as a study on the Compare tab).
    """

    message = Signal(str, int)
    compare_requested = Signal(object, list)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.run: SnapshotRun | None = None
        # how the view asks "replace?" and warns (tests answer them)
        self.ask: Callable[[str, str], bool] = lambda title, text: dialogs.ask(self, title, text)
        self.warn: Callable[[str, str], object] = lambda t, x: dialogs.warn(self, t, x)
        self.headline = plain_label(NO_TRACE_TEXT, name="trace_verdict")
        font = self.headline.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.15)
        self.headline.setFont(font)
        self.headline.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.facts = plain_label(name="trace_facts")
        self.facts.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.copy_button = QPushButton("Copy the comparison command")
        self.copy_button.setObjectName("trace_copy_command")
        self.copy_button.setToolTip("Copies the hwprof command that measures the advice; paste it "
                                    "in a terminal (or set the same targets on the Compare tab)")
        self.compare_button = QPushButton("Run this comparison")
        self.compare_button.setObjectName("trace_compare")
        self.compare_button.setToolTip("Measure the advice: the same run on each target of the "
                                       "command, as a study on the Compare tab")
        self.export_button = QPushButton("Export trace…")
        self.export_button.setObjectName("trace_export")
        self.export_button.setToolTip("Save the kept capture as a Chrome trace (.json.gz): "
                                      "Perfetto (ui.perfetto.dev) and TensorBoard open it")
        buttons = QHBoxLayout()
        buttons.addWidget(self.compare_button)
        buttons.addWidget(self.copy_button)
        buttons.addWidget(self.export_button)
        buttons.addStretch(1)

        self.categories = static_plot("trace_categories")
        self.categories.setLabel("bottom", "share of all op time (%)")
        self.categories.setToolTip("Each op category's share of all ops' self time")
        self.categories.setMinimumHeight(150)
        self.categories.redraw = self._draw_categories
        self.step_axis = StepAxis()
        self.steps_chart = static_plot("trace_steps", axisItems={"bottom": self.step_axis})
        self.steps_chart.setLabel("left", "step time (ms)")
        self.steps_chart.setToolTip("Each traced step where it ran (the clock of the Live "
                                    "charts): its height split into " + "; ".join(
                                        f"{label}: {tip}" for _, label, tip in SPLIT_PARTS))
        self.steps_chart.setMinimumHeight(150)
        self.steps_chart.redraw = self._draw_steps
        self.model = OpsModel(self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(SORT_ROLE)
        self.table = QTableView()
        self.table.setObjectName("trace_ops")
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.table.setWordWrap(False)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.sortByColumn(4, Qt.SortOrder.DescendingOrder)

        charts = QSplitter(Qt.Orientation.Horizontal)
        charts.addWidget(self.categories)
        charts.addWidget(self.steps_chart)
        self.body = QSplitter(Qt.Orientation.Vertical)
        self.body.addWidget(charts)
        self.body.addWidget(self.table)
        self.body.setStretchFactor(0, 2)
        self.body.setStretchFactor(1, 3)
        layout = QVBoxLayout(self)
        layout.addWidget(self.headline)
        layout.addWidget(self.facts)
        layout.addLayout(buttons)
        layout.addWidget(self.body, 1)
        self.copy_button.clicked.connect(self.copy_command)
        self.compare_button.clicked.connect(self.request_compare)
        self.export_button.clicked.connect(self.export_dialog)
        self.set_run(None)

    @property
    def summary(self) -> TraceSummary | None:
        """The shown run's trace summary (None: no run, or not traced)."""
        rep = self.run.result.report if self.run is not None else None
        return rep.trace if rep is not None else None

    def set_run(self, run: SnapshotRun | None) -> None:
        """Show this run's summary, or say how to get one."""
        self.run = run
        summary = self.summary
        self.body.setVisible(summary is not None)
        self.model.set_summary(summary)
        if summary is None:
            self.headline.setText(NO_TRACE_TEXT if run is not None else
                                  "Select a traced run to see where its time goes.")
            self.facts.clear()
            self.facts.hide()
        else:
            head, facts = verdict_lines(summary)
            self.headline.setText(head)
            self.facts.setText(facts)
            self.facts.show()
        command = summary.verdict.command if summary and summary.verdict else None
        self.copy_button.setVisible(command is not None)
        self.compare_button.setVisible(bool(self.targets()))
        self.export_button.setVisible(summary is not None)
        self.export_button.setEnabled(bool(summary and summary.chrome_trace_gzip_base64))
        self._draw_categories()
        self._draw_steps()

    # -- charts ---------------------------------------------------------------------------------
    def _draw_categories(self) -> None:
        chart = self.categories
        chart.clear()
        summary = self.summary
        if summary is None or not summary.categories:
            return
        cats = list(reversed(summary.categories))  # the largest at the top
        shares = [100 * c.share for c in cats]
        colors = chart.colors
        chart.addItem(pg.BarGraphItem(x0=0, y=list(range(len(cats))), height=0.6, width=shares,
                                      brush=colors.series_color(0),
                                      pen=pg.mkPen(colors.background)))
        for i, (c, share) in enumerate(zip(cats, shares, strict=True)):
            # the name beside its bar: a category axis of pyqtgraph's needs its width set by hand
            text = pg.TextItem(f"{c.category}  {share:.1f}%  ({fmt_seconds(c.self_time_s)})",
                               color=colors.text, anchor=(0, 0.5))
            text.setPos(share, i)
            chart.addItem(text)
        chart.getAxis("left").setStyle(showValues=False)
        chart.setXRange(0, 150, padding=0)  # room right of the longest bar for its label
        chart.getAxis("bottom").setTicks([[(v, f"{v}") for v in range(0, 101, 20)]])
        chart.setYRange(-0.6, len(cats) - 0.4, padding=0)
        chart.getPlotItem().setTitle(html.escape("op time by category"), color=colors.css(),
                                     size="9pt")

    def _unix_offset(self) -> float | None:
        telemetry = self.run.telemetry if self.run is not None else None
        return telemetry.unix_offset_s if telemetry is not None else None

    def step_bars(self) -> list[tuple[float, float, list[float]]]:
        """Each step's (x0, x1, [part heights in ms]): x in wall-clock seconds when known.

        A step with a start on the telemetry's clock sits where it ran (the Live charts' time
        axis); without one (an older capture) the steps stand side by side from 0.
        """
        summary = self.summary
        if summary is None:
            return []
        offset = self._unix_offset()
        bars: list[tuple[float, float, list[float]]] = []
        x = 0.0
        for step in summary.steps:
            if step.start_s is not None and offset is not None:
                x = step.start_s + offset
            heights = [1e3 * float(getattr(step, key)) for key, _, _ in SPLIT_PARTS]
            bars.append((x, x + step.step_s, heights))
            x += step.step_s
        return bars

    def _draw_steps(self) -> None:
        chart = self.steps_chart
        chart.clear()
        bars = self.step_bars()
        if not bars:
            return
        colors = chart.colors
        bottoms = [0.0] * len(bars)
        for i in range(len(SPLIT_PARTS)):
            heights = [b[2][i] for b in bars]
            item = pg.BarGraphItem(x0=[b[0] for b in bars], x1=[b[1] for b in bars],
                                   y0=list(bottoms), height=heights,
                                   brush=colors.series_color(i), pen=pg.mkPen(colors.background))
            chart.addItem(item)
            bottoms = [b + h for b, h in zip(bottoms, heights, strict=True)]
        summary = self.summary
        self.step_axis.clock = self._unix_offset() is not None and summary is not None and all(
            s.start_s is not None for s in summary.steps)
        if self.step_axis.clock:
            began = time.strftime("%H:%M:%S", time.localtime(bars[0][0]))
            self.step_axis.setLabel(f"time of day (the Live charts' clock; first step {began})")
        else:
            self.step_axis.setLabel("s from the first traced step (when each ran is not known)")
        span = bars[-1][1] - bars[0][0]
        chart.setXRange(bars[0][0] - 0.05 * span, bars[-1][1] + 0.05 * span, padding=0)
        chart.setYRange(0, max(bottoms) * 1.05, padding=0)
        # the key in the title: over the bars a legend would hide the top of a step
        key = "&nbsp;&nbsp;".join(
            f"<span style='color:{colors.series_color(i)}'>■</span>&nbsp;{html.escape(label)}"
            for i, (_, label, _) in enumerate(SPLIT_PARTS))
        chart.getPlotItem().setTitle(f"each traced step:&nbsp;&nbsp;{key}", color=colors.css(),
                                     size="9pt")

    # -- actions --------------------------------------------------------------------------------
    def targets(self) -> list[str]:
        """The targets the verdict's command compares ([]: none this view can run)."""
        summary = self.summary
        if self.run is None or summary is None or summary.verdict is None:
            return []
        return command_targets(summary.verdict.command, self.run.spec)

    @Slot()
    def request_compare(self) -> None:
        """Ask the window to run the verdict's comparison (this run's settings, its targets)."""
        targets = self.targets()
        if self.run is not None and targets:
            self.compare_requested.emit(self.run.spec, targets)

    @Slot()
    def copy_command(self) -> str:
        """Put the verdict's hwprof command on the clipboard; the command."""
        summary = self.summary
        command = summary.verdict.command if summary and summary.verdict else None
        if not command:
            return ""
        QGuiApplication.clipboard().setText(command)
        self.message.emit("Copied the comparison command: paste it in a terminal to measure the "
                          "advice", 6000)
        return command

    def suggested_path(self) -> Path:
        """Where the export dialog starts: the last folder, a name that says what it holds."""
        name = "hwprof-trace"
        if self.run is not None:
            spec = self.run.spec
            name = f"hwprof-trace-{spec.workload}-{spec.mode}-{spec.device}"
        # a name from a file: only its plain characters (never a folder separator)
        return last_folder() / f"{re.sub(r'[^A-Za-z0-9_.-]+', '', name)}{TRACE_SUFFIX}"

    @Slot()
    def export_dialog(self) -> None:
        """Ask where, then write the kept trace (asking before a file is replaced)."""
        start = self.suggested_path()
        dialog = QFileDialog(self, "Export trace", str(start),
                             f"Chrome trace, gzip (*{TRACE_SUFFIX});;All files (*)")
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        # this view asks itself, with the file's name, and refuses a snapshot's name
        dialog.setOption(QFileDialog.Option.DontConfirmOverwrite, True)
        dialog.selectFile(start.name)
        if dialog.exec() and dialog.selectedFiles():
            self.export_to(Path(dialog.selectedFiles()[0]))

    def export_to(self, path: Path, *, replace_existing: bool = False) -> bool:
        """Write the shown run's trace to ``path``; False (and why, to the person) if not written.

        A name without the ``.json.gz`` ending gets it; an existing file is replaced only when
        the person says so (or ``replace_existing``).
        """
        if self.run is None or self.summary is None:
            return False
        if not str(path).endswith(TRACE_SUFFIX):
            path = path.with_name(path.name + TRACE_SUFFIX)
        if path.name.endswith(SUFFIXES) or (path.is_symlink() and
                                            path.resolve().name.endswith(SUFFIXES)):
            # x.hwprof.json.gz is a snapshot (or a link to one): never write a trace over it
            self.warn("Cannot export the trace", f"{path}: that is a snapshot's name; choose a "
                      f"name such as {self.suggested_path().name}")
            return False
        exists = path.is_symlink() or (path.exists() and not path.is_dir())
        if exists and not replace_existing and not self.ask(
                "Replace the file?", f"{path} exists. Replace it with this run's trace?"):
            self.message.emit("Trace not exported", 4000)
            return False
        try:  # the folder, a folder of that name, a device: said in plain words
            target = check_output(path, force=True)
        except OutputPathError as err:
            self.warn("Cannot export the trace", str(err))
            return False
        try:
            write_trace(self.run.result, target)
        except (TraceError, OSError) as err:
            self.warn("Cannot export the trace", f"{path}: {err}")
            return False
        remember_folder(target.parent)
        self.message.emit(f"Exported the trace to {path} (Perfetto and TensorBoard open it)", 6000)
        return True

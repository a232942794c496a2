"""The Results tab: every run of this session (and of opened snapshots), sortable, with details.

Numbers sort as numbers (each cell keeps its value for sorting beside the text it shows). Selecting
a run shows its facts and a histogram of its step times; a failed run shows its reason and the
worker's last stderr lines.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QLabel,
    QPlainTextEdit,
    QSplitter,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from hwprof.core.snapshot import SnapshotRun
from hwprof.core.units import NA, fmt_bytes, fmt_count, fmt_flops, fmt_rate, fmt_seconds
from hwprof.gui.widgets import readonly_table

COLUMNS = (
    ("#", "Order of the runs"),
    ("source", "This session, or the snapshot file the run was opened from"),
    ("workload and settings", "Workload, mode, device, batch, size, precision, XLA, threads"),
    ("status", "ok, failed (with the reason in the details) or cancelled"),
    ("throughput", "Samples (or bytes) per second over the timed steps"),
    ("IQR", "Per-step throughput: interquartile range (middle half of the steps)"),
    ("jitter", "1.4826 x the median absolute deviation of per-step throughput: a robust spread"),
    ("p50", "Inference: median step latency"),
    ("p99", "Inference: 99th percentile step latency"),
    ("FLOP/s", "Floating-point operations per second achieved"),
    ("% peak", "Achieved FLOP/s as a share of the device's peak estimate"),
    ("J/sample", "Energy per sample, from the telemetry's energy counter or power readings"),
    ("memory", "Peak memory: TensorFlow's GPU allocator, or the worker's resident memory"),
    ("first step", "Tracing, compilation and the first step: not part of the timed figures"),
)


class SortItem(QTableWidgetItem):
    """A cell that sorts by a number (None last) while showing text."""

    def __init__(self, text: str, key: float | None = None) -> None:
        super().__init__(text)
        self.key = key
        if key is not None:
            self.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)

    def __lt__(self, other: QTableWidgetItem) -> bool:
        if isinstance(other, SortItem) and (self.key is not None or other.key is not None):
            if self.key is None:
                return False
            if other.key is None:
                return True
            return self.key < other.key
        return self.text() < other.text()


def row_cells(number: int, source: str, run: SnapshotRun) -> list[SortItem]:
    """The cells of one run's row."""
    r, rep, spec = run.result, run.result.report, run.spec
    s, lat = r.step_throughput, r.latency_s or {}

    def rate(v: float | None) -> str:
        if v is None:
            return NA
        if r.unit == "bytes":
            return fmt_rate(v, "B/s")
        return fmt_count(v, f"{spec.info.sample_label}/s")

    status = r.status if r.ok else f"{r.status}: {r.reason}"
    return [
        SortItem(str(number), number),
        SortItem(source),
        SortItem(spec.label()),
        SortItem(status),
        SortItem(rate(r.throughput_per_second), r.throughput_per_second),
        SortItem(f"{rate(s.q1)} – {rate(s.q3)}" if s else NA, s.iqr if s else None),
        SortItem(rate(s.jitter) if s else NA, s.jitter if s else None),
        SortItem(fmt_seconds(lat.get("p50")) if lat else "–", lat.get("p50")),
        SortItem(fmt_seconds(lat.get("p99")) if lat else "–", lat.get("p99")),
        SortItem(fmt_flops(r.achieved_flops), r.achieved_flops),
        SortItem(f"{r.percent_of_peak:.0f}%" if r.percent_of_peak is not None else NA,
                 r.percent_of_peak),
        SortItem(f"{r.energy_per_sample_joules:.3g}" if r.energy_per_sample_joules is not None
                 else NA, r.energy_per_sample_joules),
        SortItem(fmt_bytes(rep.peak_memory_bytes) if rep else NA,
                 rep.peak_memory_bytes if rep else None),
        SortItem(fmt_seconds(rep.time_to_first_step_s) if rep else NA,
                 rep.time_to_first_step_s if rep else None),
    ]


class QtResultsPanel(QWidget):
    """The runs table and the details of the selected run."""

    selected = Signal(object)  # SnapshotRun

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runs: list[tuple[str, SnapshotRun]] = []
        self.table = readonly_table("results_table", [c for c, _ in COLUMNS], select_rows=True,
                                    stretch_last=True)
        for i, (_, tip) in enumerate(COLUMNS):
            header = self.table.horizontalHeaderItem(i)
            if header is not None:
                header.setToolTip(tip)
        self.table.setSortingEnabled(True)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.facts = QLabel("Select a run to see its details")
        self.facts.setObjectName("run_facts")
        self.facts.setWordWrap(True)
        self.facts.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.histogram = pg.PlotWidget()
        self.histogram.setObjectName("step_histogram")
        self.histogram.setLabel("bottom", "step time", units="s")
        self.histogram.setLabel("left", "steps")
        self.histogram.setMouseEnabled(x=False, y=False)
        self.histogram.setToolTip("How the timed steps' durations spread: a narrow peak is a "
                                  "steady run; a long tail shows stalls")
        self.stderr = QPlainTextEdit()
        self.stderr.setReadOnly(True)
        self.stderr.setObjectName("run_stderr")
        self.stderr.hide()
        self.histogram.hide()
        detail = QWidget()
        dl = QVBoxLayout(detail)
        dl.setContentsMargins(0, 0, 0, 0)
        dl.addWidget(self.facts)
        dl.addWidget(self.histogram, 1)
        dl.addWidget(self.stderr, 1)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.table)
        splitter.addWidget(detail)
        splitter.setSizes([300, 300])
        layout = QVBoxLayout(self)
        layout.addWidget(splitter)
        self.table.itemSelectionChanged.connect(self._on_selection)

    def add_run(self, run: SnapshotRun, source: str = "this session") -> None:
        """One more row (the table keeps its sort order)."""
        self.runs.append((source, run))
        number = len(self.runs)
        sorting = self.table.isSortingEnabled()
        self.table.setSortingEnabled(False)
        row = self.table.rowCount()
        self.table.insertRow(row)
        for col, item in enumerate(row_cells(number, source, run)):
            item.setData(Qt.ItemDataRole.UserRole, number - 1)
            self.table.setItem(row, col, item)
        self.table.setSortingEnabled(sorting)

    def clear_source(self, source: str) -> None:
        """Remove the runs of one opened snapshot (e.g. before opening it again)."""
        keep = [(s, r) for s, r in self.runs if s != source]
        self.runs = []
        self.table.setRowCount(0)
        for s, r in keep:
            self.add_run(r, s)

    def select_run(self, index: int) -> None:
        """Select the row of ``self.runs[index]``."""
        for row in range(self.table.rowCount()):
            item = self.table.item(row, 0)
            if item is not None and item.data(Qt.ItemDataRole.UserRole) == index:
                self.table.selectRow(row)
                return

    @Slot()
    def _on_selection(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return
        item = self.table.item(rows[0].row(), 0)
        if item is None:
            return
        source, run = self.runs[int(item.data(Qt.ItemDataRole.UserRole))]
        self.show_details(source, run)
        self.selected.emit(run)

    def show_details(self, source: str, run: SnapshotRun) -> None:
        """The facts, the histogram, or the failure."""
        r, rep = run.result, run.result.report
        lines = [f"<b>{run.spec.label()}</b> — {source}, recorded {run.recorded_at}"]
        if r.reason:
            lines.append(f"<span style='color:#c62828'>{r.status}: {r.reason}</span>")
        if rep is not None:
            lines.append(f"TensorFlow {rep.tensorflow_version} on {rep.tf_device}; "
                         f"{len(rep.steps)} timed steps ({rep.stop_reason or 'stopped early'})")
            if r.step_throughput is not None and r.step_throughput.stderr is not None:
                lines.append(f"standard error of per-step throughput: "
                             f"{fmt_count(r.step_throughput.stderr)}/s")
            if r.latency_s:
                lines.append("latency: " + ", ".join(f"{k} {fmt_seconds(v)}"
                                                     for k, v in r.latency_s.items()))
            if r.peak_source:
                lines.append(f"peak: {fmt_flops(r.peak_flops)} ({r.peak_source})")
        self.facts.setText("<br>".join(lines))
        self.histogram.clear()
        if rep is not None and len(rep.steps) > 1:
            counts, edges = np.histogram(np.asarray(rep.steps.seconds), bins=40)
            bars = pg.BarGraphItem(x0=edges[:-1], x1=edges[1:], height=counts, brush="#1f77b4")
            self.histogram.addItem(bars)
            self.histogram.show()
        else:
            self.histogram.hide()
        if not r.ok and r.stderr_tail:
            self.stderr.setPlainText("\n".join(r.stderr_tail))
            self.stderr.show()
        else:
            self.stderr.hide()

"""The Results tab: every run of this session (and of opened snapshots), sortable, with details.

A view of the session model's results: it keeps no runs of its own. Numbers sort as numbers (each
cell keeps its value for sorting beside the text it shows) and carry their unit with an SI
prefix. Selecting a run shows its facts and a histogram of its step times; a failed run shows its
reason and the worker's last stderr lines worth reading. A right click removes, copies or
compares the selected runs. An empty table says how to fill it.
"""

from __future__ import annotations

import html

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPoint, Qt, Signal, Slot
from PySide6.QtGui import QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QMenu,
    QPlainTextEdit,
    QSplitter,
    QStackedWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from hwprof.core.progress import fmt_throughput
from hwprof.core.session import ResultEntry, ResultsChanged
from hwprof.core.snapshot import SnapshotRun
from hwprof.core.stats import histogram_edges
from hwprof.core.units import NA, fmt_bytes, fmt_seconds, fmt_si
from hwprof.gui.chart_style import QtChart
from hwprof.gui.session_adapter import QtSessionEvents
from hwprof.gui.trace_view import QtTraceView
from hwprof.gui.widgets import EmptyState, readonly_table
from hwprof.services.runs import stderr_for_people, tflite_rows
from hwprof.services.session import Session

KEY_ROLE = Qt.ItemDataRole.UserRole
RUN_COLUMN = 1
COLUMNS = (
    ("#", "Order of the runs"),
    ("run", "Workload, mode, device, batch, size, precision, XLA, threads"),
    ("source", "This session, or the snapshot file the run was opened from"),
    ("status", "ok, failed or cancelled (the reason is in the details and the tooltip)"),
    ("throughput", "Samples (or bytes) per second over the timed steps"),
    ("IQR", "Per-step throughput: interquartile range as a share of the median (the middle half "
     "of the steps lies within it)"),
    ("jitter", "1.4826 x the median absolute deviation of per-step throughput, as a share of the "
     "median: a robust spread"),
    ("p50 / p99", "Inference: median and 99th percentile step latency"),
    ("FLOP/s", "Floating-point operations per second achieved"),
    ("% peak", "Achieved FLOP/s as a share of the device's peak estimate"),
    ("J/sample", "Energy per sample, from the telemetry's energy counter or power readings"),
    ("memory", "Peak memory: TensorFlow's GPU allocator, or the worker's resident memory"),
    ("first step", "Tracing, compilation and the first step: not part of the timed figures"),
    ("deployed", "TensorFlow Lite runs: the .tflite model's size, and the top-1 agreement of its "
     "outputs with the fp32 TensorFlow model's on seeded inputs"),
)
EMPTY_TEXT = ("No runs yet.\n\nRun a workload on the Run tab (Ctrl+1, then Ctrl+R), or open a "
              "snapshot (Ctrl+O) to see its runs here.")


class SortItem(QTableWidgetItem):
    """A cell that sorts by a number (None last) while showing text."""

    def __init__(self, text: str, key: float | None = None, tip: str = "") -> None:
        super().__init__(text)
        self.key = key
        if tip:
            self.setToolTip(tip)
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


def _share(part: float | None, whole: float | None) -> tuple[str, float | None]:
    if part is None or not whole:
        return NA, None
    pct = 100.0 * part / whole
    return f"{pct:.1f}%", pct


def row_cells(number: int, source: str, run: SnapshotRun) -> list[SortItem]:
    """The cells of one run's row."""
    r, rep, spec = run.result, run.result.report, run.spec
    s, lat = r.step_throughput, r.latency_s or {}
    iqr_text, iqr_pct = _share(s.iqr if s else None, s.median if s else None)
    jitter_text, jitter_pct = _share(s.jitter if s else None, s.median if s else None)
    latency = (f"{fmt_seconds(lat.get('p50'))} / {fmt_seconds(lat.get('p99'))}" if lat else "–")
    # a bandwidth run is measured in bytes: its FLOP/s and a compute peak say nothing about it
    compute = spec.info.throughput_unit != "bytes"
    share = r.peak_share()
    flops = r.achieved_flops if compute else None
    peak_tip = "\n".join(t for t in (share.text, share.note) if t and t != NA)
    spread_tip = (f"{fmt_throughput(s.q1, spec)} – {fmt_throughput(s.q3, spec)}; jitter "
                  f"{fmt_throughput(s.jitter, spec)}" if s else "")
    return [
        SortItem(str(number), number),
        SortItem(spec.label(), tip=spec.label()),
        SortItem(source, tip=source),
        SortItem(r.status, tip=r.reason or r.status),
        SortItem(fmt_throughput(r.throughput_per_second, spec), r.throughput_per_second),
        SortItem(iqr_text, iqr_pct, spread_tip),
        SortItem(jitter_text, jitter_pct, spread_tip),
        SortItem(latency, lat.get("p50")),
        SortItem(fmt_si(flops, "FLOP/s") if compute else "–", flops),
        SortItem(share.cell if compute else "–", share.percent, peak_tip if compute else ""),
        SortItem(fmt_si(r.energy_per_sample_joules, "J"), r.energy_per_sample_joules),
        SortItem(fmt_bytes(rep.peak_memory_bytes) if rep else NA,
                 rep.peak_memory_bytes if rep else None),
        SortItem(fmt_seconds(rep.time_to_first_step_s) if rep else NA,
                 rep.time_to_first_step_s if rep else None),
        deployed_cell(run),
    ]


def deployed_cell(run: SnapshotRun) -> SortItem:
    """A TFLite run's model size and top-1 agreement (sorted by agreement); "–" for TensorFlow."""
    rep = run.result.report
    info = rep.tflite if rep is not None else None
    if info is None:
        return SortItem("–" if run.spec.runtime == "tf" else NA)
    acc = info.accuracy
    top1 = f"top-1 {acc.top1_agreement:.1%}" if acc is not None else f"top-1 {NA}"
    tip = "\n".join(f"{what}: {text}" for what, text in tflite_rows(info))
    return SortItem(f"{fmt_bytes(info.model_bytes)}, {top1}",
                    acc.top1_agreement * 100 if acc is not None else None, tip)


def run_facts(source: str, run: SnapshotRun) -> list[str]:
    """The details of one run, as lines of rich text (every string from a file is escaped)."""
    r, rep, spec = run.result, run.result.report, run.spec
    e = html.escape
    lines = [f"<b>{e(spec.label())}</b> — {e(source)}, recorded {e(run.recorded_at)}"]
    if r.status == "cancelled":
        steps = len(rep.steps) if rep is not None else 0
        lines.append(f"cancelled ({e(r.reason or 'stopped')}) after {steps} timed steps: the "
                     "figures cover those steps")
    elif r.reason:
        lines.append(f"<span style='color:#d32f2f'>{e(r.status)}: {e(r.reason)}</span>")
    if rep is not None:
        lines.append(f"TensorFlow {e(rep.tensorflow_version or NA)} on {e(rep.tf_device or NA)}; "
                     f"{len(rep.steps)} timed steps ({e(rep.stop_reason or 'stopped early')})")
        st = r.step_throughput
        if st is not None:
            lines.append(f"per step: median {fmt_throughput(st.median, spec)}, IQR "
                         f"{fmt_throughput(st.q1, spec)} – {fmt_throughput(st.q3, spec)}, "
                         f"standard error {fmt_throughput(st.stderr, spec)}, jitter "
                         f"{fmt_throughput(st.jitter, spec)}")
        if r.latency_s:
            lines.append("latency: " + ", ".join(f"{e(k)} {fmt_seconds(v)}"
                                                 for k, v in r.latency_s.items()))
        share = r.peak_share()
        if r.achieved_flops and share.basis is not None:
            lines.append(f"compute: {fmt_si(r.achieved_flops, 'FLOP/s')} = {e(share.text)}")
            if share.note:
                lines.append(f"<span style='color:#757575'>{e(share.note)}</span>")
        if r.energy_per_sample_joules is not None:
            lines.append(f"energy: {fmt_si(r.energy_per_sample_joules, 'J')} per sample "
                         f"({e(r.energy_source or '')})")
        if rep.tflite is not None:  # the deployed model beside its speed
            lines += [f"{e(what)}: {e(text)}" for what, text in tflite_rows(rep.tflite)]
        for note in rep.notes:
            lines.append(e(note))
        if rep.trace is not None:
            said = rep.trace.verdict.text if rep.trace.verdict is not None else "traced"
            lines.append(f"traced {rep.trace.steps_traced} steps after the timed ones: {e(said)} "
                         "(see Where the time goes)")
    return lines


class QtResultsPanel(QWidget):
    """The runs table and the details of the selected run.

    Signals: ``selected(SnapshotRun)``; ``compare_requested(list)`` with the selected results'
    keys (the window shows them side by side on the Compare tab).
    """

    selected = Signal(object)
    compare_requested = Signal(list)

    def __init__(self, session: Session, events: QtSessionEvents,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.table = readonly_table("results_table", [c for c, _ in COLUMNS], select_rows=True)
        for i, (_, tip) in enumerate(COLUMNS):
            header = self.table.horizontalHeaderItem(i)
            if header is not None:
                header.setToolTip(tip)
        columns = self.table.horizontalHeader()
        # the run's label takes what is left and elides; every number keeps its width
        columns.setSectionResizeMode(RUN_COLUMN, QHeaderView.ResizeMode.Stretch)
        columns.setSectionResizeMode(2, QHeaderView.ResizeMode.Interactive)
        columns.resizeSection(2, 110)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.table.setWordWrap(False)
        self.table.setSortingEnabled(True)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._on_context_menu)
        self.empty = EmptyState(EMPTY_TEXT)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty)
        self.stack.addWidget(self.table)
        self.facts = QLabel("Select a run to see its details")
        self.facts.setObjectName("run_facts")
        self.facts.setTextFormat(Qt.TextFormat.RichText)  # built from escaped text only
        self.facts.setWordWrap(True)
        self.facts.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.histogram = QtChart("step_histogram")
        self.histogram.setLabel("left", "steps")
        self.histogram.setToolTip("How the timed steps' durations spread: a narrow peak is a "
                                  "steady run; a long tail shows stalls")
        self.histogram.redraw = self._redraw_histogram
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
        # a traced run's op breakdown beside its facts: the tab lights up for traced runs
        self.trace_view = QtTraceView()
        self.details = QTabWidget()
        self.details.setObjectName("run_details")
        self.details.setDocumentMode(True)
        self.details.addTab(detail, "Run")
        self.trace_tab = self.details.addTab(self.trace_view, "Where the time goes")
        self.details.setTabToolTip(self.trace_tab, "A traced run's verdict, op categories, top "
                                   "ops and each step's split (Trace on the Run tab)")
        self.details.setTabEnabled(self.trace_tab, False)
        self.splitter = splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.stack)
        splitter.addWidget(self.details)
        splitter.setSizes([300, 300])
        self.details.currentChanged.connect(self._on_details_tab)
        layout = QVBoxLayout(self)
        layout.addWidget(splitter)
        self._shown: ResultEntry | None = None
        self.table.itemSelectionChanged.connect(self._on_selection)
        events.on(ResultsChanged, self._on_results_changed, self)
        for entry in session.results:
            self._add_row(entry)
        self._update_empty()

    # -- rows -----------------------------------------------------------------------------------
    def _on_results_changed(self, e: ResultsChanged) -> None:
        if e.removed:
            gone = set(e.removed)
            for row in reversed(range(self.table.rowCount())):
                item = self.table.item(row, 0)
                if item is not None and item.data(KEY_ROLE) in gone:
                    self.table.removeRow(row)
            if self._shown is not None and self._shown.key in gone:
                self._clear_details()
        for entry in e.added:
            self._add_row(entry)
        self._update_empty()

    def _add_row(self, entry: ResultEntry) -> None:
        sorting = self.table.isSortingEnabled()
        self.table.setSortingEnabled(False)
        row = self.table.rowCount()
        self.table.insertRow(row)
        for col, item in enumerate(row_cells(entry.key, entry.source, entry.run)):
            item.setData(KEY_ROLE, entry.key)
            self.table.setItem(row, col, item)
        self.table.setSortingEnabled(sorting)

    def _update_empty(self) -> None:
        self.stack.setCurrentWidget(self.table if self.table.rowCount() else self.empty)

    def select_key(self, key: int) -> None:
        """Select the row of the result with this key."""
        for row in range(self.table.rowCount()):
            item = self.table.item(row, 0)
            if item is not None and item.data(KEY_ROLE) == key:
                self.table.selectRow(row)
                return

    def selected_keys(self) -> list[int]:
        """The keys of the selected rows, top to bottom."""
        rows = sorted(i.row() for i in self.table.selectionModel().selectedRows())
        keys = []
        for row in rows:
            item = self.table.item(row, 0)
            if item is not None:
                keys.append(int(item.data(KEY_ROLE)))
        return keys

    # -- the context menu -------------------------------------------------------------------------
    def context_menu(self) -> QMenu:
        """The menu a right click opens: remove, copy, compare the selected runs."""
        keys = self.selected_keys()
        menu = QMenu(self)
        n = len(keys)
        remove = menu.addAction(f"Remove {n} run{'s' if n != 1 else ''} from Results")
        remove.setShortcut(QKeySequence(QKeySequence.StandardKey.Delete))
        remove.setToolTip("A run of this session leaves the session's snapshot too")
        remove.setEnabled(n > 0)
        remove.triggered.connect(lambda: self.session.remove_results(keys))
        copy = menu.addAction("Copy as text (tab-separated)")
        copy.setShortcut(QKeySequence(QKeySequence.StandardKey.Copy))
        copy.setEnabled(n > 0)
        copy.triggered.connect(lambda: self.copy_rows(keys))
        compare = menu.addAction("Compare selected…")
        compare.setToolTip("Show the selected runs side by side on the Compare tab, each against "
                           "the first, with a 95% confidence interval")
        compare.setEnabled(n >= 2)
        compare.triggered.connect(lambda: self.compare_requested.emit(keys))
        return menu

    @Slot(QPoint)
    def _on_context_menu(self, pos: QPoint) -> None:
        menu = self.context_menu()
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)  # one menu per right click
        menu.popup(self.table.viewport().mapToGlobal(pos))

    def copy_rows(self, keys: list[int]) -> str:
        """The rows of ``keys`` as tab-separated text, header first, on the clipboard."""
        lines = ["\t".join(c for c, _ in COLUMNS)]
        wanted = set(keys)
        for row in range(self.table.rowCount()):
            first = self.table.item(row, 0)
            if first is None or first.data(KEY_ROLE) not in wanted:
                continue
            cells = [self.table.item(row, c) for c in range(self.table.columnCount())]
            lines.append("\t".join(c.text() if c is not None else "" for c in cells))
        text = "\n".join(lines)
        QGuiApplication.clipboard().setText(text)
        return text

    def keyPressEvent(self, event: object) -> None:  # noqa: D102 - Qt override
        from PySide6.QtGui import QKeyEvent

        if isinstance(event, QKeyEvent) and self.table.hasFocus():
            if event.matches(QKeySequence.StandardKey.Delete):
                self.session.remove_results(self.selected_keys())
                return
            if event.matches(QKeySequence.StandardKey.Copy):
                self.copy_rows(self.selected_keys())
                return
        super().keyPressEvent(event)  # type: ignore[arg-type]

    # -- details ----------------------------------------------------------------------------------
    @Slot()
    def _on_selection(self) -> None:
        keys = self.selected_keys()
        if not keys:
            return
        entry = self.session.entry(keys[0])
        if entry is None:
            return
        self.show_details(entry)
        self.selected.emit(entry.run)

    def _clear_details(self) -> None:
        self._shown = None
        self.facts.setText("Select a run to see its details")
        self.histogram.hide()
        self.stderr.hide()
        self._show_trace(None)

    def show_details(self, entry: ResultEntry) -> None:
        """The facts, the histogram, or the failure."""
        self._shown = entry
        run = entry.run
        self.facts.setText("<br>".join(run_facts(entry.source, run)))
        self._redraw_histogram()
        lines = stderr_for_people(run.result)
        if not run.result.ok and lines:
            self.stderr.setPlainText("\n".join(lines))
            self.stderr.show()
        else:
            self.stderr.hide()
        self._show_trace(run)

    @Slot(int)
    def _on_details_tab(self, index: int) -> None:
        # the charts and the ops table need room: the runs table gives up some, once per showing
        total = sum(self.splitter.sizes())
        if index == self.trace_tab and self.splitter.sizes()[1] < 0.6 * total:
            self.splitter.setSizes([int(0.3 * total), total - int(0.3 * total)])

    def _show_trace(self, run: SnapshotRun | None) -> None:
        self.trace_view.set_run(run)
        traced = self.trace_view.summary is not None
        self.details.setTabEnabled(self.trace_tab, traced)
        if not traced and self.details.currentIndex() == self.trace_tab:
            self.details.setCurrentIndex(0)

    def _redraw_histogram(self) -> None:
        self.histogram.clear()
        entry = self._shown
        rep = entry.run.result.report if entry is not None else None
        if rep is None or len(rep.steps) < 2:
            self.histogram.hide()
            return
        seconds = np.asarray(rep.steps.seconds)
        edges, beyond = histogram_edges(rep.steps.seconds)
        counts, _ = np.histogram(np.clip(seconds, edges[0], edges[-1]), bins=edges)
        colors = self.histogram.colors
        bars = pg.BarGraphItem(x0=edges[:-1], x1=edges[1:], height=counts,
                               brush=colors.series_color(0), pen=pg.mkPen(colors.background))
        self.histogram.addItem(bars)
        self.histogram.setLabel("bottom", "step time", units="s")
        title = f"{len(seconds)} timed steps, {len(edges) - 1} bins"
        if beyond:
            title += f"; {beyond} slower than {fmt_seconds(float(edges[-1]))} in the last bin"
        self.histogram.getPlotItem().setTitle(html.escape(title), color=colors.css(), size="8pt")
        self.histogram.show()

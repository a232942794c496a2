"""The Compare tab: one workload on several targets, or a sweep along one axis, with verdicts.

The base run is the Run tab's form (workload, mode, batch, size, duration...); each target line
(``cpu threads=2``, ``gpu:0 bf16 xla``) overrides its device and settings. The session model runs
the study through its queue one run at a time (a :class:`~hwprof.core.study.Study` decides the
next one, and ends a sweep at out-of-memory); the runs land in Results and in the session's
snapshot with their study tags, and this view redraws its chart, table and verdicts whenever the
model says the study moved on. Runs picked in Results ("Compare selected") are shown here side by
side too. Every colour follows the theme.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pyqtgraph as pg
from pydantic import ValidationError
from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from hwprof.core.compare import compare_results, environment_diff, verdict
from hwprof.core.progress import fmt_throughput, throughput_unit
from hwprof.core.session import ResultEntry, StudyUpdated
from hwprof.core.spec import RunSpec, validation_problems
from hwprof.core.study import (
    SCALING_KINDS,
    Study,
    StudyKind,
    analyze,
    parse_values,
    study_targets,
)
from hwprof.core.targets import TargetError, parse_target
from hwprof.core.units import NA, fmt_si
from hwprof.gui.chart_style import ValueAxis
from hwprof.gui.session_adapter import QtSessionEvents
from hwprof.gui.widgets import EmptyState, fill_table, readonly_table, static_plot
from hwprof.services.session import Session, SessionError
from hwprof.services.studies import DEPLOYED_COLUMNS, deployed_cells

KINDS: tuple[tuple[StudyKind, str], ...] = (
    ("compare", "Compare targets"),
    ("batch", "Sweep batch size"),
    ("threads", "Sweep CPU threads"),
    ("replicas", "Scale over devices (tf.distribute)"),
    ("precision_xla", "Precision x XLA grid"),
    ("size", "Sweep model size (mlp, matmul)"),
)
DEFAULT_TARGETS = "cpu threads=1\ncpu threads=2"
EMPTY_TEXT = ("No study yet.\n\nWrite two or more targets above (one per line, e.g. "
              "\"cpu threads=1\" and \"cpu threads=2\") and press Start study, or select two "
              "runs in Results and choose Compare selected from the right-click menu.")


class QtStudyPanel(QWidget):
    """Study form, Start/Stop, and the findings: chart, verdicts, table."""

    study_finished = Signal(object)  # the analysis dict

    def __init__(
        self,
        session: Session,
        events: QtSessionEvents,
        base_spec: Callable[[], RunSpec],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.session = session
        self.base_spec = base_spec
        self.analysis: dict[str, Any] | None = None
        self._shown: Study | None = None  # the study on the chart (redrawn on a theme change)
        self._compared: list[ResultEntry] = []

        self.kind = QComboBox()
        for key, text in KINDS:
            self.kind.addItem(text, key)
        self.kind.setToolTip("Compare: the same run on each target, repeated. A sweep runs each "
                             "target along one axis and finds where one overtakes another.")
        self.base_label = QLabel()
        self.base_label.setTextFormat(Qt.TextFormat.PlainText)
        self.base_label.setWordWrap(True)
        self.base_label.setToolTip("The workload and settings come from the Run tab; each target "
                                   "line overrides the device and the settings it names.")
        self.targets = QPlainTextEdit(DEFAULT_TARGETS)
        self.targets.setObjectName("study_targets")
        self.targets.setMaximumHeight(90)
        self.targets.setToolTip("One target per line: a device, then settings. Examples:\n"
                                "cpu threads=1\ncpu threads=2 bf16\ncpu xla\ngpu:0 precision=bf16 "
                                "xla=on batch=64\nSettings: threads, inter, precision (fp32, "
                                "bf16, fp16), xla (on/off), batch, size; the image workloads' "
                                "input: pipeline or synthetic, pipeline_threads (N or auto), "
                                "source (JPEG side).")
        self.values = QLineEdit()
        self.values.setPlaceholderText("default: batch 1, 2, 4 ... 4096; threads 1..cores; "
                                       "size per workload")
        self.values.setToolTip("The sweep's values, separated by commas (e.g. 16,64,256)")
        self.trials = QSpinBox()
        self.trials.setRange(0, 20)
        self.trials.setSpecialValueText("default (3 for comparisons, 1 for sweeps)")
        self.trials.setToolTip("How many times each run is repeated; comparisons interleave the "
                               "trials (A B, B A, ...) so drift does not favour one target")
        self.seconds = QDoubleSpinBox()
        self.seconds.setRange(0.5, 600)
        self.seconds.setValue(5.0)
        self.seconds.setSuffix(" s")
        self.seconds.setToolTip("Timed seconds of every run of the study")
        self.memory = QDoubleSpinBox()
        self.memory.setRange(0, 4096)
        self.memory.setSpecialValueText("none")
        self.memory.setSuffix(" GiB")
        self.memory.setToolTip("Sweeps: end a target's sweep once a run's peak memory goes over "
                               "this (running out of memory ends it too)")
        self.baseline = QComboBox()
        self.baseline.setToolTip("The target the others are measured against")
        self.start_button = QPushButton("Start study")
        self.start_button.setObjectName("study_start")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setEnabled(False)
        self.progress = QLabel("No study yet")
        self.progress.setTextFormat(Qt.TextFormat.PlainText)
        self.error = QLabel()
        self.error.setObjectName("study_error")
        self.error.setTextFormat(Qt.TextFormat.PlainText)
        self.error.setStyleSheet("color: #c0392b")
        self.error.setWordWrap(True)

        form = QFormLayout()
        form.addRow("Study", self.kind)
        form.addRow("Base run", self.base_label)
        form.addRow("Targets", self.targets)
        form.addRow("Sweep values", self.values)
        form.addRow("Trials", self.trials)
        form.addRow("Seconds per run", self.seconds)
        form.addRow("Memory limit", self.memory)
        form.addRow("Baseline", self.baseline)
        buttons = QHBoxLayout()
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.stop_button)
        buttons.addWidget(self.progress, 1)

        self.findings = QLabel()  # the empty state below says what to do until there are any
        self.findings.setObjectName("study_findings")
        self.findings.setTextFormat(Qt.TextFormat.PlainText)  # file names, targets: never markup
        self.findings.setWordWrap(True)
        self.findings.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.chart = static_plot("study_chart", axisItems={"left": ValueAxis("si")})
        self.chart.setMinimumHeight(220)
        self.chart.redraw = self._redraw
        self.latency = static_plot("study_latency")
        self.latency.setMinimumHeight(160)
        self.latency.setLabel("bottom", "step latency (ms)")
        self.latency.setLabel("left", "share ≤ x")
        self.latency.setToolTip("Inference: each target's latency distribution (CDF). Left and "
                                "steep is fast and steady; a long tail to the right is jitter.")
        self.latency.addLegend(offset=(-10, 10))
        self.latency.hide()
        self.table = readonly_table("study_table")
        # the header and a few targets always show: the charts took all the height before
        self.table.setMinimumHeight(110)
        self.empty = EmptyState(EMPTY_TEXT)

        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addLayout(form)
        top_layout.addLayout(buttons)
        top_layout.addWidget(self.error)
        self.results = QSplitter(Qt.Orientation.Vertical)
        self.results.addWidget(self.chart)
        self.results.addWidget(self.latency)
        self.results.addWidget(self.table)
        self.results.setStretchFactor(0, 3)
        self.results.setStretchFactor(1, 2)
        self.results.setStretchFactor(2, 2)
        self.results.hide()
        layout = QVBoxLayout(self)
        layout.addWidget(top)
        layout.addWidget(self.findings)
        layout.addWidget(self.empty, 1)
        layout.addWidget(self.results, 1)

        self.kind.currentIndexChanged.connect(self._on_kind_changed)
        self.targets.textChanged.connect(self._refresh_baselines)
        self.start_button.clicked.connect(self.start)
        self.stop_button.clicked.connect(self.stop)
        self._on_kind_changed()
        self._refresh_baselines()
        events.on(StudyUpdated, self._on_study_updated, self)

    @property
    def study(self) -> Study | None:
        """The study in progress (the session's)."""
        return self.session.study

    # -- the form ---------------------------------------------------------------------------------
    @property
    def current_kind(self) -> StudyKind:
        """The study chosen in the form."""
        return self.kind.currentData()

    @Slot()
    def _on_kind_changed(self) -> None:
        sweep = self.current_kind in ("batch", "threads", "size", "replicas")
        self.values.setEnabled(sweep)
        self.memory.setEnabled(self.current_kind in ("batch", "size"))
        self.baseline.setEnabled(self.current_kind in ("compare", "precision_xla"))
        self.refresh_base()

    def refresh_base(self) -> None:
        """Show the Run tab's settings as the base run."""
        try:
            self.base_label.setText(f"{self._base().label()}  (set on the Run tab)")
        except (ValidationError, ValueError) as err:
            self.base_label.setText(f"the Run tab's settings are not valid: {err}")

    def _target_lines(self) -> list[str]:
        return [ln.strip() for ln in self.targets.toPlainText().splitlines() if ln.strip()]

    @Slot()
    def _refresh_baselines(self) -> None:
        current = self.baseline.currentText()
        self.baseline.clear()
        for line in self._target_lines():
            try:
                self.baseline.addItem(parse_target(line).label)
            except TargetError:
                continue
        i = self.baseline.findText(current)
        if i >= 0:
            self.baseline.setCurrentIndex(i)

    def _base(self) -> RunSpec:
        base = self.base_spec()
        return base.model_copy(update={"duration_seconds": float(self.seconds.value()),
                                       "steady_cv": None, "steps": None})

    def build(self) -> Study:
        """The study the form describes; TargetError with a plain message when it cannot be."""
        try:
            base = RunSpec(**self._base().model_dump())
        except ValidationError as err:
            raise TargetError("the Run tab: " + "; ".join(
                f"{w}: {m}" if w else m for w, m in validation_problems(err))) from None
        kind = self.current_kind
        targets = study_targets(kind, [parse_target(line) for line in self._target_lines()])
        xs = (parse_values(self.values.text())
              if kind in ("batch", "threads", "size", "replicas") else None)
        memory = self.memory.value() * 2**30 if self.memory.value() > 0 else None
        return Study(kind, base, targets, xs=xs, trials=self.trials.value() or None,
                     max_memory_bytes=memory)

    # -- running ----------------------------------------------------------------------------------
    @Slot()
    def start(self) -> None:
        """Start the study the form describes, or say in red why not."""
        if self.study is not None:
            self.error.setText("a study is running: stop it first")
            return
        try:
            study = self.build()
        except TargetError as err:
            self.error.setText(str(err))
            return
        self.error.clear()
        self._compared = []
        try:
            self.session.start_study(study)
        except SessionError as err:
            self.error.setText(str(err))

    def start_comparison(self, base: RunSpec, targets: Sequence[str]) -> str:
        """Compare ``targets`` of ``base`` (a run's own spec, not the Run tab's); "" or why not.

        What a traced run's verdict offers to measure: the form shows the targets, and the
        study goes through the session's queue as Start study's does.
        """
        if self.study is not None:
            return "a study is running: stop it first"
        spec = base.model_copy(update={"duration_seconds": float(self.seconds.value()),
                                       "steady_cv": None, "steps": None, "trace_steps": None})
        try:
            study = Study("compare", RunSpec(**spec.model_dump()),
                          study_targets("compare", [parse_target(t) for t in targets]))
        except (TargetError, ValidationError, ValueError) as err:
            return str(err)
        self.kind.setCurrentIndex(self.kind.findData("compare"))
        self.targets.setPlainText("\n".join(targets))
        self.base_label.setText(f"{spec.label()}  (the traced run's settings)")
        self.error.clear()
        self._compared = []
        try:
            self.session.start_study(study)
        except SessionError as err:
            return str(err)
        return ""

    @Slot()
    def stop(self) -> None:
        """End the study: the run in progress ends and what was measured stays."""
        self.session.stop_study()

    def _on_study_updated(self, e: StudyUpdated) -> None:
        study = e.study
        running = not e.finished
        self.start_button.setEnabled(not running)
        self.stop_button.setEnabled(running)
        if e.finished:
            self.progress.setText(f"{'Stopped' if e.stopped else 'Done'}: {len(study.runs)} runs")
        else:
            done = len(study.runs)
            self.progress.setText(f"run {done + 1} of at most {study.planned} running…")
        if study.runs:
            self.show_findings(study)
        if e.finished and self.analysis is not None:
            self.study_finished.emit(self.analysis)

    # -- findings ---------------------------------------------------------------------------------
    def _redraw(self) -> None:
        """Draw again in the theme's colours (the palette changed)."""
        if self._compared:
            self.compare_runs(self._compared)
        elif self._shown is not None:
            self.show_findings(self._shown)

    def compare_runs(self, entries: Sequence[ResultEntry]) -> None:
        """The runs picked in Results, side by side: each against the first, with its 95% CI."""
        if len(entries) < 2:
            return
        self._compared = list(entries)
        self._shown = None
        self.empty.hide()
        self.results.show()
        self.latency.hide()
        base = entries[0]
        names = [f"#{e.key} {e.run.spec.label()}" for e in entries]
        lines = [f"Compared with {names[0]} ({base.source}):"]
        rows = []
        for name, e in zip(names, entries, strict=True):
            est = compare_results(base.run.result, e.run.result) if e is not base else None
            said = "baseline" if e is base else verdict(names[0], name, est)
            if e is not base:
                lines.append(said)
            r = e.run.result
            rows.append([name, e.source, fmt_throughput(r.throughput_per_second, e.run.spec),
                         "baseline" if e is base else (
                             f"{est.ratio:.2f}x" + (f" ({est.low:.2f}–{est.high:.2f})"
                                                    if est and est.low is not None
                                                    and est.high is not None else "")
                             if est else NA), said])
        units = {fmt_throughput(1.0, e.run.spec).split(" ", 1)[-1] for e in entries}
        if len(units) > 1:
            lines.append("these runs count different things per second "
                         f"({', '.join(sorted(units))}): their speedups mean little")
        self.findings.setText("\n".join(f"• {x}" for x in lines))
        self.chart.clear()
        plot = self.chart.getPlotItem()
        colors = self.chart.colors
        heights = [e.run.result.throughput_per_second or 0.0 for e in entries]
        xs = list(range(len(entries)))
        self.chart.addItem(pg.BarGraphItem(x=xs, height=heights, width=0.6, brushes=[
            pg.mkBrush(colors.series_color(i)) for i in xs]))
        plot.getAxis("bottom").setTicks([[(i, f"#{e.key}") for i, e in enumerate(entries)]])
        plot.setLabel("bottom", "run (as numbered in Results)")
        plot.setLabel("left", f"throughput ({throughput_unit(base.run.spec)})")
        plot.setLogMode(x=False, y=False)
        plot.setYRange(0, max(heights or [1.0]) * 1.15, padding=0)
        cols = ["run", "source", "throughput", "speedup (95% CI)", "verdict"]
        fill_table(self.table, cols, rows)
        self.progress.setText(f"{len(entries)} runs from Results compared")

    def show_findings(self, study: Study) -> None:
        """Analyse the runs so far and show chart, verdicts and table."""
        others = self.session.others()
        groups = study.groups(others)
        if not groups:
            return
        self._shown = study
        self.empty.hide()
        self.results.show()
        baseline = self.baseline.currentText() or None
        a = analyze(study.kind, groups, baseline)
        self.analysis = a
        lines: list[str] = []
        if a["kind"] in ("compare", "precision_xla"):
            lines += a["verdicts"]
        else:
            lines += [c["text"] for c in a["crossovers"]]
            for k, s in a.get("scaling", {}).items():
                n = s["stops_paying_off_after"]
                what = "threads" if study.kind == "threads" else "replicas"
                lines.append(f"{k}: adding {what} stops paying off after {n}" if n else
                             f"{k}: every added {what[:-1]} still pays off in this range "
                             "(labels: scaling efficiency)")
        lines += study.notes
        if others:
            mine = self.session.snapshot
            if mine is not None:
                diff = environment_diff([mine] + [s for _, s in others])
                if diff:
                    lines.append("what differs between the machines: " + "; ".join(
                        f"{fact}: {' | '.join(values)}" for fact, values in diff[:8]))
        self.findings.setText("\n".join(f"• {x}" for x in lines) or "Running…")
        self._draw(study, a)
        self._fill_table(study, a)

    def _draw(self, study: Study, a: dict[str, Any]) -> None:
        self.chart.clear()
        plot = self.chart.getPlotItem()
        legend = plot.legend
        if legend is not None:
            legend.clear()
        colors = self.chart.colors
        plot.setLabel("left", f"throughput ({throughput_unit(study.base)})")
        if a["kind"] in ("compare", "precision_xla"):
            rows = a["rows"]
            xs = list(range(len(rows)))
            heights = [r["throughput_per_second"] or 0.0 for r in rows]
            brushes = [pg.mkBrush(colors.series_color(i)) for i in xs]
            self.chart.addItem(pg.BarGraphItem(x=xs, height=heights, width=0.6, brushes=brushes))
            tops = [(r["ci95"][1] - r["throughput_per_second"]) if r["ci95"] else 0.0
                    for r in rows]
            bottoms = [(r["throughput_per_second"] - r["ci95"][0]) if r["ci95"] else 0.0
                       for r in rows]
            self.chart.addItem(pg.ErrorBarItem(x=np.array(xs, dtype=float),
                                               y=np.array(heights), top=np.array(tops),
                                               bottom=np.array(bottoms), beam=0.2,
                                               pen=pg.mkPen(colors.text, width=1.5)))
            plot.getAxis("bottom").setTicks([[(i, r["target"]) for i, r in enumerate(rows)]])
            plot.setLabel("bottom", "target (bars: mean of trials; whiskers: 95% CI)")
            plot.enableAutoRange(axis="y")
            plot.setLogMode(x=False, y=False)
            self._draw_latency(study, a)
            return
        self.latency.hide()
        log_x = a["kind"] in ("batch", "size")
        plot.setLogMode(x=False, y=False)

        def pos(x: float) -> float:  # batch and size double: equal steps on a log2 scale
            return math.log2(x) if log_x else x

        # a tick at each value swept, labelled as it is (64, not 2^6)
        plot.getAxis("bottom").setTicks([[(pos(x), f"{x:g}") for x in a["x"]]])
        plot.setLabel("bottom", a["axis"] + (" (log scale)" if log_x else ""))
        if legend is None:
            plot.addLegend(offset=(5, 5))
        for i, (k, series) in enumerate(a["series"].items()):
            pts = [(pos(x), m["mean"]) for x, m in zip(a["x"], series, strict=True) if m]
            if pts:
                self.chart.plot([p[0] for p in pts], [p[1] for p in pts], name=k,
                                pen=pg.mkPen(colors.series_color(i), width=2), symbol="o",
                                symbolSize=6, symbolBrush=colors.series_color(i))
        tops = [m["mean"] for v in a["series"].values() for m in v if m]
        if tops:  # from zero, with room for the labels: a 12% gain should look like one
            plot.setYRange(0, max(tops) * 1.15, padding=0)
        for k, sc in a.get("scaling", {}).items():  # each point's scaling efficiency
            for x, m, eff in zip(a["x"], a["series"][k], sc["efficiency"], strict=True):
                if m and eff is not None:
                    text = pg.TextItem(f"{eff * 100:.0f}%", anchor=(0.5, 1.3),
                                       color=colors.text)
                    text.setPos(pos(x), m["mean"])
                    self.chart.addItem(text)
        for c in a["crossovers"]:
            for x in c["at"]:
                self.chart.addItem(pg.InfiniteLine(
                    pos=pos(x), angle=90, pen=pg.mkPen(colors.muted, style=Qt.PenStyle.DashLine),
                    label=f"crossover {x:.3g}",
                    labelOpts={"position": 0.9, "color": colors.muted}))

    def _draw_latency(self, study: Study, a: dict[str, Any]) -> None:
        groups = study.groups()
        self.latency.clear()
        legend = self.latency.getPlotItem().legend
        if legend is not None:
            legend.clear()
        if study.base.mode != "infer":
            self.latency.hide()
            return
        self.latency.show()
        for i, r in enumerate(a["rows"]):
            steps = sorted(s for run in groups.get(r["target"], []) if run.result.ok
                           and run.result.report is not None
                           for s in run.result.report.steps.seconds)
            if steps:
                ms = np.asarray(steps) * 1e3
                share = np.arange(1, len(ms) + 1) / len(ms)
                self.latency.plot(ms, share, name=r["target"],
                                  pen=pg.mkPen(self.latency.colors.series_color(i), width=2))

    def _fill_table(self, study: Study, a: dict[str, Any]) -> None:
        if a["kind"] in ("compare", "precision_xla"):
            # a TFLite target brings the deployed model's size and accuracy, as the CLI shows them
            deployed = any(r.get("tflite") for r in a["rows"])
            cols = ["target", "throughput", "95% CI", "speedup (95% CI)", "p50 / p99", "% peak",
                    "J/sample", "trials", *(DEPLOYED_COLUMNS if deployed else ()), "verdict"]
            rows = []
            for r in a["rows"]:
                ci, sp, spci = r["ci95"], r["speedup"], r["speedup_ci95"]
                rows.append([
                    r["target"], fmt_throughput(r["throughput_per_second"], study.base),
                    f"{fmt_throughput(ci[0], study.base)} – {fmt_throughput(ci[1], study.base)}"
                    if ci else NA,
                    "baseline" if r["target"] == a["baseline"] else
                    (f"{sp:.2f}x" + (f" ({spci[0]:.2f}–{spci[1]:.2f})" if spci else ""))
                    if sp is not None else NA,
                    f"{r['latency_p50_s'] * 1e3:.2f} / {r['latency_p99_s'] * 1e3:.2f} ms"
                    if r["latency_p50_s"] is not None else NA,
                    f"{r['percent_of_peak']:.0f}%" if r["percent_of_peak"] is not None else NA,
                    fmt_si(r["energy_per_sample_joules"], "J"),
                    f"{r['ok_trials']}/{r['trials']}",
                    *(deployed_cells(r) if deployed else ()),
                    r["verdict"] or ("failed: " + "; ".join(r["failures"]) if r["failures"]
                                     else ""),
                ])
        else:
            cols = [a["axis"]]
            for k in a["series"]:
                cols.append(k)
                if a["kind"] in SCALING_KINDS:
                    cols.append(f"{k}: efficiency")
            rows = []
            for i, x in enumerate(a["x"]):
                row = [f"{x:g}"]
                for k, series in a["series"].items():
                    m = series[i]
                    row.append(fmt_throughput(m["mean"], study.base) if m else "—")
                    if a["kind"] in SCALING_KINDS:
                        eff = a["scaling"][k]["efficiency"][i]
                        row.append(f"{eff * 100:.0f}%" if eff is not None else "—")
                rows.append(row)
        fill_table(self.table, cols, rows)

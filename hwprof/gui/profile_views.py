"""What the Home and Profiles pages share: the score card, the tests' table, profiles compared.

Each takes plain data (a :class:`~hwprof.core.profile.ProfileRecord`, its score, a comparison)
and shows it; none holds state another view needs. Every string that came from a file (a title,
a device, a host name, a failure's reason) is shown as plain text: labels are Qt.PlainText, table
cells are text, and a chart's key is a row of plain labels beside colour swatches (pyqtgraph's own
legend renders HTML, and sits on the bars).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TypeVar

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont, QPixmap
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from hwprof.core.profile import (
    ProfileComparison,
    ProfileRecord,
    ProfileScore,
    TestOutcome,
    deploy_rows,
)
from hwprof.core.profile_text import (
    DASH,
    NO_DEPLOY_REFERENCE,
    accuracy_text,
    deploy_sentence,
    fmt_duration,
    fmt_outcome,
    fmt_percent_of_ceiling,
    fmt_ratio,
    fmt_score,
    fmt_speedup,
    model_size_text,
    numerics_text,
    score_interval_text,
    speedup_verdict,
)
from hwprof.core.suite import suite_test
from hwprof.core.text import printable
from hwprof.gui.chart_style import QtChart, set_title
from hwprof.gui.widgets import plain_label, readonly_table
from hwprof.services.profile import REFERENCE_FILE, Reference
from hwprof.services.profile_session import ProfileEntry, differences, local_time

TABLE_COLUMNS = (
    ("test", "The suite's test: what it runs is fixed, so profiles compare test by test"),
    ("status", "done, failed (the reason is in the result and its tooltip), skipped, cancelled"),
    ("result (95% interval)", "Throughput (latency tests: the p90 step time) with its 95% "
     "interval over independent windows"),
    ("score (95% interval)", "1000 = the reference machine; higher is better"),
    ("% of ceiling", "Of the device's compute ceiling (never above 100%)"),
    ("numerics", "The device's output against the CPU's fp32 output for the same input"),
)
STATUS_WORDS = {"ok": "done", "out_of_memory": "out of memory"}
GROUPS = (("training", "training"), ("inference", "inference"),
          ("mixed precision", "mixed precision"))


def test_title(test_id: str) -> str:
    """A test's title ("Matrix multiply, fp32"), or its id for a test of another suite version.

    A test of the deployment section says so: no score counts it.
    """
    try:
        test = suite_test(test_id)
    except KeyError:
        return test_id
    return f"{test.title} (deployment)" if test.deployment else test.title


W = TypeVar("W", bound=QWidget)


def bigger(widget: W, scale: float, bold: bool = True) -> W:
    """``widget`` with a larger (and bold) font."""
    font = QFont(widget.font())
    font.setPointSizeF(font.pointSizeF() * scale)
    font.setBold(bold)
    widget.setFont(font)
    return widget


class QtScoreCard(QFrame):
    """The overall score with its 95% interval, the sub-scores, or why there is no score."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("score_card")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.caption = plain_label("overall score", wrap=False, name="score_caption")
        self.value = bigger(plain_label(DASH, wrap=False, name="score_value"), 2.6)
        self.interval = plain_label("", wrap=False, name="score_interval")
        self.groups: dict[str, QLabel] = {}
        grid = QGridLayout()
        for row, (key, title) in enumerate(GROUPS):
            grid.addWidget(plain_label(title, wrap=False), row, 0)
            value = bigger(plain_label(DASH, wrap=False, name=f"score_{key.replace(' ', '_')}"),
                         1.15)
            grid.addWidget(value, row, 1)
            self.groups[key] = value
        grid.setColumnStretch(2, 1)
        self.note = plain_label("", name="score_note")
        left = QVBoxLayout()
        left.addWidget(self.caption)
        left.addWidget(self.value)
        left.addWidget(self.interval)
        top = QHBoxLayout()
        top.addLayout(left)
        top.addSpacing(32)
        top.addLayout(grid, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.note)

    def show_score(self, record: ProfileRecord, score: ProfileScore | None,
                   reference: Reference | None) -> None:
        """Show ``record``'s score (None: unscored, and the card says why)."""
        notes: list[str] = []
        overall = score.overall if score is not None else None
        if score is None:
            self.value.setText("no score")
            if reference is None:
                self.interval.setText("no reference profile")
                notes.append(f"No score: there is no reference profile to score against "
                             f"(resources/{REFERENCE_FILE} is not installed). The table gives "
                             "each test's own figures.")
            else:
                self.interval.setText("not scored")
                notes.append(f"No score: the reference was measured with {reference.suite}, "
                             f"this profile with {record.suite}.")
        elif score.invalid_reason:
            self.value.setText("withheld")
            self.interval.setText("")
            notes.append(f"Score withheld: {score.invalid_reason}.")
        elif overall is None:
            self.value.setText("no score")
            self.interval.setText("no test in the score measured a valid result")
        else:
            self.value.setText(f"{overall.value:.0f}")
            ref = reference.name if reference is not None else "the reference"
            self.interval.setText(f"{score_interval_text(overall)}; {overall.tests} tests")
            # the reference's name is long and free text: on the note line, which wraps
            notes.append(f"1000 = {ref}.")
        for key, label in self.groups.items():
            label.setText(fmt_score(score.groups.get(key)) if score is not None else DASH)
        if record.partial:
            notes.append(f"A partial profile ({len(record.tests)} tests): its score covers those "
                         "tests only.")
        elif score is not None and score.missing:
            notes.append("Not measured, so not in the score: "
                         + ", ".join(test_title(t) for t in score.missing) + ".")
        self.note.setText(" ".join(notes))
        self.note.setVisible(bool(notes))


def _item(text: str, tip: str = "", *, number: bool = False) -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    if tip:
        item.setToolTip(tip)
    if number:
        item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    return item


def outcome_cells(outcome: TestOutcome, score: ProfileScore | None) -> list[QTableWidgetItem]:
    """One test's row: test, status, result, score, % of ceiling, numerics (all plain text)."""
    status = STATUS_WORDS.get(outcome.status, outcome.status)
    result = printable(fmt_outcome(outcome))
    tip = result
    if outcome.latency_ms:
        tip += "; " + ", ".join(f"{k} {v:.3g} ms" for k, v in outcome.latency_ms.items())
    if outcome.status == "ok" and outcome.windows:
        tip += f"; {outcome.windows} independent windows"
    test_score = score.per_test.get(outcome.test_id) if score is not None else None
    numerics = numerics_text(outcome)
    numerics_tip = printable(outcome.numerics.detail if outcome.numerics else "")
    if outcome.accuracy is not None:  # a deployment test: its TFLite model against TF fp32
        numerics = accuracy_text(outcome)
        numerics_tip = f"the TFLite model against TensorFlow fp32; model {model_size_text(outcome)}"
    return [
        _item(test_title(outcome.test_id), outcome.test_id),
        _item(status, printable(outcome.reason or status)),
        _item(result, tip, number=outcome.status == "ok"),
        _item(fmt_score(test_score), number=True),
        _item(fmt_percent_of_ceiling(outcome), printable(outcome.ceiling_source or ""),
              number=True),
        _item(numerics, numerics_tip),
    ]


class QtProfileResult(QWidget):
    """A finished profile: what it is, its score card, and the table of its tests."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.facts = plain_label("", name="profile_facts")
        self.card = QtScoreCard()
        self.table = readonly_table("profile_table", [c for c, _ in TABLE_COLUMNS],
                                    select_rows=True)
        for i, (_, tip) in enumerate(TABLE_COLUMNS):
            header = self.table.horizontalHeaderItem(i)
            if header is not None:
                header.setToolTip(tip)
        self.table.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        # the deployment section in words: each TFLite test against the TensorFlow fp32 test
        self.deployment = plain_label("", name="profile_deployment")
        self.deployment.setWordWrap(True)
        self.deployment.setVisible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.facts)
        layout.addWidget(self.card)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.deployment)

    def show_profile(self, record: ProfileRecord, score: ProfileScore | None,
                     reference: Reference | None, *, name: str = "", hostname: str = "",
                     created_at: str = "", extra: str = "") -> None:
        """Show one profile (``extra``: a line about it, such as where it was saved)."""
        where = record.device_label or record.device
        parts = [name] if name and name != f"Profile of {where}" else []  # a name of its own
        parts.append(f"{where} on {hostname}" if hostname else where)
        if created_at:
            parts.append(local_time(created_at))
        parts.append(f"{record.length} profile, {record.suite}")
        if record.overhead is not None:
            parts.append(f"took {fmt_duration(record.overhead.wall_seconds)}")
        text = " · ".join(printable(p) for p in parts)
        self.facts.setText(text + (f"\n{printable(extra)}" if extra else ""))
        self.card.show_score(record, score, reference)
        every = (*record.tests, *record.deploy_tests)
        self.table.setRowCount(len(every))
        for row, outcome in enumerate(every):
            for col, item in enumerate(outcome_cells(outcome, score)):
                self.table.setItem(row, col, item)
        lines = []
        if record.deployment is not None:
            lines = [f"Deployment ({record.deployment.suite}, TFLite on the CPU):"]
            lines += [deploy_sentence(r) for r in deploy_rows(record)]
            lines.append(NO_DEPLOY_REFERENCE + ".")
        self.deployment.setText("\n".join(printable(line) for line in lines))
        self.deployment.setVisible(bool(lines))

    def show_entry(self, entry: ProfileEntry, reference: Reference | None) -> None:
        """Show a profile of the list."""
        extra = str(entry.path) + ("" if entry.source == "profiles" else " (opened file)")
        if entry.tags:
            extra += "; tags: " + ", ".join(entry.tags)
        self.show_profile(entry.record, entry.score, reference, name=entry.name,
                          hostname=entry.hostname, created_at=entry.created_at, extra=extra)


class RatioAxis(pg.AxisItem):
    """A ratio axis: "0.5×", "1×", "2×"; on a log scale its ticks are powers of ten."""

    def __init__(self, orientation: str = "bottom") -> None:
        super().__init__(orientation=orientation)
        self.log = False

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:
        """Each tick as a ratio."""
        return [fmt_ratio(10 ** v if self.log else v) for v in values]


class QtProfileComparison(QWidget):
    """Two or more profiles against the first: the overall ratio, who wins where, per-test bars."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.heading = bigger(plain_label("", name="compare_heading"), 1.1)
        self.overall = plain_label("", name="compare_overall")
        self.wins = plain_label("", name="compare_wins")
        self.differs = plain_label("", name="compare_differs")
        self.axis = RatioAxis()
        self.chart = QtChart("compare_chart", axisItems={"bottom": self.axis})
        self.chart.redraw = self._redraw
        self.table = readonly_table("compare_table", select_rows=True)
        self.table.setWordWrap(False)
        self._shown: tuple[ProfileComparison, list[str]] | None = None
        self.bars: list[pg.BarGraphItem] = []
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for w in (self.heading, self.overall, self.wins, self.differs):
            layout.addWidget(w)
        self.key = QWidget()
        self.key.setObjectName("compare_key")
        self.key_layout = QHBoxLayout(self.key)
        self.key_layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.key)
        layout.addWidget(self.chart, 3)
        layout.addWidget(self.table, 2)

    def show_comparison(self, comparison: ProfileComparison,
                        entries: Sequence[ProfileEntry] = ()) -> None:
        """Show a comparison (``entries``: the profiles, for what differs between them)."""
        names = [printable(n) for n in comparison.names]
        self.heading.setText(f"Against {names[0]} (the first selected): higher is better, "
                             "bars are each test's speed relative to it, whiskers its 95% "
                             "interval")
        lines = []
        for name, sp in zip(names[1:], comparison.overall, strict=True):
            if sp is None:
                lines.append(f"{name}: no fp32 test that both measured")
            else:
                lines.append(f"{name}: {fmt_speedup(sp)} overall ({speedup_verdict(sp)}), "
                             "the geometric mean over the fp32 tests both measured")
        self.overall.setText("\n".join(lines))
        self.wins.setText("\n".join(printable(w[:1].upper() + w[1:]) + "."
                                    for w in comparison.wins))
        diff = differences(entries) if entries else []
        self.differs.setText("What differs: " + "; ".join(printable(d) for d in diff)
                             if diff else "")
        self.differs.setVisible(bool(diff))
        self._fill_table(comparison, names)
        self._shown = (comparison, names)
        self._redraw()

    def _fill_table(self, comparison: ProfileComparison, names: list[str]) -> None:
        headers = ["test"]
        for name in names[1:]:
            headers += [f"{name} vs {names[0]}", "verdict"]
        self.table.clear()
        self.table.setColumnCount(len(headers))
        self.table.setHorizontalHeaderLabels(headers)
        self.table.setRowCount(len(comparison.per_test) + 1)
        self.table.setItem(0, 0, _item("overall (fp32 tests)"))
        for j, sp in enumerate(comparison.overall):
            self.table.setItem(0, 1 + 2 * j, _item(fmt_speedup(sp), number=True))
            self.table.setItem(0, 2 + 2 * j, _item(speedup_verdict(sp)))
        for i, (tid, speedups) in enumerate(comparison.per_test.items(), start=1):
            self.table.setItem(i, 0, _item(test_title(tid), tid))
            for j, sp in enumerate(speedups):
                self.table.setItem(i, 1 + 2 * j, _item(fmt_speedup(sp), number=True))
                self.table.setItem(i, 2 + 2 * j, _item(speedup_verdict(sp)))

    def _fill_key(self, names: list[str]) -> None:
        """Which colour is which profile: a swatch and the name as plain text, in a row."""
        while self.key_layout.count():
            item = self.key_layout.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
        self.key_labels: list[QLabel] = []
        for k, name in enumerate(names):
            swatch = QLabel()
            pixmap = QPixmap(14, 14)
            pixmap.fill(QColor(self.chart.colors.series_color(k)))
            swatch.setPixmap(pixmap)
            label = plain_label(name + (" (the first)" if k == 0 else ""), wrap=False)
            self.key_layout.addWidget(swatch)
            self.key_layout.addWidget(label)
            self.key_layout.addSpacing(16)
            self.key_labels.append(label)
        self.key_layout.addStretch(1)

    def _redraw(self) -> None:
        if self._shown is None:
            return
        comparison, names = self._shown
        plot = self.chart.getPlotItem()
        self.chart.clear()
        self.bars = []
        self._fill_key(names)
        colors = self.chart.colors
        tests = list(comparison.per_test)
        n = len(names)
        # each profile's ratio per test: the first is 1 wherever another profile compares to it
        ratios = np.full((n, len(tests)), np.nan)
        lows, highs = ratios.copy(), ratios.copy()
        for t, tid in enumerate(tests):
            speedups = comparison.per_test[tid]
            if any(s is not None for s in speedups):
                ratios[0, t] = lows[0, t] = highs[0, t] = 1.0
            for k, sp in enumerate(speedups, start=1):
                if sp is not None:
                    ratios[k, t] = sp.ratio
                    lows[k, t] = sp.low if sp.low is not None else sp.ratio
                    highs[k, t] = sp.high if sp.high is not None else sp.ratio
        finite = ratios[np.isfinite(ratios)]
        spread = float(finite.max() / finite.min()) if finite.size else 1.0
        self.axis.log = log = spread > 20  # a GPU 100x a CPU: equal steps per factor of ten
        base = math.floor(math.log10(float(finite.min()))) if log and finite.size else 0.0

        def pos(x: np.ndarray) -> np.ndarray:
            return np.log10(x) if log else x

        height = 0.8 / n
        for k in range(n):
            ys = -np.arange(len(tests)) + 0.4 - height * (k + 0.5)  # the first on top
            ok = np.isfinite(ratios[k])
            if not ok.any():
                continue
            colour = colors.series_color(k)
            bar = pg.BarGraphItem(x0=base, y=ys[ok], height=height * 0.9,
                                  width=pos(ratios[k][ok]) - base, brush=pg.mkBrush(colour),
                                  pen=pg.mkPen(colour))
            self.chart.addItem(bar)
            self.bars.append(bar)
            if k > 0:
                x = pos(ratios[k][ok])
                self.chart.addItem(pg.ErrorBarItem(
                    x=x, y=ys[ok], left=x - pos(lows[k][ok]), right=pos(highs[k][ok]) - x,
                    beam=height * 0.4, pen=pg.mkPen(colors.text, width=1.2)))
        self.chart.addItem(pg.InfiniteLine(pos=0.0 if log else 1.0, angle=90,
                                           pen=pg.mkPen(colors.muted, width=1)))
        plot.getAxis("left").setTicks([[(-float(t), test_title(tid))
                                         for t, tid in enumerate(tests)]])
        plot.setLabel("bottom", "speed relative to the first" + (" (log scale)" if log else ""))
        plot.setYRange(-len(tests) + 0.4, 0.6, padding=0.02)
        top = float(np.nanmax(pos(highs))) if finite.size else 1.0
        plot.setXRange(base, max(top * 1.05, (0.1 if log else 1.1)), padding=0.02)
        set_title(plot, "each test against the first profile", colors)

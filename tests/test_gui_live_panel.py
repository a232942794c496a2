"""The Live tab's charts on their own (pytest-qt, offscreen): the legend column and the redraw."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator

import numpy as np
import pyqtgraph as pg
import pytest
from pytestqt.qtbot import QtBot

from hwprof.core.telemetry import MetricInfo
from hwprof.gui.live_panel import LEGEND_WIDTH, QtLivePanel
from hwprof.sampling.sampler import Sampler

pytestmark = pytest.mark.gui
LONG = "transformer infer cpu bf16 xla batch 64 size 128 threads 2/2"


@pytest.fixture
def panel(qtbot: QtBot) -> Iterator[QtLivePanel]:
    p = QtLivePanel(None)
    qtbot.addWidget(p)
    p.resize(1100, 900)
    p.show()
    yield p
    p.timer.stop()


def lines(legend: object) -> int:
    """How many lines the legend's text is laid out in."""
    doc = legend.item.document()  # type: ignore[attr-defined]
    block, n = doc.begin(), 0
    while block.isValid():
        n += block.layout().lineCount()
        block = block.next()
    return n


def test_a_long_legend_label_is_shortened_in_the_middle_and_said_in_full(
    panel: QtLivePanel,
) -> None:
    panel.add_curve("util", "cpu.util_percent", "CPU utilization", 0)
    panel.start_run(12, LONG, "samples/s")
    now = time.monotonic()
    for k in range(3):
        panel.add_point(now - 3 + k, 12_345.6)
    panel.redraw(force=True)
    legend = panel.legends["throughput"]
    # the full label is there to read: in the tooltip
    assert f"#12 {LONG}" in legend.toolTip() and "12.3k samples/s" in legend.toolTip()
    # on screen: the value on one line, the label shortened in the middle (its start and its end
    # kept) on the next, and nothing past the column
    text = legend.item.document().toPlainText()
    assert "12.3k samples/s" in text and "#12 trans" in text and "2/2" in text and "…" in text
    assert lines(legend) == 2
    margin = legend.item.document().documentMargin()
    assert legend.item.document().idealWidth() <= LEGEND_WIDTH - 2 * margin
    column = legend.sceneBoundingRect()
    drawn = legend.item.mapRectToScene(legend.item.boundingRect())
    assert drawn.right() <= column.right() + 0.5
    assert column.right() <= panel.graphics.viewport().width()
    # the value column does not cover its chart, nor the chart the column
    assert column.left() >= panel.plots["throughput"].sceneBoundingRect().right() - 1
    # a row that fits stays on one line
    assert lines(panel.legends["util"]) == 1
    assert "CPU utilization" in panel.legends["util"].toolTip()


# -- the redraw --------------------------------------------------------------------------------
class Readings:
    """Extra metrics for a sampler that is never started: the test writes its history."""

    def __init__(self, names: list[str]) -> None:
        self.names = names

    def metrics(self) -> list[MetricInfo]:
        return [MetricInfo(name=n, unit="%", label=n, kind="gauge") for n in self.names]

    def sample(self) -> dict[str, float | None]:
        return dict.fromkeys(self.names, 50.0)


def line(panel: QtLivePanel, name: str) -> tuple[np.ndarray, np.ndarray]:
    """A metric's whole line, left to right."""
    return panel.curves[name].getData()


NAMES = ["cpu.util_percent", "cpu.core0.util_percent", "cpu.core1.util_percent"]


@pytest.fixture
def hour(qtbot: QtBot) -> Iterator[tuple[QtLivePanel, Sampler, list[float]]]:
    """A panel showing the last hour of readings taken every 0.1 s, and its (settable) clock."""
    sampler = Sampler(0.1, capacity=36_000, host=False, process=False, gpus=False,
                      extra_sources=[Readings(NAMES)])
    now = time.monotonic()
    rng = np.random.default_rng(0)
    for k in range(36_000):
        row = rng.uniform(0, 50, len(NAMES))
        row[0] = 97.0 if k == 20_000 else row[0]  # one reading's spike, 33 min ago
        sampler._ring.append(now - 3600 + k * 0.1, row)
    clock = [now]
    p = QtLivePanel(sampler)
    p.clock = lambda: clock[0]
    qtbot.addWidget(p)
    p.window_box.setCurrentIndex(2)  # 1 h
    p.resize(1100, 800)
    p.show()
    qtbot.waitExposed(p)
    p.redraw(force=True)
    yield p, sampler, clock
    p.timer.stop()


def test_the_hour_view_keeps_every_peak_and_ends_at_the_newest_reading(
    hour: tuple[QtLivePanel, Sampler, list[float]],
) -> None:
    panel, sampler, clock = hour
    x, y = line(panel, "cpu.util_percent")
    assert len(x) <= panel.plots["util"].vb.width() + 8  # about a point per pixel
    assert np.nanmax(y) == 97.0  # a single reading's spike survives
    # the line ends at the newest reading, the value beside the chart
    newest_t, newest = sampler._ring.latest()  # type: ignore[misc]
    assert x[-1] == pytest.approx(newest_t - panel.t0) and y[-1] == newest[0]
    assert panel.legends["util"].text.count(f"{newest[0]:.0f}%") == 1
    # the view ends at now (to the pixel) and spans the hour
    lo, hi = panel.plots["util"].vb.viewRange()[0]
    assert hi - lo == pytest.approx(3600.0)
    assert 0 <= hi - (clock[0] - panel.t0) <= panel._seconds_per_pixel() + 1e-9


def test_a_redraw_bins_only_new_readings_and_steps_the_axes_by_whole_pixels(
    hour: tuple[QtLivePanel, Sampler, list[float]], monkeypatch: pytest.MonkeyPatch,
) -> None:
    panel, sampler, clock = hour
    asked: list[float | None] = []
    window = sampler.window

    def spy(*args: object, **kw: object) -> object:
        asked.append(kw.get("since"))  # type: ignore[arg-type]
        return window(*args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(sampler, "window", spy)
    ticks: list[tuple[float, float]] = []
    plain_ticks = pg.DateAxisItem.tickValues

    def count(axis: object, lo: float, hi: float, size: float) -> object:
        ticks.append((lo, hi))
        return plain_ticks(axis, lo, hi, size)  # type: ignore[arg-type]

    monkeypatch.setattr(pg.DateAxisItem, "tickValues", count)
    px = panel._seconds_per_pixel()
    last = sampler._ring.latest()[0]  # type: ignore[index]
    seen_range = panel.plots["util"].vb.viewRange()[0]
    steps = 0
    for _ in range(3 * int(px / 0.5) + 3):  # a few pixels' worth of 0.5 s redraws
        for j in range(5):
            sampler._ring.append(last + 0.1 * (j + 1), np.full(len(NAMES), 20.0))
        last += 0.5
        clock[0] += 0.5
        panel.redraw(force=True)
        panel.graphics.viewport().repaint()
        # only what came since the last redraw is read from the sampler
        assert asked[-1] is not None and asked[-1] >= last - 0.5 - 1e-9
        now_range = panel.plots["util"].vb.viewRange()[0]
        if now_range != seen_range:
            steps += 1
            assert (now_range[1] - seen_range[1]) / px == pytest.approx(
                round((now_range[1] - seen_range[1]) / px))  # whole pixels
            seen_range = now_range
    assert 2 <= steps <= 4
    # the x-linked time axes work their ticks out once per step, not once per chart
    assert len(set(ticks)) == len(ticks) and len(ticks) <= steps + 1


def test_a_line_whose_readings_did_not_change_is_not_drawn_again(
    hour: tuple[QtLivePanel, Sampler, list[float]],
) -> None:
    panel, sampler, clock = hour
    curve = panel.curves["cpu.util_percent"]
    panel.graphics.viewport().repaint()
    paths = (curve.path, curve.tail_path)
    assert None not in paths  # painted
    panel.redraw(force=True)  # the same moment, no new reading
    # the same paths: nothing is drawn anew
    assert curve.path is paths[0] and curve.tail_path is paths[1]
    # a new reading in the bin still filling, before the chart steps: only the tail is new
    h = panel._history
    assert h is not None
    t = h.last_t + 0.01
    if math.floor(t / h.width_s) == math.floor(h.last_t / h.width_s) and \
            math.ceil(t / panel._seconds_per_pixel()) == math.ceil(
                h.last_t / panel._seconds_per_pixel()):
        sampler._ring.append(t + panel.t0, np.full(len(NAMES), 42.0))
        clock[0] = t + panel.t0
        panel.redraw(force=True)
        # the settled part keeps its path; only the tail is drawn anew
        assert curve.path is paths[0] and curve.tail_path is None


def test_the_minute_view_draws_the_readings_as_they_are(qtbot: QtBot) -> None:
    sampler = Sampler(0.5, capacity=1000, host=False, process=False, gpus=False,
                      extra_sources=[Readings(NAMES)])
    now = time.monotonic()
    values = [float(v) for v in range(120)]
    for k, v in enumerate(values):
        sampler._ring.append(now - 60 + 0.5 * (k + 1), [v, 10.0, 90.0])
    panel = QtLivePanel(sampler)
    panel.clock = lambda: now
    qtbot.addWidget(panel)
    panel.resize(1100, 800)
    panel.show()
    panel.redraw(force=True)
    _x, y = line(panel, "cpu.util_percent")
    assert list(y) == values and panel._history is None
    heat = panel.heat.image  # type: ignore[union-attr]
    assert heat is not None and heat.shape[1] == 2
    assert np.allclose(heat[:, 0], 10.0) and np.allclose(heat[:, 1], 90.0)
    panel.timer.stop()


def test_the_redraw_cadence_follows_what_drawing_costs(
    panel: QtLivePanel, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from hwprof.gui import live_panel as lp

    cost = [0.06]

    def busy(force: bool = False) -> None:  # a redraw that takes `cost` seconds of CPU
        end = time.thread_time() + cost[0]
        while time.thread_time() < end:
            pass

    monkeypatch.setattr(panel, "redraw", busy)
    assert panel.timer.interval() == lp.REDRAW_MS
    for _ in range(12):
        panel._on_timer()
    # 60 ms a redraw: every 1.2 s, for the charts to take at most 5% of a core
    assert panel.timer.interval() == pytest.approx(0.06 / lp.CHART_SHARE * 1000, rel=0.15)
    cost[0] = 0.001
    for _ in range(20):
        panel._on_timer()
    assert panel.timer.interval() == lp.REDRAW_MS  # cheap again: twice a second


def test_a_new_reading_repaints_only_the_newest_pixels_even_while_a_run_draws(
    hour: tuple[QtLivePanel, Sampler, list[float]], monkeypatch: pytest.MonkeyPatch,
) -> None:
    from PySide6.QtWidgets import QApplication

    from hwprof.gui.chart_lines import ChartLines

    panel, sampler, _clock = hour
    panel.start_run(1, "matmul infer cpu", "GEMMs/s")  # its chart is repainted whole each time
    util = panel._lines["util"]
    seen: list[list[tuple[float, float]] | None] = []
    strips = ChartLines._strips

    def spy(self: ChartLines, *args: object) -> list[tuple[float, float]] | None:
        got = strips(self, *args)  # type: ignore[arg-type]
        if self is util:
            seen.append(got)
        return got

    monkeypatch.setattr(ChartLines, "_strips", spy)
    for _ in range(3):
        QApplication.processEvents()
    h = panel._history
    assert h is not None
    for k in range(3):  # new readings and throughput points within the newest pixel
        t = h.last_t + 0.001
        sampler._ring.append(t + panel.t0, np.full(len(NAMES), 30.0 + k))
        panel.add_point(t + panel.t0, 100.0 + k)
        seen.clear()
        panel.redraw(force=True)
        for _ in range(2):
            QApplication.processEvents()
        # the util lines were repainted in narrow strips only, not over the whole hour
        assert seen and all(s is not None for s in seen), seen
        width = util.boundingRect().width()
        assert all(sum(r - q for q, r in s) < 0.05 * width for s in seen if s is not None)

"""The Live tab's charts on their own (pytest-qt, offscreen): the legend column and the redraw."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from pytestqt.qtbot import QtBot

from hwprof.gui.live_panel import LEGEND_WIDTH, QtLivePanel

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

"""The Roofline tab with measured ceilings, as a person reads it (pytest-qt, offscreen)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyqtgraph as pg
import pytest
from gui_helpers import detected_window, dispose, make_record
from pytestqt.qtbot import QtBot

from hwprof.core.roofline import Ceilings
from hwprof.core.snapshot import new_snapshot, save_snapshot
from hwprof.core.spec import RunSpec
from hwprof.gui.main_window import QtMainWindow
from hwprof.services import studies

pytestmark = pytest.mark.gui


@pytest.fixture
def window(qtbot: QtBot) -> Iterator[QtMainWindow]:
    w = detected_window(qtbot)
    yield w
    dispose(w)


def test_measured_ceilings_read_plainly_on_the_roofline(
    qtbot: QtBot, window: QtMainWindow, tmp_path: Path
) -> None:
    c = Ceilings(device_key="cpu|Test CPU|tf 2.21.0", device_label="Test CPU",
                 peak_flops=1.08e11, bandwidth_bytes_per_second=3.9e9,
                 measured_at="2026-11-29T11:58:38+00:00",
                 reduced_precision_flops={"mixed_bfloat16": 4.47e11})
    studies.ceilings_path().parent.mkdir(parents=True, exist_ok=True)
    studies.ceilings_path().write_text(json.dumps({c.device_key: vars(c)}))
    machine = window.report.to_report()
    assert machine is not None
    spec = RunSpec(workload="matmul", mode="infer", size=512, duration_seconds=1.0)
    path = tmp_path / "runs.hwprof.json"
    per_sample = 2 * 512**3  # a 512 x 512 matmul's FLOPs
    run = make_record(spec, throughput=9e10 / per_sample, flops=9e10)
    save_snapshot(new_snapshot(machine).with_run(run), path)
    assert window.open_snapshot(path)
    window.show_tab("roofline")
    roof = window.roofline_panel
    qtbot.waitUntil(lambda: roof.ceilings is not None, timeout=10_000)
    # the ticks say 1G, 10G, 100G: the axis title carries no "(x1e+09)" beside them
    left = roof.chart.getPlotItem().getAxis("left")
    roof.chart.getPlotItem().vb.prepareForPaint()  # the range as it is drawn
    qtbot.waitUntil(lambda: left.range[1] > 10, timeout=10_000)  # log10 of FLOP/s
    assert left.labelString().count("FLOP/s") == 1 and "e+" not in left.labelString()
    assert "x1e" not in left.labelString()
    # when, in words a person reads (local time), not an ISO stamp
    text = roof.summary.text()
    assert "Test CPU (cpu)" in text and "108 GFLOP/s" in text and "447 GFLOP/s" in text
    assert "T11:58" not in text and "+00:00" not in text and "Measured 2026-11-29" in text
    assert roof.table.rowCount() == 1 and roof.table.item(0, 3).text() == "83%"


def test_an_axis_with_si_labels_has_no_power_of_ten_in_its_title(qtbot: QtBot) -> None:
    from hwprof.gui.chart_style import ValueAxis
    from hwprof.gui.widgets import static_plot

    chart = static_plot("bandwidth", axisItems={"left": ValueAxis("si")})
    qtbot.addWidget(chart)
    chart.setLabel("left", "throughput (B/s)")
    chart.plot(np.arange(5.0), np.array([0.0, 1e9, 2e9, 3e9, 4e9]))
    chart.resize(600, 400)
    chart.show()
    left = chart.getPlotItem().getAxis("left")
    chart.getPlotItem().vb.prepareForPaint()
    qtbot.waitUntil(lambda: left.range[1] > 1e9, timeout=10_000)
    # "2G" on the axis with "(x1e+09)" in its title would read as 2e18 B/s
    assert "x1e" not in left.labelString() and "throughput (B/s)" in left.labelString()
    assert left.tickStrings([0.0, 2e9], 1.0, 1e9) == ["0", "2G"]


def test_the_legend_sits_where_no_run_can_be(
    qtbot: QtBot, window: QtMainWindow, tmp_path: Path
) -> None:
    c = Ceilings(device_key="cpu|Test CPU|tf 2.21.0", device_label="Test CPU",
                 peak_flops=1.08e11, bandwidth_bytes_per_second=3.9e9,
                 measured_at="2026-11-29T11:58:38+00:00")
    studies.ceilings_path().parent.mkdir(parents=True, exist_ok=True)
    studies.ceilings_path().write_text(json.dumps({c.device_key: vars(c)}))
    machine = window.report.to_report()
    assert machine is not None
    snap = new_snapshot(machine)
    for size, share in ((128, 0.05), (256, 0.5), (512, 0.9), (1024, 0.3)):  # low and right
        spec = RunSpec(workload="matmul", mode="infer", size=size, duration_seconds=1.0)
        flops = share * 1.08e11
        snap = snap.with_run(make_record(spec, throughput=flops / (2 * size**3), flops=flops))
    path = tmp_path / "runs.hwprof.json"
    save_snapshot(snap, path)
    window.resize(1024, 700)
    assert window.open_snapshot(path)
    window.show_tab("roofline")
    roof = window.roofline_panel
    qtbot.waitUntil(lambda: roof.table.rowCount() == 4, timeout=10_000)
    plot = roof.chart.getPlotItem()
    plot.vb.prepareForPaint()
    legend = plot.legend.sceneBoundingRect()
    vb = plot.vb.sceneBoundingRect()
    assert legend.left() - vb.left() < vb.right() - legend.right()  # on the left
    assert legend.top() - vb.top() < vb.bottom() - legend.bottom()  # at the top
    dots = [i for i in plot.items if isinstance(i, pg.PlotDataItem) and i.opts["symbol"]]
    for item in dots:
        for x, y in zip(*item.getData(), strict=True):
            at = plot.vb.mapViewToScene(pg.Point(np.log10(x), np.log10(y)))
            assert not legend.contains(at), (x, y)

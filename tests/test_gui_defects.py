"""What a new user met in the window (issue 15), one test per defect, offscreen (pytest-qt).

Runs here are fakes with the real run function's signature (:class:`gui_helpers.FakeRuns`): the
worker's events and a result, in the window's real QThread, without TensorFlow. Each test failed
on the window as it was before the fix.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pyqtgraph as pg
import pytest
from gui_helpers import FakeRuns, dispose, make_record, quick_functions
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from hwprof.core.paths import snapshots_dir
from hwprof.core.snapshot import load_snapshot, new_snapshot, save_snapshot
from hwprof.core.spec import RunSpec
from hwprof.core.study import Study
from hwprof.core.targets import parse_target
from hwprof.gui.main_window import QtMainWindow

pytestmark = pytest.mark.gui
WAIT_MS = 20_000


@pytest.fixture
def window(qtbot: QtBot) -> Iterator[QtMainWindow]:
    w = QtMainWindow(quick_functions())
    w.confirm_close = lambda: True
    w.confirm_stop = lambda _text: True
    w.session.run_function = FakeRuns(steps=3)
    form(w)
    qtbot.addWidget(w)
    w.show()
    w.start_detection()
    qtbot.waitUntil(lambda: w.report.complete and not w.detecting, timeout=30_000)
    yield w
    app = QApplication.instance()
    if isinstance(app, QApplication) and w.theme != "light":
        w.set_theme("light")  # leave the shared application light
    dispose(w)


def form(w: QtMainWindow, workload: str = "mlp", size: int = 16) -> None:
    panel = w.run_panel
    panel.workload.setCurrentIndex(panel.workload.findData(workload))
    panel.mode.setCurrentIndex(panel.mode.findData("infer"))
    panel.size_box.setValue(size)
    panel.duration.setValue(1)
    panel.warmup.setValue(1)


def run_once(qtbot: QtBot, w: QtMainWindow, runs: FakeRuns | None = None) -> None:
    if runs is not None:
        w.session.run_function = runs
    with qtbot.waitSignal(w.run_finished, timeout=WAIT_MS):
        w.run_panel.request_run()


def open_runs(w: QtMainWindow, folder: Path, *specs: RunSpec, name: str = "other",
              **record: object) -> Path:
    """A snapshot with a run of each spec, opened in the window."""
    machine = w.report.to_report()
    assert machine is not None
    snap = new_snapshot(machine)
    for s in specs:
        snap = snap.with_run(make_record(s, **record))  # type: ignore[arg-type]
    path = folder / f"{name}.hwprof.json"
    save_snapshot(snap, path)
    assert w.open_snapshot(path)
    return path


def light(colour: QColor) -> bool:
    return colour.lightness() > 150


# -- 1 --------------------------------------------------------------------------------------------
def test_1_escape_never_stops_a_run_stop_asks_and_the_queue_has_remove(
    qtbot: QtBot, window: QtMainWindow
) -> None:
    hold = threading.Event()
    window.session.run_function = FakeRuns(hold=hold)
    asked: list[str] = []
    window.confirm_stop = lambda text: bool(asked.append(text))  # the person says No
    for _ in range(3):
        window.run_panel.request_run()
    qtbot.waitUntil(lambda: window.session.busy, timeout=WAIT_MS)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=WAIT_MS)
    # Escape while typing in a text field, and anywhere else: nothing stops
    window.show_tab("compare")
    window.study_panel.values.setFocus()
    qtbot.keyClick(window.study_panel.values, Qt.Key.Key_Escape)
    qtbot.keyClick(window, Qt.Key.Key_Escape)
    assert window.session.busy and len(window.session.pending) == 2 and not asked
    # Stop asks first; "No" leaves the run going
    window.stop_action.trigger()
    assert asked and "Stop mlp" in asked[0] and window.session.busy
    # a waiting run can be taken off the queue (Delete on the list)
    window.show_tab("run")
    queue = window.run_panel.queue_list
    keep, drop = window.session.pending
    for i in range(queue.count()):
        if queue.item(i).data(Qt.ItemDataRole.UserRole) == drop.id:
            queue.setCurrentRow(i)
    queue.setFocus()
    qtbot.keyClick(queue, Qt.Key.Key_Delete)
    assert [p.id for p in window.session.pending] == [keep.id]
    # "Yes" ends the run in progress only: the next one runs
    window.confirm_stop = lambda _text: True
    first = window.session.current
    with qtbot.waitSignal(window.run_finished, timeout=WAIT_MS):
        window.stop_action.trigger()
    qtbot.waitUntil(lambda: window.session.current is not None
                    and window.session.current is not first, timeout=WAIT_MS)
    hold.set()
    qtbot.waitUntil(lambda: not window.session.busy, timeout=WAIT_MS)
    assert [e.run.result.status for e in window.session.results] == ["cancelled", "ok"]


# -- 2 --------------------------------------------------------------------------------------------
def test_2_charts_follow_the_dark_theme_on_screen_and_in_exports(
    qtbot: QtBot, window: QtMainWindow, tmp_path: Path
) -> None:
    window.theme_actions["dark"].trigger()
    live = window.live_panel
    qtbot.waitUntil(lambda: live.colors.dark, timeout=WAIT_MS)  # the palette change is posted
    window.show_tab("live")
    live.redraw(force=True)
    for key, plot in live.plots.items():
        axis = plot.getAxis("left")
        assert light(axis.textPen().color()), key
        assert light(QColor(plot.titleLabel.opts["color"])), key
        assert light(QColor(live.legends[key].opts["color"])), key
    # the exported image: dark ground, light text (not black text on a dark ground)
    png = tmp_path / "dark.png"
    live.export(str(png))
    image = QImage(str(png))
    assert image.pixelColor(2, 2).lightness() < 80
    bright = sum(1 for x in range(0, image.width(), 3) for y in range(0, image.height(), 3)
                 if image.pixelColor(x, y).lightness() > 180)
    assert bright > 100
    # a comparison's 95% whiskers are drawn in the theme's text colour
    base = RunSpec(workload="mlp", mode="infer", size=16)
    study = Study("compare", base, [parse_target("cpu threads=1"), parse_target("cpu threads=2")])
    a = {"kind": "compare", "rows": [
        {"target": "cpu threads=1", "throughput_per_second": 100.0, "ci95": (90.0, 110.0)},
        {"target": "cpu threads=2", "throughput_per_second": 150.0, "ci95": (140.0, 160.0)}]}
    window.study_panel._draw(study, a)
    bars = [i for i in window.study_panel.chart.getPlotItem().items
            if isinstance(i, pg.ErrorBarItem)]
    assert bars and light(bars[0].opts["pen"].color())
    # and back: light charts get dark text again
    window.theme_actions["light"].trigger()
    qtbot.waitUntil(lambda: not light(live.plots["util"].getAxis("left").textPen().color()),
                    timeout=WAIT_MS)


# -- 3 --------------------------------------------------------------------------------------------
def test_3_machine_and_workload_cpu_each_have_an_honest_scale(window: QtMainWindow) -> None:
    live = window.live_panel
    assert "proc.cpu_percent" not in live.series["util"]
    assert live.series["workload"] == ["proc.cpu_percent"]
    low, high = live.plots["util"].vb.viewRange()[1]
    assert low < 0 and 105 < high < 120  # 100% sits on a labelled line below the frame
    ticks = live.plots["util"].getAxis("left")._tickLevels
    assert (100, "100") in ticks[0]
    cores = os.cpu_count() or 1
    assert cores < live.plots["workload"].vb.viewRange()[1][1] <= cores * 1.2
    assert "cores" in live.plots["workload"].titleLabel.text


# -- 4 --------------------------------------------------------------------------------------------
def test_4_every_number_has_its_unit_and_an_si_prefix(
    window: QtMainWindow, tmp_path: Path
) -> None:
    axis = window.live_panel.plots["throughput"].getAxis("left")
    assert axis.tickStrings([9e9, 1.8e10], 1.0, 9e9) == ["9G", "18G"]
    from hwprof.gui.live_panel import CHARTS, fmt_value

    clocks = next(c for c in CHARTS if c.key == "clocks")
    assert fmt_value(2600 * clocks.scale, clocks) == "2.6 GHz"
    bandwidth = RunSpec(workload="bandwidth", mode="infer")
    matmul = RunSpec(workload="matmul", mode="infer", size=64)
    open_runs(window, tmp_path, bandwidth, matmul, throughput=9e9, flops=1e9, peak=1e11)
    table = window.results_panel.table
    texts = {table.item(r, 1).text(): table.item(r, 4).text() for r in range(table.rowCount())}
    assert texts[bandwidth.label()] == "9 GB/s"
    assert texts[matmul.label()].endswith("GEMMs/s") and "e+" not in texts[matmul.label()]
    peaks = {table.item(r, 1).text(): table.item(r, 9).text() for r in range(table.rowCount())}
    assert peaks[bandwidth.label()] == "–" and peaks[matmul.label()] == "1%"
    window.results_panel.select_key(window.session.results[0].key)  # the bandwidth run
    facts = window.results_panel.facts.text()
    assert "standard error" in facts and "B/s, jitter" in facts
    assert "FLOP/s" not in facts  # a bandwidth run does no floating-point work to speak of


# -- 5 --------------------------------------------------------------------------------------------
def test_5_ceiling_runs_stay_out_of_results_and_no_run_claims_more_than_its_roof(
    qtbot: QtBot, window: QtMainWindow
) -> None:
    roof = window.roofline_panel
    window.show_tab("roofline")
    tip = roof.measure_button.toolTip()
    assert "about 20 s" not in tip and "3 runs of 6 s" in tip
    window.session.run_function = FakeRuns(steps=2, flops=2e10)
    roof.seconds = 0.5
    roof.measure_button.click()
    assert "run 1 of 3" in roof.summary.text()
    qtbot.waitUntil(roof.measure_button.isEnabled, timeout=WAIT_MS)
    assert roof.ceilings is not None and roof.ceilings.peak_flops == 2e10
    assert window.results_panel.table.rowCount() == 0 and not window.session.session_runs()
    # a run faster than the (too low) ceiling: never shown above 100%, and the ceilings are doubted
    form(window, "matmul", 64)
    run_once(qtbot, window, FakeRuns(steps=2, flops=3e10))
    window.show_tab("results")
    window.show_tab("roofline")
    cells = [roof.table.item(r, 3).text() for r in range(roof.table.rowCount())]
    assert cells == ["above the roof ⚠"]
    assert roof.warning.isVisibleTo(roof) and "Measure them again" in roof.warning.text()
    window.session.flush()
    snapshot = window.session.snapshot
    assert snapshot is not None and [r.spec.workload for r in snapshot.runs] == ["matmul"]


# -- 6 --------------------------------------------------------------------------------------------
def test_6_the_browser_manages_snapshots_and_results_has_a_context_menu(
    qtbot: QtBot, window: QtMainWindow
) -> None:
    run_once(qtbot, window)
    run_once(qtbot, window)
    window.session.flush()
    own = window.session.autosave_path
    assert own is not None
    machine = window.report.to_report()
    assert machine is not None
    other = snapshots_dir() / "other.hwprof.json"
    save_snapshot(new_snapshot(machine), other)
    browser = window.files.browser()
    qtbot.addWidget(browser)
    assert own.name not in browser.rows() and "other.hwprof.json" in browser.rows()
    renamed = browser.rename(other, "lab-machine")
    assert renamed is not None and renamed.name == "lab-machine.hwprof.json"
    assert browser.set_tags(renamed, "baseline, lab ,baseline")
    assert load_snapshot(renamed).tags == ("baseline", "lab")
    browser.ask = lambda _title, _text: True
    assert browser.delete(renamed) and not renamed.exists() and not browser.rows()
    # Results: right click -> remove, copy, compare the selected runs
    results = window.results_panel
    results.table.selectAll()
    menu = results.context_menu()
    texts = {a.text(): a for a in menu.actions()}
    assert {"Remove 2 runs from Results", "Copy as text (tab-separated)",
            "Compare selected…"} <= set(texts)
    texts["Copy as text (tab-separated)"].trigger()
    assert len(QApplication.clipboard().text().splitlines()) == 3
    texts["Compare selected…"].trigger()
    assert window.tabs.currentWidget() is window.panels["compare"]
    assert window.study_panel.table.rowCount() == 2
    results.select_key(window.session.results[0].key)
    results.context_menu().actions()[0].trigger()  # remove the first
    assert results.table.rowCount() == 1
    window.session.flush()
    assert len(load_snapshot(own).runs) == 1


# -- 7 --------------------------------------------------------------------------------------------
def test_7_marker_labels_never_cover_lines_or_legends(qtbot: QtBot, window: QtMainWindow) -> None:
    live = window.live_panel
    window.show_tab("live")
    now = time.monotonic()
    live.add_marker(now - 2.0, "start matmul")
    live.add_marker(now - 1.9, "warm-up done")
    live.redraw(force=True)
    for key, plot in live.plots.items():
        assert plot.legend is None, key  # no legend inside a chart
        lines = [i for i in plot.items if isinstance(i, pg.InfiniteLine)]
        # no label on a line
        assert lines and all(getattr(line, "label", None) is None for line in lines), key
        legend = live.legends[key].sceneBoundingRect()
        assert legend.left() >= plot.sceneBoundingRect().right() - 1, key  # beside the chart
    shown = [t for t in live._marker_texts if t.isVisible()]
    assert len(shown) == 2 and shown[0].pos().y() != shown[1].pos().y()  # stacked, not on top


# -- 8 --------------------------------------------------------------------------------------------
def test_8_progress_shows_wherever_the_run_is_watched_and_every_run_stays_labelled(
    qtbot: QtBot, window: QtMainWindow
) -> None:
    live = window.live_panel
    hold = threading.Event()
    window.session.run_function = FakeRuns(hold=hold)
    window.run_panel.request_run()
    assert window.tabs.currentWidget() is live
    qtbot.waitUntil(lambda: "measuring" in live.run_status.text(), timeout=WAIT_MS)
    assert live.run_progress.isVisible() and window.status.run_progress.isVisible()
    hold.set()
    qtbot.waitUntil(lambda: not window.session.busy, timeout=WAIT_MS)
    assert live.run_status.text().startswith("No run in progress. Last: mlp")
    assert not live.run_progress.isVisible()
    run_once(qtbot, window, FakeRuns(steps=3))
    plot = live.plots["throughput"]
    assert len(live.runs) == 2 and all(r.curve in plot.items for r in live.runs)
    live.redraw(force=True)
    legend = live.legends["throughput"].text
    assert "#1 mlp" in legend and "#2 mlp" in legend


# -- 9 --------------------------------------------------------------------------------------------
def test_9_the_layout_fits_small_and_large_windows_and_empty_tabs_say_what_to_do(
    qtbot: QtBot, window: QtMainWindow, tmp_path: Path
) -> None:
    assert window.results_panel.stack.currentWidget() is window.results_panel.empty
    assert "Run a workload" in window.results_panel.empty.text()
    assert window.study_panel.empty.isVisibleTo(window.study_panel)
    window.show_tab("roofline")
    assert window.roofline_panel.stack.currentWidget() is window.roofline_panel.empty
    # a layout saved on a big screen, then a 1024x700 window: the devices give way
    window.resize(1440, 900)
    window.splitter.setSizes([560, 880])
    window.resize(1024, 700)
    qtbot.waitUntil(lambda: window.width() == 1024, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: window.splitter.sizes()[0] <= 0.36 * 1024, timeout=WAIT_MS)
    tree = window.devices_panel.tree
    QApplication.processEvents()
    for key in ("host", "cpu:0"):
        item = window.devices_panel.item(key)
        assert item is not None
        rect = tree.visualItemRect(item)
        metrics = tree.fontMetrics()
        width = tree.columnWidth(1) - 12
        needed = metrics.boundingRect(0, 0, width, 10_000, int(Qt.TextFlag.TextWordWrap),
                                      item.text(1)).height()
        assert rect.height() >= needed, (key, item.text(1))  # wrapped, not cut
    # Results at 1600 px: every column fits, no sideways scrolling
    window.resize(1600, 1000)
    window.show_tab("results")
    long = RunSpec(workload="transformer", mode="infer", batch_size=64, size=128,
                   precision="mixed_bfloat16", xla=True, intra_op_threads=2, inter_op_threads=2)
    open_runs(window, tmp_path, long, RunSpec(workload="mlp", mode="infer"),
              name="a-snapshot-with-a-rather-long-file-name")
    QApplication.processEvents()
    assert window.results_panel.table.horizontalScrollBar().maximum() == 0


# -- 10 -------------------------------------------------------------------------------------------
def test_10a_live_values_beside_the_charts_and_a_strip_of_every_core(
    qtbot: QtBot, window: QtMainWindow
) -> None:
    live = window.live_panel
    window.show_tab("live")
    assert window.sampler is not None
    qtbot.waitUntil(lambda: window.sampler is not None and window.sampler.ticks >= 3,
                    timeout=WAIT_MS)
    live.redraw(force=True)
    util = live.legends["util"].text
    assert "CPU" in util and "%" in util and "–" not in util
    assert live.heat is not None and live.heat.image is not None
    assert live.heat.image.shape[1] == len(live.core_names) >= 1


def test_10b_help_lists_every_keyboard_shortcut(qtbot: QtBot, window: QtMainWindow) -> None:
    dialog = window.show_shortcuts()
    qtbot.addWidget(dialog)
    rows = {dialog.table.item(r, 0).text(): dialog.table.item(r, 1).text()
            for r in range(dialog.table.rowCount())}
    assert rows["Ctrl+R"] == "Run" and "Stop" in rows["Ctrl+."] and "Keyboard" in rows["F1"]
    assert window.actions_.shortcuts.shortcut().toString() == "F1"


def test_10c_the_last_settings_are_remembered(qtbot: QtBot, window: QtMainWindow) -> None:
    form(window, "matmul", 256)
    window.run_panel.precision.setCurrentIndex(window.run_panel.precision.findData(
        "mixed_bfloat16"))
    window.live_panel.set_window_seconds(600.0)
    window.close()
    again = QtMainWindow(quick_functions(), sampler=False)
    try:
        panel = again.run_panel
        assert panel.workload.currentData() == "matmul" and panel.size_box.value() == 256
        assert panel.mode.currentData() == "infer"
        assert panel.precision.currentData() == "mixed_bfloat16"
        assert again.live_panel.window_seconds == 600.0
    finally:
        dispose(again)


def test_10d_save_offers_a_name_that_says_what_it_holds(
    qtbot: QtBot, window: QtMainWindow, tmp_path: Path
) -> None:
    import datetime as dt
    import socket

    from hwprof.gui.files import suggested_name
    from hwprof.gui.settings import last_folder

    run_once(qtbot, window)
    name = suggested_name(window.session, ".hwprof.json.gz")
    assert name.startswith(socket.gethostname()[:3]) and dt.date.today().isoformat() in name
    assert "mlp" in name and name.endswith(".hwprof.json.gz")
    assert window.save_session(tmp_path / "kept")
    assert last_folder() == tmp_path  # the next dialog starts where this one saved


def test_10e_missing_power_and_temperature_charts_say_why(window: QtMainWindow) -> None:
    live = window.live_panel
    assert window.sampler is not None
    notes = window.sampler.notes
    for key, source in (("power", "CPU package power"), ("temperature", "CPU temperature")):
        if key in live.plots:
            continue  # this machine has the sensor
        text = live.missing[key]
        reason = next(n for n in notes if n.startswith(source)).split(": ", 1)[1].split(" (")[0]
        assert "not charted" in text and reason in text and text in live.note.text()


def test_10f_the_step_time_histogram_has_sensible_bins(
    window: QtMainWindow, tmp_path: Path
) -> None:
    open_runs(window, tmp_path, RunSpec(workload="mlp", mode="infer"))
    window.results_panel.select_key(window.session.results[0].key)
    bars = [i for i in window.results_panel.histogram.getPlotItem().items
            if isinstance(i, pg.BarGraphItem)]
    bins = len(bars[0].opts["x0"])
    assert 8 <= bins <= 50 and bins != 40


def test_10g_a_cancelled_run_shows_no_alarming_noise(qtbot: QtBot, window: QtMainWindow) -> None:
    hold = threading.Event()
    window.session.run_function = FakeRuns(hold=hold)
    window.run_panel.request_run()
    qtbot.waitUntil(lambda: window.session.busy, timeout=WAIT_MS)
    with qtbot.waitSignal(window.run_finished, timeout=WAIT_MS) as done:
        window.stop_action.trigger()
    assert any("cuInit" in line for line in done.args[0].result.stderr_tail)  # kept in the file
    window.show_tab("results")
    results = window.results_panel
    assert results.stderr.isHidden() and "cuInit" not in results.facts.text()
    assert "cancelled" in results.facts.text()


def test_the_window_follows_a_palette_change_without_errors(window: QtMainWindow) -> None:
    # the PaletteChange a system theme switch sends reaches every chart without an exception
    for widget in (window.live_panel, window.results_panel.histogram):
        QApplication.sendEvent(widget, QEvent(QEvent.Type.PaletteChange))


# -- the redesign: nothing blocks the GUI thread --------------------------------------------------
def test_a_run_that_ends_before_detection_is_saved_without_blocking(qtbot: QtBot) -> None:
    release = threading.Event()
    w = QtMainWindow(quick_functions(release=release), sampler=False)
    w.confirm_close = lambda: True
    w.session.run_function = FakeRuns(steps=2)
    w.show()
    w.start_detection()
    try:
        with qtbot.waitSignal(w.run_finished, timeout=WAIT_MS):
            w.run_panel.request_run()
        assert w.detecting  # the probe is still out: the machine comes from the OS, off-thread
        w.session.flush()
        path = w.session.autosave_path
        assert path is not None and len(load_snapshot(path).runs) == 1
    finally:
        release.set()
        dispose(w)


def test_the_report_is_written_in_the_background_with_progress(
    qtbot: QtBot, window: QtMainWindow, tmp_path: Path
) -> None:
    from hwprof.core.session import TaskProgressed

    run_once(qtbot, window)
    run_once(qtbot, window)
    steps: list[TaskProgressed] = []
    window.events.on(TaskProgressed, steps.append)
    page = tmp_path / "report.html"
    with qtbot.waitSignal(window.files.report_written, timeout=60_000):
        assert window.export_report(page)
        assert window.session.exporting  # the call returned while the page is being written
    assert [s.done for s in steps if not s.finished] == [1, 2, 3] and steps[-1].finished
    assert page.read_text().startswith("<!DOCTYPE html>")
    assert not window.export_report(page)  # never over an existing file unasked
    assert "exists" in window.status_label.text()

"""Runs from the window, for real (offscreen): results, live charts, Stop, failures, snapshots."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import shiboken6
from gui_helpers import detected_window, dispose, quick_functions
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from pytestqt.qtbot import QtBot

from hwprof.core import events
from hwprof.core.session import RunProgressed
from hwprof.core.snapshot import load_snapshot
from hwprof.gui.main_window import QtMainWindow
from hwprof.workloads.worker import FAULT_ENV

pytestmark = [pytest.mark.gui, pytest.mark.tf]
RUN_TIMEOUT_MS = 120_000


@pytest.fixture
def window(qtbot: QtBot) -> Iterator[QtMainWindow]:
    w = detected_window(qtbot)
    w.confirm_stop = lambda _text: True
    yield w
    w.close()
    for t in w.run_threads():
        if shiboken6.isValid(t):  # else deleted: it finished
            assert not t.isRunning(), "a run QThread still runs"
    dispose(w)


def tiny(w: QtMainWindow, *, workload: str = "mlp", mode: str = "infer", size: int = 16,
         duration: int = 2) -> None:
    panel = w.run_panel
    panel.workload.setCurrentIndex(panel.workload.findData(workload))
    panel.mode.setCurrentIndex(panel.mode.findData(mode))
    panel.size_box.setValue(size)
    panel.duration.setValue(duration)
    panel.warmup.setValue(1)


def test_the_window_lists_the_cpu_and_fake_gpus_and_charts_them(
    qtbot: QtBot, nvml_scenario: Callable[[str], object]
) -> None:
    nvml_scenario("three_mixed")
    w = QtMainWindow(quick_functions())
    try:
        w.show()
        w.start_detection()
        qtbot.waitUntil(lambda: w.report.complete and not w.detecting, timeout=30_000)
        devices = w.run_panel.devices
        keys = [devices.item(i).data(Qt.ItemDataRole.UserRole) for i in range(devices.count())]
        assert keys == ["cpu", "gpu:0", "gpu:1", "gpu:2"]
        gpu = devices.item(1)
        # the fake TensorFlow is a CPU-only build: the GPUs are listed, not runnable, and say why
        assert "T4" in gpu.text() and "TensorFlow cannot use it" in gpu.text()
        assert not gpu.flags() & Qt.ItemFlag.ItemIsEnabled
        # the live charts draw the fake GPUs' readings
        curves = w.live_panel.curves
        assert "gpu0.util_percent" in curves and "gpu2.power_watts" in curves
        qtbot.waitUntil(lambda: w.sampler is not None and w.sampler.ticks >= 2, timeout=10_000)
        w.live_panel.redraw(force=True)
        x, y = w.live_panel.curves["gpu1.power_watts"].getData()
        assert x is not None and len(x) >= 1 and y[-1] > 0
    finally:
        dispose(w)


def test_a_tiny_real_run_end_to_end_then_save_and_open(
    qtbot: QtBot, window: QtMainWindow, tmp_path: Path
) -> None:
    tiny(window)
    with qtbot.waitSignal(window.run_finished, timeout=RUN_TIMEOUT_MS) as finished:
        window.run_action.trigger()
        assert window.tabs.currentWidget() is window.live_panel  # it shows the run
    record = finished.args[0]
    assert record.result.ok, record.result.reason
    table = window.results_panel.table
    assert table.rowCount() == 1
    assert table.item(0, 3).text() == "ok"
    assert "samples/s" in table.item(0, 4).text()
    assert window.live_panel.runs and max(window.live_panel.runs[-1].v) > 0
    assert [m[1] for m in window.live_panel.markers] == ["start mlp", "warm-up done", "end"]
    assert not window.results_panel.histogram.isHidden()  # the new run is selected, with details
    # autosaved into the session's snapshot in the data folder
    window.session.flush()
    path = window.session.autosave_path
    assert path is not None and len(load_snapshot(path).runs) == 1
    # save, then open: the runs come back as a second source in Results
    target = tmp_path / "mine.hwprof.json"
    assert window.save_session(target)
    assert window.open_snapshot(target)
    assert table.rowCount() == 2
    sources = {table.item(r, 2).text() for r in range(2)}
    assert sources == {"this session", "mine.hwprof.json"}
    assert str(target.resolve()) in window.recent_files()
    # a bad file gets a message naming it; the window goes on
    bad = tmp_path / "bad.hwprof.json"
    bad.write_text("{")
    assert not window.open_snapshot(bad)
    assert "bad.hwprof.json: is truncated" in window.status_label.text()
    # dropping a snapshot on the window opens it
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(target))])
    drop = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime,
                      Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
    window.dropEvent(drop)
    assert table.rowCount() == 2  # the same file again replaces its runs


def test_stop_mid_run_keeps_the_partial_result(qtbot: QtBot, window: QtMainWindow) -> None:
    tiny(window, workload="matmul", size=64, duration=120)
    window.run_panel.request_run()
    qtbot.waitUntil(lambda: bool(window.live_panel.runs and window.live_panel.runs[-1].v),
                    timeout=RUN_TIMEOUT_MS)
    with qtbot.waitSignal(window.run_finished, timeout=10_000) as finished:
        window.stop_action.trigger()
    r = finished.args[0].result
    assert r.status == "cancelled" and r.report is not None and len(r.report.steps) > 0
    assert window.results_panel.table.item(0, 3).text().startswith("cancelled")
    qtbot.waitUntil(lambda: not window.session.busy, timeout=5_000)


def test_a_failing_run_shows_its_reason_and_the_window_goes_on(
    qtbot: QtBot, window: QtMainWindow
) -> None:
    tiny(window, workload="matmul", size=64)
    window.session.env = {FAULT_ENV: "raise"}
    with qtbot.waitSignal(window.run_finished, timeout=RUN_TIMEOUT_MS) as finished:
        window.run_panel.request_run()
    r = finished.args[0].result
    assert r.status == "failed" and "fault injected" in (r.reason or "")
    assert "fault injected" in window.status_label.text()
    assert not window.results_panel.stderr.isHidden()
    assert "RuntimeError" in window.results_panel.stderr.toPlainText()
    # and the next run works
    window.session.env = None
    with qtbot.waitSignal(window.run_finished, timeout=RUN_TIMEOUT_MS) as again:
        window.run_panel.request_run()
    assert again.args[0].result.ok


def test_bad_field_values_are_refused_at_the_form(window: QtMainWindow) -> None:
    panel = window.run_panel
    panel.devices.item(0).setCheckState(Qt.CheckState.Unchecked)
    panel.request_run()
    assert panel.error.text() == "tick at least one device"
    panel.devices.item(0).setCheckState(Qt.CheckState.Checked)
    panel.workload.setCurrentIndex(panel.workload.findData("resnet50"))
    panel.size_box.setValue(16)
    panel.request_run()
    assert "size" in panel.error.text() and "at least 32" in panel.error.text()
    assert not window.session.busy and not window.session.pending
    # what a spin box cannot hold cannot be typed
    assert panel.batch.minimum() == 0 and panel.duration.minimum() == 1
    # single-stream is for inference: the choice is off in train mode
    panel.mode.setCurrentIndex(panel.mode.findData("train"))
    assert not panel.scenario.isEnabled()


def test_closing_during_a_run_asks_first(qtbot: QtBot, window: QtMainWindow) -> None:
    tiny(window, workload="matmul", size=64, duration=120)
    window.run_panel.request_run()
    qtbot.waitUntil(lambda: window.session.busy, timeout=5_000)
    window.confirm_close = lambda: False
    window.close()
    assert window.isVisible() and window.session.busy  # "No": nothing happened
    window.confirm_close = lambda: True
    threads = window.run_threads()
    window.close()
    assert not window.isVisible()
    assert all(not shiboken6.isValid(t) or not t.isRunning() for t in threads)
    assert not window.session.busy


def test_queue_runs_one_after_another(qtbot: QtBot, window: QtMainWindow) -> None:
    tiny(window, workload="matmul", size=32, duration=1)
    seen: list[str] = []
    window.events.on(RunProgressed, lambda e: seen.append(type(e.event).__name__) if isinstance(
        e.event, events.Started | events.Result) else None)
    window.run_panel.request_run()
    window.run_panel.request_run()
    # the run in progress and the one waiting
    assert len(window.session.pending) == 1 and window.run_panel.queue_list.count() == 2
    qtbot.waitUntil(lambda: window.results_panel.table.rowCount() == 2, timeout=RUN_TIMEOUT_MS)
    assert seen == ["Started", "Result", "Started", "Result"]  # never overlapping


def test_exports_and_the_snapshot_browser(
    qtbot: QtBot, window: QtMainWindow, tmp_path: Path
) -> None:
    from hwprof.core.paths import snapshots_dir
    from hwprof.gui.snapshots import QtSnapshotBrowser

    assert not window.export_report(tmp_path / "none.html")  # nothing run yet: told, no file
    assert "No run has finished" in window.status_label.text()
    tiny(window, workload="matmul", size=32, duration=1)
    with qtbot.waitSignal(window.run_finished, timeout=RUN_TIMEOUT_MS):
        window.run_panel.request_run()
    # the report: one self-contained page naming the run
    page = tmp_path / "report.html"
    with qtbot.waitSignal(window.files.report_written, timeout=60_000) as written:
        assert window.export_report(page)  # written in the background
    assert written.args[0] == page
    html = page.read_text()
    assert html.startswith("<!DOCTYPE html>") and "matmul" in html
    assert not window.export_report(tmp_path / "missing" / "deeper" / "r.html")
    assert "missing" in window.status_label.text()
    # the charts, as PNG and SVG
    png, svg = tmp_path / "charts.png", tmp_path / "charts.svg"
    window.live_panel.export(str(png))
    window.live_panel.export(str(svg))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5_000
    assert "<svg" in svg.read_text()[:2000]
    with pytest.raises(OSError, match="could not be written"):
        window.live_panel.export(str(tmp_path / "missing" / "charts.png"))
    # the browser lists the autosaved session snapshot in the data folder, unreadable files too
    window.session.flush()
    (snapshots_dir() / "broken.hwprof.json").write_text("not json")
    browser = QtSnapshotBrowser(snapshots_dir())
    qtbot.addWidget(browser)
    files = {browser.table.item(r, 1).text(): browser.table.item(r, 2).text()
             for r in range(browser.table.rowCount())}
    path = window.session.autosave_path
    assert path is not None and path.name in files
    assert files["broken.hwprof.json"].startswith("unreadable")
    row = list(files).index(path.name)
    browser.table.selectRow(row)
    browser._open()
    assert browser.chosen == path

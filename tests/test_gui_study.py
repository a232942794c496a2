"""The Compare and Roofline tabs, for real (offscreen): studies through the window's run queue."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from gui_helpers import detected_window, dispose
from pytestqt.qtbot import QtBot

from hwprof.core.study import tag_value
from hwprof.gui.main_window import QtMainWindow
from hwprof.workloads.worker import FAULT_ENV

pytestmark = [pytest.mark.gui, pytest.mark.tf]
STUDY_TIMEOUT_MS = 240_000


@pytest.fixture
def window(qtbot: QtBot) -> Iterator[QtMainWindow]:
    w = detected_window(qtbot)
    panel = w.run_panel
    panel.workload.setCurrentIndex(panel.workload.findData("mlp"))
    panel.mode.setCurrentIndex(panel.mode.findData("infer"))
    panel.size_box.setValue(16)
    panel.warmup.setValue(1)
    yield w
    dispose(w)


def test_compare_two_thread_counts_in_the_window(qtbot: QtBot, window: QtMainWindow) -> None:
    study = window.study_panel
    window.show_tab("compare")
    assert "mlp infer cpu" in study.base_label.text()
    study.targets.setPlainText("cpu threads=1\ncpu threads=2")
    study.trials.setValue(2)
    study.seconds.setValue(1.6)
    assert [study.baseline.itemText(i) for i in range(study.baseline.count())] == [
        "cpu threads=1", "cpu threads=2"]
    with qtbot.waitSignal(study.study_finished, timeout=STUDY_TIMEOUT_MS) as done:
        study.start_button.click()
        assert not study.start_button.isEnabled() and study.stop_button.isEnabled()
    analysis = done.args[0]
    assert [r["target"] for r in analysis["rows"]] == ["cpu threads=1", "cpu threads=2"]
    assert study.table.rowCount() == 2 and study.table.item(0, 3).text() == "baseline"
    verdict = analysis["verdicts"][0]
    assert verdict.split(" (")[0] in study.findings.text()
    assert window.results_panel.table.rowCount() == 4  # every trial is a result too
    window.session.flush()
    assert window.session.snapshot is not None
    runs = window.session.snapshot.runs
    assert {tag_value(r, "target") for r in runs} == {"cpu threads=1", "cpu threads=2"}
    assert study.start_button.isEnabled() and not study.stop_button.isEnabled()


def test_a_batch_sweep_stops_at_out_of_memory(qtbot: QtBot, window: QtMainWindow) -> None:
    study = window.study_panel
    study.kind.setCurrentIndex(study.kind.findData("batch"))
    assert study.values.isEnabled() and not study.baseline.isEnabled()
    study.targets.setPlainText("cpu")
    study.values.setText("1, 2, 4, 8")
    study.seconds.setValue(0.5)
    window.session.env = {FAULT_ENV: "oom_above_batch=2"}
    with qtbot.waitSignal(study.study_finished, timeout=STUDY_TIMEOUT_MS) as done:
        study.start()
    a = done.args[0]
    assert a["x"] == [1.0, 2.0, 4.0]
    assert "cpu: out of memory at batch size 4; its sweep ends there" in study.findings.text()
    assert [study.table.item(i, 0).text() for i in range(study.table.rowCount())] == [
        "1", "2", "4"]
    assert study.table.item(2, 1).text() == "—"


def test_bad_study_input_is_refused_at_the_form(window: QtMainWindow) -> None:
    study = window.study_panel
    for text, says in (("npu", "starts with a device"), ("cpu", "two targets or more"),
                       ("cpu\ncpu", "same target twice"), ("cpu\ncpu threads=0", "at least 1")):
        study.targets.setPlainText(text)
        study.start()
        assert says in study.error.text(), (text, study.error.text())
        assert study.study is None and not window.session.busy
    study.kind.setCurrentIndex(study.kind.findData("size"))
    study.targets.setPlainText("cpu")
    study.values.setText("8,x")
    study.start()
    assert "numbers separated by commas" in study.error.text()


def test_roofline_measures_and_places_runs(qtbot: QtBot, window: QtMainWindow) -> None:
    roof = window.roofline_panel
    window.show_tab("roofline")
    assert "not measured yet" in roof.summary.text()
    assert [roof.device.itemData(i) for i in range(roof.device.count())] == ["cpu"]
    roof.seconds = 0.5
    roof.measure_button.click()
    qtbot.waitUntil(lambda: roof.measure_button.isEnabled(), timeout=STUDY_TIMEOUT_MS)
    assert "compute fp32" in roof.summary.text() and "ridge at" in roof.summary.text()
    assert roof.ceilings is not None and roof.ceilings.peak_flops > 1e9
    # the measuring runs are not the person's runs: neither in Results nor in the snapshot
    assert window.results_panel.table.rowCount() == 0 and not window.session.session_runs()
    # a run of the person's sits on the roofline
    run = window.run_panel
    run.workload.setCurrentIndex(run.workload.findData("matmul"))
    run.mode.setCurrentIndex(run.mode.findData("infer"))
    run.size_box.setValue(64)
    run.duration.setValue(1)
    with qtbot.waitSignal(window.run_finished, timeout=STUDY_TIMEOUT_MS):
        run.request_run()
    window.show_tab("roofline")
    rows = [roof.table.item(i, 0).text() for i in range(roof.table.rowCount())]
    assert rows and all(r.startswith("matmul infer cpu") for r in rows)
    assert roof.table.item(0, 1).text() != "unknown"


def test_scaling_over_devices_in_the_window(qtbot: QtBot, window: QtMainWindow) -> None:
    run = window.run_panel
    run.mode.setCurrentIndex(run.mode.findData("train"))
    study = window.study_panel
    study.kind.setCurrentIndex(study.kind.findData("replicas"))
    study.targets.setPlainText("cpu")
    study.values.setText("1,2")
    study.seconds.setValue(1.0)
    with qtbot.waitSignal(study.study_finished, timeout=STUDY_TIMEOUT_MS) as done:
        study.start()
    a = done.args[0]
    assert a["x"] == [1.0, 2.0] and a["scaling"]["cpu"]["efficiency"][0] == 1.0
    headers = [study.table.horizontalHeaderItem(i).text() for i in range(study.table.columnCount())]
    assert headers == ["replicas (devices)", "cpu", "cpu: efficiency"]
    assert study.table.item(0, 2).text() == "100%" and study.table.item(1, 2).text().endswith("%")
    assert "still pays off" in study.findings.text() or "stops paying off" in study.findings.text()

"""The deployment lane in the window (offscreen): Runtime choice, a TFLite run, studies."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from gui_helpers import detected_window, dispose, quick_functions
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from hwprof.gui.main_window import QtMainWindow
from hwprof.gui.results_panel import COLUMNS

pytestmark = [pytest.mark.gui]
RUN_TIMEOUT_MS = 180_000
DEPLOYED = [c for c, _ in COLUMNS].index("deployed")


@pytest.fixture
def window(qtbot: QtBot) -> Iterator[QtMainWindow]:
    w = detected_window(qtbot)
    yield w
    dispose(w)


def tflite_form(w: QtMainWindow, workload: str = "mlp", precision: str = "int8") -> None:
    panel = w.run_panel
    panel.workload.setCurrentIndex(panel.workload.findData(workload))
    panel.mode.setCurrentIndex(panel.mode.findData("train"))
    panel.runtime.setCurrentIndex(panel.runtime.findData("tflite"))
    panel.precision.setCurrentIndex(panel.precision.findData(precision))
    panel.size_box.setValue(16)
    panel.batch.setValue(8)
    panel.duration.setValue(2)
    panel.warmup.setValue(1)


def precisions(w: QtMainWindow) -> list[str]:
    box = w.run_panel.precision
    return [str(box.itemData(i)) for i in range(box.count())]


def test_the_runtime_choice_offers_tflites_precisions_and_forces_inference(
    window: QtMainWindow,
) -> None:
    panel = window.run_panel
    panel.workload.setCurrentIndex(panel.workload.findData("mlp"))
    assert precisions(window) == ["fp32", "mixed_float16", "mixed_bfloat16"]
    panel.mode.setCurrentIndex(panel.mode.findData("train"))
    panel.xla.setChecked(True)
    tflite_form(window)
    assert precisions(window) == ["fp32", "fp16", "int8_dynamic", "int8"]
    assert panel.precision.currentText() == "int8 full integer (calibrated)"
    # TFLite serves a model: inference, no XLA, each disabled with the reason
    assert panel.mode.currentData() == "infer" and not panel.mode.isEnabled()
    assert not panel.xla.isChecked() and not panel.xla.isEnabled()
    assert "interpreter" in panel.xla.toolTip()
    spec = panel.specs()[0]
    assert (spec.runtime, spec.precision, spec.mode, spec.xla) == ("tflite", "int8", "infer",
                                                                   False)
    assert spec.label().startswith("mlp infer cpu") and "tflite" in spec.label()
    # back to TensorFlow: its precisions (fp32 kept), train and XLA possible again
    panel.runtime.setCurrentIndex(panel.runtime.findData("tf"))
    assert precisions(window) == ["fp32", "mixed_float16", "mixed_bfloat16"]
    assert panel.precision.currentData() == "fp32"
    assert panel.mode.isEnabled() and panel.xla.isEnabled()
    assert panel.specs()[0].runtime == "tf"
    # a workload with no Keras model cannot be converted: the runtime is TensorFlow, fixed
    tflite_form(window)
    panel.workload.setCurrentIndex(panel.workload.findData("matmul"))
    assert panel.runtime.currentData() == "tf" and not panel.runtime.isEnabled()
    assert "converted Keras model" in panel.runtime.toolTip()
    assert precisions(window) == ["fp32", "mixed_float16", "mixed_bfloat16"]


def test_tflite_disables_the_gpus_with_the_reason(
    qtbot: QtBot, nvml_scenario: Callable[[str], object]
) -> None:
    from hwprof.core.devices import PartialReport

    nvml_scenario("three_mixed")
    w = QtMainWindow(quick_functions())
    try:
        w.start_detection()
        qtbot.waitUntil(lambda: w.report.complete and not w.detecting, timeout=30_000)
        assert w.report.gpus
        # GPUs TensorFlow could use (the fake probe's build has no CUDA: say it has)
        gpus = tuple(g.model_copy(update={"tensorflow_missing_reason": None, "error": None})
                     for g in w.report.gpus)
        panel = w.run_panel
        panel.set_devices(PartialReport(gpus=gpus))
        devices = panel.devices
        gpu = devices.item(1)
        assert gpu.flags() & Qt.ItemFlag.ItemIsEnabled
        gpu.setCheckState(Qt.CheckState.Checked)
        tflite_form(w)
        gpu = devices.item(1)
        assert not gpu.flags() & Qt.ItemFlag.ItemIsEnabled
        assert gpu.checkState() == Qt.CheckState.Unchecked
        assert "GPU delegate" in gpu.toolTip() and "GPU delegate" in gpu.text()
        assert panel.selected_devices() == ["cpu"]
        panel.runtime.setCurrentIndex(panel.runtime.findData("tf"))
        assert devices.item(1).flags() & Qt.ItemFlag.ItemIsEnabled
    finally:
        dispose(w)


@pytest.mark.tf
def test_a_tflite_run_shows_its_runtime_model_and_accuracy(
    qtbot: QtBot, window: QtMainWindow
) -> None:
    tflite_form(window)
    with qtbot.waitSignal(window.run_finished, timeout=RUN_TIMEOUT_MS) as finished:
        window.run_action.trigger()
    record = finished.args[0]
    assert record.result.ok, record.result.reason
    table = window.results_panel.table
    assert table.rowCount() == 1
    cell = table.item(0, DEPLOYED).text()
    assert "KiB" in cell and "top-1 " in cell and "%" in cell, cell
    assert "XNNPACK" in table.item(0, DEPLOYED).toolTip()
    facts = window.results_panel.facts.text()
    assert "runtime: tf.lite" in facts and "XNNPACK delegate" in facts
    assert "model: " in facts and (".tflite, converted in" in facts
                                   or ".tflite, from the cache" in facts)
    assert "top-1 agreement" in facts and "max rel. error" in facts


@pytest.mark.tf
def test_a_comparison_with_tflite_targets_shows_model_and_accuracy_columns(
    qtbot: QtBot, window: QtMainWindow
) -> None:
    panel = window.run_panel
    panel.workload.setCurrentIndex(panel.workload.findData("mlp"))
    panel.mode.setCurrentIndex(panel.mode.findData("infer"))
    panel.size_box.setValue(16)
    panel.batch.setValue(8)
    panel.warmup.setValue(1)
    study = window.study_panel
    window.show_tab("compare")
    study.targets.setPlainText("cpu\ncpu tflite int8")
    study.trials.setValue(1)
    study.seconds.setValue(1.5)
    with qtbot.waitSignal(study.study_finished, timeout=RUN_TIMEOUT_MS * 2) as done:
        study.start_button.click()
    analysis = done.args[0]
    assert [r["target"] for r in analysis["rows"]] == ["cpu", "cpu tflite int8"]
    table = study.table
    headers = [table.horizontalHeaderItem(c).text() for c in range(table.columnCount())]
    for col in ("model", "top-1 agreement", "max rel. error"):
        assert col in headers
    model, agree = headers.index("model"), headers.index("top-1 agreement")
    assert table.item(0, model).text() == "—"  # TensorFlow's row has no .tflite model
    assert "KiB" in table.item(1, model).text()
    assert table.item(1, agree).text().endswith("%")


def test_tflite_turns_off_the_pipeline_and_the_trace(qtbot: QtBot) -> None:
    """A TFLite run can have neither (the spec refuses both): the form sets them off and back."""
    from hwprof.gui.run_panel import QtRunPanel
    from hwprof.gui.session_adapter import QtSessionEvents
    from hwprof.services.session import Session

    events = QtSessionEvents(Session(autosave=False))
    panel = QtRunPanel(events.session, events)
    qtbot.addWidget(panel)
    panel.workload.setCurrentIndex(panel.workload.findData("cifar10_cnn"))
    panel.data.setCurrentIndex(panel.data.findData("pipeline"))
    panel.trace.setChecked(True)
    panel.runtime.setCurrentIndex(panel.runtime.findData("tflite"))
    assert panel.data.currentData() == "synthetic" and not panel.data.isEnabled()
    assert not panel.trace.isChecked() and not panel.trace.isEnabled()
    panel.runtime.setCurrentIndex(panel.runtime.findData("tf"))
    assert panel.data.isEnabled() and panel.trace.isEnabled()
    events.detach()

"""The window on a TPU host (fake PCI tree, fake tpu_info): Devices panel and Live charts."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import pytest
import shiboken6
from fakes.tpu import TpuHost, install_tpu_info
from gui_helpers import dispose, fake_tensorflow, quick_functions
from pytestqt.qtbot import QtBot

from hwprof.sampling.sampler import Sampler

TpuScenario = Callable[[str | None], TpuHost]


@pytest.mark.gui
def test_devices_panel_lists_tpu_chips_with_what_tensorflow_needs(  # type: ignore[no-untyped-def]
    qtbot: QtBot, nvml_scenario, tpu_scenario: TpuScenario,
) -> None:
    from hwprof.gui.main_window import QtMainWindow

    nvml_scenario("missing")
    tpu_scenario("v5litepod-4")
    tf = fake_tensorflow().model_copy(update={"libtpu": False})
    window = QtMainWindow(quick_functions(tf))
    window.show()
    try:
        window.start_detection()
        if not (window.report.complete and not window.detecting):
            with qtbot.waitSignal(window.detection_finished, timeout=30_000):
                pass
        panel = window.devices_panel
        node = panel.item("tpus")
        assert node is not None and node.text(1) == "4 · tpu:N" and node.childCount() == 4
        chip = panel.item("tpu:2")
        assert chip is not None and chip.text(0) == "TPU 2 · v5e"
        assert chip.text(1) == "16 GiB HBM · 1 TensorCore · 197 TFLOP/s bf16"
        assert "pip install tensorflow-tpu" in chip.toolTip(0)
        from hwprof.gui.status_bar import ready_message

        assert ready_message(window.report).endswith("; 4 TPU chips")

        assert panel.select("tpu:2")
        rows = dict(panel.details_rows())
        assert rows["hwprof device"] == "tpu:2" and rows["PCI bus ID"] == "0000:00:07.0"
        assert rows["Device node"] == "/dev/vfio/2" and rows["HBM"] == "16 GiB"
        assert "libtpu" in rows["TensorFlow"] and rows["BF16 peak"] == "197 TFLOP/s"

        assert panel.select("tpus")
        rows = dict(panel.details_rows())
        assert rows["Chips"] == "4" and rows["Live readings"] == "pip install tpu-info"
    finally:
        with contextlib.suppress(RuntimeError):
            if shiboken6.isValid(window):
                dispose(window)


@pytest.mark.gui
def test_live_charts_draw_the_duty_cycle_and_hbm(  # type: ignore[no-untyped-def]
    qtbot: QtBot, nvml_scenario, tpu_scenario: TpuScenario, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from hwprof.gui.live_panel import QtLivePanel

    nvml_scenario("missing")
    tpu_scenario("v5litepod-4")
    install_tpu_info(monkeypatch, "v5litepod-4")
    sampler = Sampler(0.5, host=False, process=False)
    panel = QtLivePanel(sampler)
    qtbot.addWidget(panel)
    try:
        assert panel.series["util"][:2] == ["tpu0.util_percent", "tpu1.util_percent"]
        assert "tpu3.memory_used_bytes" in panel.series["memory"]
        assert "TPU chips have no live readings" not in panel.note.text()
    finally:
        panel.timer.stop()
        sampler.stop()


@pytest.mark.gui
def test_live_charts_say_when_tpu_info_is_missing(  # type: ignore[no-untyped-def]
    qtbot: QtBot, nvml_scenario, tpu_scenario: TpuScenario,
) -> None:
    from hwprof.gui.live_panel import QtLivePanel

    nvml_scenario("missing")
    tpu_scenario("v4-8")
    sampler = Sampler(0.5, host=False, process=False)
    panel = QtLivePanel(sampler)
    qtbot.addWidget(panel)
    try:
        assert "TPU chips have no live readings: pip install tpu-info" in panel.note.text()
    finally:
        panel.timer.stop()
        sampler.stop()

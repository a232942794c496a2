"""The window's Devices panel on a mixed NVIDIA + AMD + Intel machine (fake drivers)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import pytest
import shiboken6
from fakes.amd import AmdMachine
from fakes.intel import IntelMachine
from gui_helpers import dispose, fake_tensorflow, quick_functions
from pytestqt.qtbot import QtBot

from hwprof.services import runs


@pytest.mark.gui
def test_devices_panel_shows_nvidia_amd_and_intel_gpus(  # type: ignore[no-untyped-def]
    qtbot: QtBot, nvml_scenario, amd_scenario: Callable[[str], AmdMachine],
    intel_scenario: Callable[[str], IntelMachine], monkeypatch: pytest.MonkeyPatch,
) -> None:
    from hwprof.gui.main_window import QtMainWindow

    nvml_scenario("one_t4")
    amd_scenario("one_mi300x")
    intel_scenario("igpu_and_a770")
    monkeypatch.setattr(runs, "intel_extension_installed", lambda: False)
    window = QtMainWindow(quick_functions(fake_tensorflow(cuda=True)))
    window.show()
    try:
        window.start_detection()
        if not (window.report.complete and not window.detecting):
            with qtbot.waitSignal(window.detection_finished, timeout=30_000):
                pass
        panel = window.devices_panel
        gpus = panel.item("gpus")
        assert gpus is not None
        assert gpus.text(1) == "4 · NVIDIA driver 550.163.01 · amdgpu 6.8.5 · i915"
        assert gpus.childCount() == 4
        a770 = panel.item("gpu:3")
        assert a770 is not None and a770.text(0) == "GPU 3 · Intel Arc A770"
        assert a770.text(1).startswith("Intel · 16") and "Xe-HPG" in a770.text(1)
        assert "pip install intel-extension-for-tensorflow[xpu]" in a770.toolTip(0)

        assert panel.select("gpu:3")
        rows = dict(panel.details_rows())
        assert rows["GPU vendor"] == "Intel" and rows["hwprof device"] == "gpu:3"
        assert rows["Level Zero index"] == "1" and rows["Xe-cores"] == "32"
        assert rows["GT clock max"].startswith("2400") and rows["Power cap (now)"].startswith("225")
        assert "intel-extension-for-tensorflow" in rows["Not visible to TensorFlow"]
        assert "perf" in rows["Engine busyness"] and "Formula" in rows

        assert panel.select("gpu:2")  # the iGPU: no local memory, no hwmon
        rows = dict(panel.details_rows())
        assert "integrated" in rows["Memory"] and rows["Level Zero index"] == "0"

        assert panel.select("gpus")
        rows = dict(panel.details_rows())
        assert rows["Driver version"] == "550.163.01" and rows["amdgpu version"] == "6.8.5"
        assert rows["Kernel drivers"] == "i915"
    finally:
        with contextlib.suppress(RuntimeError):
            if shiboken6.isValid(window):
                dispose(window)

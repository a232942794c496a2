"""The window's Devices panel and status line on an Apple silicon Mac (a fake Mac's commands)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import pytest
import shiboken6
from fakes.apple import FakeMac
from gui_helpers import dispose, fake_tensorflow, quick_functions
from pytestqt.qtbot import QtBot

from hwprof.services import runs


@pytest.mark.gui
def test_devices_panel_shows_the_apple_gpu(  # type: ignore[no-untyped-def]
    qtbot: QtBot, nvml_scenario, apple_scenario: Callable[..., FakeMac],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from hwprof.gui.main_window import QtMainWindow

    nvml_scenario("missing")
    apple_scenario("m2max_idle")
    monkeypatch.setattr(runs, "metal_plugin_installed", lambda: False)
    window = QtMainWindow(quick_functions(fake_tensorflow(cuda=False)))
    window.show()
    try:
        window.start_detection()
        if not (window.report.complete and not window.detecting):
            with qtbot.waitSignal(window.detection_finished, timeout=30_000):
                pass
        panel = window.devices_panel
        gpus = panel.item("gpus")
        assert gpus is not None
        assert gpus.text(1) == "1 · Apple M2 Max"
        m2 = panel.item("gpu:0")
        assert m2 is not None and m2.text(0) == "GPU 0 · Apple M2 Max"
        assert m2.text(1).startswith("Apple · 38 GPU cores · 64") and "unified" in m2.text(1)
        assert "pip install tensorflow-metal" in m2.toolTip(0)

        assert panel.select("gpu:0")
        rows = dict(panel.details_rows())
        assert rows["Chip"] == "Apple M2 Max" and rows["GPU vendor"] == "Apple"
        assert rows["GPU cores"] == "38" and "shared with the CPU" in rows["Unified memory"]
        assert rows["Metal"] == "Metal 3" and "powermetrics" in rows["GPU power"]
        assert "tensorflow-metal" in rows["Not visible to TensorFlow"] and "Formula" in rows

        assert panel.select("gpus")
        rows = dict(panel.details_rows())
        assert rows["Chip"] == "Apple M2 Max"
        assert rows["CPU cores"] == "8 performance + 4 efficiency"
        from hwprof.gui.status_bar import ready_message

        assert ready_message(window.report).endswith(
            "; NVIDIA: no driver (NVML library not found); Apple: 1 GPU")
    finally:
        with contextlib.suppress(RuntimeError):
            if shiboken6.isValid(window):
                dispose(window)

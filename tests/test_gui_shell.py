"""The desktop window's shell and Devices panel, offscreen (pytest-qt)."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from importlib import metadata
from pathlib import Path

import psutil
import PySide6
import pytest
import shiboken6
from gui_helpers import (
    FAKE_TF_VERSION,
    cpu_model_name,
    dispose,
    fake_tensorflow,
    quick_functions,
)
from PySide6.QtCore import QByteArray, QThread
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

import hwprof
from hwprof.core.devices import PartialReport
from hwprof.core.units import fmt_bytes
from hwprof.gui.main_window import QtMainWindow
from hwprof.gui.resources import app_icon, resources_dir
from hwprof.gui.settings import open_settings, settings_path
from hwprof.services.detect import DetectFunctions

pytestmark = pytest.mark.gui

DETECT_TIMEOUT_MS = 30_000
MakeWindow = Callable[..., QtMainWindow]


@pytest.fixture
def make_window(qtbot: QtBot) -> Iterator[MakeWindow]:
    """Open windows with the given detection steps; at the end, no detection thread may run."""
    windows: list[QtMainWindow] = []
    threads: list[QThread] = []

    def make(
        functions: Callable[[], DetectFunctions] | None = None, start: bool = True
    ) -> QtMainWindow:
        window = QtMainWindow(functions or quick_functions())
        qtbot.addWidget(window)
        window.show()
        if start:
            window.start_detection()
            thread = window.detection_thread()
            assert thread is not None
            threads.append(thread)
        windows.append(window)
        return window

    yield make
    for window in windows:
        if shiboken6.isValid(window):
            window.close()
    for thread in threads:
        with contextlib.suppress(RuntimeError):  # already deleted: it finished
            assert thread.isFinished() or not thread.isRunning(), "a detection QThread still runs"
    for window in windows:
        dispose(window)


def finished(qtbot: QtBot, window: QtMainWindow) -> PartialReport:
    """Wait for the window's detection to complete."""
    if window.report.complete and not window.detecting:
        return window.report
    with qtbot.waitSignal(window.detection_finished, timeout=DETECT_TIMEOUT_MS) as blocker:
        pass
    report = blocker.args[0]
    assert isinstance(report, PartialReport)
    return report


def test_window_lists_this_cpu_and_three_fake_gpus(
    qtbot: QtBot, make_window: MakeWindow, nvml_scenario: Callable[[str], object]
) -> None:
    nvml_scenario("three_mixed")
    window = make_window()
    # the host only: Qt appends the application's name ("host — hwprof"), once
    assert window.windowTitle() == socket.gethostname()
    report = finished(qtbot, window)
    texts = window.devices_panel.tree_texts()
    model = cpu_model_name()
    if model:
        assert model in texts
    gpu_titles = [t for t in texts if t.startswith("GPU ")]
    assert len(gpu_titles) == 3
    assert any("T4" in t for t in gpu_titles)
    assert any("A100" in t for t in gpu_titles)
    assert any("H100" in t for t in gpu_titles)
    assert window.status_label.text().startswith("Ready: 1 CPU, 3 GPUs")
    # the fake TensorFlow is a CPU-only build: every GPU is marked, with the reason
    assert report.gpus and all(g.tensorflow_missing_reason for g in report.gpus)
    item = window.devices_panel.item("gpu:0")
    assert item is not None
    assert "no CUDA support" in item.toolTip(0)
    assert "not visible to TensorFlow" in item.text(1)
    assert window.devices_panel.select("gpu:0")
    rows = dict(window.devices_panel.details_rows())
    assert "no CUDA support" in rows["Not visible to TensorFlow"]
    assert rows["Memory"].endswith("GiB")
    assert rows["Power limit (default)"].endswith(" W")
    assert "Formula" in rows
    assert window.devices_panel.select("gpus")
    rows = dict(window.devices_panel.details_rows())
    assert rows["Driver version"] == "550.163.01"
    assert rows["GPUs"] == "3"


def test_no_nvidia_driver_is_one_clear_line(
    qtbot: QtBot, make_window: MakeWindow, nvml_scenario: Callable[[str], object]
) -> None:
    nvml_scenario("missing")
    window = make_window()
    finished(qtbot, window)
    gpus = window.devices_panel.item("gpus")
    assert gpus is not None
    assert gpus.childCount() == 1
    line = gpus.child(0)
    assert line is not None and line.text(0) == "no NVIDIA driver: NVML library not found"
    assert window.status_label.text() == (
        "Ready: 1 CPU, 0 GPUs; NVIDIA: no driver (NVML library not found)"
    )


def test_lost_gpu_shows_its_error_and_the_other_gpu(
    qtbot: QtBot, make_window: MakeWindow, nvml_scenario: Callable[[str], object]
) -> None:
    nvml_scenario("gpu_lost")
    window = make_window()
    finished(qtbot, window)
    lost = window.devices_panel.item("gpu:1")
    good = window.devices_panel.item("gpu:0")
    assert lost is not None and good is not None
    assert "A100" in good.text(0)
    assert "GPU is lost" in lost.text(1)
    assert window.devices_panel.select("gpu:1")
    rows = dict(window.devices_panel.details_rows())
    assert "GPU is lost" in rows["Error"]


def test_cpu_details_show_every_fact_with_units(
    qtbot: QtBot, make_window: MakeWindow, nvml_scenario: Callable[[str], object]
) -> None:
    nvml_scenario("missing")
    window = make_window()
    report = finished(qtbot, window)
    assert report.cpus
    cpu = report.cpus[0]
    assert window.devices_panel.select("cpu:0")
    rows = window.devices_panel.details_rows()
    fields = dict(rows)
    titles = [f for f, v in rows if v == ""]
    assert "Peak arithmetic (estimate)" in titles
    assert fields["Logical CPUs"] == str(cpu.logical_cpus)
    assert fields["DL extensions"] == (" ".join(cpu.dl_extensions) or "none")
    for cache in cpu.caches:
        assert fields[cache.label].startswith(fmt_bytes(cache.size_bytes))
        assert f"× {cache.instances}" in fields[cache.label]
    if cpu.peak is not None:
        assert fields["Formula"] == cpu.peak.formula
        assert fields["FP32 peak"].endswith("FLOP/s")
    for field in ("Base clock", "Max clock", "Current clock"):
        assert fields[field] == "n/a" or fields[field].endswith("Hz")
    # every field explains itself
    top = window.devices_panel.details.topLevelItem(1)
    first = top.child(0) if top is not None else None
    assert first is not None and first.toolTip(0)


def test_window_shows_before_detection_finishes(
    qtbot: QtBot, make_window: MakeWindow, nvml_scenario: Callable[[str], object]
) -> None:
    nvml_scenario("one_t4")
    release = threading.Event()
    window = make_window(quick_functions(release=release))
    qtbot.waitExposed(window)
    assert window.isVisible()
    # host, GPUs and CPU arrive while TensorFlow is still being asked
    qtbot.waitUntil(lambda: window.report.cpus is not None, timeout=DETECT_TIMEOUT_MS)
    assert window.report.tensorflow is None
    assert window.detecting
    assert "T4" in " ".join(window.devices_panel.tree_texts())
    tf_item = window.devices_panel.item("tensorflow")
    assert tf_item is not None and tf_item.text(1) == "probing…"
    assert window.status_label.text().startswith("Probing TensorFlow")
    release.set()
    report = finished(qtbot, window)
    assert report.tensorflow is not None and report.tensorflow.version == FAKE_TF_VERSION


def test_closing_during_the_real_probe_ends_everything_quickly(
    qtbot: QtBot, make_window: MakeWindow, nvml_scenario: Callable[[str], object]
) -> None:
    from hwprof.services.detect import default_detect_functions

    nvml_scenario("missing")
    window = make_window(default_detect_functions)
    thread = window.detection_thread()
    assert thread is not None
    me = psutil.Process()
    # the probe child is running (it starts first, alongside the CPU detection)
    qtbot.waitUntil(lambda: len(me.children(recursive=True)) > 0, timeout=10_000)
    t0 = time.monotonic()
    window.close()
    elapsed = time.monotonic() - t0
    assert elapsed < 3.0, f"closing took {elapsed:.1f} s"
    assert not shiboken6.isValid(thread) or not thread.isRunning()  # deleted once it ended
    assert window.detection_thread() is None
    alive = [p for p in me.children(recursive=True) if p.status() != psutil.STATUS_ZOMBIE]
    assert alive == []


def test_refresh_detects_again(
    qtbot: QtBot, make_window: MakeWindow, nvml_scenario: Callable[[str], object]
) -> None:
    nvml_scenario("no_gpus")
    window = make_window()
    finished(qtbot, window)
    assert window.refresh_action.shortcut().toString() == "F5"
    with qtbot.waitSignal(window.detection_finished, timeout=DETECT_TIMEOUT_MS):
        window.refresh_action.trigger()
    assert window.status_label.text().startswith("Ready: 1 CPU, 0 GPUs")
    gpus = window.devices_panel.item("gpus")
    line = gpus.child(0) if gpus is not None else None
    assert line is not None and line.text(0) == "the NVIDIA driver sees no GPUs"


def test_menus_shortcuts_and_tabs(make_window: MakeWindow) -> None:
    window = make_window(start=False)
    assert window.open_action.shortcut().toString() == "Ctrl+O"
    assert window.save_action.shortcut().toString() == "Ctrl+S"
    assert window.quit_action.shortcut().toString() == "Ctrl+Q"
    assert window.run_action.shortcut().toString() == "Ctrl+R"
    assert window.stop_action.shortcut().toString() == "Ctrl+."  # never Escape
    for action in (window.open_action, window.save_action, window.run_action):
        assert action.isEnabled() and action.toolTip()
    assert not window.stop_action.isEnabled()  # nothing runs
    menus = [a.text().replace("&", "") for a in window.menuBar().actions()]
    assert menus == ["File", "Run", "View", "Help"]
    tabs = [window.tabs.tabText(i) for i in range(window.tabs.count())]
    assert tabs == ["Home", "Profiles", "Run", "Live", "Results", "Compare", "Roofline"]
    assert all(window.tabs.tabToolTip(i) for i in range(window.tabs.count()))
    # another panel can take a tab's place
    from PySide6.QtWidgets import QLabel

    live = QLabel("charts")
    window.set_panel("live", live)
    assert window.tabs.widget(3) is live and window.tabs.tabText(3) == "Live"


def test_theme_toggle_changes_the_palette_and_is_remembered(make_window: MakeWindow) -> None:
    window = make_window(start=False)
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    window.theme_actions["dark"].trigger()
    assert app.palette().color(QPalette.ColorRole.Window).lightness() < 100
    assert app.style().name().lower() == "fusion"
    assert open_settings().value("view/theme") == "dark"
    window.theme_actions["light"].trigger()
    assert app.palette().color(QPalette.ColorRole.Window).lightness() > 180
    window.theme_actions["system"].trigger()
    assert window.theme in ("light", "dark")
    window.theme_actions["dark"].trigger()
    window.close()
    again = make_window(start=False)
    assert again.theme_mode == "dark" and again.theme_actions["dark"].isChecked()
    again.theme_actions["light"].trigger()  # leave the shared application light


def test_about_lists_the_versions(
    qtbot: QtBot, make_window: MakeWindow, nvml_scenario: Callable[[str], object]
) -> None:
    nvml_scenario("one_t4")
    window = make_window(quick_functions(tf=fake_tensorflow(cuda=True)))
    finished(qtbot, window)
    dialog = window.show_about()
    qtbot.addWidget(dialog)
    text = dialog.text()
    for expected in (
        f"hwprof: {hwprof.__version__}",
        platform.python_version(),
        PySide6.__version__,
        metadata.version("pyqtgraph"),
        f"TensorFlow: {FAKE_TF_VERSION}",
        "CUDA (TensorFlow build): 12.5.1",
        "cuDNN (TensorFlow build): 9",
        "NVIDIA driver: 550.163.01",
    ):
        assert expected in text
    assert FAKE_TF_VERSION in dialog.label.text()
    dialog.close()


def test_geometry_and_splitters_persist(make_window: MakeWindow) -> None:
    window = make_window(start=False)
    # smaller than the offscreen platform's 800x600 screen, which restoreGeometry clamps to
    window.resize(700, 500)
    window.splitter.setSizes([300, 400])
    sizes = window.splitter.sizes()
    window.close()
    assert settings_path().is_file()
    assert str(settings_path()).startswith(os.environ["XDG_CONFIG_HOME"])
    assert isinstance(open_settings().value("window/geometry"), QByteArray)
    again = make_window(start=False)
    assert (again.width(), again.height()) == (700, 500)
    assert abs(again.splitter.sizes()[0] - sizes[0]) <= 2


def test_default_size_fits_the_screen(make_window: MakeWindow) -> None:
    window = make_window(start=False)
    screen = window.screen().availableGeometry()
    # 1440x900 on a 1600x1000 screen, 90% of smaller ones (1152x720 on 1280x800)
    assert window.width() == min(1440, int(screen.width() * 0.9))
    assert window.height() == min(900, int(screen.height() * 0.9))


def test_icon_found_and_a_missing_icon_is_harmless(tmp_path: Path) -> None:
    assert (resources_dir() / "icons" / "hwprof.svg").is_file()
    for size in (16, 32, 48, 64, 128, 256):
        png = resources_dir() / "icons" / "hicolor" / f"{size}x{size}" / "apps" / "hwprof.png"
        assert png.is_file()
    assert not app_icon().isNull()
    assert app_icon(tmp_path).isNull()


_REAL_RUN = textwrap.dedent(
    """
    import json, sys
    from hwprof.gui.app import make_application
    from hwprof.gui.main_window import QtMainWindow
    app = make_application([])
    window = QtMainWindow()
    window.show()
    out = {}
    def done(report):
        out["tf_status"] = report.tensorflow.status
        out["tf_version"] = report.tensorflow.version
        out["tree"] = window.devices_panel.tree_texts()
        out["status"] = window.status_label.text()
        out["tensorflow_imported"] = "tensorflow" in sys.modules
        window.close()
    window.detection_finished.connect(done)
    window.start_detection()
    app.exec()
    print(json.dumps(out))
    """
)


def test_real_detection_with_the_probe_never_imports_tensorflow(tmp_path: Path) -> None:
    """The whole window, real probe child included, in a fresh process (nothing imported before)."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    done = subprocess.run(
        [sys.executable, "-c", _REAL_RUN],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["tensorflow_imported"] is False
    assert out["status"].startswith("Ready: 1 CPU")
    assert out["tf_status"] in ("ok", "not_installed", "import_failed")
    if out["tf_status"] == "ok":
        assert any(t.startswith(out["tf_version"]) for t in out["tree"])
        assert "CPU:0" in out["tree"]  # "/physical_device:CPU:0", shortened for the narrow panel
    model = cpu_model_name()
    if model:
        assert model in out["tree"]


def test_the_app_shows_the_shell_first_then_builds_the_other_tabs(qtbot: QtBot) -> None:
    """`hwprof` paints Devices and Home first; the other tabs follow right after, as they were."""
    open_settings().setValue("window/tab", "live")  # the tab shown last time
    window = QtMainWindow(quick_functions(), staged=True)
    window.show()
    try:
        assert not window.panels_built and not hasattr(window, "live_panel")
        assert window.tabs.currentWidget() is window.panels["home"]
        assert window.panels["live"].text() == "Loading…"  # type: ignore[attr-defined]
        assert not window.run_action.isEnabled() and not window.export_charts_action.isEnabled()
        window.build_panels()
        window.build_panels()  # once only
        assert window.panels_built and window.panels["live"] is window.live_panel
        assert window.tabs.currentWidget() is window.live_panel  # the last tab, restored
        assert window.tabs.count() == 7 and window.tabs.tabText(3) == "Live"
        assert window.run_action.isEnabled() and window.export_charts_action.isEnabled()
        window.show_tab("compare")  # the tabs work as in an unstaged window
        assert window.tabs.currentWidget() is window.panels["compare"]
    finally:
        window.close()
        dispose(window)


def test_a_window_closed_before_its_tabs_were_built_stays_closed(qtbot: QtBot) -> None:
    open_settings().setValue("window/tab", "live")
    window = QtMainWindow(quick_functions(), staged=True)
    window.show()
    window.close()  # e.g. SIGTERM at once: the panels' settings stay as saved
    assert open_settings().value("window/tab") == "home"
    window.build_panels()  # the queued build, after the close: nothing to do
    assert not window.panels_built
    dispose(window)

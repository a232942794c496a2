"""Detection, `hwprof detect` and the Devices panel with AMD GPUs (fake amdgpu trees)."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
import shiboken6
from fakes.amd import AmdMachine
from gui_helpers import dispose, fake_tensorflow, quick_functions
from pytestqt.qtbot import QtBot
from rich.console import Console

from hwprof.backends.cpu import detect_cpu, detect_host
from hwprof.cli.detect import render_report
from hwprof.cli.main import main
from hwprof.core.devices import (
    DetectReport,
    TensorFlowInfo,
    TfDevice,
    rocm_install_hint,
)
from hwprof.services.detect import (
    DetectFunctions,
    detect_all,
    detect_amd_gpus,
    detect_gpus,
    detect_progressively,
)

AmdScenario = Callable[[str], AmdMachine]


def _tf(*, cuda: bool = False, rocm: bool = False, gpus: int = 1) -> TensorFlowInfo:
    devices = [TfDevice(name="/physical_device:CPU:0", device_type="CPU", index=0)]
    devices += [TfDevice(name=f"/physical_device:GPU:{i}", device_type="GPU", index=i)
                for i in range(gpus)]
    return TensorFlowInfo(status="ok", version="2.18.0", built_with_cuda=cuda,
                          built_with_rocm=rocm, devices=tuple(devices))


def _report(tf: TensorFlowInfo) -> DetectReport:
    functions = DetectFunctions(
        host=detect_host, gpus=detect_gpus, cpu=detect_cpu, tensorflow=lambda _c: tf,
        amd=lambda offset: detect_amd_gpus(None, offset),
    )
    report = detect_progressively(functions).to_report()
    assert report is not None
    return report


def _text(report: DetectReport) -> str:
    console = Console(width=240, record=True, no_color=True,
                      file=open(os.devnull, "w"))  # noqa: SIM115
    render_report(report, console)
    return "\n".join(line.rstrip() for line in console.export_text().splitlines())


def test_mixed_machine_numbers_nvidia_first_then_amd(  # type: ignore[no-untyped-def]
    nvml_scenario, amd_scenario: AmdScenario
) -> None:
    nvml_scenario("one_t4")
    amd_scenario("one_mi300x")
    report = detect_all(with_tensorflow=False)
    t4, mi300x = report.gpus
    assert (t4.index, t4.vendor, t4.name) == (0, "nvidia", "NVIDIA T4")
    assert (mi300x.index, mi300x.vendor, mi300x.vendor_index) == (1, "amd", 0)
    assert mi300x.gfx_target == "gfx942" and report.gpu(1) == mi300x
    assert report.amd is not None and report.amd.available and report.nvml.available


def test_cuda_tensorflow_pairs_nvidia_and_says_what_to_install_for_amd(  # type: ignore[no-untyped-def]
    nvml_scenario, amd_scenario: AmdScenario
) -> None:
    nvml_scenario("one_t4")
    amd_scenario("one_mi300x")
    report = _report(_tf(cuda=True))
    t4, mi300x = report.gpus
    assert t4.tensorflow_device == "/physical_device:GPU:0"
    assert mi300x.tensorflow_device is None
    reason = mi300x.tensorflow_missing_reason or ""
    assert reason == rocm_install_hint(report.tensorflow, "6.2.0")
    assert "pip install tensorflow-rocm" in reason and "ROCm 6.2.0" in reason
    assert "TensorFlow 2.18.0 has no ROCm support" in reason
    text = _text(report)
    assert "AMD GPUs (1) — amdgpu driver 6.8.5, ROCm 6.2.0 (read from sysfs)" in text
    assert text.count("pip install tensorflow-rocm") == 1  # said once, under the table
    assert "no ROCm TensorFlow (see the note)" in text


def test_rocm_tensorflow_pairs_amd_in_hip_order(  # type: ignore[no-untyped-def]
    nvml_scenario, amd_scenario: AmdScenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    nvml_scenario("one_t4")
    amd_scenario("three_amd")  # bus order: RX 7900 XTX (03), MI300X (0c), MI210 (63)
    monkeypatch.setenv("HIP_VISIBLE_DEVICES", "1")
    report = _report(_tf(rocm=True))
    t4, xtx, mi300x, mi210 = report.gpus
    assert [g.index for g in report.gpus] == [0, 1, 2, 3]
    assert mi300x.tensorflow_device == "/physical_device:GPU:0"
    gpu0 = next(d for d in report.tensorflow.devices if d.device_type == "GPU")
    assert gpu0.pci_bus_id == "0000:0c:00.0" and gpu0.nvml_index is None
    assert xtx.tensorflow_missing_reason == "hidden by HIP_VISIBLE_DEVICES"
    assert mi210.tensorflow_missing_reason == "hidden by HIP_VISIBLE_DEVICES"
    assert t4.tensorflow_missing_reason == (
        "this TensorFlow is the ROCm build, which uses AMD GPUs only"
    )
    assert "built with ROCm  yes" in _text(report)


def test_no_rocm_installed_says_so_in_the_hint() -> None:
    hint = rocm_install_hint(_tf(), None)
    assert "pip install tensorflow-rocm" in hint and "ROCm itself was not found" in hint


def test_detect_table_lists_the_three_amd_gpus(  # type: ignore[no-untyped-def]
    nvml_scenario, amd_scenario: AmdScenario, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    nvml_scenario("missing")
    amd_scenario("three_amd")
    monkeypatch.setenv("COLUMNS", "200")
    assert main(["detect", "--no-tensorflow"]) == 0
    out = capsys.readouterr().out
    assert out.count("no NVIDIA driver: NVML library not found") == 1
    assert "AMD GPUs (3)" in out
    for expected in ("AMD Radeon RX 7900 XTX", "gfx1100", "AMD Instinct MI300X", "gfx942",
                     "304", "750 W", "AMD Instinct MI210", "gfx90a", "gen5 x16",
                     "2100 / 1300 MHz"):
        assert expected in out, expected


def test_detect_json_carries_vendor_and_amd_facts(  # type: ignore[no-untyped-def]
    nvml_scenario, amd_scenario: AmdScenario, capsys: pytest.CaptureFixture[str]
) -> None:
    nvml_scenario("one_t4")
    amd_scenario("one_mi300x")
    assert main(["detect", "--json", "--no-tensorflow"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["schema"] == "hwprof.detect/1"
    assert data["amd"] == {"available": True, "message": None, "source": "sysfs",
                           "driver_version": "6.8.5", "rocm_version": "6.2.0"}
    t4, mi300x = data["gpus"]
    assert t4["vendor"] == "nvidia" and t4["index"] == 0
    assert mi300x["vendor"] == "amd" and mi300x["index"] == 1 and mi300x["vendor_index"] == 0
    assert mi300x["gfx_target"] == "gfx942" and mi300x["compute_units"] == 304
    assert mi300x["memory_total_bytes"] == 206141652992
    assert mi300x["power_limit_enforced_watts"] == 750.0


def test_no_gpu_at_all_names_both_drivers_once(  # type: ignore[no-untyped-def]
    nvml_scenario, amd_scenario: AmdScenario, capsys: pytest.CaptureFixture[str]
) -> None:
    nvml_scenario("missing")
    amd_scenario("amd_missing")
    assert main(["detect", "--no-tensorflow"]) == 0
    out = capsys.readouterr().out
    assert out.count("no NVIDIA driver: NVML library not found") == 1
    assert out.count("no AMD GPU driver: the amdgpu kernel module is not loaded") == 1


def test_nvidia_machine_without_amd_prints_no_amd_table(  # type: ignore[no-untyped-def]
    nvml_scenario, capsys: pytest.CaptureFixture[str]
) -> None:
    nvml_scenario("one_t4")
    assert main(["detect", "--no-tensorflow"]) == 0
    assert "AMD" not in capsys.readouterr().out


def test_a_hostile_product_name_is_shown_as_text(  # type: ignore[no-untyped-def]
    nvml_scenario, amd_scenario: AmdScenario, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    nvml_scenario("missing")
    machine = amd_scenario("one_mi300x")
    (machine.cards[0] / "product_name").write_text("[red]MI[/red]\x1b[31m300X\n")
    assert main(["detect", "--no-tensorflow"]) == 0
    out = capsys.readouterr().out
    assert "[red]MI[/red]" in out and "\x1b" not in out


# -- the window's Devices panel ------------------------------------------------------------------
def _finished(qtbot: QtBot, window: object) -> None:
    if window.report.complete and not window.detecting:  # type: ignore[attr-defined]
        return
    with qtbot.waitSignal(window.detection_finished, timeout=30_000):  # type: ignore[attr-defined]
        pass


@pytest.mark.gui
def test_devices_panel_shows_a_mixed_machine(  # type: ignore[no-untyped-def]
    qtbot: QtBot, nvml_scenario, amd_scenario: AmdScenario, tmp_path: Path
) -> None:
    from hwprof.gui.main_window import QtMainWindow

    nvml_scenario("one_t4")
    amd_scenario("one_mi300x")
    window = QtMainWindow(quick_functions(fake_tensorflow(cuda=True)))
    window.show()
    try:
        window.start_detection()
        _finished(qtbot, window)
        panel = window.devices_panel
        gpus = panel.item("gpus")
        assert gpus is not None and gpus.text(0) == "GPUs"
        assert gpus.text(1) == "2 · NVIDIA driver 550.163.01 · amdgpu 6.8.5"
        assert gpus.childCount() == 2
        t4, mi300x = panel.item("gpu:0"), panel.item("gpu:1")
        assert t4 is not None and mi300x is not None
        assert t4.text(1).startswith("NVIDIA · ") and "cc 7.5" in t4.text(1)
        assert mi300x.text(0) == "GPU 1 · AMD Instinct MI300X"
        assert mi300x.text(1).startswith("AMD · ") and "gfx942" in mi300x.text(1)
        assert "pip install tensorflow-rocm" in mi300x.toolTip(0)

        assert panel.select("gpu:1")
        rows = dict(panel.details_rows())
        assert rows["GPU vendor"] == "AMD" and rows["hwprof device"] == "gpu:1"
        assert rows["HIP index"] == "0" and rows["GFX target"] == "gfx942"
        assert rows["Compute units"] == "304" and rows["Architecture"] == "CDNA 3"
        assert rows["Power cap (now)"].startswith("750")
        assert "pip install tensorflow-rocm" in rows["Not visible to TensorFlow"]
        assert "Formula" in rows

        assert panel.select("gpu:0")
        rows = dict(panel.details_rows())
        assert rows["GPU vendor"] == "NVIDIA" and rows["NVML index"] == "0"

        assert panel.select("gpus")
        rows = dict(panel.details_rows())
        assert rows["Driver version"] == "550.163.01"
        assert rows["amdgpu version"] == "6.8.5" and rows["ROCm"] == "6.2.0"
    finally:
        with contextlib.suppress(RuntimeError):
            if shiboken6.isValid(window):
                dispose(window)


def test_monitor_json_has_the_amd_gpu_readings(  # type: ignore[no-untyped-def]
    nvml_scenario, amd_scenario: AmdScenario, capsys: pytest.CaptureFixture[str]
) -> None:
    nvml_scenario("missing")
    amd_scenario("one_mi300x")
    assert main(["monitor", "--json", "--interval", "0.1", "--duration", "0.25"]) == 0
    captured = capsys.readouterr()
    rows = [json.loads(line) for line in captured.out.splitlines() if line.strip()]
    assert rows
    last = rows[-1]
    assert last["gpu0.power_watts"] == 142 and last["gpu0.temperature_c"] == 41
    assert last["gpu0.memory_total_bytes"] == 206141652992
    # per vendor: the AMD GPU is monitored, so "monitoring the CPU" would be wrong
    assert ("hwprof monitor: NVIDIA: no driver (NVML library not found); AMD: 1 GPU monitored"
            in captured.err)
    assert "monitoring the CPU" not in captured.err

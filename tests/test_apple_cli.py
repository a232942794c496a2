"""hwprof detect and monitor on an Apple silicon Mac (a fake Mac's commands), and off macOS."""

from __future__ import annotations

import json
import os
from collections.abc import Callable

import pytest
from fakes.apple import FakeMac
from rich.console import Console

import hwprof.services.runs as runs
from hwprof.backends.apple import IOREG, SYSTEM_PROFILER
from hwprof.backends.cpu import detect_cpu, detect_host
from hwprof.cli.detect import render_report
from hwprof.cli.main import main
from hwprof.core.devices import DetectReport, TensorFlowInfo, TfDevice
from hwprof.services.detect import (
    DetectFunctions,
    detect_apple_gpus,
    detect_gpus,
    detect_progressively,
)


def _report(tf: TensorFlowInfo) -> DetectReport:
    functions = DetectFunctions(
        host=detect_host, gpus=detect_gpus, cpu=detect_cpu, tensorflow=lambda _c: tf,
        apple=lambda offset: detect_apple_gpus(None, offset),
    )
    report = detect_progressively(functions).to_report()
    assert report is not None
    return report


def _text(report: DetectReport) -> str:
    console = Console(width=220, record=True, no_color=True,
                      file=open(os.devnull, "w"))  # noqa: SIM115
    render_report(report, console)
    return "\n".join(line.rstrip() for line in console.export_text().splitlines())


def _mac_tf(gpu: bool) -> TensorFlowInfo:
    devices = [TfDevice(name="/physical_device:CPU:0", device_type="CPU", index=0)]
    if gpu:
        devices.append(TfDevice(name="/physical_device:GPU:0", device_type="GPU", index=0))
    return TensorFlowInfo(status="ok", version="2.16.2", built_with_cuda=False,
                          built_with_rocm=False, devices=tuple(devices))


def test_detect_table_without_tensorflow_metal(  # type: ignore[no-untyped-def]
    nvml_scenario, apple_scenario: Callable[..., FakeMac], monkeypatch: pytest.MonkeyPatch,
) -> None:
    nvml_scenario("missing")
    apple_scenario("m2max_idle")
    monkeypatch.setattr(runs, "metal_plugin_installed", lambda: False)
    text = _text(_report(_mac_tf(gpu=False)))
    assert "Apple GPU — Apple M2 Max, CPU 8 performance + 4 efficiency cores, Metal 3" in text
    assert "64.0 GiB" in text or "64 GiB" in text
    assert "13.6 TFLOP/s" in text
    assert text.count("pip install tensorflow-metal") == 1
    assert "no tensorflow-metal (see the note)" in text
    assert "powermetrics" in text and "shared with the CPU" in text  # why power is not shown
    assert "Intel GPUs" not in text and "AMD GPUs" not in text  # a Mac: no such drivers to name


def test_detect_table_with_the_metal_gpu(  # type: ignore[no-untyped-def]
    nvml_scenario, apple_scenario: Callable[..., FakeMac], monkeypatch: pytest.MonkeyPatch,
) -> None:
    nvml_scenario("missing")
    apple_scenario("m3pro_busy")
    monkeypatch.setattr(runs, "metal_plugin_installed", lambda: True)
    report = _report(_mac_tf(gpu=True))
    (gpu,) = report.gpus
    assert gpu.tensorflow_device == "/physical_device:GPU:0"
    text = _text(report)
    assert "Apple M3 Pro" in text and "/physical_device:GPU:0" in text
    assert "pip install tensorflow-metal" not in text


def test_detect_json_and_an_intel_mac(  # type: ignore[no-untyped-def]
    nvml_scenario, apple_scenario: Callable[..., FakeMac], capsys: pytest.CaptureFixture[str],
) -> None:
    nvml_scenario("missing")
    apple_scenario("m2max_busy")
    assert main(["detect", "--no-tensorflow", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["apple"]["chip"] == "Apple M2 Max"
    (gpu,) = [g for g in data["gpus"] if g["vendor"] == "apple"]
    assert gpu["compute_units"] == 38 and gpu["unified_memory"] is True
    apple_scenario("intel_mac_amd")
    assert main(["detect", "--no-tensorflow"]) == 0
    out = capsys.readouterr().out
    assert "Apple GPU" in out and "are not Apple's" in out


def test_a_command_missing_on_a_mac_is_said(  # type: ignore[no-untyped-def]
    nvml_scenario, apple_scenario: Callable[..., FakeMac], capsys: pytest.CaptureFixture[str],
) -> None:
    nvml_scenario("missing")
    apple_scenario("m2max_busy", {SYSTEM_PROFILER: "timeout"})
    assert main(["detect", "--no-tensorflow"]) == 0
    out = capsys.readouterr().out
    assert "system_profiler did not answer within 5 s" in out


def test_off_macos_no_apple_table(nvml_scenario, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    nvml_scenario("one_t4")
    assert main(["detect", "--no-tensorflow"]) == 0
    assert "Apple" not in capsys.readouterr().out


def test_monitor_json_has_the_apple_gpu_readings(  # type: ignore[no-untyped-def]
    nvml_scenario, apple_scenario: Callable[..., FakeMac], capsys: pytest.CaptureFixture[str],
) -> None:
    nvml_scenario("missing")
    mac = apple_scenario("m2max_busy")
    assert main(["monitor", "--json", "--interval", "0.1", "--duration", "0.25"]) == 0
    captured = capsys.readouterr()
    rows = [json.loads(line) for line in captured.out.splitlines() if line.strip()]
    assert rows
    assert rows[-1]["gpu0.util_percent"] == 97 and rows[-1]["gpu0.power_watts"] is None
    assert rows[-1]["gpu0.memory_used_bytes"] == 16 * 1024**3
    assert ("hwprof monitor: NVIDIA: no driver (NVML library not found); Apple: 1 GPU monitored"
            in captured.err)
    assert any(c[0] == IOREG for c in mac.calls)


def test_the_profile_picker_refuses_the_apple_gpu_without_tensorflow_metal(  # type: ignore[no-untyped-def]
    nvml_scenario, apple_scenario: Callable[..., FakeMac], monkeypatch: pytest.MonkeyPatch,
) -> None:
    from hwprof.services.profile_session import check_device as check_profile_device
    from hwprof.services.session import SessionError

    nvml_scenario("missing")
    apple_scenario("m2max_idle")
    monkeypatch.setattr(runs, "metal_plugin_installed", lambda: False)
    with pytest.raises(SessionError, match=r"^gpu:0: Apple GPU found.*tensorflow-metal"):
        check_profile_device("gpu:0", _report(_mac_tf(gpu=False)))
    monkeypatch.setattr(runs, "metal_plugin_installed", lambda: True)
    check_profile_device("gpu:0", _report(_mac_tf(gpu=True)))

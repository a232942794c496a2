"""Intel GPUs in `hwprof detect` and beside TensorFlow: XPU devices (Intel Extension for TF)."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest
from fakes.amd import AmdMachine
from fakes.intel import IntelMachine
from rich.console import Console

from hwprof.backends.cpu import detect_cpu, detect_host
from hwprof.cli.detect import render_report
from hwprof.cli.main import main
from hwprof.core.devices import INTEL_EXTENSION_HINT, DetectReport, TensorFlowInfo, TfDevice
from hwprof.services import runs
from hwprof.services.detect import (
    DetectFunctions,
    detect_amd_gpus,
    detect_gpus,
    detect_intel_gpus,
    detect_progressively,
)

IntelScenario = Callable[[str], IntelMachine]
AmdScenario = Callable[[str], AmdMachine]


def _tf(*, gpus: int = 1, xpus: int = 0) -> TensorFlowInfo:
    devices = [TfDevice(name="/physical_device:CPU:0", device_type="CPU", index=0)]
    devices += [TfDevice(name=f"/physical_device:GPU:{i}", device_type="GPU", index=i)
                for i in range(gpus)]
    devices += [TfDevice(name=f"/physical_device:XPU:{i}", device_type="XPU", index=i)
                for i in range(xpus)]
    return TensorFlowInfo(status="ok", version="2.15.1", built_with_cuda=True,
                          built_with_rocm=False, devices=tuple(devices))


def _report(tf: TensorFlowInfo) -> DetectReport:
    functions = DetectFunctions(
        host=detect_host, gpus=detect_gpus, cpu=detect_cpu, tensorflow=lambda _c: tf,
        amd=lambda offset: detect_amd_gpus(None, offset),
        intel=lambda offset: detect_intel_gpus(None, offset),
    )
    report = detect_progressively(functions).to_report()
    assert report is not None
    return report


def _text(report: DetectReport) -> str:
    console = Console(width=260, record=True, no_color=True,
                      file=open(os.devnull, "w"))  # noqa: SIM115
    render_report(report, console)
    return "\n".join(line.rstrip() for line in console.export_text().splitlines())


def test_xpu_devices_pair_with_intel_gpus_in_bus_order(  # type: ignore[no-untyped-def]
    nvml_scenario, intel_scenario: IntelScenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    nvml_scenario("one_t4")
    intel_scenario("igpu_and_a770")
    monkeypatch.setattr(runs, "intel_extension_installed", lambda: True)
    report = _report(_tf(gpus=1, xpus=2))
    t4, igpu, a770 = report.gpus
    assert t4.tensorflow_device == "/physical_device:GPU:0"
    assert igpu.tensorflow_device == "/physical_device:XPU:0"
    assert a770.tensorflow_device == "/physical_device:XPU:1"
    xpu1 = next(d for d in report.tensorflow.devices if d.name.endswith("XPU:1"))
    assert xpu1.pci_bus_id == a770.pci_bus_id and xpu1.nvml_index is None


def test_extension_installed_but_no_xpu_says_level_zero(  # type: ignore[no-untyped-def]
    nvml_scenario, intel_scenario: IntelScenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    nvml_scenario("missing")
    intel_scenario("max1100")
    monkeypatch.setattr(runs, "intel_extension_installed", lambda: True)
    (gpu,) = _report(_tf(gpus=0, xpus=0)).gpus
    assert gpu.tensorflow_device is None
    assert "Level Zero" in (gpu.tensorflow_missing_reason or "")


def test_detect_table_has_an_intel_section_and_the_pip_line_once(  # type: ignore[no-untyped-def]
    nvml_scenario, amd_scenario: AmdScenario, intel_scenario: IntelScenario,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    nvml_scenario("one_t4")
    amd_scenario("one_mi300x")
    intel_scenario("igpu_and_a770")
    monkeypatch.setattr(runs, "intel_extension_installed", lambda: False)
    report = _report(_tf(gpus=1))
    assert all(g.tensorflow_missing_reason == INTEL_EXTENSION_HINT
               for g in report.gpus if g.vendor == "intel")
    text = _text(report)
    assert "Intel GPUs (2) — i915 driver (read from sysfs)" in text
    assert "Intel Arc A770" in text and "Xe-HPG" in text
    assert text.count("pip install intel-extension-for-tensorflow[xpu]") == 1
    assert text.count("no Intel Extension for TensorFlow (see the note)") == 2
    assert "perf" in text  # why engine busyness is not shown


def test_no_gpu_at_all_names_the_intel_drivers_too(  # type: ignore[no-untyped-def]
    nvml_scenario, amd_scenario: AmdScenario, intel_scenario: IntelScenario,
    capsys: pytest.CaptureFixture[str],
) -> None:
    nvml_scenario("missing")
    amd_scenario("amd_missing")
    intel_scenario("intel_missing")
    assert main(["detect", "--no-tensorflow"]) == 0
    out = capsys.readouterr().out
    assert out.count("Intel GPUs") == 1 and "i915" in out
    assert "intel-extension-for-tensorflow" not in out


def test_nvidia_machine_without_intel_prints_no_intel_table(  # type: ignore[no-untyped-def]
    nvml_scenario, capsys: pytest.CaptureFixture[str]
) -> None:
    nvml_scenario("one_t4")
    assert main(["detect", "--no-tensorflow"]) == 0
    assert "Intel GPUs" not in capsys.readouterr().out


def test_the_profile_picker_refuses_an_intel_gpu_without_the_extension(  # type: ignore[no-untyped-def]
    nvml_scenario, intel_scenario: IntelScenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hwprof.services.profile_session import check_device as check_profile_device
    from hwprof.services.session import SessionError

    nvml_scenario("one_t4")
    intel_scenario("igpu_and_a770")
    monkeypatch.setattr(runs, "intel_extension_installed", lambda: False)
    without = _report(_tf(gpus=1))
    with pytest.raises(SessionError, match=r"gpu:2: Intel GPU found.*intel-extension-for"):
        check_profile_device("gpu:2", without)
    check_profile_device("gpu:0", without)  # the T4: fine
    monkeypatch.setattr(runs, "intel_extension_installed", lambda: True)
    check_profile_device("gpu:2", _report(_tf(gpus=1, xpus=2)))

"""Intel GPUs sampled and named: the sampler, `hwprof monitor`, the Live note, the status line."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from fakes.amd import AmdMachine
from fakes.intel import IntelMachine
from pytestqt.qtbot import QtBot

from hwprof.core.devices import TensorFlowInfo, vendor_gpu_state, vendor_gpu_summary
from hwprof.sampling.sampler import Sampler

IntelScenario = Callable[[str], IntelMachine]
AmdScenario = Callable[[str], AmdMachine]


class _Clock:
    """A monotonic clock the test moves by hand (the Intel back end's, for power)."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_vendor_words_name_intel() -> None:
    reason = "no Intel GPU driver: neither the i915 nor the xe kernel module is loaded"
    assert vendor_gpu_state("intel", 0, reason).startswith("Intel: no driver (neither the i915")
    assert vendor_gpu_state("intel", 2, None, "charted") == "Intel: 2 GPUs charted"
    assert (vendor_gpu_summary([("nvidia", 1, None), ("amd", 1, None), ("intel", 2, None)])
            == "NVIDIA: 1 GPU; AMD: 1 GPU; Intel: 2 GPUs")


def test_sampler_numbers_intel_after_nvidia_and_amd_with_power_from_energy(  # type: ignore[no-untyped-def]
    nvml_scenario, amd_scenario: AmdScenario, intel_scenario: IntelScenario
) -> None:
    nvml_scenario("one_t4")
    amd_scenario("one_mi300x")
    machine = intel_scenario("igpu_and_a770")
    clock = _Clock()
    s = Sampler(0.5, host=False, process=False, intel=machine.backend(clock=clock))
    try:
        assert s.gpu_count == 4 and s.gpu_summary() is None and s.notes == ()
        assert {"gpu2.sm_clock_mhz", "gpu3.power_watts"} <= set(s.names)
        assert s.sample_once().values["gpu3.power_watts"] is None  # one counter reading: no power
        hwmon = next((machine.cards[1] / "device" / "hwmon").iterdir())
        energy = int((hwmon / "energy1_input").read_text())
        (hwmon / "energy1_input").write_text(f"{energy + 50_000_000}\n")  # 50 J
        clock.now += 0.5
        assert s.sample_once().values["gpu3.power_watts"] == pytest.approx(100.0)
    finally:
        s.stop()


def test_sampler_on_an_intel_only_machine_names_each_vendor(  # type: ignore[no-untyped-def]
    nvml_scenario, intel_scenario: IntelScenario
) -> None:
    nvml_scenario("missing")
    intel_scenario("max1100")
    s = Sampler(0.5, host=False, process=False)
    try:
        assert s.gpu_count == 1 and "gpu0.power_watts" in s.names
        assert (s.gpu_summary()
                == "NVIDIA: no driver (NVML library not found); Intel: 1 GPU monitored")
        assert s.notes == ("NVIDIA: no driver (NVML library not found)",)
    finally:
        s.stop()


def test_monitor_json_has_the_intel_gpu_readings(  # type: ignore[no-untyped-def]
    nvml_scenario, intel_scenario: IntelScenario, capsys: pytest.CaptureFixture[str]
) -> None:
    from hwprof.cli.main import main

    nvml_scenario("missing")
    intel_scenario("max1100")
    assert main(["monitor", "--json", "--interval", "0.1", "--duration", "0.25"]) == 0
    captured = capsys.readouterr()
    rows = [json.loads(line) for line in captured.out.splitlines() if line.strip()]
    assert rows
    assert rows[-1]["gpu0.temperature_c"] == 39 and rows[-1]["gpu0.power_limit_watts"] == 300
    assert ("hwprof monitor: NVIDIA: no driver (NVML library not found); Intel: 1 GPU monitored"
            in captured.err)
    assert "monitoring the CPU" not in captured.err


@pytest.mark.gui
def test_live_panel_note_says_the_intel_gpu_is_charted(  # type: ignore[no-untyped-def]
    qtbot: QtBot, nvml_scenario, intel_scenario: IntelScenario
) -> None:
    from hwprof.gui.live_panel import QtLivePanel

    nvml_scenario("missing")
    intel_scenario("max1100")
    sampler = Sampler(0.5, host=False, process=False)
    panel = QtLivePanel(sampler)
    qtbot.addWidget(panel)
    try:
        assert panel.note.text().splitlines()[0] == (
            "NVIDIA: no driver (NVML library not found); Intel: 1 GPU charted")
        assert "power" in panel.plots and "temperature" in panel.plots
    finally:
        panel.timer.stop()
        sampler.stop()


def test_status_line_names_intel(  # type: ignore[no-untyped-def]
    nvml_scenario, intel_scenario: IntelScenario
) -> None:
    from hwprof.backends.cpu import detect_cpu, detect_host
    from hwprof.gui.status_bar import ready_message
    from hwprof.services.detect import (
        DetectFunctions,
        detect_gpus,
        detect_intel_gpus,
        detect_progressively,
    )

    nvml_scenario("missing")
    intel_scenario("igpu_and_a770")
    functions = DetectFunctions(
        host=detect_host, gpus=detect_gpus, cpu=detect_cpu,
        tensorflow=lambda _c: TensorFlowInfo(status="not_installed", message="not installed"),
        intel=lambda offset: detect_intel_gpus(None, offset),
    )
    text = ready_message(detect_progressively(functions))
    assert text.startswith("Ready: 1 CPU, 2 GPUs; ")
    assert "NVIDIA: no driver (NVML library not found); Intel: 2 GPUs" in text

"""What hwprof says about GPUs on an AMD-only or mixed machine: per vendor, and true."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fakes.amd import AmdMachine
from pytestqt.qtbot import QtBot

from hwprof.core.devices import vendor_gpu_state, vendor_gpu_summary
from hwprof.sampling.sampler import Sampler

AmdScenario = Callable[[str], AmdMachine]


def test_vendor_states_in_words() -> None:
    assert (vendor_gpu_state("nvidia", 0, "no NVIDIA driver: NVML library not found")
            == "NVIDIA: no driver (NVML library not found)")
    assert (vendor_gpu_state("nvidia", 0, "NVML bindings missing: install the nvidia-ml-py package")
            == "NVIDIA: NVML bindings missing: install the nvidia-ml-py package")
    assert vendor_gpu_state("amd", 3, None, "charted") == "AMD: 3 GPUs charted"
    both = vendor_gpu_summary([("nvidia", 1, None), ("amd", 1, None)])
    assert both == "NVIDIA: 1 GPU; AMD: 1 GPU"


def test_sampler_on_an_amd_only_machine_names_each_vendor(  # type: ignore[no-untyped-def]
    nvml_scenario, amd_scenario: AmdScenario
) -> None:
    nvml_scenario("missing")
    amd_scenario("one_mi300x")
    s = Sampler(0.5, host=False, process=False)
    try:
        assert s.gpu_count == 1 and "gpu0.power_watts" in s.names
        assert s.gpu_summary() == "NVIDIA: no driver (NVML library not found); AMD: 1 GPU monitored"
        assert s.gpu_summary("charted").endswith("AMD: 1 GPU charted")  # type: ignore[union-attr]
        # a note is what is not read: NVIDIA's GPUs, said as such, not "the GPUs"
        assert s.notes == ("NVIDIA: no driver (NVML library not found)",)
    finally:
        s.stop()


def test_sampler_on_a_mixed_machine_has_nothing_to_say(  # type: ignore[no-untyped-def]
    nvml_scenario, amd_scenario: AmdScenario
) -> None:
    nvml_scenario("one_t4")
    amd_scenario("one_mi300x")
    s = Sampler(0.5, host=False, process=False)
    try:
        assert s.gpu_count == 2 and s.gpu_summary() is None and s.notes == ()
        assert "gpu1.power_watts" in s.names  # the MI300X follows the T4
    finally:
        s.stop()


def test_monitor_on_a_cpu_only_machine_still_says_it_monitors_the_cpu(  # type: ignore[no-untyped-def]
    nvml_scenario, capsys: pytest.CaptureFixture[str]
) -> None:
    from hwprof.cli.main import main

    nvml_scenario("missing")
    assert main(["monitor", "--json", "--interval", "0.1", "--duration", "0.15"]) == 0
    err = capsys.readouterr().err
    assert "NVIDIA: no driver (NVML library not found); monitoring the CPU" in err
    assert "AMD" not in err  # no amdgpu driver: nothing to say about AMD


@pytest.mark.gui
def test_live_panel_note_says_the_amd_gpu_is_charted(  # type: ignore[no-untyped-def]
    qtbot: QtBot, nvml_scenario, amd_scenario: AmdScenario
) -> None:
    from hwprof.gui.live_panel import QtLivePanel

    nvml_scenario("missing")
    amd_scenario("one_mi300x")
    sampler = Sampler(0.5, host=False, process=False)
    panel = QtLivePanel(sampler)
    qtbot.addWidget(panel)
    try:
        note = panel.note.text()
        assert note.splitlines()[0] == (
            "NVIDIA: no driver (NVML library not found); AMD: 1 GPU charted")
        assert "not charted" not in note.splitlines()[0]
        assert "power" in panel.plots and "temperature" in panel.plots  # the MI300X's readings
    finally:
        panel.timer.stop()
        sampler.stop()


@pytest.mark.gui
def test_live_panel_note_without_any_gpu(  # type: ignore[no-untyped-def]
    qtbot: QtBot, nvml_scenario
) -> None:
    from hwprof.gui.live_panel import QtLivePanel

    nvml_scenario("missing")
    sampler = Sampler(0.5, host=False, process=False)
    panel = QtLivePanel(sampler)
    qtbot.addWidget(panel)
    try:
        assert panel.note.text().splitlines()[0] == (
            "No GPU is charted. NVIDIA: no driver (NVML library not found)")
    finally:
        panel.timer.stop()
        sampler.stop()


def test_status_line_names_each_vendor(  # type: ignore[no-untyped-def]
    nvml_scenario, amd_scenario: AmdScenario
) -> None:
    from hwprof.backends.cpu import detect_cpu, detect_host
    from hwprof.gui.status_bar import ready_message
    from hwprof.services.detect import (
        DetectFunctions,
        detect_amd_gpus,
        detect_gpus,
        detect_progressively,
    )

    nvml_scenario("missing")
    amd_scenario("one_mi300x")
    from hwprof.core.devices import TensorFlowInfo

    functions = DetectFunctions(
        host=detect_host, gpus=detect_gpus, cpu=detect_cpu,
        tensorflow=lambda _c: TensorFlowInfo(status="not_installed", message="not installed"),
        amd=lambda offset: detect_amd_gpus(None, offset),
    )
    report = detect_progressively(functions)
    text = ready_message(report)
    assert text.startswith("Ready: 1 CPU, 1 GPU; ")
    assert "NVIDIA: no driver (NVML library not found); AMD: 1 GPU" in text

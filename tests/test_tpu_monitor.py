"""TPU telemetry: the sampler reads tpuN.*, hwprof monitor shows duty cycle and HBM, or why not."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable

import pytest
from fakes.tpu import RuntimeUnavailable, TpuHost, install_tpu_info
from rich.console import Console

from hwprof.cli.main import main
from hwprof.cli.monitor import render_view
from hwprof.sampling.sampler import Sampler

TpuScenario = Callable[[str | None], TpuHost]
GIB = 2**30


def _view(sample: object, sampler: Sampler) -> str:
    console = Console(width=160, record=True, file=open(os.devnull, "w"))  # noqa: SIM115
    console.print(render_view(sample, sampler))  # type: ignore[arg-type]
    return console.export_text()


def test_the_sampler_reads_tpu_chips_under_their_own_numbers(  # type: ignore[no-untyped-def]
        tpu_scenario: TpuScenario, nvml_scenario, monkeypatch: pytest.MonkeyPatch) -> None:
    nvml_scenario("one_t4")
    tpu_scenario("v5litepod-4")
    install_tpu_info(monkeypatch, "v5litepod-4")
    s = Sampler(0.1, host=False, process=False)
    assert "gpu0.util_percent" in s.names and "tpu3.memory_total_bytes" in s.names
    assert s.gpu_count == 1  # a TPU chip is no GPU
    sample = s.sample_once()
    s.stop()
    assert sample.values["tpu0.util_percent"] == 87.5
    assert sample.values["tpu1.memory_used_bytes"] == 12 * GIB
    text = _view(sample, s)
    assert "TPU 0" in text and "87.5 %" in text and "duty cycle" in text
    assert "12 GiB / 16 GiB" in text


def test_no_runtime_answering_is_said_in_the_view(tpu_scenario: TpuScenario,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    tpu_scenario("v4-8")
    install_tpu_info(monkeypatch, "v4-8", error=RuntimeUnavailable())
    s = Sampler(0.1, host=False, process=False, gpus=False)
    sample = s.sample_once()
    s.stop()
    assert all(sample.values[f"tpu{i}.util_percent"] is None for i in range(4))
    text = _view(sample, s)
    assert text.count("no reading (no TPU program running)") == 4
    assert "TPU: no TPU program running" in s.notes


def test_a_chip_that_vanishes_mid_monitor_reads_as_gaps(tpu_scenario: TpuScenario,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    host = tpu_scenario("v5litepod-4")
    install_tpu_info(monkeypatch, "v5litepod-4")
    s = Sampler(0.1, host=False, process=False, gpus=False)
    assert s.sample_once().values["tpu2.memory_total_bytes"] == 16 * GIB
    shutil.rmtree(host.chips[2])
    sample = s.sample_once()
    s.stop()
    assert sample.values["tpu2.memory_total_bytes"] is None
    assert sample.values["tpu0.util_percent"] == 87.5
    assert "no reading (chip lost?)" in _view(sample, s)


def test_hwprof_monitor_without_tpu_info_says_what_to_install(  # type: ignore[no-untyped-def]
        tpu_scenario: TpuScenario, nvml_scenario, capsys: pytest.CaptureFixture[str]) -> None:
    nvml_scenario("one_t4")
    tpu_scenario("v5litepod-4")
    assert main(["monitor", "--json", "--interval", "0.1", "--duration", "0.25"]) == 0
    captured = capsys.readouterr()
    rows = [json.loads(line) for line in captured.out.splitlines() if line.strip()]
    assert rows and "tpu0.util_percent" in rows[-1] and rows[-1]["tpu0.util_percent"] is None
    assert captured.err.count(
        "hwprof monitor: TPU chips have no live readings: pip install tpu-info") == 1


def test_hwprof_monitor_lines_carry_the_tpu_readings(  # type: ignore[no-untyped-def]
        tpu_scenario: TpuScenario, nvml_scenario, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    nvml_scenario("missing")
    tpu_scenario("v5litepod-4")
    install_tpu_info(monkeypatch, "v5litepod-4")
    assert main(["monitor", "--interval", "0.1", "--duration", "0.15"]) == 0
    out = capsys.readouterr().out
    assert "tpu0=88%/12 GiB" in out and "tpu3=0%/0 B" in out

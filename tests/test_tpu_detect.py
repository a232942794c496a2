"""Detection with TPU chips (fake PCI trees): hwprof detect's table and --json, libtpu's advice."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from fakes.tpu import TpuHost, install_tpu_info

from hwprof.cli.main import main
from hwprof.core.devices import (
    TPU_INSTALL_HINT,
    DetectReport,
    TensorFlowInfo,
    match_tensorflow_tpus,
)
from hwprof.runner.probe import parse_probe
from hwprof.services.detect import detect_all, detect_device_label, detect_tpus

TpuScenario = Callable[[str | None], TpuHost]


def test_no_tpu_is_an_unavailable_status_and_no_table(  # type: ignore[no-untyped-def]
        tpu_scenario: TpuScenario, nvml_scenario, capsys: pytest.CaptureFixture[str]) -> None:
    nvml_scenario("one_t4")
    tpu_scenario(None)
    status, chips = detect_tpus()
    assert not status.available and chips == ()
    report = detect_all(with_tensorflow=False)
    assert report.tpu is not None and not report.tpu.available and report.tpus == ()
    assert main(["detect", "--no-tensorflow"]) == 0
    assert "TPU chips" not in capsys.readouterr().out  # a GPU machine's output is as it was


def test_a_v5e_host_is_listed_after_the_gpus_with_what_to_install(  # type: ignore[no-untyped-def]
        tpu_scenario: TpuScenario, nvml_scenario, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "160")
    nvml_scenario("missing")
    tpu_scenario("v5litepod-4")
    report = detect_all(with_tensorflow=False)
    assert report.tpu is not None and report.tpu.available
    assert report.tpu.telemetry_note == "pip install tpu-info"
    assert [(t.index, t.name) for t in report.tpus] == [(i, "TPU v5e") for i in range(4)]
    assert report.gpus == ()
    again = DetectReport.model_validate_json(report.model_dump_json(by_alias=True))
    assert again.tpus == report.tpus and again.tpu == report.tpu
    assert report.tpu_chip(3) is not None and report.tpu_chip(4) is None
    assert detect_device_label("tpu:2") == "TPU v5e"

    assert main(["detect", "--no-tensorflow", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [t["pci_bus_id"] for t in doc["tpus"]] == ["0000:00:05.0", "0000:00:06.0",
                                                     "0000:00:07.0", "0000:00:08.0"]
    assert doc["tpus"][0]["memory_total_bytes"] == 16 * 2**30
    assert doc["tpus"][0]["peak"]["bf16_flops"] == 197e12
    assert doc["tpu"]["telemetry_note"] == "pip install tpu-info"

    assert main(["detect", "--no-tensorflow"]) == 0
    out = capsys.readouterr().out
    assert "TPU chips (4) — tpu:N, read from PCI sysfs" in out
    assert "tpu:3" in out and "/dev/vfio/3" in out and "16 GiB" in out
    assert "197" in out  # the peak, TFLOP/s
    assert "note: live TPU readings (duty cycle, HBM in use): pip install tpu-info" in out
    assert out.index("TPU chips") < out.index("TensorFlow")


def test_tpu_info_installed_says_where_readings_come_from(  # type: ignore[no-untyped-def]
        tpu_scenario: TpuScenario, nvml_scenario, monkeypatch: pytest.MonkeyPatch) -> None:
    nvml_scenario("missing")
    tpu_scenario("v4-8")
    runtime = install_tpu_info(monkeypatch, "v4-8")
    report = detect_all(with_tensorflow=False)
    assert report.tpu is not None and report.tpu.telemetry == "tpu-info"
    assert report.tpu.telemetry_note is None
    assert {t.name for t in report.tpus} == {"TPU v4"}
    assert runtime.calls == []  # detection asks the runtime nothing: only the monitor does


def test_tensorflow_without_libtpu_says_what_to_install(tpu_scenario: TpuScenario) -> None:
    tpu_scenario("v5litepod-4")
    _, chips = detect_tpus()
    ok = TensorFlowInfo(status="ok", version="2.18.0", built_with_cuda=True)
    without = match_tensorflow_tpus(ok.model_copy(update={"libtpu": False}), chips)
    assert {t.tensorflow_missing_reason for t in without} == {TPU_INSTALL_HINT}
    assert "pip install tensorflow-tpu -f https://storage.googleapis.com/libtpu-tf-releases/" \
           "index.html" in TPU_INSTALL_HINT
    with_libtpu = match_tensorflow_tpus(ok.model_copy(update={"libtpu": True}), chips)
    assert {t.tensorflow_missing_reason for t in with_libtpu} == {None}
    missing = TensorFlowInfo(status="not_installed", message="TensorFlow is not installed",
                             libtpu=False)
    assert {t.tensorflow_missing_reason for t in match_tensorflow_tpus(missing, chips)} == {
        "TensorFlow is not installed"}


def test_the_probe_child_says_whether_libtpu_is_installed() -> None:
    ok = {"status": "ok", "version": "2.18.0", "devices": [], "libtpu": True}
    assert parse_probe(ok, [], 1.0).libtpu is True
    assert parse_probe({**ok, "libtpu": False}, [], 1.0).libtpu is False
    assert parse_probe({"status": "not_installed", "message": "no", "libtpu": False}, [],
                       1.0).libtpu is False
    assert parse_probe({"status": "ok", "version": "2.18.0"}, [], 1.0).libtpu is None  # older


def test_the_probe_child_reports_libtpu(monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    import importlib.util

    from hwprof.workloads import probe

    monkeypatch.setattr(probe, "probe", lambda: {"status": "not_installed", "message": "x"})
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: object() if name == "libtpu" else real(name, *a))
    assert probe.main([]) == 0
    assert json.loads(capsys.readouterr().out)["libtpu"] is True

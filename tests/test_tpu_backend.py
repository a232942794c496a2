"""The TPU back end on fake hosts: chips from PCI sysfs, telemetry through a fake tpu_info."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fakes.tpu import RuntimeUnavailable, build_host, hide_tpu_info, install_tpu_info

from hwprof.backends.tpu import TPU_METRICS, TpuBackend, tpu_type_of
from hwprof.core.devices import TPU_IDLE_NOTE, TPU_INFO_HINT
from hwprof.core.peaks import TPU_TYPES, estimate_tpu_peak

GIB = 2**30


def test_a_v5e_host_has_four_chips_in_pci_bus_order(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    hide_tpu_info(monkeypatch)
    host = build_host(tmp_path, "v5litepod-4")
    b = host.backend()
    assert b.available() and b.unavailable_reason() is None and b.device_count() == 4
    chips = b.devices()
    assert [c.index for c in chips] == [0, 1, 2, 3]
    assert [c.pci_bus_id for c in chips] == ["0000:00:05.0", "0000:00:06.0", "0000:00:07.0",
                                            "0000:00:08.0"]  # the gVNIC at 00:04.0 is no TPU
    c = chips[0]
    assert (c.name, c.tpu_type, c.pci_device_id) == ("TPU v5e", "v5e", 0x63)
    assert c.device_path == "/dev/vfio/0" and chips[3].device_path == "/dev/vfio/3"
    assert c.memory_total_bytes == 16 * GIB and c.tensor_cores == 1
    assert c.peak is not None and c.peak.bf16_flops == 197e12
    assert c.peak.fp32_flops is None and c.peak.fp16_flops is None
    assert "cloud.google.com/tpu/docs/v5e" in (c.peak.basis_source or "")
    status = b.status()
    assert status.available and status.telemetry is None
    assert status.telemetry_note == TPU_INFO_HINT == "pip install tpu-info"


def test_a_v4_host_uses_accel_nodes_and_counts_megacore_chips_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hide_tpu_info(monkeypatch)
    chips = build_host(tmp_path, "v4-8").backend().devices()
    assert [c.device_path for c in chips] == [f"/dev/accel{i}" for i in range(4)]
    assert {(c.name, c.memory_total_bytes, c.tensor_cores) for c in chips} == {
        ("TPU v4", 32 * GIB, 2)}
    assert chips[0].peak is not None and chips[0].peak.bf16_flops == 275e12


def test_no_tpu_makes_the_back_end_unavailable_and_asks_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runtime = install_tpu_info(monkeypatch)
    b = build_host(tmp_path, None).backend()
    assert not b.available() and b.devices() == () and b.device_count() == 0
    assert b.unavailable_reason() == "no TPU chip (no Google TPU on the PCI bus)"
    assert not b.status().available
    assert b.sample() == {} and b.metrics() == ()
    assert runtime.calls == []  # no chip: the runtime is never asked
    assert not TpuBackend(tmp_path / "nowhere").available()


def test_chips_without_tpu_info_read_none_and_say_what_to_install(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hide_tpu_info(monkeypatch)
    b = build_host(tmp_path, "v5litepod-4").backend()
    values = b.sample()
    assert set(values) == {f"tpu{i}.{m}" for i in range(4) for m in TPU_METRICS}
    assert all(v is None for v in values.values())
    assert b.telemetry_reason() == "pip install tpu-info"
    assert [m.name for m in b.metrics()][:3] == ["tpu0.util_percent", "tpu0.memory_used_bytes",
                                                 "tpu0.memory_total_bytes"]
    assert b.metrics()[0].unit == "%" and b.metrics()[1].unit == "B"


def test_tpu_info_gives_duty_cycle_and_hbm_per_chip(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    runtime = install_tpu_info(monkeypatch, "v5litepod-4")
    b = build_host(tmp_path, "v5litepod-4").backend()
    assert b.status().telemetry == "tpu-info" and b.status().telemetry_note is None
    values = b.sample()
    assert values["tpu0.util_percent"] == 87.5 and values["tpu1.util_percent"] == 86.0
    assert values["tpu0.memory_used_bytes"] == 12 * GIB
    assert values["tpu3.memory_used_bytes"] == 0.0
    assert values["tpu2.memory_total_bytes"] == 16 * GIB
    assert b.telemetry_reason() is None
    assert runtime.calls == ["v5e"]


def test_a_runtime_that_does_not_answer_means_no_program_running(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    install_tpu_info(monkeypatch, "v5litepod-4", error=RuntimeUnavailable())
    b = build_host(tmp_path, "v5litepod-4").backend()
    assert b.status().telemetry == "tpu-info"  # installed: readings come once a program runs
    values = b.sample()
    assert all(v is None for v in values.values()) and len(values) == 12
    assert b.telemetry_reason() == TPU_IDLE_NOTE == "no TPU program running"


def test_a_chip_that_vanishes_mid_monitor_reads_as_gaps(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    install_tpu_info(monkeypatch, "v5litepod-4")
    host = build_host(tmp_path, "v5litepod-4")
    b = host.backend()
    assert b.sample()["tpu1.util_percent"] == 86.0
    shutil.rmtree(host.chips[1])
    values = b.sample()
    assert values["tpu1.util_percent"] is None and values["tpu1.memory_used_bytes"] is None
    assert values["tpu0.util_percent"] == 87.5  # the others go on
    assert b.devices()[1].error is not None and "vanished" in b.devices()[1].error
    host.chips[1].mkdir()  # back (a reset chip comes back at the same address)
    for name, text in (("vendor", "0x1ae0"), ("device", "0x0063")):
        (host.chips[1] / name).write_text(text + "\n")
    assert b.sample()["tpu1.util_percent"] == 86.0


def test_pci_ids_and_published_peaks() -> None:
    assert tpu_type_of(0x0027, 0x004E) == "v2" and tpu_type_of(0x0027, 0x004F) == "v3"
    assert tpu_type_of(0x0027, None) is None and tpu_type_of(0x0042, None) is None
    assert [tpu_type_of(d, None) for d in (0x005E, 0x0063, 0x0062, 0x006F, 0x0076)] == [
        "v4", "v5e", "v5p", "v6e", "7x"]
    peaks = {t: (estimate_tpu_peak(t) or None) for t in TPU_TYPES}
    assert {t: p.bf16_flops / 1e12 for t, p in peaks.items() if p} == {
        "v4": 275.0, "v5e": 197.0, "v5p": 459.0, "v6e": 918.0}
    assert estimate_tpu_peak(None) is None and estimate_tpu_peak("v9") is None

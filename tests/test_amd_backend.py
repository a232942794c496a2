"""The AMD back end over fake amdgpu sysfs trees written from real GPUs' facts (tests/data/amd)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from fakes.amd import build_tree

from hwprof.backends.amd import (
    AmdBackend,
    gfx_target_name,
    parse_dpm,
    parse_link_generation,
)
from hwprof.core.snapshot import load_snapshot

REPO = Path(__file__).resolve().parent.parent


def test_old_snapshot_loads_and_its_gpus_are_nvidia() -> None:
    machine = load_snapshot(REPO / "tests/data/snapshot-v0.hwprof.json").machine
    assert machine.amd is None
    for g in machine.gpus:
        assert g.vendor == "nvidia" and g.gfx_target is None and g.compute_units is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0: 500Mhz *\n1: 800Mhz\n2: 1700Mhz\n", (500, 1700)),
        ("0: 96Mhz\n1: 456Mhz *\n", (456, 456)),
        ("S: 19Mhz *\n0: 500Mhz\n1: 2100Mhz", (19, 2100)),
        ("", (None, None)),
        (None, (None, None)),
        ("garbage", (None, None)),
    ],
)
def test_parse_dpm(text: str | None, expected: tuple[int | None, int | None]) -> None:
    assert parse_dpm(text) == expected


def test_gfx_target_and_link_parsing() -> None:
    assert gfx_target_name(90402) == "gfx942"
    assert gfx_target_name(90010) == "gfx90a"
    assert gfx_target_name(110000) == "gfx1100"
    assert gfx_target_name(0) is None and gfx_target_name(None) is None
    assert parse_link_generation("32.0 GT/s PCIe") == 5
    assert parse_link_generation("16.0 GT/s PCIe") == 4
    assert parse_link_generation("Unknown") is None


def test_no_driver_is_one_reason(amd_scenario) -> None:  # type: ignore[no-untyped-def]
    amd_scenario("amd_missing")
    backend = AmdBackend()
    assert not backend.available()
    assert backend.unavailable_reason() == (
        "no AMD GPU driver: the amdgpu kernel module is not loaded"
    )
    assert backend.devices() == ()
    status = backend.status()
    assert not status.available and status.message == backend.unavailable_reason()
    assert backend.sample() == {}


def test_three_gpus_in_pci_bus_order_with_their_facts(tmp_path: Path) -> None:
    machine = build_tree(tmp_path, ["MI300X", "MI210", "RX7900XTX"])
    backend = machine.backend(index_offset=2)
    status = backend.status()
    assert status.available and status.source == "sysfs"
    assert status.driver_version == "6.8.5" and status.rocm_version == "6.2.0"
    xtx, mi300x, mi210 = backend.devices()  # bus 03, 0c, 63: the non-AMD card0 is skipped
    assert [g.index for g in (xtx, mi300x, mi210)] == [2, 3, 4]
    assert [g.vendor_index for g in (xtx, mi300x, mi210)] == [0, 1, 2]
    assert all(g.vendor == "amd" for g in (xtx, mi300x, mi210))

    assert mi300x.name == "AMD Instinct MI300X" and mi300x.pci_bus_id == "0000:0c:00.0"
    assert mi300x.gfx_target == "gfx942" and mi300x.compute_units == 304
    assert mi300x.architecture == "CDNA 3"
    assert mi300x.memory_total_bytes == 206141652992
    assert mi300x.sm_clock_max_mhz == 2100 and mi300x.memory_clock_max_mhz == 1300
    assert mi300x.power_limit_enforced_watts == 750.0
    assert mi300x.pcie is not None and mi300x.pcie.generation_max == 5
    assert mi300x.pcie.width_max == 16
    assert mi300x.uuid == "3a6e2f0c9d41b7e5"
    assert mi300x.peak is not None  # published figures are rounded to 0.1 TFLOP/s: rel 2e-3
    assert mi300x.peak.fp32_flops == pytest.approx(81.7e12, rel=2e-3)
    assert mi300x.peak.fp16_flops == pytest.approx(1307.4e12, rel=2e-3)
    assert "MI300X data sheet" in (mi300x.peak.basis_source or "")

    assert mi210.gfx_target == "gfx90a" and mi210.compute_units == 104
    assert mi210.power_limit_enforced_watts == 300.0 and mi210.memory_total_bytes == 68702699520
    assert mi210.peak is not None
    assert mi210.peak.fp32_flops == pytest.approx(22.6e12, rel=2e-3)
    assert mi210.peak.bf16_flops == pytest.approx(181.0e12, rel=2e-3)

    # a consumer card has no product_name: the PCI id names it; an empty unique_id is None
    assert xtx.name == "AMD Radeon RX 7900 XTX" and xtx.uuid is None
    assert xtx.gfx_target == "gfx1100" and xtx.compute_units == 96
    assert xtx.power_limit_enforced_watts == 355.0 and xtx.memory_total_bytes == 25753026560
    assert xtx.peak is not None
    assert xtx.peak.fp32_flops == pytest.approx(61.4e12, rel=2e-3)
    assert xtx.compute_capability is None and xtx.cuda_cores is None


def test_missing_files_are_none_not_errors(tmp_path: Path) -> None:
    machine = build_tree(tmp_path, ["MI210"], rocm=False)
    card = machine.cards[0]
    for name in ("pp_dpm_sclk", "mem_info_vram_total", "max_link_speed"):
        (card / name).unlink()
    shutil.rmtree(tmp_path / "sys" / "class" / "kfd")
    backend = machine.backend()
    (g,) = backend.devices()
    assert g.error is None and g.name == "AMD Instinct MI210"
    assert g.sm_clock_max_mhz is None and g.memory_total_bytes is None
    assert g.gfx_target is None and g.compute_units is None and g.peak is None
    assert g.pcie is not None and g.pcie.generation_max is None and g.pcie.generation_current == 4
    assert backend.status().rocm_version is None


_CHILD = """
import json, os, sys
from hwprof.backends.amd import AmdBackend
b = AmdBackend(sys.argv[1], rocm_root=sys.argv[2], use_amdsmi=False)
b.status()  # imports done; Python's own files may not be readable by nobody
os.setgid(65534); os.setuid(65534)  # nobody: file permissions apply again
(g,) = b.devices()
sample = b.sample()
os.write(1, json.dumps({"gpu": g.model_dump(mode="json"), "sample": sample}).encode())
"""


def test_permission_denied_on_one_file_makes_that_field_none() -> None:
    # made outside pytest's own temporary folder, which only its owner may enter
    root = Path(tempfile.mkdtemp(prefix="hwprof-amd-"))
    try:
        os.chmod(root, 0o755)
        machine = build_tree(root, ["MI300X"])
        hwmon = next((machine.cards[0] / "hwmon").iterdir())
        os.chmod(hwmon / "power1_cap", 0)
        os.chmod(machine.cards[0] / "mem_info_vram_used", 0)
        if os.geteuid() == 0:  # root reads any file: read as nobody in a child
            out = subprocess.run(
                [sys.executable, "-c", _CHILD, str(machine.sysfs_root), str(machine.rocm_root)],
                capture_output=True, text=True, timeout=60,
                env={**os.environ, "PYTHONPATH": str(REPO)},
            )
            assert out.returncode == 0, out.stderr
            data: dict[str, Any] = json.loads(out.stdout)
        else:
            b = machine.backend()
            (g,) = b.devices()
            data = {"gpu": g.model_dump(mode="json"), "sample": b.sample()}
    finally:
        shutil.rmtree(root, ignore_errors=True)
    gpu, sample = data["gpu"], data["sample"]
    assert gpu["error"] is None and gpu["name"] == "AMD Instinct MI300X"
    assert gpu["power_limit_enforced_watts"] is None  # unreadable
    assert gpu["power_limit_default_watts"] == 750.0  # its neighbour still read
    assert gpu["memory_total_bytes"] == 206141652992
    assert sample["gpu0.memory_used_bytes"] is None
    assert sample["gpu0.power_limit_watts"] is None
    assert sample["gpu0.power_watts"] == 142.0


def test_gpu_that_vanishes_between_listing_and_reading(tmp_path: Path) -> None:
    machine = build_tree(tmp_path, ["MI300X", "MI210"])
    backend = machine.backend()
    assert backend.device_count() == 2  # listed now
    shutil.rmtree(machine.cards[1])  # the MI210 (bus 63) goes away before it is read
    mi300x, mi210 = backend.devices()
    assert mi300x.error is None and mi300x.name == "AMD Instinct MI300X"
    assert mi210.error is not None and "vanished" in mi210.error
    assert mi210.pci_bus_id == "0000:63:00.0" and mi210.name is None


def test_sample_reads_each_gpu_and_survives_one_vanishing(tmp_path: Path) -> None:
    machine = build_tree(tmp_path, ["MI300X", "MI210"])
    backend = machine.backend(index_offset=1)
    names = {m.name for m in backend.metrics()}
    assert {"gpu1.power_watts", "gpu2.temperature_c", "gpu2.sm_clock_mhz"} <= names
    first = backend.sample()
    # MI300X: power1_input (no average), junction temperature (it has no edge sensor)
    assert first["gpu1.power_watts"] == 142.0 and first["gpu1.temperature_c"] == 41.0
    assert first["gpu2.power_watts"] == 43.0 and first["gpu2.temperature_c"] == 35.0
    assert first["gpu2.sm_clock_mhz"] == 500.0 and first["gpu2.memory_clock_mhz"] == 1600.0
    assert first["gpu2.memory_used_bytes"] == 11165696.0
    assert first["gpu2.power_limit_watts"] == 300.0

    backup = tmp_path / "mi210-backup"
    shutil.copytree(machine.cards[1], backup)
    shutil.rmtree(machine.cards[1])  # mid-monitor
    gone = backend.sample()
    assert set(gone) == set(first)
    assert all(gone[k] is None for k in gone if k.startswith("gpu2."))
    assert gone["gpu1.power_watts"] == 142.0

    shutil.copytree(backup, machine.cards[1])  # back after a reset
    (machine.cards[1] / "gpu_busy_percent").write_text("97\n")
    back = backend.sample()
    assert back["gpu2.util_percent"] == 97.0 and back["gpu2.power_watts"] == 43.0


class _FakeAmdsmi:
    """amdsmi's Python functions for one GPU (names as in ROCm's amdsmi API reference)."""

    class AmdSmiInitFlags:
        INIT_AMD_GPUS = 2

    def __init__(self, bdf: str, *, init_fails: bool = False) -> None:
        self.bdf, self.init_fails, self.shut = bdf, init_fails, False

    def amdsmi_init(self, flags: int = 2) -> None:
        if self.init_fails:
            raise RuntimeError("AMDSMI_STATUS_DRIVER_NOT_LOADED")

    def amdsmi_shut_down(self) -> None:
        self.shut = True

    def amdsmi_get_processor_handles(self) -> list[object]:
        return [SimpleNamespace(bdf=self.bdf)]

    def amdsmi_get_gpu_device_bdf(self, h: Any) -> str:
        return str(h.bdf)

    def amdsmi_get_gpu_asic_info(self, h: Any) -> dict[str, object]:
        return {"market_name": "Radeon RX 7900 XTX", "num_of_compute_units": 96,
                "target_graphics_version": "gfx1100", "vendor_id": 0x1002}

    def amdsmi_get_gpu_device_uuid(self, h: Any) -> str:
        return "ffff744c-0000-1000-80ff-ffffffffffff"

    def amdsmi_get_gpu_vram_info(self, h: Any) -> dict[str, object]:
        raise RuntimeError("AMDSMI_STATUS_NOT_SUPPORTED")

    def amdsmi_get_gpu_driver_info(self, h: Any) -> dict[str, object]:
        return {"driver_name": "amdgpu", "driver_version": "6.8.5"}


def test_amdsmi_fills_what_sysfs_lacks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    machine = build_tree(tmp_path, ["RX7900XTX"])
    shutil.rmtree(tmp_path / "sys" / "class" / "kfd")  # no KFD topology: no GFX target in sysfs
    smi = _FakeAmdsmi("0000:03:00.0")
    monkeypatch.setitem(sys.modules, "amdsmi", smi)
    backend = AmdBackend(machine.sysfs_root, rocm_root=machine.rocm_root)
    assert backend.status().source == "amdsmi"
    (g,) = backend.devices()
    assert g.name == "Radeon RX 7900 XTX"  # amdsmi's market name, over the PCI id table
    assert g.gfx_target == "gfx1100" and g.compute_units == 96 and g.peak is not None
    assert g.uuid == "ffff744c-0000-1000-80ff-ffffffffffff"
    assert g.memory_total_bytes == 25753026560  # sysfs, where amdsmi says not supported
    backend.shutdown()
    assert smi.shut


def test_amdsmi_that_fails_to_start_leaves_sysfs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    machine = build_tree(tmp_path, ["MI210"])
    monkeypatch.setitem(sys.modules, "amdsmi", _FakeAmdsmi("0000:63:00.0", init_fails=True))
    backend = AmdBackend(machine.sysfs_root, rocm_root=machine.rocm_root)
    assert backend.status().source == "sysfs"
    (g,) = backend.devices()
    assert g.name == "AMD Instinct MI210" and g.gfx_target == "gfx90a"


def test_sampler_reads_amd_gpus_after_the_nvidia_ones(  # type: ignore[no-untyped-def]
    nvml_scenario, amd_scenario
) -> None:
    from hwprof.sampling.sampler import Sampler

    nvml_scenario("one_t4")
    machine = amd_scenario("one_mi300x")
    sampler = Sampler(0.1, host=False, process=False)
    try:
        assert "gpu0.power_watts" in sampler.names  # the T4
        assert "gpu1.power_watts" in sampler.names and "gpu1.temperature_c" in sampler.names
        sampler.run(max_ticks=1)
        latest = sampler.latest()
        assert latest is not None
        assert latest.get("gpu1.power_watts") == 142.0
        assert latest.get("gpu1.memory_total_bytes") == 206141652992.0
        assert latest.get("gpu0.memory_total_bytes") == 17179869184.0
        (machine.cards[0] / "gpu_busy_percent").write_text("88\n")
        assert sampler.amd is not None and sampler.amd.sample()["gpu1.util_percent"] == 88.0
    finally:
        sampler.stop()


def test_sampler_on_a_machine_without_amd_has_no_amd_source() -> None:
    from hwprof.sampling.sampler import Sampler

    sampler = Sampler(0.1, host=False, process=False, gpus=False)
    try:
        assert sampler.amd is None and sampler.names == ()
        assert not any("AMD" in note for note in sampler.notes)
    finally:
        sampler.stop()

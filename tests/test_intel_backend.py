"""The Intel back end over fake i915/xe sysfs trees from real GPUs' facts (tests/data/intel)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
from fakes.amd import build_tree as build_amd_tree
from fakes.intel import build_tree

from hwprof.backends.amd import AmdBackend
from hwprof.backends.intel import BUSY_NOTE, IntelBackend, intel_gpu_name
from hwprof.core.devices import vendor_gpu_state

REPO = Path(__file__).resolve().parent.parent


class _Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_names_from_the_pci_id() -> None:
    assert intel_gpu_name(0x56A0) == "Intel Arc A770"
    assert intel_gpu_name(0x0BDA) == "Intel Data Center GPU Max 1100"
    assert intel_gpu_name(0x56C0) == "Intel Data Center GPU Flex 170"
    assert intel_gpu_name(0xA7A0) == "Intel GPU 0xa7a0"
    assert intel_gpu_name(None) is None


def test_no_driver_is_one_reason(intel_scenario) -> None:  # type: ignore[no-untyped-def]
    intel_scenario("intel_missing")
    backend = IntelBackend()
    assert not backend.available()
    assert backend.unavailable_reason() == (
        "no Intel GPU driver: neither the i915 nor the xe kernel module is loaded"
    )
    assert backend.devices() == () and backend.sample() == {}
    status = backend.status()
    assert not status.available and status.message == backend.unavailable_reason()
    assert vendor_gpu_state("intel", 0, backend.unavailable_reason()) == (
        "Intel: no driver (neither the i915 nor the xe kernel module is loaded)"
    )


def test_igpu_and_a770_in_pci_bus_order_with_their_facts(tmp_path: Path) -> None:
    machine = build_tree(tmp_path, ["A770", "IGPU"])  # card0 is the A770, the iGPU card1
    backend = machine.backend(index_offset=3)
    status = backend.status()
    assert status.available and status.drivers == ("i915",) and status.busy_note == BUSY_NOTE
    igpu, a770 = backend.devices()  # bus 00:02.0 before 03:00.0; connectors skipped
    assert [g.index for g in (igpu, a770)] == [3, 4]
    assert [g.vendor_index for g in (igpu, a770)] == [0, 1]
    assert all(g.vendor == "intel" and g.error is None for g in (igpu, a770))

    assert igpu.name == "Intel GPU 0xa7a0" and igpu.pci_bus_id == "0000:00:02.0"
    assert igpu.memory_total_bytes is None  # an iGPU has no local memory
    assert igpu.sm_clock_max_mhz == 1500 and igpu.power_limit_enforced_watts is None
    assert igpu.pcie is None and igpu.peak is None and igpu.compute_units is None

    assert a770.name == "Intel Arc A770" and a770.architecture == "Xe-HPG"
    assert a770.compute_units == 32 and a770.sm_clock_max_mhz == 2400
    assert a770.memory_total_bytes == 16 * 1024**3
    assert a770.power_limit_enforced_watts == 225.0
    assert a770.power_limit_default_watts == 225.0
    assert a770.pcie is not None and a770.pcie.generation_max == 4 and a770.pcie.width_max == 16
    assert a770.peak is not None  # 32 Xe-cores x 2400 MHz x 256 FLOP/clock
    assert a770.peak.fp32_flops == pytest.approx(32 * 2400e6 * 256)
    assert a770.peak.fp16_flops == pytest.approx(32 * 2400e6 * 2048)
    assert "A770" in (a770.peak.basis_source or "")
    assert a770.compute_capability is None and a770.cuda_cores is None


def test_max1100_on_the_xe_driver(tmp_path: Path) -> None:
    machine = build_tree(tmp_path, ["MAX1100"])
    backend = machine.backend()
    assert backend.status().drivers == ("xe",)
    (g,) = backend.devices()
    assert g.name == "Intel Data Center GPU Max 1100" and g.architecture == "Xe-HPC"
    assert g.compute_units == 56 and g.sm_clock_max_mhz == 1550
    assert g.memory_total_bytes == 48 * 1024**3
    assert g.power_limit_enforced_watts == 300.0
    assert g.pcie is not None and g.pcie.generation_max == 5
    assert g.peak is not None  # Intel publishes 22.2 TFLOP/s FP32, 352 FP16/BF16
    assert g.peak.fp32_flops == pytest.approx(22.2e12, rel=5e-3)
    assert g.peak.bf16_flops == pytest.approx(352e12, rel=2e-2)


def test_power_is_energy_over_time_between_two_samples(tmp_path: Path) -> None:
    machine = build_tree(tmp_path, ["IGPU", "A770", "MAX1100"])
    clock = _Clock()
    backend = machine.backend(clock=clock)
    names = {m.name for m in backend.metrics()}
    assert {"gpu1.power_watts", "gpu2.temperature_c", "gpu2.sm_clock_mhz"} <= names
    first = backend.sample()
    assert first["gpu1.power_watts"] is None  # one reading of a counter is no power yet
    assert first["gpu1.sm_clock_mhz"] == 600.0 and first["gpu2.sm_clock_mhz"] == 1000.0
    assert first["gpu1.power_limit_watts"] == 225.0 and first["gpu2.power_limit_watts"] == 300.0
    assert first["gpu1.temperature_c"] is None  # i915's hwmon has no temperature
    assert first["gpu2.temperature_c"] == 39.0
    assert first["gpu0.power_watts"] is None and first["gpu0.temperature_c"] is None  # no hwmon
    assert first["gpu1.util_percent"] is None  # needs the perf PMU (BUSY_NOTE)
    assert first["gpu1.memory_total_bytes"] == 16 * 1024**3
    assert first["gpu0.memory_total_bytes"] is None

    hwmon_a770 = next((machine.cards[1] / "device" / "hwmon").iterdir())
    hwmon_max = next((machine.cards[2] / "device" / "hwmon").iterdir())
    (hwmon_a770 / "energy1_input").write_text(str(4170000000 + 90_000_000) + "\n")  # 90 J
    (hwmon_max / "energy2_input").write_text(str(91250000000 + 60_000_000) + "\n")  # 60 J
    clock.now += 0.5
    second = backend.sample()
    assert second["gpu1.power_watts"] == pytest.approx(180.0)
    assert second["gpu2.power_watts"] == pytest.approx(120.0)

    # a counter that goes back (a driver reset) is skipped once, not a negative power
    (hwmon_a770 / "energy1_input").write_text("1000\n")
    clock.now += 0.5
    assert backend.sample()["gpu1.power_watts"] is None


def test_sample_survives_a_gpu_vanishing_mid_monitor(tmp_path: Path) -> None:
    machine = build_tree(tmp_path, ["A770", "MAX1100"])
    backend = machine.backend()
    backend.sample()
    backup = tmp_path / "backup"
    shutil.copytree(machine.cards[1], backup)
    shutil.rmtree(machine.cards[1])
    gone = backend.sample()
    assert gone["gpu1.sm_clock_mhz"] is None and gone["gpu0.sm_clock_mhz"] == 600.0
    shutil.copytree(backup, machine.cards[1])
    assert backend.sample()["gpu1.sm_clock_mhz"] == 1000.0


def test_mixed_machine_amd_then_intel_share_one_drm_tree(tmp_path: Path) -> None:
    amd = build_amd_tree(tmp_path, ["MI210"])  # card0 (ASPEED), card1 (MI210)
    intel = build_tree(tmp_path, ["IGPU", "A770"], start=2)
    amd_gpus = AmdBackend(amd.sysfs_root, rocm_root=amd.rocm_root, use_amdsmi=False,
                          index_offset=1).devices()
    intel_gpus = IntelBackend(intel.sysfs_root, index_offset=1 + len(amd_gpus)).devices()
    assert [(g.vendor, g.index, g.vendor_index) for g in (*amd_gpus, *intel_gpus)] == [
        ("amd", 1, 0), ("intel", 2, 0), ("intel", 3, 1)]
    assert [g.name for g in intel_gpus] == ["Intel GPU 0xa7a0", "Intel Arc A770"]


_CHILD = """
import json, os, sys
from hwprof.backends.intel import IntelBackend
b = IntelBackend(sys.argv[1])
b.status()  # imports done; Python's own files may not be readable by nobody
os.setgid(65534); os.setuid(65534)  # nobody: file permissions apply again
(g,) = b.devices()
sample = b.sample()
os.write(1, json.dumps({"gpu": g.model_dump(mode="json"), "sample": sample}).encode())
"""


def test_permission_denied_on_one_file_makes_that_field_none() -> None:
    # made outside pytest's own temporary folder, which only its owner may enter
    root = Path(tempfile.mkdtemp(prefix="hwprof-intel-"))
    try:
        os.chmod(root, 0o755)
        machine = build_tree(root, ["A770"])
        hwmon = next((machine.cards[0] / "device" / "hwmon").iterdir())
        os.chmod(hwmon / "power1_max", 0)
        os.chmod(machine.cards[0] / "gt_cur_freq_mhz", 0)
        if os.geteuid() == 0:  # root reads any file: read as nobody in a child
            out = subprocess.run(
                [sys.executable, "-c", _CHILD, str(machine.sysfs_root)],
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
    assert gpu["error"] is None and gpu["name"] == "Intel Arc A770"
    assert gpu["power_limit_enforced_watts"] is None  # unreadable
    assert gpu["power_limit_default_watts"] == 225.0  # its neighbour still read
    assert gpu["sm_clock_max_mhz"] == 2400
    assert sample["gpu0.sm_clock_mhz"] is None and sample["gpu0.power_limit_watts"] is None

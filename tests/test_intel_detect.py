"""Detection with Intel GPUs (fake i915/xe trees), alone and beside NVIDIA and AMD GPUs."""

from __future__ import annotations

from collections.abc import Callable

from fakes.amd import AmdMachine
from fakes.intel import IntelMachine

from hwprof.core.devices import DetectReport
from hwprof.services.detect import detect_all, detect_device_label, detect_intel_gpus
from hwprof.services.runs import machine_gpus


def test_no_intel_gpu_is_a_status_with_its_reason(intel_scenario: Callable[[str], IntelMachine],
                                                   nvml_scenario) -> None:  # type: ignore[no-untyped-def]
    nvml_scenario("missing")
    intel_scenario("intel_missing")
    status, gpus = detect_intel_gpus()
    assert not status.available and gpus == ()
    assert status.message is not None and "i915" in status.message and "xe" in status.message
    report = detect_all(with_tensorflow=False)
    assert report.intel is not None and not report.intel.available


def test_mixed_machine_numbers_nvidia_then_amd_then_intel(  # type: ignore[no-untyped-def]
    nvml_scenario, amd_scenario: Callable[[str], AmdMachine],
    intel_scenario: Callable[[str], IntelMachine],
) -> None:
    nvml_scenario("one_t4")
    amd_scenario("one_mi300x")
    intel_scenario("igpu_and_a770")
    report = detect_all(with_tensorflow=False)
    assert [(g.index, g.vendor, g.vendor_index) for g in report.gpus] == [
        (0, "nvidia", None), (1, "amd", 0), (2, "intel", 0), (3, "intel", 1)]
    assert report.intel is not None and report.intel.available
    assert report.intel.drivers == ("i915",)
    assert report.intel.busy_note is not None and "perf" in report.intel.busy_note
    igpu, a770 = report.gpus[2:]
    assert igpu.name == "Intel GPU 0xa7a0" and igpu.memory_total_bytes is None
    assert a770.name == "Intel Arc A770" and a770.memory_total_bytes == 16 * 1024**3
    # --json round-trips, the vendor and the Intel status included
    again = DetectReport.model_validate_json(report.model_dump_json(by_alias=True))
    assert again.gpus[3].vendor == "intel" and again.intel == report.intel
    assert [g.index for g in machine_gpus()] == [0, 1, 2, 3]
    assert detect_device_label("gpu:3") == "Intel Arc A770"

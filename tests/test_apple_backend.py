"""The Apple silicon back end over real Macs' command outputs (tests/data/apple)."""

from __future__ import annotations

import sys

import pytest
from fakes.apple import FakeMac, data, scenario

from hwprof.backends.apple import (
    IOREG,
    NOT_MACOS,
    POWER_NEEDS_ROOT,
    POWER_NOT_YET,
    SYSCTL,
    SYSTEM_PROFILER,
    AppleBackend,
    CommandError,
    parse_ioreg,
    parse_size,
    performance_statistics,
    power_note,
    run_command,
)
from hwprof.core.devices import vendor_gpu_state


def test_not_macos_lists_nothing_and_runs_no_command(monkeypatch: pytest.MonkeyPatch) -> None:
    import subprocess

    def no_command(*_a: object, **_k: object) -> None:
        raise AssertionError("a command was run off macOS")

    monkeypatch.setattr(subprocess, "run", no_command)
    backend = AppleBackend(platform="linux")
    assert not backend.available()
    assert backend.unavailable_reason() == NOT_MACOS
    assert backend.devices() == () and backend.sample() == {} and backend.metrics() == ()
    assert not backend.status().available
    if sys.platform != "darwin":
        assert AppleBackend().unavailable_reason() == NOT_MACOS


def test_m2_max_facts() -> None:
    mac = scenario("m2max_idle")
    backend = mac.backend(index_offset=2)
    (gpu,) = backend.devices()
    assert (gpu.index, gpu.vendor, gpu.vendor_index) == (2, "apple", 0)
    assert gpu.name == "Apple M2 Max" and gpu.architecture == "Apple M2"
    assert gpu.compute_units == 38
    assert gpu.memory_total_bytes == 64 * 1024**3 and gpu.unified_memory is True
    assert gpu.metal_support == "Metal 3"
    assert gpu.pci_bus_id is None and gpu.sm_clock_max_mhz is None  # macOS does not say
    assert gpu.peak is not None and gpu.peak.fp32_flops == pytest.approx(13.6e12, rel=0.01)
    assert gpu.peak.fp16_flops == gpu.peak.fp32_flops
    status = backend.status()
    assert status.available and status.chip == "Apple M2 Max"
    assert (status.performance_cores, status.efficiency_cores) == (8, 4)
    assert status.power_note in (POWER_NEEDS_ROOT, POWER_NOT_YET)
    assert status.memory_note is not None and "shared with the CPU" in status.memory_note
    # every command by its absolute path, each asked once however often the facts are read
    backend.devices()
    assert [c[0] for c in mac.calls] == [SYSTEM_PROFILER, SYSCTL]


def test_m3_pro_facts() -> None:
    (gpu,) = scenario("m3pro_busy").backend().devices()
    assert gpu.name == "Apple M3 Pro" and gpu.compute_units == 18
    assert gpu.memory_total_bytes == 18 * 1024**3
    assert gpu.peak is not None and gpu.peak.fp32_flops == pytest.approx(6.44e12, rel=0.01)
    assert "1398 MHz" in gpu.peak.formula


def test_busy_and_idle_readings() -> None:
    busy = scenario("m2max_busy").backend(index_offset=1)
    values = busy.sample()
    assert values["gpu1.util_percent"] == 97.0
    assert values["gpu1.renderer_util_percent"] == 93.0
    assert values["gpu1.tiler_util_percent"] == 11.0
    assert values["gpu1.memory_used_bytes"] == 16 * 1024**3
    assert values["gpu1.memory_allocated_bytes"] == 20 * 1024**3
    assert values["gpu1.memory_total_bytes"] == 64 * 1024**3
    assert values["gpu1.power_watts"] is None  # needs root
    assert {m.name for m in busy.metrics()} == set(values)
    assert busy.live_gpu_indexes() == (1,)
    idle = scenario("m2max_idle").backend().sample()
    assert idle["gpu0.util_percent"] == 0.0 and idle["gpu0.memory_used_bytes"] == 365379584


def test_intel_mac_with_an_amd_gpu_is_not_claimed() -> None:
    mac = scenario("intel_mac_amd")
    backend = mac.backend()
    assert not backend.available() and backend.devices() == ()
    reason = backend.unavailable_reason()
    assert reason == ("no Apple silicon GPU: this Mac's GPUs (Intel UHD Graphics 630, AMD Radeon "
                      "Pro 5500M) are not Apple's, and hwprof does not read GPUs on Intel Macs")
    assert vendor_gpu_state("apple", 0, reason) == f"Apple: {reason}"
    assert [c[0] for c in mac.calls] == [SYSTEM_PROFILER]  # nothing more is asked


@pytest.mark.parametrize(("how", "words"), [
    ("missing", "system_profiler not found (/usr/sbin/system_profiler)"),
    ("timeout", "system_profiler did not answer within 5 s"),
    ("failed", "system_profiler failed: exit status 1"),
    ("\x00{garbled", "system_profiler's output is not the JSON it should be"),
    ("[1, 2]", "system_profiler's output has no sections"),
])
def test_system_profiler_that_cannot_answer_is_one_reason(how: str, words: str) -> None:
    backend = scenario("m2max_busy", {SYSTEM_PROFILER: how}).backend()
    assert not backend.available() and backend.devices() == () and backend.sample() == {}
    assert backend.unavailable_reason() == f"Apple GPU unavailable: {words}"


@pytest.mark.parametrize("how", ["missing", "timeout", "failed", "garbled\n\"x\" = {\"a\"=",
                                 "+-o X <class X>\n  \"PerformanceStatistics\" = {\"Device "
                                 "Utilization %\"=lots}\n"])
def test_ioreg_that_cannot_answer_reads_none(how: str) -> None:
    backend = scenario("m2max_busy", {IOREG: how}).backend()
    values = backend.sample()
    assert values["gpu0.util_percent"] is None and values["gpu0.memory_used_bytes"] is None
    assert values["gpu0.memory_total_bytes"] == 64 * 1024**3  # the facts stand
    if how in ("missing", "timeout", "failed"):
        assert backend.live_reason is not None and "ioreg" in backend.live_reason


def test_sysctl_that_fails_leaves_the_cores_unknown() -> None:
    backend = scenario("m2max_busy", {SYSCTL: "missing"}).backend()
    status = backend.status()
    assert status.available and status.performance_cores is None
    assert status.efficiency_cores is None


def test_a_runner_that_raises_anything_is_a_reason() -> None:
    def broken(_argv: object) -> str:
        raise RuntimeError("boom")

    backend = AppleBackend(broken)
    assert not backend.available()
    assert backend.unavailable_reason() == (
        "Apple GPU unavailable: system_profiler failed: RuntimeError('boom')")


def test_ioreg_parser() -> None:
    objects = parse_ioreg(data("m2max.ioreg-busy.txt"))
    assert len(objects) == 1
    obj = objects[0]
    assert obj["__name__"] == "AGXAcceleratorG14X"
    assert obj["gpu-core-count"] == 38 and obj["IOMatchedAtBoot"] is True
    assert obj["IOPowerManagement"]["MaxPowerState"] == 2
    assert obj["IOReportLegend"][0]["IOReportChannels"][0][0] == -6129780566291185664
    assert obj["SchedulerState"] == "<0100000000000000>"
    assert performance_statistics(data("m3pro.ioreg-busy.txt"))["Device Utilization %"] == 91
    # garbled lines are left out, the rest still read
    text = ('+-o A <class A>\n  "ok" = 1\n  "bad" = {"x"=\n  "worse" = "open\n  "tail" = 2 3\n'
            '  no key here\n  "deep" = ' + "(" * 5000 + "\n")
    assert parse_ioreg(text) == [{"__name__": "A", "ok": 1}]
    assert parse_ioreg("") == [] and performance_statistics("garbage") == {}


def test_sizes() -> None:
    assert parse_size("64 GB") == 64 * 1024**3
    assert parse_size("1536 MB") == 1536 * 1024**2
    assert parse_size("lots") is None and parse_size(64) is None


def test_power_needs_root_unless_root() -> None:
    assert power_note(501) == POWER_NEEDS_ROOT and "sudo powermetrics" in POWER_NEEDS_ROOT
    assert power_note(0) == POWER_NOT_YET


def test_the_real_runner_missing_command_and_timeout() -> None:
    with pytest.raises(CommandError, match=r"^nope not found \(/nonexistent/nope\)$"):
        run_command(["/nonexistent/nope"])
    with pytest.raises(CommandError, match=r"did not answer within 0\.5 s"):
        run_command([sys.executable, "-c", "import time; time.sleep(30)"], timeout_s=0.5)
    with pytest.raises(CommandError, match="failed: bad"):
        run_command([sys.executable, "-c", "import sys; sys.exit('bad')"])
    out = run_command([sys.executable, "-c",
                       "import sys; sys.stdout.buffer.write(b'caf\\xe9 ok')"])
    assert out == "caf\ufffd ok"


def test_fake_mac_records_its_calls() -> None:
    mac = FakeMac("m2max.system_profiler.json", "8\n4\n", None)
    assert mac.backend().sample()["gpu0.util_percent"] is None  # no accelerator listed
    assert mac.calls[-1][0] == IOREG

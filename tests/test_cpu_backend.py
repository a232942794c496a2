"""CPU and host detection, checked against what the OS itself says on this machine."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from hwprof.backends.cpu import (
    detect_cpu,
    detect_host,
    dl_extensions,
    parse_cpu_list,
    parse_proc_cpuinfo,
    parse_size,
    sysfs_caches,
)

LINUX = Path("/proc/cpuinfo").exists()


@pytest.fixture(scope="module")
def cpu():  # type: ignore[no-untyped-def]
    return detect_cpu()


def test_logical_cpus_match_os(cpu) -> None:  # type: ignore[no-untyped-def]
    assert cpu.logical_cpus == os.cpu_count()


@pytest.mark.skipif(not LINUX, reason="reads /proc/cpuinfo")
def test_model_vendor_flags_match_proc_cpuinfo(cpu) -> None:  # type: ignore[no-untyped-def]
    proc = parse_proc_cpuinfo(Path("/proc/cpuinfo").read_text())
    assert len(proc) == os.cpu_count()
    first = proc[0]
    if "model name" in first:
        assert cpu.model_name == first["model name"]
    if "vendor_id" in first:
        assert cpu.vendor == first["vendor_id"]
    flags = set((first.get("flags") or first.get("Features") or "").split())
    assert set(cpu.flags) == flags
    for ext in cpu.dl_extensions:
        assert ext in flags or (ext == "asimd" and "neon" in flags)
    # physical cores: distinct (package, core) pairs in /proc/cpuinfo, where it lists them
    pairs = {(e.get("physical id"), e.get("core id")) for e in proc if "core id" in e}
    if pairs:
        assert cpu.physical_cores == len(pairs)
        assert cpu.sockets == len({p for p, _ in pairs})


@pytest.mark.skipif(not LINUX, reason="reads /proc/meminfo")
def test_memory_matches_proc_meminfo() -> None:
    host = detect_host()
    meminfo = Path("/proc/meminfo").read_text()
    total_kib = int(re.search(r"MemTotal:\s+(\d+) kB", meminfo).group(1))  # type: ignore[union-attr]
    assert host.memory_total_bytes == total_kib * 1024
    assert 0 < (host.memory_available_bytes or 0) <= host.memory_total_bytes


@pytest.mark.skipif(
    not Path("/sys/devices/system/cpu/cpu0/cache").exists(), reason="no sysfs caches"
)
def test_caches_come_from_sysfs_and_agree_with_it(cpu) -> None:  # type: ignore[no-untyped-def]
    assert cpu.sources["caches"] == "sysfs"
    index_dirs = list(Path("/sys/devices/system/cpu/cpu0/cache").glob("index*"))
    for d in index_dirs:
        level = int((d / "level").read_text())
        kind = (d / "type").read_text().strip().lower()
        size = parse_size((d / "size").read_text())
        label = f"L{level}" + {"data": "d", "instruction": "i", "unified": ""}[kind]
        assert cpu.cache(label) is not None
        assert cpu.cache(label).size_bytes == size  # type: ignore[union-attr]


def test_peak_estimate_formula_is_shown(cpu) -> None:  # type: ignore[no-untyped-def]
    if cpu.peak is None:
        pytest.skip("no clock known on this machine")
    assert cpu.peak.is_estimate
    assert cpu.peak.fp32_flops and cpu.peak.fp32_flops > 1e9
    assert "cores x" in cpu.peak.formula and "FLOP/cycle" in cpu.peak.formula
    assert cpu.peak.clock_source


def test_fake_sysfs_tree(tmp_path: Path) -> None:
    """Two cores sharing one L2 and one L3: instances are counted once per shared set."""
    for cpu_n in (0, 1):
        base = tmp_path / f"sys/devices/system/cpu/cpu{cpu_n}"
        for idx, (level, kind, size, shared) in enumerate(
            [
                (1, "Data", "32K", str(cpu_n)),
                (2, "Unified", "1024K", "0-1"),
                (3, "Unified", "32768K", "0-1"),
            ]
        ):
            d = base / f"cache/index{idx}"
            d.mkdir(parents=True)
            (d / "level").write_text(f"{level}\n")
            (d / "type").write_text(f"{kind}\n")
            (d / "size").write_text(f"{size}\n")
            (d / "shared_cpu_list").write_text(f"{shared}\n")
        topo = base / "topology"
        topo.mkdir(parents=True)
        (topo / "physical_package_id").write_text("0\n")
        (topo / "core_id").write_text(f"{cpu_n}\n")
        freq = base / "cpufreq"
        freq.mkdir()
        (freq / "cpuinfo_max_freq").write_text("4100000\n")
    caches = {c.label: c for c in sysfs_caches(tmp_path)}
    assert caches["L1d"].instances == 2 and caches["L1d"].size_bytes == 32 * 1024
    assert caches["L2"].instances == 1 and caches["L2"].size_bytes == 1024 * 1024
    assert caches["L3"].total_bytes == 32 * 1024 * 1024
    (tmp_path / "proc").mkdir()
    (tmp_path / "proc/cpuinfo").write_text(
        "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Test CPU @ 2.60GHz\n"
        "flags\t\t: sse4_2 avx avx2 fma avx512f\ncpu MHz\t\t: 2600.000\n\n"
        "processor\t: 1\nvendor_id\t: GenuineIntel\nmodel name\t: Test CPU @ 2.60GHz\n"
        "flags\t\t: sse4_2 avx avx2 fma avx512f\ncpu MHz\t\t: 2600.000\n"
    )
    info = detect_cpu(tmp_path)
    assert info.model_name == "Test CPU @ 2.60GHz"
    assert info.physical_cores == 2 and info.sockets == 1
    assert info.frequency_max_hz == 4.1e9
    assert info.frequency_base_hz == 2.6e9 and info.sources["frequency_base"] == "model name"
    # the max clock is the one the peak uses: 2 cores x 4.1 GHz x 64 FLOP/cycle
    assert info.peak is not None and info.peak.fp32_flops == pytest.approx(2 * 4.1e9 * 64)
    assert info.dl_extensions == ("sse4_2", "avx", "avx2", "fma", "avx512f")


def test_parsers() -> None:
    assert parse_size("48K") == 48 * 1024
    assert parse_size("2048 KiB") == 2 * 1024 * 1024
    assert parse_size("32 MiB") == 32 * 1024 * 1024
    assert parse_size("junk") is None and parse_size(None) is None
    assert parse_cpu_list("0-3,8,10-11") == [0, 1, 2, 3, 8, 10, 11]
    assert parse_cpu_list("") == []
    assert dl_extensions(["neon", "sve", "bf16"]) == ("asimd", "bf16", "sve")


def _proc(tmp_path: Path, text: str) -> None:
    (tmp_path / "proc").mkdir(exist_ok=True)
    (tmp_path / "proc/cpuinfo").write_text(text)


@pytest.mark.skipif(not LINUX, reason="reads /proc/cpuinfo")
def test_family_model_stepping_match_proc_cpuinfo(cpu) -> None:  # type: ignore[no-untyped-def]
    first = parse_proc_cpuinfo(Path("/proc/cpuinfo").read_text())[0]
    if "cpu family" not in first:
        pytest.skip("not an x86 CPU")
    assert (cpu.family, cpu.model, cpu.stepping) == (
        int(first["cpu family"]), int(first["model"]), int(first["stepping"]))
    assert cpu.sources["family"] == "/proc/cpuinfo"
    assert cpu.peak is not None and cpu.peak.basis and cpu.peak.clock_kind


def test_cpuid_numbers_from_proc_and_the_peak_uses_them(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Zen 4 and Zen 5 under one name ("AMD EPYC"): the family in /proc/cpuinfo decides."""
    monkeypatch.setattr("hwprof.backends.cpu.cpuinfo_facts", lambda: {})
    block = ("processor\t: {n}\nvendor_id\t: AuthenticAMD\ncpu family\t: {family}\nmodel\t\t: "
             "{model}\nmodel name\t: AMD EPYC\nstepping\t: 1\nflags\t\t: sse4_2 avx avx2 fma "
             "avx512f avx512_bf16\ncpu MHz\t\t: 2600.000\n")
    per_cycle = {}
    for family, model in ((25, 17), (26, 2)):
        _proc(tmp_path, "\n".join(block.format(n=n, family=family, model=model) for n in (0, 1)))
        info = detect_cpu(tmp_path)
        assert (info.family, info.model, info.stepping) == (family, model, 1)
        assert info.peak is not None and info.peak.clock_hz
        per_cycle[family] = info.peak.fp32_flops / info.peak.clock_hz  # type: ignore[operator]
    assert per_cycle[26] == 2 * per_cycle[25]


def test_no_proc_no_sysfs_uses_py_cpuinfo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Windows and macOS: no /proc, no sysfs; py-cpuinfo gives family, model and stepping."""
    monkeypatch.setattr("hwprof.backends.cpu.cpuinfo_facts", lambda: {
        "brand_raw": "Intel(R) Xeon(R) Gold 6148 CPU @ 2.40GHz", "vendor_id_raw": "GenuineIntel",
        "family": 6, "model": 85, "stepping": 4, "flags": ["avx2", "fma", "avx512f"],
        "hz_advertised": [2400000000, 0]})
    info = detect_cpu(tmp_path)  # an empty folder: neither /proc nor /sys
    assert (info.family, info.model, info.stepping) == (6, 85, 4)
    assert info.sources["family"] == "py-cpuinfo" and info.efficiency_cores is None
    assert info.peak is not None and "two AVX-512 FMA units" in (info.peak.basis or "")


def test_arm_parts_counted_per_core_kind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """big.LITTLE: each MIDR part with its count of CPUs (Apple M2 on Linux: 4 + 4)."""
    monkeypatch.setattr("hwprof.backends.cpu.cpuinfo_facts", lambda: {})
    blocks = [f"processor\t: {n}\nFeatures\t: fp asimd\nCPU implementer\t: 0x61\n"
              f"CPU part\t: {'0x032' if n < 4 else '0x033'}\n" for n in range(8)]
    _proc(tmp_path, "\n".join(blocks))
    info = detect_cpu(tmp_path)
    assert info.arm_implementer == 0x61 and info.arm_parts == {"0x032": 4, "0x033": 4}
    assert info.family is None and info.sources["arm_parts"] == "/proc/cpuinfo"


def test_efficiency_cores_from_sysfs_cpu_atom(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("hwprof.backends.cpu.cpuinfo_facts", lambda: {})
    atom = tmp_path / "sys/devices/cpu_atom"
    atom.mkdir(parents=True)
    (atom / "cpus").write_text("16-23\n")
    for n in range(24):  # 8 P-cores with two threads (0-15), 8 E-cores (16-23)
        topo = tmp_path / f"sys/devices/system/cpu/cpu{n}/topology"
        topo.mkdir(parents=True)
        (topo / "physical_package_id").write_text("0\n")
        (topo / "core_id").write_text(f"{n // 2 if n < 16 else n}\n")
    _proc(tmp_path, "processor\t: 0\nvendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel\t\t: 151"
          "\nflags\t\t: avx avx2 fma\ncpu MHz\t\t: 3200.000\n")
    info = detect_cpu(tmp_path)
    assert info.efficiency_cores == 8 and info.physical_cores == 16
    assert info.peak is not None and "8 P-cores x 32 + 8 E-cores x 16" in info.peak.formula


def test_old_cpu_descriptions_still_load() -> None:
    """A snapshot written before family/model and the estimate's basis were recorded."""
    from hwprof.core.devices import CpuInfo

    old = {"vendor": "GenuineIntel", "model_name": "X", "architecture": "x86_64", "sockets": 1,
           "physical_cores": 2, "logical_cpus": 2, "threads_per_core": 1,
           "frequency_base_hz": 2.6e9, "frequency_max_hz": None, "frequency_current_hz": None,
           "numa_nodes": 1, "peak": {"fp32_flops": 1e11, "bf16_flops": None, "formula": "f",
                                     "clock_hz": 2.6e9, "clock_source": "base clock"}}
    info = CpuInfo.model_validate(old)
    assert info.family is None and info.arm_parts == {} and info.peak is not None
    assert info.peak.basis is None and info.peak.notes == ()


def test_macos_efficiency_cores_from_sysctl(monkeypatch: pytest.MonkeyPatch) -> None:
    """macOS has no sysfs: hw.perflevel1 is the E-cores' level where there are two levels."""
    import hwprof.backends.cpu as backend

    values = {"hw.nperflevels": 2, "hw.perflevel1.physicalcpu": 4}
    monkeypatch.setattr(backend, "_sysctl_int", values.get)
    monkeypatch.setattr(backend.sys, "platform", "darwin")
    sources: dict[str, str] = {}
    if Path("/sys/devices/cpu_atom").exists():
        pytest.skip("this machine has a cpu_atom PMU; sysfs answers first")
    assert backend._efficiency_cores(Path("/"), sources) == 4
    assert sources["efficiency_cores"] == "sysctl hw.perflevel1.physicalcpu"
    values["hw.nperflevels"] = 1  # one kind of core: not hybrid
    assert backend._efficiency_cores(Path("/"), {}) is None

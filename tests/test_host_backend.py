"""Live host readings: from a fake /proc and sysfs tree (exact), and from this machine (sane)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hwprof.backends.host import (
    HostBackend,
    find_cpu_temperature_inputs,
    parse_cpuinfo_mhz,
    parse_proc_stat,
    utilization_percent,
)

MEMINFO = """MemTotal:       16000000 kB
MemFree:         1000000 kB
MemAvailable:    6000000 kB
Buffers:          100000 kB
Cached:          4000000 kB
SwapTotal:       2000000 kB
SwapFree:        1500000 kB
"""


def stat_text(cpus: list[tuple[int, int, int, int, int]]) -> str:
    """/proc/stat from (user, system, idle, iowait, steal) per CPU, with the total line."""

    def line(label: str, u: int, s: int, i: int, w: int, st: int) -> str:
        return f"{label} {u} 0 {s} {i} {w} 0 0 {st} {u // 10} 0"  # guest is inside user

    total = [sum(c[k] for c in cpus) for k in range(5)]
    lines = [line("cpu ", *total)]  # the kernel writes "cpu  " with two spaces
    lines += [line(f"cpu{n}", *c) for n, c in enumerate(cpus)]
    lines += ["intr 12345 0 0", "ctxt 999", "btime 1700000000"]
    return "\n".join(lines) + "\n"


class Clock:
    def __init__(self) -> None:
        self.now = 10.0

    def __call__(self) -> float:
        return self.now


def fake_root(tmp_path: Path, *, cpufreq: bool = True) -> Path:
    proc = tmp_path / "proc"
    proc.mkdir()
    (proc / "stat").write_text(stat_text([(100, 50, 800, 50, 0), (200, 100, 700, 0, 0)]))
    (proc / "meminfo").write_text(MEMINFO)
    (proc / "cpuinfo").write_text(
        "processor\t: 0\ncpu MHz\t\t: 2400.000\n\nprocessor\t: 1\ncpu MHz\t\t: 3100.500\n\n"
    )
    if cpufreq:
        for n, khz in ((0, 3_500_000), (1, 1_200_000)):
            d = tmp_path / f"sys/devices/system/cpu/cpu{n}/cpufreq"
            d.mkdir(parents=True)
            (d / "scaling_cur_freq").write_text(f"{khz}\n")
    hw = tmp_path / "sys/class/hwmon/hwmon0"
    hw.mkdir(parents=True)
    (hw / "name").write_text("coretemp\n")
    (hw / "temp1_label").write_text("Package id 0\n")
    (hw / "temp1_input").write_text("61000\n")
    (hw / "temp2_label").write_text("Core 0\n")
    (hw / "temp2_input").write_text("75000\n")  # a hot core, but the package is what is asked
    other = tmp_path / "sys/class/hwmon/hwmon1"
    other.mkdir(parents=True)
    (other / "name").write_text("nvme\n")
    (other / "temp1_input").write_text("90000\n")
    return tmp_path


def test_fake_tree_readings_are_exact(tmp_path: Path) -> None:
    root = fake_root(tmp_path)
    host = HostBackend(root, rapl=False)
    names = [m.name for m in host.metrics()]
    assert names[:3] == ["cpu.util_percent", "cpu.freq_mhz", "cpu.temperature_c"]
    assert "cpu.core1.freq_mhz" in names and "cpu.package_power_watts" not in names
    assert host.cpus == (0, 1)
    first = host.sample()
    assert set(first) == set(names)
    assert first["cpu.util_percent"] is None  # needs two readings
    assert first["cpu.core0.freq_mhz"] == 3500.0 and first["cpu.core1.freq_mhz"] == 1200.0
    assert first["cpu.freq_mhz"] == pytest.approx(2350.0)
    assert first["cpu.temperature_c"] == 61.0
    assert first["host.memory_total_bytes"] == 16000000 * 1024
    assert first["host.memory_available_bytes"] == 6000000 * 1024
    assert first["host.memory_used_bytes"] == 10000000 * 1024
    assert first["host.swap_used_bytes"] == 500000 * 1024

    # cpu0: +60 busy (user 40, system 20), +40 idle -> 60%; cpu1: +100 idle only -> 0%
    (root / "proc/stat").write_text(stat_text([(140, 70, 830, 60, 0), (200, 100, 800, 0, 0)]))
    second = host.sample()
    assert second["cpu.core0.util_percent"] == pytest.approx(60.0)
    assert second["cpu.core1.util_percent"] == pytest.approx(0.0)
    assert second["cpu.util_percent"] == pytest.approx(30.0)
    host.close()


def test_iowait_counted_as_idle_and_steal_as_busy() -> None:
    before = parse_proc_stat(stat_text([(0, 0, 0, 0, 0)]))
    after = parse_proc_stat(stat_text([(10, 0, 50, 30, 10)]))
    # busy = user + steal = 20 of 100
    assert utilization_percent(before[0], after[0]) == pytest.approx(20.0)
    assert utilization_percent(None, after[0]) is None
    assert utilization_percent(after[0], after[0]) is None  # no time passed
    # iowait going backwards (tickless kernels) never gives a figure outside 0..100
    assert utilization_percent((100, 200), (50, 210)) == 0.0


def test_clock_from_proc_cpuinfo_when_there_is_no_cpufreq(tmp_path: Path) -> None:
    root = fake_root(tmp_path, cpufreq=False)
    clock = Clock()
    host = HostBackend(root, rapl=False, clock=clock, cpuinfo_refresh_s=1.0)
    v = host.sample()
    assert v["cpu.core0.freq_mhz"] == 2400.0 and v["cpu.core1.freq_mhz"] == 3100.5
    (root / "proc/cpuinfo").write_text(
        "processor\t: 0\ncpu MHz\t\t: 1000.000\n\nprocessor\t: 1\ncpu MHz\t\t: 1000.000\n\n"
    )
    clock.now += 0.5
    assert host.sample()["cpu.core0.freq_mhz"] == 2400.0  # re-read at most once a second
    clock.now += 0.6
    assert host.sample()["cpu.core0.freq_mhz"] == 1000.0
    host.close()


def test_no_sensors_no_clock_gives_no_such_metrics(tmp_path: Path) -> None:
    (tmp_path / "proc").mkdir()
    (tmp_path / "proc/stat").write_text(stat_text([(1, 1, 1, 1, 0)]))
    (tmp_path / "proc/meminfo").write_text(MEMINFO)
    host = HostBackend(tmp_path)
    names = [m.name for m in host.metrics()]
    assert "cpu.temperature_c" not in names and "cpu.freq_mhz" not in names
    notes = " ".join(host.notes())
    assert "temperature" in notes and "package power" in notes and "clocks" in notes
    assert set(host.sample()) == set(names)
    host.close()


def test_temperature_sources(tmp_path: Path) -> None:
    hw = tmp_path / "sys/class/hwmon/hwmon3"
    hw.mkdir(parents=True)
    (hw / "name").write_text("k10temp\n")
    for n, (label, value) in enumerate((("Tctl", 80000), ("Tdie", 70000), ("Tccd1", 65000)), 1):
        (hw / f"temp{n}_label").write_text(label)
        (hw / f"temp{n}_input").write_text(str(value))
    assert [p.name for p in find_cpu_temperature_inputs(tmp_path)] == ["temp2_input"]  # Tdie

    zones = tmp_path / "z"
    for n, (kind, value) in enumerate((("acpitz", 30000), ("x86_pkg_temp", 55000))):
        d = zones / f"sys/class/thermal/thermal_zone{n}"
        d.mkdir(parents=True)
        (d / "type").write_text(kind)
        (d / "temp").write_text(str(value))
    found = find_cpu_temperature_inputs(zones)
    assert [p.parent.name for p in found] == ["thermal_zone1"]
    (zones / "proc").mkdir()
    (zones / "proc/stat").write_text(stat_text([(1, 1, 1, 1, 0)]))
    host = HostBackend(zones, rapl=False)
    assert host.sample()["cpu.temperature_c"] == 55.0
    host.close()


def test_parsers_tolerate_odd_input() -> None:
    text = "processor : 0\nmodel name : x\n\nprocessor : 1\ncpu MHz : bad\n"
    assert parse_cpuinfo_mhz(text) == {}
    assert parse_proc_stat("cpu  1 2 3 4\nintr 5\n") == {None: (6, 10)}  # fewer fields


def test_this_machine() -> None:
    host = HostBackend()
    names = [m.name for m in host.metrics()]
    host.sample()
    v = host.sample()
    assert set(v) == set(names)
    assert len(host.cpus) >= 1 and f"cpu.core{host.cpus[0]}.util_percent" in v
    assert (v["host.memory_total_bytes"] or 0) > (v["host.memory_used_bytes"] or 0) > 0
    for name, value in v.items():
        if name.endswith("util_percent") and value is not None:
            assert 0.0 <= value <= 100.0
    assert host.devices()[0].memory_total_bytes
    host.close()

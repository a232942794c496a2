"""RAPL package power from a fake powercap tree: differences, wraps, several packages, no access."""

from __future__ import annotations

from pathlib import Path

import pytest

from hwprof.backends.host import HostBackend
from hwprof.backends.rapl import RaplReader, energy_delta_uj

MAX_RANGE_UJ = 262143328850  # a real package's max_energy_range_uj


class Clock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


def zone(root: Path, dirname: str, name: str, energy_uj: int, max_uj: int = MAX_RANGE_UJ) -> Path:
    d = root / dirname
    d.mkdir(parents=True)
    (d / "name").write_text(name + "\n")
    (d / "energy_uj").write_text(f"{energy_uj}\n")
    (d / "max_energy_range_uj").write_text(f"{max_uj}\n")
    return d


def set_energy(d: Path, energy_uj: int) -> None:
    (d / "energy_uj").write_text(f"{energy_uj}\n")


def test_power_is_energy_over_time(tmp_path: Path) -> None:
    pkg = zone(tmp_path, "intel-rapl:0", "package-0", 1_000_000)
    zone(tmp_path, "intel-rapl:0:0", "core", 500_000)  # a sub-zone: inside the package already
    zone(tmp_path, "intel-rapl-mmio:0", "package-0", 1_000_000)  # the same package again
    (tmp_path / "intel-rapl").mkdir()  # the control type directory
    clock = Clock()
    rapl = RaplReader(tmp_path, clock=clock)
    assert rapl.available() and rapl.packages == (0,) and rapl.unavailable_reason() is None
    assert [m.name for m in rapl.metrics()] == [
        "cpu.package_power_watts",
        "cpu.package_energy_joules",
    ]
    first = rapl.sample()
    assert first == {"cpu.package_power_watts": None, "cpu.package_energy_joules": 0.0}
    set_energy(pkg, 1_000_000 + 25_000_000)  # 25 J ...
    clock.now += 0.5  # ... in half a second
    assert rapl.sample() == {
        "cpu.package_power_watts": pytest.approx(50.0),
        "cpu.package_energy_joules": pytest.approx(25.0),
    }
    rapl.close()


def test_counter_wrap_is_handled(tmp_path: Path) -> None:
    max_uj = 1_000_000_000
    pkg = zone(tmp_path, "intel-rapl:0", "package-0", max_uj - 3_000_000, max_uj)
    clock = Clock()
    rapl = RaplReader(tmp_path, clock=clock)
    rapl.sample()
    set_energy(pkg, 2_000_000)  # went past the top: 3 J to the wrap, 2 J after it
    clock.now += 0.5
    v = rapl.sample()
    assert v["cpu.package_power_watts"] == pytest.approx(10.0)
    assert v["cpu.package_energy_joules"] == pytest.approx(5.0)
    set_energy(pkg, 6_000_000)  # and on as usual after the wrap
    clock.now += 1.0
    v = rapl.sample()
    assert v["cpu.package_power_watts"] == pytest.approx(4.0)
    assert v["cpu.package_energy_joules"] == pytest.approx(9.0)
    rapl.close()


def test_energy_delta_function() -> None:
    assert energy_delta_uj(100, 250, 1000) == 150
    assert energy_delta_uj(900, 50, 1000) == 150
    assert energy_delta_uj(900, 50, None) is None  # a wrap without a known range: no reading


def test_two_packages_sum_and_each(tmp_path: Path) -> None:
    p0 = zone(tmp_path, "intel-rapl:0", "package-0", 0)
    p1 = zone(tmp_path, "intel-rapl:1", "package-1", 0)
    zone(tmp_path, "intel-rapl:2", "psys", 0)  # the whole platform: would double count
    clock = Clock()
    rapl = RaplReader(tmp_path, clock=clock)
    assert rapl.packages == (0, 1)
    assert {m.name for m in rapl.metrics()} == {
        "cpu.package_power_watts",
        "cpu.package_energy_joules",
        "cpu.package0.power_watts",
        "cpu.package1.power_watts",
    }
    rapl.sample()
    set_energy(p0, 30_000_000)
    set_energy(p1, 10_000_000)
    clock.now += 1.0
    v = rapl.sample()
    assert v["cpu.package0.power_watts"] == pytest.approx(30.0)
    assert v["cpu.package1.power_watts"] == pytest.approx(10.0)
    assert v["cpu.package_power_watts"] == pytest.approx(40.0)
    rapl.close()


def test_unreadable_counters_say_why_once(tmp_path: Path) -> None:
    d = tmp_path / "intel-rapl:0"
    d.mkdir()
    (d / "name").write_text("package-0\n")
    (d / "energy_uj").mkdir()  # reading fails (as for a root-only file), whoever we are
    rapl = RaplReader(tmp_path)
    assert not rapl.available()
    assert "not readable" in (rapl.unavailable_reason() or "")
    assert rapl.metrics() == () and rapl.sample() == {}


def test_no_rapl_at_all(tmp_path: Path) -> None:
    rapl = RaplReader(tmp_path / "nothing")
    assert not rapl.available() and "no RAPL" in (rapl.unavailable_reason() or "")


def test_host_backend_reads_rapl_under_its_root(tmp_path: Path) -> None:
    pkg = zone(tmp_path / "sys/class/powercap", "intel-rapl:0", "package-0", 0)
    host = HostBackend(tmp_path)
    assert "cpu.package_power_watts" in [m.name for m in host.metrics()]
    host.sample()
    set_energy(pkg, 5_000_000)
    v = host.sample()
    assert v["cpu.package_power_watts"] is not None and v["cpu.package_power_watts"] > 0
    assert v["cpu.package_energy_joules"] == pytest.approx(5.0)
    host.close()

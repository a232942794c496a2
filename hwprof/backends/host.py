"""Live CPU and host readings: utilization, clocks, temperature, package power, load, memory.

On Linux the readings come straight from /proc and sysfs, through files opened once and re-read with
``pread`` (a tick costs tens of microseconds, and nothing else in the process can disturb the
bookkeeping the way a shared ``psutil.cpu_percent`` state could). Elsewhere psutil supplies what it
can. ``root`` lets tests point every reader at a fake tree.

Utilization is counted as psutil and top count it: busy = all time except idle and I/O wait, over
the time since the previous reading (so the first reading has none).
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psutil

from hwprof.backends.rapl import RaplReader, read_int_fd
from hwprof.core.devices import HostInfo
from hwprof.core.telemetry import MetricInfo, metric_infos

# hwmon drivers of CPU temperature sensors, and thermal zone types that are the CPU.
_HWMON_CPU = ("coretemp", "k10temp", "zenpower", "cpu_thermal", "cpu-thermal", "soc_thermal")
_THERMAL_ZONE_CPU = re.compile(r"x86_pkg_temp|cpu|soc[-_]thermal", re.IGNORECASE)
_READ_SIZE = 1 << 16  # /proc/stat's cpu lines come first; 64 KiB holds them for ~1000 CPUs


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None


def parse_proc_stat(text: str) -> dict[int | None, tuple[int, int]]:
    """/proc/stat's cpu lines -> {cpu id (None for all): (busy ticks, total ticks)}.

    total counts user, nice, system, idle, iowait, irq, softirq and steal (guest time is already in
    user and nice); busy is total less idle and iowait.
    """
    out: dict[int | None, tuple[int, int]] = {}
    for line in text.splitlines():
        if not line.startswith("cpu"):
            break
        parts = line.split()
        label = parts[0]
        try:
            fields = [int(x) for x in parts[1:9]]
        except ValueError:
            continue
        fields += [0] * (8 - len(fields))
        total = sum(fields)
        idle = fields[3] + fields[4]
        key: int | None = None if label == "cpu" else int(label[3:])
        out[key] = (total - idle, total)
    return out


# The /proc/meminfo fields the sampler uses (all in kB, meaning KiB); a regex is 3x faster than
# splitting all ~55 lines each tick.
_MEMINFO_FIELDS = re.compile(
    r"^(MemTotal|MemFree|MemAvailable|Buffers|Cached|SwapTotal|SwapFree):\s+(\d+) kB", re.MULTILINE
)


def parse_meminfo(text: str) -> dict[str, int]:
    """/proc/meminfo -> {field: bytes} for the memory and swap fields the sampler reads."""
    return {key: int(value) * 1024 for key, value in _MEMINFO_FIELDS.findall(text)}


def parse_cpuinfo_mhz(text: str) -> dict[int, float]:
    """/proc/cpuinfo -> {logical CPU: "cpu MHz"} (x86 only writes it)."""
    out: dict[int, float] = {}
    cpu: int | None = None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "processor":
            try:
                cpu = int(value)
            except ValueError:
                cpu = None
        elif key == "cpu MHz" and cpu is not None:
            with contextlib.suppress(ValueError):
                out[cpu] = float(value)
    return out


def utilization_percent(
    previous: tuple[int, int] | None, current: tuple[int, int] | None
) -> float | None:
    """Busy share between two (busy, total) readings; None when it cannot be known."""
    if previous is None or current is None:
        return None
    d_total = current[1] - previous[1]
    if d_total <= 0:
        return None
    # iowait may go backwards on tickless kernels, so busy can move oddly: keep it in range.
    return min(100.0, max(0.0, 100.0 * (current[0] - previous[0]) / d_total))


def find_cpu_temperature_inputs(root: Path = Path("/")) -> list[Path]:
    """The sysfs files (millidegrees C) that hold the CPU package temperature, best first."""
    inputs: list[Path] = []
    for hw in sorted((root / "sys/class/hwmon").glob("hwmon*")):
        name = _read_text(hw / "name") or _read_text(hw / "device/name")
        if name not in _HWMON_CPU:
            continue
        base = hw if list(hw.glob("temp*_input")) else hw / "device"
        labelled = {
            p: _read_text(p.with_name(p.name.replace("_input", "_label"))) or ""
            for p in sorted(base.glob("temp*_input"))
        }
        if name == "coretemp":
            chosen = [p for p, label in labelled.items() if label.startswith("Package id")]
        elif name in ("k10temp", "zenpower"):
            chosen = [p for p, label in labelled.items() if label == "Tdie"] or [
                p for p, label in labelled.items() if label == "Tctl"
            ]
        else:
            chosen = []
        inputs.extend(chosen or list(labelled))
    if inputs:
        return inputs
    for zone in sorted((root / "sys/class/thermal").glob("thermal_zone*")):
        kind = _read_text(zone / "type") or ""
        if _THERMAL_ZONE_CPU.search(kind) and (zone / "temp").exists():
            inputs.append(zone / "temp")
    return inputs


class _OpenFile:
    """A small sysfs/procfs file kept open and re-read from offset 0 (cheaper than opening)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd: int | None
        try:
            self.fd = os.open(path, os.O_RDONLY)
        except OSError:
            self.fd = None

    def read_text(self, size: int = _READ_SIZE) -> str | None:
        if self.fd is None:
            return None
        try:
            return os.pread(self.fd, size, 0).decode("ascii", errors="replace")
        except OSError:
            return None

    def read_int(self) -> int | None:
        return None if self.fd is None else read_int_fd(self.fd)

    def close(self) -> None:
        if self.fd is not None:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = None


class HostBackend:
    """The CPU and the host, read live. The metric list is fixed when it is made."""

    name = "host"

    def __init__(
        self,
        root: Path = Path("/"),
        *,
        rapl: RaplReader | bool = True,
        clock: Callable[[], float] = time.monotonic,
        cpuinfo_refresh_s: float = 1.0,
    ) -> None:
        self.root = Path(root)
        self._clock = clock
        self._files: list[_OpenFile] = []
        self._stat = self._open(self.root / "proc/stat")
        self._meminfo = self._open(self.root / "proc/meminfo")
        first = self._stat.read_text()
        self._linux = first is not None
        if first is not None:
            self._cpus = sorted(k for k in parse_proc_stat(first) if k is not None)
        else:
            self._cpus = list(range(psutil.cpu_count(logical=True) or 1))
        self._last_times: dict[int | None, tuple[int, int]] = {}

        # clocks: cpufreq files, else /proc/cpuinfo (re-read at most every cpuinfo_refresh_s, as it
        # is long on big machines), else psutil
        self._freq_files: dict[int, _OpenFile] = {}
        for cpu in self._cpus:
            path = self.root / f"sys/devices/system/cpu/cpu{cpu}/cpufreq/scaling_cur_freq"
            if path.exists():
                f = self._open(path)
                if f.fd is not None:
                    self._freq_files[cpu] = f
        self._cpuinfo: _OpenFile | None = None
        self._cpuinfo_refresh_s = cpuinfo_refresh_s
        self._cpuinfo_next = 0.0
        self._cpuinfo_mhz: dict[int, float] = {}
        if not self._freq_files and self._linux:
            f = self._open(self.root / "proc/cpuinfo")
            text = f.read_text(1 << 22)
            if text and parse_cpuinfo_mhz(text):
                self._cpuinfo = f
        self._psutil_freq = (
            not self._linux and not self._freq_files and self._psutil_freq_now() is not None
        )

        self._temps = [self._open(p) for p in find_cpu_temperature_inputs(self.root)]
        self._temps = [t for t in self._temps if t.read_int() is not None]

        self._has_loadavg = hasattr(os, "getloadavg") and sys.platform != "win32"

        if isinstance(rapl, RaplReader):
            self.rapl: RaplReader | None = rapl
        elif rapl:
            self.rapl = RaplReader(self.root / "sys/class/powercap")
        else:
            self.rapl = None
        self._metrics = self._metric_list()

    def _open(self, path: Path) -> _OpenFile:
        f = _OpenFile(path)
        self._files.append(f)
        return f

    @staticmethod
    def _psutil_freq_now() -> list[float] | None:
        try:
            freqs = psutil.cpu_freq(percpu=True)
        except (OSError, NotImplementedError, RuntimeError, AttributeError):
            return None
        values = [float(f.current) for f in freqs or [] if f.current]
        return values or None

    # -- the Backend protocol
    # -----------------------------------------------------------------------------------
    def available(self) -> bool:
        """The host can always be read, if only through psutil."""
        return True

    def unavailable_reason(self) -> str | None:
        """Never unavailable as a whole."""
        return None

    def devices(self) -> tuple[HostInfo, ...]:
        """The host's static facts."""
        from hwprof.backends.cpu import detect_host

        return (detect_host(self.root),)

    @property
    def cpus(self) -> tuple[int, ...]:
        """The logical CPUs read, by OS number."""
        return tuple(self._cpus)

    def notes(self) -> tuple[str, ...]:
        """What this machine does not expose, one line each (for a status line, shown once)."""
        out = []
        if not self._temps:
            out.append("CPU temperature: the OS exposes no CPU sensor here")
        if self.rapl is None or not self.rapl.available():
            reason = self.rapl.unavailable_reason() if self.rapl is not None else "not asked for"
            out.append(f"CPU package power: {reason}")
        if not self._freq_files and self._cpuinfo is None and not self._psutil_freq:
            out.append("CPU clocks: the OS reports none")
        return tuple(out)

    def metrics(self) -> tuple[MetricInfo, ...]:
        """Every metric :meth:`sample` gives, in order."""
        return self._metrics

    def _metric_list(self) -> tuple[MetricInfo, ...]:
        names = ["cpu.util_percent"]
        has_freq = bool(self._freq_files or self._cpuinfo or self._psutil_freq)
        if has_freq:
            names.append("cpu.freq_mhz")
        if self._temps:
            names.append("cpu.temperature_c")
        rapl = self.rapl.metrics() if self.rapl is not None else ()
        names += [m.name for m in rapl]
        if self._has_loadavg:
            names += ["host.load_1min", "host.load_5min", "host.load_15min"]
        names += [
            "host.memory_used_bytes",
            "host.memory_available_bytes",
            "host.memory_total_bytes",
            "host.swap_used_bytes",
            "host.swap_total_bytes",
        ]
        names += [f"cpu.core{c}.util_percent" for c in self._cpus]
        if has_freq:
            names += [f"cpu.core{c}.freq_mhz" for c in self._cpus]
        return metric_infos(names)

    def sample(self) -> dict[str, float | None]:
        """One reading of every metric; a reading that fails is None."""
        out: dict[str, float | None] = {}
        self._sample_cpu_times(out)
        self._sample_freq(out)
        if self._temps:
            temps = [t.read_int() for t in self._temps]
            valid = [t / 1000.0 for t in temps if t is not None]
            out["cpu.temperature_c"] = max(valid) if valid else None
        if self.rapl is not None:
            out.update(self.rapl.sample())
        if self._has_loadavg:
            try:
                one, five, fifteen = os.getloadavg()
                out["host.load_1min"], out["host.load_5min"], out["host.load_15min"] = (
                    one,
                    five,
                    fifteen,
                )
            except OSError:
                out["host.load_1min"] = out["host.load_5min"] = out["host.load_15min"] = None
        self._sample_memory(out)
        return out

    def _sample_cpu_times(self, out: dict[str, float | None]) -> None:
        times: dict[int | None, tuple[int, int]] | None = None
        if self._linux:
            text = self._stat.read_text()
            times = parse_proc_stat(text) if text else None
        else:
            times = _psutil_cpu_times()
        times = times or {}
        last = self._last_times
        out["cpu.util_percent"] = utilization_percent(last.get(None), times.get(None))
        for c in self._cpus:
            out[f"cpu.core{c}.util_percent"] = utilization_percent(last.get(c), times.get(c))
        self._last_times = times

    def _sample_freq(self, out: dict[str, float | None]) -> None:
        mhz: dict[int, float] = {}
        if self._freq_files:
            for cpu, f in self._freq_files.items():
                khz = f.read_int()
                if khz:
                    mhz[cpu] = khz / 1000.0
        elif self._cpuinfo is not None:
            now = self._clock()
            if now >= self._cpuinfo_next:
                text = self._cpuinfo.read_text(1 << 22)
                self._cpuinfo_mhz = parse_cpuinfo_mhz(text) if text else {}
                self._cpuinfo_next = now + self._cpuinfo_refresh_s
            mhz = self._cpuinfo_mhz
        elif self._psutil_freq:
            values = self._psutil_freq_now() or []
            if len(values) == len(self._cpus):
                mhz = dict(zip(self._cpus, values, strict=True))
            elif values:
                out["cpu.freq_mhz"] = sum(values) / len(values)
        else:
            return
        for c in self._cpus:
            out[f"cpu.core{c}.freq_mhz"] = mhz.get(c)
        if mhz:
            out["cpu.freq_mhz"] = sum(mhz.values()) / len(mhz)
        else:
            out.setdefault("cpu.freq_mhz", None)

    def _sample_memory(self, out: dict[str, float | None]) -> None:
        text = self._meminfo.read_text() if self._linux else None
        if text:
            mem = parse_meminfo(text)
            total = mem.get("MemTotal")
            available = mem.get("MemAvailable")
            if available is None and "MemFree" in mem:  # kernels before 3.14
                available = mem["MemFree"] + mem.get("Buffers", 0) + mem.get("Cached", 0)
            swap_total = mem.get("SwapTotal")
            swap_free = mem.get("SwapFree")
        else:
            try:
                vm, sw = psutil.virtual_memory(), psutil.swap_memory()
                total, available = int(vm.total), int(vm.available)
                swap_total, swap_free = int(sw.total), int(sw.free)
            except (OSError, RuntimeError):
                total = available = swap_total = swap_free = None
        out["host.memory_total_bytes"] = total
        out["host.memory_available_bytes"] = available
        out["host.memory_used_bytes"] = (
            total - available if total is not None and available is not None else None
        )
        out["host.swap_total_bytes"] = swap_total
        out["host.swap_used_bytes"] = (
            swap_total - swap_free if swap_total is not None and swap_free is not None else None
        )

    def close(self) -> None:
        """Close every file kept open."""
        for f in self._files:
            f.close()
        if self.rapl is not None:
            self.rapl.close()


def _psutil_cpu_times() -> dict[int | None, tuple[int, int]] | None:
    """(busy, total) per CPU from psutil, in microseconds, where /proc/stat is not there."""
    try:
        per_cpu = psutil.cpu_times(percpu=True)
    except (OSError, RuntimeError):
        return None

    def busy_total(t: object) -> tuple[int, int]:
        fields = t._asdict()  # type: ignore[attr-defined]
        idle = fields.get("idle", 0.0) + fields.get("iowait", 0.0)
        total = sum(v for k, v in fields.items() if k not in ("guest", "guest_nice"))
        return int((total - idle) * 1e6), int(total * 1e6)

    out: dict[int | None, tuple[int, int]] = {i: busy_total(t) for i, t in enumerate(per_cpu)}
    if out:
        out[None] = (
            sum(v[0] for v in out.values()),
            sum(v[1] for v in out.values()),
        )
    return out

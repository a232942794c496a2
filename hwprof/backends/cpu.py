"""CPU and host facts from the OS (sysfs, /proc), psutil and py-cpuinfo.

No single source is trusted: py-cpuinfo has been seen reporting an L3 of 1 MiB where sysfs said 32
MiB, and an advertised clock far below what the cores ran at. The OS is preferred; disagreements are
kept as notes, and ``CpuInfo.sources`` says which source each fact came from.
"""

from __future__ import annotations

import functools
import os
import platform
import re
import socket
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import psutil

from hwprof.core.devices import (
    DL_EXTENSIONS_ARM,
    DL_EXTENSIONS_X86,
    CacheLevel,
    CpuInfo,
    HostInfo,
)
from hwprof.core.peaks import cpu_vector_width_bits, estimate_cpu_peak


@functools.lru_cache(maxsize=1)
def cpuinfo_facts() -> dict[str, Any]:
    """py-cpuinfo's dictionary. It takes about a second, so it runs once per process and is cached.

    Call it off any UI thread. Any failure gives an empty dictionary: the other sources still work.
    """
    try:
        import cpuinfo

        return dict(cpuinfo.get_cpu_info())
    except Exception:  # py-cpuinfo fails in odd ways on odd platforms; it is one source of several
        return {}


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None


def parse_size(text: str | None) -> int | None:
    """Parse a cache size as sysfs or lscpu write it: "48K", "2048 KiB", "32 MiB", "1.5 MB"."""
    if not text:
        return None
    m = re.fullmatch(r"\s*([\d.]+)\s*([KMGT]?)(i?B)?\s*", text, re.IGNORECASE)
    if not m:
        return None
    scale = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}[m.group(2).upper()]
    return int(float(m.group(1)) * scale)


def parse_cpu_list(text: str | None) -> list[int]:
    """Parse a kernel CPU list: "0-3,8,10-11" -> [0, 1, 2, 3, 8, 10, 11]."""
    out: list[int] = []
    for part in (text or "").split(","):
        part = part.strip()
        if not part:
            continue
        if "-" in part:
            a, b = part.split("-", 1)
            out.extend(range(int(a), int(b) + 1))
        else:
            out.append(int(part))
    return out


def parse_proc_cpuinfo(text: str) -> list[dict[str, str]]:
    """/proc/cpuinfo as one dictionary per logical CPU."""
    blocks: list[dict[str, str]] = []
    for block in text.strip().split("\n\n"):
        entry: dict[str, str] = {}
        for line in block.splitlines():
            if ":" in line:
                key, _, value = line.partition(":")
                entry[key.strip()] = value.strip()
        if entry:
            blocks.append(entry)
    return blocks


def sysfs_caches(root: Path) -> list[CacheLevel]:
    """Cache levels from sysfs (cpu*/cache/index*), counting a shared cache once."""
    cpu_dir = root / "sys/devices/system/cpu"
    seen: dict[tuple[int, str], dict[str, int]] = {}  # (level, kind) -> {shared_cpu_list: size}
    for index_dir in sorted(cpu_dir.glob("cpu[0-9]*/cache/index[0-9]*")):
        level = _read(index_dir / "level")
        kind = (_read(index_dir / "type") or "").lower()
        size_bytes = parse_size(_read(index_dir / "size"))
        shared = _read(index_dir / "shared_cpu_list") or index_dir.parent.parent.name
        if not level or not size_bytes or kind not in ("data", "instruction", "unified"):
            continue
        seen.setdefault((int(level), kind), {})[shared] = size_bytes
    caches = []
    for (level_n, kind_name), instances in sorted(seen.items()):
        sizes = list(instances.values())
        caches.append(
            CacheLevel(
                level=level_n,
                kind=kind_name,  # checked against the Literal above
                size_bytes=max(sizes),
                instances=len(sizes),
            )
        )
    return caches


def _sysfs_freq_hz(root: Path, name: str) -> float | None:
    """The largest value of cpufreq/NAME over all CPUs, in Hz (sysfs writes kHz)."""
    values = []
    for path in (root / "sys/devices/system/cpu").glob(f"cpu[0-9]*/cpufreq/{name}"):
        text = _read(path)
        if text and text.isdigit():
            values.append(int(text) * 1000.0)
    return max(values) if values else None


def _clock_from_model_name(model: str | None) -> float | None:
    m = re.search(r"@\s*([\d.]+)\s*GHz", model or "")
    return float(m.group(1)) * 1e9 if m else None


def _topology(root: Path) -> tuple[int | None, int | None]:
    """(sockets, physical cores) from sysfs topology, or (None, None)."""
    packages: set[str] = set()
    cores: set[tuple[str, str]] = set()
    for topo in (root / "sys/devices/system/cpu").glob("cpu[0-9]*/topology"):
        package = _read(topo / "physical_package_id")
        core = _read(topo / "core_id")
        if package is None or core is None:
            continue
        packages.add(package)
        cores.add((package, core))
    return (len(packages) or None, len(cores) or None)


def _numa_nodes(root: Path) -> int | None:
    nodes = list((root / "sys/devices/system/node").glob("node[0-9]*"))
    return len(nodes) or None


def dl_extensions(flags: Iterable[str]) -> tuple[str, ...]:
    """The deep-learning relevant extensions among ``flags``, in a fixed order."""
    present = set(flags)
    if "neon" in present:
        present.add("asimd")
    return tuple(x for x in DL_EXTENSIONS_X86 + DL_EXTENSIONS_ARM if x in present)


def detect_cpu(root: Path = Path("/")) -> CpuInfo:
    """Detect the machine's CPU. ``root`` lets tests point the sysfs and /proc readers elsewhere."""
    ci = cpuinfo_facts()
    sources: dict[str, str] = {}
    notes: list[str] = []

    proc_text = _read(root / "proc/cpuinfo")
    proc = parse_proc_cpuinfo(proc_text) if proc_text else []
    first = proc[0] if proc else {}

    model = first.get("model name") or ci.get("brand_raw") or platform.processor() or None
    vendor = first.get("vendor_id") or ci.get("vendor_id_raw") or None
    if vendor is None and first.get("CPU implementer"):
        vendor = f"Arm implementer {first['CPU implementer']}"
    architecture = platform.machine() or ci.get("arch_string_raw") or None

    flags_text = first.get("flags") or first.get("Features")
    if flags_text:
        flags = tuple(sorted(set(flags_text.split())))
        sources["flags"] = "/proc/cpuinfo"
    else:
        flags = tuple(sorted(set(ci.get("flags", []))))
        sources["flags"] = "py-cpuinfo"

    logical = psutil.cpu_count(logical=True) or os.cpu_count() or len(proc) or 1
    sockets, physical = _topology(root)
    if physical is not None:
        sources["physical_cores"] = "sysfs topology"
    else:
        physical = psutil.cpu_count(logical=False)
        sources["physical_cores"] = "psutil"
    threads_per_core = logical // physical if physical else None

    # Caches: sysfs first, py-cpuinfo as a fallback, with disagreements noted.
    caches = sysfs_caches(root)
    if caches:
        sources["caches"] = "sysfs"
        ci_l3 = ci.get("l3_cache_size")
        os_l3 = next((c for c in caches if c.level == 3), None)
        if isinstance(ci_l3, int) and os_l3 and ci_l3 not in (os_l3.size_bytes, os_l3.total_bytes):
            notes.append(
                f"py-cpuinfo reports L3 {ci_l3 // 1024} KiB; the OS says "
                f"{os_l3.size_bytes // 1024} KiB per instance: using the OS"
            )
    else:
        caches = _cpuinfo_caches(ci, physical)
        if caches:
            sources["caches"] = "py-cpuinfo"

    # Clocks: the OS's cpufreq first; then the model name; then py-cpuinfo's advertised clock.
    base_hz = _sysfs_freq_hz(root, "base_frequency")
    if base_hz:
        sources["frequency_base"] = "sysfs cpufreq base_frequency"
    else:
        base_hz = _clock_from_model_name(model)
        if base_hz:
            sources["frequency_base"] = "model name"
        else:
            adv = ci.get("hz_advertised")
            if isinstance(adv, (list, tuple)) and adv and adv[0]:
                base_hz = float(adv[0])
                sources["frequency_base"] = "py-cpuinfo advertised"
    max_hz = _sysfs_freq_hz(root, "cpuinfo_max_freq")
    if max_hz:
        sources["frequency_max"] = "sysfs cpufreq cpuinfo_max_freq"
    else:
        freq = _psutil_freq()
        if freq is not None and freq.max and freq.max > 0:
            max_hz = freq.max * 1e6
            sources["frequency_max"] = "psutil"
    cur_hz = _current_freq_hz(proc)
    if cur_hz is not None:
        sources["frequency_current"] = "/proc/cpuinfo (average over CPUs)"
    else:
        freq = _psutil_freq()
        if freq is not None and freq.current:
            cur_hz = freq.current * 1e6
            sources["frequency_current"] = "psutil"

    if max_hz is None:
        notes.append(
            "the OS gives no maximum (turbo) clock here (no cpufreq; typical in a VM): the peak "
            "estimate uses the base clock and may be below what the cores reach; "
            "`hwprof run matmul` measures the real figure"
        )
    family, model_number, stepping = _cpuid_numbers(first if proc else None, ci, sources)
    implementer, parts = _arm_parts(proc, sources)
    efficiency = _efficiency_cores(root, sources)
    info = CpuInfo(
        vendor=vendor,
        model_name=model,
        architecture=architecture,
        sockets=sockets,
        physical_cores=physical,
        logical_cpus=logical,
        threads_per_core=threads_per_core,
        frequency_base_hz=base_hz,
        frequency_max_hz=max_hz,
        frequency_current_hz=cur_hz,
        caches=tuple(caches),
        numa_nodes=_numa_nodes(root),
        flags=flags,
        dl_extensions=dl_extensions(flags),
        vector_width_bits=cpu_vector_width_bits(flags, architecture),
        family=family,
        model=model_number,
        stepping=stepping,
        arm_implementer=implementer,
        arm_parts=parts,
        efficiency_cores=efficiency,
        sources=sources,
        notes=tuple(notes),
    )
    # the peak needs the whole description: microarchitecture (family/model, Arm parts), hybrid
    # core counts, clocks
    return info.model_copy(update={"peak": estimate_cpu_peak(info)})


def _int(value: object, base: int = 10) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value.strip(), base)
        except ValueError:
            return None
    return None


def _cpuid_numbers(
    first: dict[str, str] | None, ci: dict[str, Any], sources: dict[str, str]
) -> tuple[int | None, int | None, int | None]:
    """x86 CPUID family, model and stepping: /proc/cpuinfo on Linux, else py-cpuinfo.

    Where /proc/cpuinfo was read it is the only source (py-cpuinfo reads the same CPUID, and a
    test pointing ``root`` elsewhere must not get this machine's numbers); an Arm CPU has none.
    """
    if first is not None:
        numbers = (_int(first.get("cpu family")), _int(first.get("model")),
                   _int(first.get("stepping")))
        where = "/proc/cpuinfo"
    else:
        numbers = (_int(ci.get("family")), _int(ci.get("model")), _int(ci.get("stepping")))
        where = "py-cpuinfo"
    if numbers[0] is not None:
        sources["family"] = where
    return numbers


def _arm_parts(proc: list[dict[str, str]], sources: dict[str, str]) -> tuple[int | None,
                                                                              dict[str, int]]:
    """The Arm MIDR implementer and each part with its count of logical CPUs (big.LITTLE)."""
    implementer: int | None = None
    parts: dict[str, int] = {}
    for entry in proc:
        imp = _int(entry.get("CPU implementer"), 16)
        part = _int(entry.get("CPU part"), 16)
        if imp is None or part is None:
            continue
        implementer = implementer if implementer is not None else imp
        key = f"0x{part:03x}"
        parts[key] = parts.get(key, 0) + 1
    if parts:
        sources["arm_parts"] = "/proc/cpuinfo"
    return implementer, parts


def _efficiency_cores(root: Path, sources: dict[str, str]) -> int | None:
    """Physical E-cores of a hybrid CPU: Linux's cpu_atom PMU list, or macOS's perflevel1."""
    atom = _read(root / "sys/devices/cpu_atom/cpus")
    if atom is not None:
        cpus = parse_cpu_list(atom)
        cores = set()
        for n in cpus:
            topo = root / f"sys/devices/system/cpu/cpu{n}/topology"
            cores.add((_read(topo / "physical_package_id"), _read(topo / "core_id") or str(n)))
        sources["efficiency_cores"] = "sysfs cpu_atom"
        return len(cores)
    if sys.platform == "darwin" and root == Path("/"):
        levels = _sysctl_int("hw.nperflevels")
        if levels is not None and levels >= 2:
            found = _sysctl_int("hw.perflevel1.physicalcpu")
            if found is not None:
                sources["efficiency_cores"] = "sysctl hw.perflevel1.physicalcpu"
            return found
    return None


def _sysctl_int(name: str) -> int | None:
    """A macOS sysctl as an integer (None when it is missing or sysctl fails)."""
    import subprocess

    try:
        done = subprocess.run(["sysctl", "-n", name], capture_output=True, text=True, timeout=5,
                              check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return _int(done.stdout) if done.returncode == 0 else None


def _psutil_freq() -> Any:
    try:
        return psutil.cpu_freq()
    except (OSError, NotImplementedError, RuntimeError):
        return None


def _current_freq_hz(proc: list[dict[str, str]]) -> float | None:
    mhz = []
    for entry in proc:
        try:
            mhz.append(float(entry["cpu MHz"]))
        except (KeyError, ValueError):
            continue
    return sum(mhz) / len(mhz) * 1e6 if mhz else None


def _cpuinfo_caches(ci: dict[str, Any], cores: int | None) -> list[CacheLevel]:
    caches = []
    per_core = cores or 1
    for key, level, kind, instances in (
        ("l1_data_cache_size", 1, "data", per_core),
        ("l1_instruction_cache_size", 1, "instruction", per_core),
        ("l2_cache_size", 2, "unified", per_core),
        ("l3_cache_size", 3, "unified", 1),
    ):
        value = ci.get(key)
        size = value if isinstance(value, int) else parse_size(str(value)) if value else None
        if size:
            caches.append(
                CacheLevel(level=level, kind=kind, size_bytes=size, instances=instances)
            )
    return caches


def _os_release(root: Path) -> str | None:
    text = _read(root / "etc/os-release")
    if text:
        m = re.search(r'^PRETTY_NAME="?([^"\n]*)"?', text, re.MULTILINE)
        if m:
            return m.group(1)
    if sys.platform == "darwin":
        return f"macOS {platform.mac_ver()[0]}"
    if sys.platform == "win32":
        return f"Windows {platform.version()}"
    return None


def _hypervisor(flags_text: str | None, root: Path) -> str | None:
    vendor = _read(root / "sys/hypervisor/type")
    if vendor:
        return vendor
    if flags_text and "hypervisor" in flags_text.split():
        return "yes (vendor unknown)"
    return None


def detect_host(root: Path = Path("/")) -> HostInfo:
    """The host: name, OS, memory."""
    vm = psutil.virtual_memory()
    swap = psutil.swap_memory()
    proc_text = _read(root / "proc/cpuinfo")
    first = parse_proc_cpuinfo(proc_text)[0] if proc_text else {}
    return HostInfo(
        hostname=socket.gethostname(),
        os=platform.system(),
        os_release=_os_release(root),
        kernel=platform.release() or None,
        machine=platform.machine(),
        python_version=platform.python_version(),
        memory_total_bytes=int(vm.total),
        memory_available_bytes=int(vm.available),
        swap_total_bytes=int(swap.total),
        virtualized=_hypervisor(first.get("flags"), root),
    )

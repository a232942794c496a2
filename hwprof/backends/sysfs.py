"""Reading Linux sysfs files, shared by the GPU back ends that read it (amdgpu, i915/xe).

Every file may be missing, unreadable (PermissionError) or vanish mid-read (a device going away):
each reader gives None then, never an exception.
"""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path

_PCIE_GEN_BY_GTS: dict[float, int] = {2.5: 1, 5.0: 2, 8.0: 3, 16.0: 4, 32.0: 5, 64.0: 6}
_BDF_RE = re.compile(r"^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$")


def read_text(path: Path) -> str | None:
    """A sysfs file's text, stripped; None when it is missing, unreadable or vanished mid-read."""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.read().strip()
    except (OSError, ValueError):  # missing, PermissionError, ENODEV from a device going away
        return None


def read_int(path: Path, base: int = 10) -> int | None:
    """A sysfs file holding one integer, or None."""
    raw = read_text(path)
    if raw is None:
        return None
    try:
        return int(raw.split()[0], base) if raw else None
    except (ValueError, IndexError):
        return None


def parse_link_generation(text: str | None) -> int | None:
    """"16.0 GT/s PCIe" -> 4; None for "Unknown" or anything else."""
    if not text:
        return None
    m = re.match(r"\s*([\d.]+)\s*GT/s", text)
    if not m:
        return None
    try:
        return _PCIE_GEN_BY_GTS.get(float(m.group(1)))
    except ValueError:
        return None


def bus_id(device_dir: Path) -> str | None:
    """The PCI address "0000:c1:00.0": from ``uevent``'s PCI_SLOT_NAME, else the link's target."""
    for line in (read_text(device_dir / "uevent") or "").splitlines():
        if line.startswith("PCI_SLOT_NAME="):
            value = line.split("=", 1)[1].strip().lower()
            if _BDF_RE.match(value):
                return value
    with contextlib.suppress(OSError):
        name = os.path.basename(os.path.realpath(device_dir)).lower()
        if _BDF_RE.match(name):
            return name
    return None


def hwmon_dir(device_dir: Path) -> Path | None:
    """The device's first hwmon folder (power, energy, temperatures), or None."""
    try:
        names = sorted(n for n in os.listdir(device_dir / "hwmon") if n.startswith("hwmon"))
    except OSError:
        return None
    return device_dir / "hwmon" / names[0] if names else None


def as_float(value: int | None) -> float | None:
    """A reading as a float, None kept."""
    return None if value is None else float(value)


def scaled(value: int | None, scale: float) -> float | None:
    """A reading times ``scale`` (microwatts to watts ...), None kept."""
    return None if value is None else float(value) * scale

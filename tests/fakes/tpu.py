"""TPU hosts without a TPU: fake PCI sysfs trees and a fake ``tpu_info`` module, from real facts.

``tests/data/tpu/hosts.json`` holds two hosts (a v5e ``v5litepod-4`` and a ``v4-8``; sources in
the README beside it). :func:`build_host` writes one under a folder laid out like ``/``
(``sys/bus/pci/devices/<address>``), and the back end reads it through its ``sysfs_root``.
:func:`install_tpu_info` puts a fake ``tpu_info`` (its ``device.TpuChip`` table and
``metrics.get_chip_usage``) into ``sys.modules``, answering with the host's numbers or raising as
the real one does when no TPU runtime listens; :func:`hide_tpu_info` makes it missing.
"""

from __future__ import annotations

import enum
import json
import os
import sys
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from hwprof.backends.tpu import TpuBackend

HOSTS: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parent.parent / "data" / "tpu" / "hosts.json").read_text()
)


@dataclass(frozen=True)
class TpuHost:
    """A fake host's folder and its chips' PCI device folders in bus order."""

    root: Path
    chips: tuple[Path, ...]
    name: str

    @property
    def sysfs_root(self) -> Path:
        """What the back end reads as /sys."""
        return self.root / "sys"

    def backend(self) -> TpuBackend:
        """A back end over this tree."""
        return TpuBackend(self.sysfs_root)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n")


def _pci_device(devices: Path, bus_id: str, vendor: str, device: str, subsystem: str,
                driver: str, iommu_group: str | None) -> Path:
    d = devices / bus_id
    _write(d / "vendor", vendor)
    _write(d / "device", device)
    _write(d / "subsystem_device", subsystem)
    _write(d / "uevent", f"DRIVER={driver}\nPCI_SLOT_NAME={bus_id}")
    os.symlink(f"../../../bus/pci/drivers/{driver}", d / "driver")
    if iommu_group is not None:
        os.symlink(f"../../../kernel/iommu_groups/{iommu_group}", d / "iommu_group")
    return d


def build_host(root: Path, name: str | None) -> TpuHost:
    """Write host ``name`` of hosts.json under ``root`` (None: a machine with no TPU at all)."""
    devices = root / "sys" / "bus" / "pci" / "devices"
    devices.mkdir(parents=True, exist_ok=True)
    # a plain virtio disk, as every cloud VM has: never a TPU
    _pci_device(devices, "0000:00:01.0", "0x1af4", "0x1001", "0x0002", "virtio-pci", None)
    if name is None:
        return TpuHost(root, (), "no TPU")
    host = HOSTS[name]
    for other in host["other_pci"]:
        _pci_device(devices, other["bus_id"], other["vendor"], other["device"], other["device"],
                    other["driver"], None)
    chips = tuple(
        _pci_device(devices, c["bus_id"], "0x1ae0", c["device"], c["subsystem_device"],
                    c["driver"], c["iommu_group"])
        for c in host["chips"]
    )
    return TpuHost(root, chips, name)


@dataclass
class FakeRuntime:
    """What the fake ``tpu_info.metrics.get_chip_usage`` answers: the usage rows, or an error."""

    usage: list[dict[str, Any]] = field(default_factory=list)
    error: Exception | None = None
    calls: list[str] = field(default_factory=list)  # the chip types asked about


class _Info(typing.NamedTuple):
    name: str
    hbm_gib: int
    devices_per_chip: int


class _Usage(typing.NamedTuple):
    device_id: int
    memory_usage: int
    total_memory: int
    duty_cycle_pct: float


def _fake_module(runtime: FakeRuntime) -> types.ModuleType:
    # the shape of tpu-info 0.14.2: TpuChip members hold an Info(name, hbm_gib, devices_per_chip)
    chip_enum = enum.Enum("TpuChip", {  # type: ignore[misc]
        "V4": _Info("v4", 32, 1), "V5E": _Info("v5e", 16, 1), "V5P": _Info("v5p", 95, 1),
        "V6E": _Info("v6e", 32, 1), "V7X": _Info("7x", 192, 2),
    })
    device = types.ModuleType("tpu_info.device")
    device.TpuChip = chip_enum  # type: ignore[attr-defined]

    def get_chip_usage(chip_type: Any, addr: str = "localhost:8431") -> list[_Usage]:
        runtime.calls.append(chip_type.value.name)
        if runtime.error is not None:
            raise runtime.error
        return [_Usage(**row) for row in runtime.usage]

    metrics = types.ModuleType("tpu_info.metrics")
    metrics.get_chip_usage = get_chip_usage  # type: ignore[attr-defined]
    package = types.ModuleType("tpu_info")
    package.device = device  # type: ignore[attr-defined]
    package.metrics = metrics  # type: ignore[attr-defined]
    return package


def install_tpu_info(monkeypatch: pytest.MonkeyPatch, host: str | None = "v5litepod-4", *,
                     error: Exception | None = None) -> FakeRuntime:
    """Put a fake ``tpu_info`` into ``sys.modules``; it answers with ``host``'s usage numbers,
    or raises ``error`` (what the real one does when no TPU program runs)."""
    runtime = FakeRuntime(usage=list(HOSTS[host]["usage"]) if host else [], error=error)
    package = _fake_module(runtime)
    monkeypatch.setitem(sys.modules, "tpu_info", package)
    monkeypatch.setitem(sys.modules, "tpu_info.device", package.device)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "tpu_info.metrics", package.metrics)  # type: ignore[attr-defined]
    return runtime


def hide_tpu_info(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``import tpu_info`` fail, as where it is not installed."""
    for name in ("tpu_info", "tpu_info.device", "tpu_info.metrics"):
        monkeypatch.setitem(sys.modules, name, None)


class RuntimeUnavailable(Exception):
    """What grpc raises when nothing listens on localhost:8431 (its _InactiveRpcError)."""

    def __init__(self) -> None:
        super().__init__("failed to connect to all addresses; last error: UNAVAILABLE: "
                         "ipv4:127.0.0.1:8431: Connection refused")

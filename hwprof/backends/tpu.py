"""TPU chips: found in PCI sysfs, watched through Google's ``tpu-info`` library when installed.

Every PCI function under ``/sys/bus/pci/devices`` whose vendor is Google's (0x1ae0) and whose
device id is a TPU's is one TensorCore device; the functions of one PCI slot (bus:device) are one
chip. Chips are numbered in PCI bus order: ``tpu:N``. The type comes from the PCI device id (v2
and v3 share one and differ in the subsystem id), the same table Google's ``tpu-info`` uses; the
per-type facts (HBM, TensorCores, peak) from :data:`hwprof.core.peaks.TPU_TYPES`.

Live readings (TensorCore duty cycle, HBM used and total) come only from the TPU runtime (libtpu)
on this host, while a TPU program runs, through ``tpu_info.metrics.get_chip_usage`` (a gRPC call to
localhost). That call is the only one this module makes, and only when ``tpu_info`` is installed
and chips exist. Two failure levels, never a crash: no chip makes the back end unavailable; no
``tpu_info`` or no runtime answering makes the readings None, with the reason
(:meth:`TpuBackend.telemetry_reason`). ``tpu_info`` is imported here only, lazily.

The sysfs root is a parameter, so tests point it at fake trees.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hwprof.backends.sysfs import read_int
from hwprof.core.devices import TPU_IDLE_NOTE, TPU_INFO_HINT, TpuInfo, TpuStatus
from hwprof.core.peaks import TPU_TYPES, estimate_tpu_peak
from hwprof.core.telemetry import MetricInfo, metric_infos

log = logging.getLogger(__name__)

GOOGLE_PCI_VENDOR = 0x1AE0
SYSFS_ROOT = "/sys"

# PCI device id -> TPU type (source: Google's tpu-info, tpu_info/device.py, TpuChip
# .from_pci_device_id; the same ids the TPU VM images' kernels bind). v2 and v3 share 0x0027 and
# differ in the subsystem device id.
PCI_TPU_TYPES: dict[int, str] = {
    0x005E: "v4",
    0x0063: "v5e",
    0x0062: "v5p",
    0x006F: "v6e",
    0x0076: "7x",
}
_V2_V3_DEVICE = 0x0027
_V2_V3_SUBSYSTEMS: dict[int, str] = {0x004E: "v2", 0x004F: "v3"}
# v2-v4 are driven by Google's "accel" kernel driver (/dev/accelN); v5e and later through VFIO
# (/dev/vfio/<IOMMU group>), as tpu-info's chip_path says.
_ACCEL_TYPES = frozenset({"v2", "v3", "v4"})

# The live metrics of each chip (names like the GPUs': the duty cycle is the chip's utilization).
TPU_METRICS: tuple[str, ...] = ("util_percent", "memory_used_bytes", "memory_total_bytes")


def tpu_type_of(device_id: int | None, subsystem_id: int | None) -> str | None:
    """Google's name of a TPU's PCI ids ("v5e"); None when they are no TPU hwprof knows."""
    if device_id == _V2_V3_DEVICE:
        return _V2_V3_SUBSYSTEMS.get(subsystem_id or -1)
    return PCI_TPU_TYPES.get(device_id or -1)


@dataclass(frozen=True)
class _Chip:
    """One TPU chip found in sysfs: its PCI functions (one per TensorCore device)."""

    slot: str  # "0000:00:05" (domain:bus:device)
    functions: tuple[Path, ...]  # its PCI device folders, function 0 first
    device_id: int | None
    tpu_type: str | None
    iommu_group: str | None

    @property
    def bus_id(self) -> str:
        """The first function's PCI address, "0000:00:05.0"."""
        return self.functions[0].name


class TpuBackend:
    """TPU chips: static facts now, live readings for the sampler when the runtime answers."""

    name = "tpu"

    def __init__(self, sysfs_root: str | os.PathLike[str] | None = None) -> None:
        # read now, not at import, so tests can point the module's root at a fake tree
        self.sysfs_root = Path(SYSFS_ROOT if sysfs_root is None else sysfs_root)
        self._lock = threading.Lock()
        self._tried = False
        self._chips: list[_Chip] = []
        self._gone: set[int] = set()
        self._telemetry_reason: str | None = None

    # -- lifecycle
    # -------------------------------------------------------------------------------------
    def _ensure(self) -> bool:
        with self._lock:
            if not self._tried:
                self._tried = True
                self._chips = self._find_chips()
            return bool(self._chips)

    def _find_chips(self) -> list[_Chip]:
        root = self.sysfs_root / "bus" / "pci" / "devices"
        try:
            names = sorted(os.listdir(root))
        except OSError:
            return []
        slots: dict[str, list[Path]] = {}
        for name in names:  # PCI addresses sort in bus order
            d = root / name
            if read_int(d / "vendor", 16) != GOOGLE_PCI_VENDOR:
                continue
            device_id = read_int(d / "device", 16)
            subsystem = read_int(d / "subsystem_device", 16)
            if tpu_type_of(device_id, subsystem) is None and not _looks_like_tpu(d):
                # Google makes other PCI devices too (the gVNIC network card): a function of an
                # unknown id is a TPU only when a TPU driver holds it (a type newer than hwprof)
                continue
            slots.setdefault(name.rsplit(".", 1)[0], []).append(d)
        chips = []
        for slot, functions in slots.items():
            first = functions[0]
            device_id = read_int(first / "device", 16)
            chips.append(_Chip(
                slot=slot,
                functions=tuple(functions),
                device_id=device_id,
                tpu_type=tpu_type_of(device_id, read_int(first / "subsystem_device", 16)),
                iommu_group=_link_name(first / "iommu_group"),
            ))
        return chips

    def shutdown(self) -> None:
        """Forget what was found; a later question looks again."""
        with self._lock:
            self._tried = False
            self._chips = []
            self._gone = set()

    # -- the Backend protocol
    # --------------------------------------------------------------------------
    def available(self) -> bool:
        """Whether this host has a TPU chip."""
        return self._ensure()

    def unavailable_reason(self) -> str | None:
        """One line for the user when there is no TPU chip."""
        return None if self._ensure() else "no TPU chip (no Google TPU on the PCI bus)"

    def device_count(self) -> int:
        """How many TPU chips this host has."""
        return len(self._chips) if self._ensure() else 0

    def status(self) -> TpuStatus:
        """Whether there are chips, and whether their live readings can be had."""
        if not self._ensure():
            return TpuStatus(available=False, message=self.unavailable_reason())
        if _tpu_info() is None:
            return TpuStatus(available=True, telemetry_note=TPU_INFO_HINT)
        return TpuStatus(available=True, telemetry="tpu-info")

    def devices(self) -> tuple[TpuInfo, ...]:
        """Static facts of every chip, ``tpu:N`` in PCI bus order."""
        if not self._ensure():
            return ()
        out = []
        for index, chip in enumerate(self._chips):
            try:
                out.append(self._device(index, chip))
            except Exception as err:  # nothing one chip does may hide the others
                log.exception("reading TPU chip %s failed", chip.bus_id)
                out.append(TpuInfo(index=index, name=None, pci_bus_id=chip.bus_id,
                                   error=f"the chip could not be read: {err}"))
        return tuple(out)

    def _device(self, index: int, chip: _Chip) -> TpuInfo:
        if not chip.functions[0].exists():
            return TpuInfo(index=index, name=None, pci_bus_id=chip.bus_id,
                           error="the chip vanished while it was being read (unplugged or reset)")
        facts = TPU_TYPES.get(chip.tpu_type or "")
        if chip.tpu_type in _ACCEL_TYPES:
            path: str | None = f"/dev/accel{index}"
        else:
            path = f"/dev/vfio/{chip.iommu_group}" if chip.iommu_group else None
        name: str | None
        if chip.tpu_type is not None:
            name = f"TPU {chip.tpu_type}"
        else:
            name = f"Google TPU 0x{chip.device_id:04x}" if chip.device_id is not None else None
        return TpuInfo(
            index=index,
            name=name,
            tpu_type=chip.tpu_type,
            pci_device_id=chip.device_id,
            pci_bus_id=chip.bus_id,
            device_path=path,
            memory_total_bytes=facts.hbm_gib * 2**30 if facts else None,
            tensor_cores=facts.tensor_cores if facts else None,
            peak=estimate_tpu_peak(chip.tpu_type),
        )

    # -- live readings
    # ----------------------------------------------------------------------------------------
    def live_tpu_indexes(self) -> tuple[int, ...]:
        """The ``tpu:N`` numbers :meth:`sample` reads."""
        return tuple(range(self.device_count()))

    def metrics(self) -> tuple[MetricInfo, ...]:
        """Every metric :meth:`sample` gives, as ``tpu{index}.{metric}``."""
        return metric_infos([f"tpu{i}.{m}" for i in self.live_tpu_indexes() for m in TPU_METRICS])

    def telemetry_reason(self) -> str | None:
        """Why the last sample had no readings ("pip install tpu-info", no program running)."""
        return self._telemetry_reason

    def sample(self, pids: Collection[int] = frozenset()) -> dict[str, float | None]:
        """One reading of every chip; None for what cannot be had (see :meth:`telemetry_reason`).

        ``pids`` is accepted for the sampler's protocol: the runtime does not say per process.
        """
        del pids
        indexes = self.live_tpu_indexes()
        out: dict[str, float | None] = {f"tpu{i}.{m}": None for i in indexes for m in TPU_METRICS}
        if not indexes:
            return out
        present = []
        for i in indexes:
            if self._chips[i].functions[0].exists():
                self._gone.discard(i)
                present.append(i)
            elif i not in self._gone:
                self._gone.add(i)
                log.warning("TPU chip %d vanished (%s)", i, self._chips[i].bus_id)
        tpu_info = _tpu_info()
        if tpu_info is None:
            self._telemetry_reason = TPU_INFO_HINT
            return out
        try:
            per_chip = self._usage(tpu_info)
        except Exception as err:  # the runtime is not up: no TPU program is running
            if self._telemetry_reason != TPU_IDLE_NOTE:
                log.info("the TPU runtime did not answer (%s): %s", type(err).__name__, err)
            self._telemetry_reason = TPU_IDLE_NOTE
            return out
        self._telemetry_reason = None
        for i in present:
            for m, value in per_chip.get(i, {}).items():
                out[f"tpu{i}.{m}"] = value
        return out

    def _usage(self, tpu_info: Any) -> dict[int, dict[str, float | None]]:
        """The runtime's per-device usage, summed per chip (two-core chips list each core)."""
        chip_type = self._chips[0].tpu_type if self._chips else None
        enum = next((c for c in tpu_info.device.TpuChip if c.value.name == chip_type), None)
        if enum is None:
            raise LookupError(f"tpu-info does not know TPU type {chip_type!r}")
        per_device = int(enum.value.devices_per_chip) or 1
        out: dict[int, dict[str, float | None]] = {}
        for usage in tpu_info.metrics.get_chip_usage(enum):
            chip = int(usage.device_id) // per_device
            row = out.setdefault(chip, {"util_percent": None, "memory_used_bytes": 0.0,
                                        "memory_total_bytes": 0.0})
            row["memory_used_bytes"] = (row["memory_used_bytes"] or 0.0) + float(usage.memory_usage)
            row["memory_total_bytes"] = (row["memory_total_bytes"] or 0.0) + float(
                usage.total_memory)
            duty = float(usage.duty_cycle_pct)  # per chip, repeated for each of its cores
            row["util_percent"] = duty if duty == duty else None  # NaN: no reading
        return out


def _tpu_info() -> Any | None:
    """Google's ``tpu_info`` package (its ``device`` and ``metrics`` modules), or None."""
    try:
        # typed by nobody; ignored here, not in pyproject.toml, to keep the shared file untouched
        import tpu_info.device  # type: ignore[import-not-found, unused-ignore]
        import tpu_info.metrics  # type: ignore[import-not-found, unused-ignore]
    except Exception:  # not installed, or its grpc/protobuf dependencies are broken
        return None
    return tpu_info


def _looks_like_tpu(device_dir: Path) -> bool:
    """A Google PCI function with an unknown id is a TPU when its driver is a TPU's."""
    driver = _link_name(device_dir / "driver")
    return driver in ("vfio-pci", "accel", "tpu")


def _link_name(path: Path) -> str | None:
    """The last part of a symbolic link's target ("5" for iommu_group -> .../iommu_groups/5)."""
    try:
        return os.path.basename(os.readlink(path)) or None
    except OSError:
        return None

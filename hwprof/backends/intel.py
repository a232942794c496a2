"""Intel GPUs: the i915 and xe kernel drivers' sysfs, no library.

Every card under ``/sys/class/drm/card*`` whose PCI vendor is 0x8086 is an Intel GPU (display
connectors such as ``card0-DP-1`` are skipped). Facts: the name (from the PCI device id), the
frequencies (i915: ``gt_*_freq_mhz`` on the card; xe: ``device/tile0/gt0/freq0/*``), the power cap
and energy counter of the card's hwmon (power is the energy used between two samples divided by
the time between them), local memory on discrete cards where the kernel shows it, the PCIe link
and the temperature where hwmon has one. Engine busyness is read by the kernel's perf PMU
(``perf_event_open``), not sysfs: hwprof reports None for it and says why (:data:`BUSY_NOTE`).

Two failure levels, never a crash: no i915/xe driver makes the whole back end unavailable, with
one line saying why; a file a device does not have, cannot be read (``PermissionError``) or that
vanishes mid-read makes that one field None.

The sysfs root is a parameter, so tests point it at fake trees.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path

from hwprof.backends.sysfs import as_float as _f
from hwprof.backends.sysfs import bus_id as _bus_id
from hwprof.backends.sysfs import hwmon_dir as _hwmon_dir
from hwprof.backends.sysfs import parse_link_generation, read_int, read_text
from hwprof.backends.sysfs import scaled as _scaled
from hwprof.core.devices import GpuInfo, IntelStatus, PcieLink
from hwprof.core.peaks import estimate_intel_gpu_peak
from hwprof.core.telemetry import MetricInfo, metric_infos

log = logging.getLogger(__name__)

INTEL_PCI_VENDOR = 0x8086
SYSFS_ROOT = "/sys"
DRIVERS = ("i915", "xe")

BUSY_NOTE = (
    "engine busyness is not shown: the i915/xe drivers give it only through the kernel's perf "
    "PMU (perf_event_open), which hwprof does not read"
)


@dataclass(frozen=True)
class IntelModel:
    """What the PCI device id says about an Intel GPU: its name, architecture and Xe-cores."""

    name: str
    architecture: str
    xe_cores: int


# The PCI device ids hwprof knows (source: the PCI ID repository, pci-ids.ucw.cz, vendor 8086,
# and Intel's product specifications for the Xe-core counts). Others are "Intel GPU 0x....".
PCI_DEVICE_MODELS: dict[int, IntelModel] = {
    0x56A0: IntelModel("Intel Arc A770", "Xe-HPG", 32),
    0x56A1: IntelModel("Intel Arc A750", "Xe-HPG", 28),
    0x56C0: IntelModel("Intel Data Center GPU Flex 170", "Xe-HPG", 32),
    0x0BDA: IntelModel("Intel Data Center GPU Max 1100", "Xe-HPC", 56),
}

# Files that say how much local memory (VRAM) a discrete card has, where the kernel shows it,
# relative to the card folder: the xe driver's per-tile size, then names other kernels use.
_LMEM_FILES = (
    "device/tile0/physical_vram_size_bytes",
    "lmem_total_bytes",
    "device/lmem_total_bytes",
    "device/mem_info_vram_total",
)


def intel_gpu_name(device_id: int | None) -> str | None:
    """The marketing name of a PCI device id, else "Intel GPU 0x56a5"; None when unknown."""
    if device_id is None:
        return None
    model = PCI_DEVICE_MODELS.get(device_id)
    return model.name if model else f"Intel GPU 0x{device_id:04x}"


@dataclass(frozen=True)
class _Card:
    """One Intel GPU's sysfs folder, found at enumeration."""

    card: str  # "card1"
    card_dir: Path  # /sys/class/drm/card1
    driver: str | None  # "i915", "xe"
    bus_id: str | None

    @property
    def device_dir(self) -> Path:
        """The PCI device folder (``card1/device``)."""
        return self.card_dir / "device"

    def freq_file(self, which: str) -> Path:
        """A frequency file: ``which`` is "cur", "max" or "rp0"; its unit is MHz in both drivers."""
        if self.driver == "xe":
            return self.device_dir / "tile0" / "gt0" / "freq0" / f"{which}_freq"
        return self.card_dir / f"gt_{which.upper() if which == 'rp0' else which}_freq_mhz"


class IntelBackend:
    """Intel GPUs: static facts now, live readings for the sampler.

    ``index_offset`` is added to each GPU's own (Level Zero) number to make its hwprof index:
    detection passes the number of NVIDIA and AMD GPUs, so Intel GPUs follow them.
    """

    name = "intel"

    def __init__(
        self,
        sysfs_root: str | os.PathLike[str] | None = None,
        *,
        index_offset: int = 0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        # read now, not at import, so tests can point the module's root at a fake tree
        self.sysfs_root = Path(SYSFS_ROOT if sysfs_root is None else sysfs_root)
        self.index_offset = index_offset
        self._clock = clock
        self._lock = threading.Lock()
        self._tried = False
        self._available = False
        self._reason: str | None = None
        self._cards: list[_Card] = []
        self._live: list[_LiveIntelGpu] | None = None

    # -- lifecycle
    # -------------------------------------------------------------------------------------
    def _ensure(self) -> bool:
        with self._lock:
            if self._tried:
                return self._available
            self._tried = True
            self._cards = self._find_cards()
            loaded = [d for d in DRIVERS if (self.sysfs_root / "module" / d).is_dir()]
            if not self._cards and not loaded:
                self._reason = ("no Intel GPU driver: neither the i915 nor the xe kernel module "
                                "is loaded")
                return False
            self._available = True
            return True

    def _find_cards(self) -> list[_Card]:
        drm = self.sysfs_root / "class" / "drm"
        try:
            names = sorted(os.listdir(drm))
        except OSError:
            return []
        cards = []
        for name in names:
            if not (name.startswith("card") and name[4:].isdigit()):
                continue  # connectors (card0-DP-1) and render nodes
            card_dir = drm / name
            device_dir = card_dir / "device"
            if read_int(device_dir / "vendor", 16) != INTEL_PCI_VENDOR:
                continue
            cards.append(_Card(name, card_dir, _driver(device_dir), _bus_id(device_dir)))
        # Level Zero numbers GPUs in PCI bus order; a card without a readable bus id goes last
        return sorted(cards, key=lambda c: (c.bus_id or "~", int(c.card[4:])))

    def shutdown(self) -> None:
        """Forget what was found; a later question looks again."""
        with self._lock:
            self._tried = False
            self._available = False
            self._live = None

    # -- the Backend protocol
    # --------------------------------------------------------------------------
    def available(self) -> bool:
        """Whether the i915 or xe driver answered."""
        return self._ensure()

    def unavailable_reason(self) -> str | None:
        """One line for the user when Intel GPUs cannot be read."""
        self._ensure()
        return self._reason

    def status(self) -> IntelStatus:
        """Driver-level facts, or why Intel GPUs cannot be read."""
        if not self._ensure():
            return IntelStatus(available=False, message=self._reason)
        drivers = tuple(sorted({c.driver for c in self._cards if c.driver}))
        return IntelStatus(available=True, drivers=drivers,
                           busy_note=BUSY_NOTE if self._cards else None)

    def device_count(self) -> int:
        """How many Intel GPUs there are (0 when unavailable)."""
        return len(self._cards) if self._ensure() else 0

    def devices(self) -> tuple[GpuInfo, ...]:
        """Static facts of every Intel GPU, numbered from ``index_offset`` in PCI bus order."""
        if not self._ensure():
            return ()
        out = []
        for local, card in enumerate(self._cards):
            index = self.index_offset + local
            try:
                out.append(self._device(index, local, card))
            except Exception as err:  # nothing one GPU does may hide the others
                log.exception("reading Intel GPU %s failed", card.bus_id)
                out.append(_broken_gpu(index, local, card.bus_id,
                                       f"the GPU could not be read: {err}"))
        return tuple(out)

    def _device(self, index: int, local: int, card: _Card) -> GpuInfo:
        d = card.device_dir
        if not d.exists():
            return _broken_gpu(index, local, card.bus_id,
                               "the GPU vanished while it was being read (unplugged or reset)")
        device_id = read_int(d / "device", 16)
        model = PCI_DEVICE_MODELS.get(device_id) if device_id is not None else None
        rp0 = read_int(card.freq_file("rp0"))
        clock_max = rp0 or read_int(card.freq_file("max"))
        hwmon = _hwmon_dir(d)
        # i915 and xe's card channel are 1; xe's package channel (the only one some cards have) 2
        cap = _first_int(hwmon, "power1_max", "power2_max")
        cap_rated = _first_int(hwmon, "power1_rated_max", "power2_rated_max")
        pcie = PcieLink(
            generation_current=parse_link_generation(read_text(d / "current_link_speed")),
            generation_max=parse_link_generation(read_text(d / "max_link_speed")),
            width_current=read_int(d / "current_link_width") or None,
            width_max=read_int(d / "max_link_width") or None,
        )
        cores = model.xe_cores if model else None
        arch = model.architecture if model else None
        return GpuInfo(
            index=index,
            vendor="intel",
            vendor_index=local,
            name=intel_gpu_name(device_id),
            uuid=None,  # i915/xe show no stable serial in sysfs
            pci_bus_id=card.bus_id,
            architecture=arch,
            compute_capability=None,
            cuda_cores=None,
            memory_total_bytes=_local_memory(card.card_dir),
            sm_clock_max_mhz=clock_max,
            memory_clock_max_mhz=None,
            power_limit_default_watts=cap_rated / 1e6 if cap_rated else None,
            power_limit_enforced_watts=cap / 1e6 if cap else None,
            pcie=pcie if any(v is not None for v in pcie.model_dump().values()) else None,
            mig_mode_current=None,
            compute_units=cores,
            peak=estimate_intel_gpu_peak(architecture=arch, xe_cores=cores,
                                         clock_max_mhz=clock_max),
        )

    # -- live readings
    # ----------------------------------------------------------------------------------------
    def live_gpu_indexes(self) -> tuple[int, ...]:
        """The hwprof indexes :meth:`sample` reads (fixed at first use)."""
        return tuple(g.index for g in self._live_state())

    def metrics(self) -> tuple[MetricInfo, ...]:
        """Every metric :meth:`sample` gives, as ``gpu{index}.{metric}``."""
        return metric_infos([f"gpu{i}.{m}" for i in self.live_gpu_indexes() for m in INTEL_METRICS])

    def sample(self, pids: Collection[int] = frozenset()) -> dict[str, float | None]:
        """One reading of every Intel GPU; what is missing or unreadable reads None.

        Power needs two readings of the energy counter: the first sample reads None. Engine
        busyness (``util_percent``) is always None (see :data:`BUSY_NOTE`). ``pids`` is accepted
        for the sampler's protocol; sysfs cannot say what memory one process holds.
        """
        del pids
        out: dict[str, float | None] = {}
        for gpu in self._live_state():
            try:
                values = self._sample_gpu(gpu)
            except Exception:  # nothing a GPU does may stop the sampler
                log.exception("reading Intel GPU %d failed", gpu.index)
                values = {}
            for m in INTEL_METRICS:
                key = f"gpu{gpu.index}.{m}"
                out[key] = values.get(key)
        return out

    def _live_state(self) -> list[_LiveIntelGpu]:
        if self._live is None:
            self._ensure()
            self._live = [_LiveIntelGpu(self.index_offset + i, c)
                          for i, c in enumerate(self._cards)]
        return self._live

    def _sample_gpu(self, gpu: _LiveIntelGpu) -> dict[str, float | None]:
        card = gpu.card
        if not card.device_dir.exists():
            if not gpu.gone:
                log.warning("Intel GPU %d vanished (%s)", gpu.index, card.device_dir)
            gpu.gone = True
            gpu.last_energy = None
            return {}
        gpu.gone = False
        p = f"gpu{gpu.index}."
        out: dict[str, float | None] = {p + "util_percent": None}

        def ask(key: str, path: Path) -> int | None:
            if key in gpu.missing:
                return None
            if not path.exists():
                gpu.missing.add(key)  # a file the driver does not have is not asked again
                return None
            return read_int(path)

        out[p + "sm_clock_mhz"] = _f(ask("freq", card.freq_file("cur")))
        out[p + "memory_total_bytes"] = _f(gpu.memory_total)
        if gpu.hwmon is None or not gpu.hwmon.exists():
            gpu.hwmon = _hwmon_dir(card.device_dir)
        h = gpu.hwmon
        if h is None:
            return out
        cap = ask("cap1", h / "power1_max")
        if cap is None:
            cap = ask("cap2", h / "power2_max")
        out[p + "power_limit_watts"] = _scaled(cap, 1e-6)
        energy = ask("energy1", h / "energy1_input")
        if energy is None:
            energy = ask("energy2", h / "energy2_input")
        now = self._clock()
        out[p + "power_watts"] = gpu.power(energy, now)
        if gpu.temp_file is None:
            gpu.temp_file = _temperature_file(h)
        if gpu.temp_file is not None:
            out[p + "temperature_c"] = _scaled(ask("temp", gpu.temp_file), 1e-3)
        return out


# The live metrics of each Intel GPU (the same names as NVIDIA's, where the meaning is the same).
INTEL_METRICS: tuple[str, ...] = (
    "util_percent",
    "memory_total_bytes",
    "power_watts",
    "power_limit_watts",
    "temperature_c",
    "sm_clock_mhz",
)


@dataclass
class _LiveIntelGpu:
    """What sample() remembers about one Intel GPU between ticks."""

    index: int
    card: _Card
    hwmon: Path | None = None
    temp_file: Path | None = None
    gone: bool = False
    missing: set[str] = field(default_factory=set)
    last_energy: tuple[int, float] | None = None  # (microjoules, monotonic seconds)
    memory_total: int | None = None

    def __post_init__(self) -> None:
        self.memory_total = _local_memory(self.card.card_dir)

    def power(self, energy_uj: int | None, now: float) -> float | None:
        """Watts since the previous reading of the energy counter; None on the first one."""
        last, self.last_energy = self.last_energy, (
            None if energy_uj is None else (energy_uj, now))
        if energy_uj is None or last is None:
            return None
        d_energy, d_time = energy_uj - last[0], now - last[1]
        if d_energy < 0 or d_time <= 0:
            return None  # the counter wrapped or was reset: skip one reading
        return d_energy * 1e-6 / d_time


def _driver(device_dir: Path) -> str | None:
    """"i915" or "xe": from ``uevent``'s DRIVER=, else the ``driver`` link's target."""
    for line in (read_text(device_dir / "uevent") or "").splitlines():
        if line.startswith("DRIVER="):
            return line.split("=", 1)[1].strip() or None
    try:
        return os.path.basename(os.readlink(device_dir / "driver")) or None
    except OSError:
        return None


def _first_int(folder: Path | None, *names: str) -> int | None:
    """The first of these files in ``folder`` that reads as a positive integer."""
    if folder is None:
        return None
    for name in names:
        value = read_int(folder / name)
        if value:
            return value
    return None


def _local_memory(card_dir: Path) -> int | None:
    """A discrete card's local memory in bytes, where the kernel shows it; None otherwise."""
    for rel in _LMEM_FILES:
        value = read_int(card_dir / rel)
        if value:
            return value
    return None


def _temperature_file(hwmon: Path) -> Path | None:
    """The package temperature ("pkg"), else the first one; None when hwmon has none."""
    try:
        inputs = sorted(n for n in os.listdir(hwmon) if n.startswith("temp") and
                        n.endswith("_input"))
    except OSError:
        return None
    for name in inputs:
        label = read_text(hwmon / name.replace("_input", "_label"))
        if label and label.lower() == "pkg":
            return hwmon / name
    return hwmon / inputs[0] if inputs else None


def _broken_gpu(index: int, local: int, bus_id: str | None, error: str) -> GpuInfo:
    return GpuInfo(
        index=index, vendor="intel", vendor_index=local, name=None, uuid=None,
        pci_bus_id=bus_id, architecture=None, compute_capability=None, cuda_cores=None,
        memory_total_bytes=None, sm_clock_max_mhz=None, memory_clock_max_mhz=None,
        power_limit_default_watts=None, power_limit_enforced_watts=None, pcie=None,
        mig_mode_current=None, error=error,
    )

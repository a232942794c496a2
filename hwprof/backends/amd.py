"""AMD GPUs: the only module of hwprof that imports ``amdsmi`` (ROCm's Python binding).

Facts come from the amdgpu kernel driver's sysfs (``/sys/class/drm/card*/device`` with PCI vendor
0x1002, its ``hwmon``, and the KFD topology under ``/sys/class/kfd``), which every amdgpu system
has and which needs no library. When ``amdsmi`` is importable and starts, it fills in what sysfs
may lack (the marketing name, the compute units, the GFX target, the driver version); it is
imported lazily, here only, and is optional.

Two failure levels, never a crash: no amdgpu driver makes the whole back end unavailable, with one
line saying why; a file a device does not have, cannot be read (``PermissionError``) or that
vanishes mid-read makes that one field None. A device whose directory disappears while it is read
is listed with an error; the others carry on.

The sysfs root and the ROCm root are parameters, so tests point them at fake trees.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hwprof.backends.sysfs import as_float as _f
from hwprof.backends.sysfs import bus_id as _bus_id
from hwprof.backends.sysfs import hwmon_dir as _hwmon_dir
from hwprof.backends.sysfs import parse_link_generation, read_int, read_text
from hwprof.backends.sysfs import scaled as _scaled
from hwprof.core.devices import AmdStatus, GpuInfo, PcieLink
from hwprof.core.peaks import amd_architecture, estimate_amd_gpu_peak
from hwprof.core.telemetry import MetricInfo, metric_infos

log = logging.getLogger(__name__)

AMD_PCI_VENDOR = 0x1002
SYSFS_ROOT = "/sys"
ROCM_ROOT = "/opt/rocm"

# Marketing names of the PCI device ids hwprof has fake trees for, where the driver has no
# product_name file (consumer cards have none). Source: the PCI ID repository (pci-ids.ucw.cz).
PCI_DEVICE_NAMES: dict[int, str] = {
    0x74A1: "AMD Instinct MI300X",
    0x740F: "AMD Instinct MI210",
    0x744C: "AMD Radeon RX 7900 XTX",
}

# PCIe transfer rate (GT/s) -> generation.
_CARD_RE = re.compile(r"card(\d+)$")


class DeviceGoneError(Exception):
    """A GPU's sysfs directory disappeared (hot-unplug, driver reset): drop it from this reading."""


def parse_dpm(text: str | None) -> tuple[int | None, int | None]:
    """``pp_dpm_sclk``/``pp_dpm_mclk`` -> (current MHz, max MHz).

    Each line is a level, "1: 1700Mhz *": the one with ``*`` is current; the highest is the max.
    """
    if not text:
        return None, None
    current: int | None = None
    top: int | None = None
    for line in text.splitlines():
        m = re.search(r"(\d+)\s*[Mm][Hh]z", line)
        if not m:
            continue
        mhz = int(m.group(1))
        top = mhz if top is None else max(top, mhz)
        if line.rstrip().endswith("*"):
            current = mhz
    return current, top


def gfx_target_name(version: int | None) -> str | None:
    """KFD's ``gfx_target_version`` (major*10000 + minor*100 + stepping) -> "gfx942".

    Minor and stepping are written in hex, as LLVM names targets: 90010 -> "gfx90a".
    """
    if not version or version < 10000:
        return None
    major, rest = divmod(version, 10000)
    minor, stepping = divmod(rest, 100)
    if minor > 15 or stepping > 15:
        return None
    return f"gfx{major}{minor:x}{stepping:x}"


def _parse_properties(text: str | None) -> dict[str, int]:
    out: dict[str, int] = {}
    for line in (text or "").splitlines():
        parts = line.split()
        if len(parts) == 2:
            with contextlib.suppress(ValueError):
                out[parts[0]] = int(parts[1])
    return out


@dataclass(frozen=True)
class _Card:
    """One AMD GPU's sysfs directory, found at enumeration."""

    card: str  # "card1"
    device_dir: Path
    bus_id: str | None


@dataclass
class _KfdNode:
    gfx_target: str | None
    compute_units: int | None
    engine_clock_max_mhz: int | None


class AmdBackend:
    """AMD GPUs: static facts now, live readings for the sampler.

    ``index_offset`` is added to each GPU's own (HIP) number to make its hwprof index: detection
    passes the number of NVIDIA GPUs, so AMD GPUs follow them (see :class:`GpuInfo`).
    """

    name = "amd"

    def __init__(
        self,
        sysfs_root: str | os.PathLike[str] | None = None,
        *,
        rocm_root: str | os.PathLike[str] | None = None,
        use_amdsmi: bool = True,
        index_offset: int = 0,
    ) -> None:
        # the module's roots are read now, not at import, so tests can point them at a fake tree
        self.sysfs_root = Path(SYSFS_ROOT if sysfs_root is None else sysfs_root)
        self.rocm_root = Path(ROCM_ROOT if rocm_root is None else rocm_root)
        self.index_offset = index_offset
        self._use_amdsmi = use_amdsmi
        self._lock = threading.Lock()
        self._tried = False
        self._available = False
        self._reason: str | None = None
        self._cards: list[_Card] = []
        self._smi: Any = None  # the amdsmi module, once started
        self._smi_handles: dict[str, Any] = {}  # bus id -> amdsmi handle
        self._live: list[_LiveAmdGpu] | None = None
        self._clock: Callable[[], float] = time.monotonic

    # -- lifecycle
    # -------------------------------------------------------------------------------------
    def _ensure(self) -> bool:
        with self._lock:
            if self._tried:
                return self._available
            self._tried = True
            self._cards = self._find_cards()
            driver_loaded = (self.sysfs_root / "module" / "amdgpu").is_dir()
            if self._use_amdsmi:
                self._start_amdsmi()
            if not self._cards and not driver_loaded and not self._smi_handles:
                self._reason = "no AMD GPU driver: the amdgpu kernel module is not loaded"
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
            if not _CARD_RE.match(name):
                continue  # connectors (card0-DP-1) and render nodes
            device_dir = drm / name / "device"
            if read_int(device_dir / "vendor", 16) != AMD_PCI_VENDOR:
                continue
            cards.append(_Card(name, device_dir, _bus_id(device_dir)))
        # HIP numbers GPUs in PCI bus order; a card without a readable bus id goes last
        return sorted(cards, key=lambda c: (c.bus_id or "~", int(c.card[4:])))

    def _start_amdsmi(self) -> None:
        try:
            import amdsmi
        except ImportError:
            return  # optional: sysfs alone is enough
        except Exception as err:  # a broken install (missing libamd_smi.so) must not crash
            log.info("amdsmi could not be imported: %s", err)
            return
        try:
            flags = getattr(getattr(amdsmi, "AmdSmiInitFlags", None), "INIT_AMD_GPUS", None)
            amdsmi.amdsmi_init(flags) if flags is not None else amdsmi.amdsmi_init()
            handles = amdsmi.amdsmi_get_processor_handles()
        except Exception as err:  # AmdSmiLibraryException and friends: sysfs carries on
            log.info("amdsmi did not start: %s", err)
            return
        self._smi = amdsmi
        for h in handles:
            bdf = self._smi_query(amdsmi.amdsmi_get_gpu_device_bdf, h)
            if isinstance(bdf, str) and bdf:
                self._smi_handles[bdf.strip().lower()] = h

    def _smi_query(self, func: Callable[..., Any], *args: object) -> Any:
        """One amdsmi call; any error (not supported, no permission, a missing function) is None."""
        try:
            return func(*args)
        except Exception:
            return None

    def shutdown(self) -> None:
        """Release amdsmi. Safe at any time; a later question starts again."""
        with self._lock:
            if self._smi is not None:
                with contextlib.suppress(Exception):
                    self._smi.amdsmi_shut_down()
            self._smi = None
            self._smi_handles = {}
            self._tried = False
            self._available = False
            self._live = None

    # -- the Backend protocol
    # --------------------------------------------------------------------------
    def available(self) -> bool:
        """Whether the amdgpu driver (or amdsmi) answered."""
        return self._ensure()

    def unavailable_reason(self) -> str | None:
        """One line for the user when AMD GPUs cannot be read."""
        self._ensure()
        return self._reason

    def status(self) -> AmdStatus:
        """Driver-level facts, or why AMD GPUs cannot be read."""
        if not self._ensure():
            return AmdStatus(available=False, message=self._reason)
        driver = read_text(self.sysfs_root / "module" / "amdgpu" / "version") or None
        if driver is None and self._smi is not None and self._smi_handles:
            info = self._smi_query(self._smi.amdsmi_get_gpu_driver_info,
                                   next(iter(self._smi_handles.values())))
            driver = _smi_str(info.get("driver_version")) if isinstance(info, dict) else None
        return AmdStatus(
            available=True,
            source="amdsmi" if self._smi is not None else "sysfs",
            driver_version=driver,
            rocm_version=self._rocm_version(),
        )

    def _rocm_version(self) -> str | None:
        raw = read_text(self.rocm_root / ".info" / "version")
        if not raw:
            return None
        # "6.2.0-66" -> "6.2.0": the build number means nothing to a pip line
        return raw.splitlines()[0].split("-")[0].strip() or None

    def device_count(self) -> int:
        """How many AMD GPUs there are (0 when unavailable)."""
        if not self._ensure():
            return 0
        return len(self._all_bus_ids())

    def _all_bus_ids(self) -> list[str | None]:
        ids: list[str | None] = [c.bus_id for c in self._cards]
        ids += sorted(b for b in self._smi_handles if b not in ids)
        return ids

    def devices(self) -> tuple[GpuInfo, ...]:
        """Static facts of every AMD GPU, numbered from ``index_offset`` in PCI bus order."""
        if not self._ensure():
            return ()
        kfd = self._kfd_nodes()
        out = []
        cards = {c.bus_id: c for c in self._cards}
        for local, bus_id in enumerate(self._all_bus_ids()):
            index = self.index_offset + local
            try:
                out.append(self._device(index, local, cards.get(bus_id), bus_id, kfd))
            except DeviceGoneError as err:
                out.append(_broken_gpu(index, local, bus_id, str(err)))
            except Exception as err:  # nothing one GPU does may hide the others
                log.exception("reading AMD GPU %s failed", bus_id)
                out.append(_broken_gpu(index, local, bus_id, f"the GPU could not be read: {err}"))
        return tuple(out)

    def _kfd_nodes(self) -> dict[str, _KfdNode]:
        """The KFD topology's GPU nodes by PCI bus id (CPU nodes have no GFX target)."""
        nodes_dir = self.sysfs_root / "class" / "kfd" / "kfd" / "topology" / "nodes"
        try:
            names = sorted(os.listdir(nodes_dir))
        except OSError:
            return {}
        out: dict[str, _KfdNode] = {}
        for name in names:
            props = _parse_properties(read_text(nodes_dir / name / "properties"))
            gfx = gfx_target_name(props.get("gfx_target_version"))
            if gfx is None or "location_id" not in props:
                continue
            loc = props["location_id"]
            bus_id = (f"{props.get('domain', 0):04x}:{loc >> 8:02x}:{(loc >> 3) & 0x1F:02x}."
                      f"{loc & 0x7:x}")
            cus = props.get("cu_count")
            if not cus and props.get("simd_count") and props.get("simd_per_cu"):
                cus = props["simd_count"] // props["simd_per_cu"]
            out[bus_id] = _KfdNode(gfx, cus or None, props.get("max_engine_clk_fcompute") or None)
        return out

    def _device(
        self, index: int, local: int, card: _Card | None, bus_id: str | None,
        kfd: dict[str, _KfdNode],
    ) -> GpuInfo:
        d = card.device_dir if card else None
        node = kfd.get(bus_id or "")

        def f(name: str) -> str | None:
            return read_text(d / name) if d else None

        def fi(name: str) -> int | None:
            return read_int(d / name) if d else None

        name = f("product_name") or None
        unique_id = f("unique_id") or None
        vram = fi("mem_info_vram_total")
        _, sclk_max = parse_dpm(f("pp_dpm_sclk"))
        _, mclk_max = parse_dpm(f("pp_dpm_mclk"))
        hwmon = _hwmon_dir(d) if d else None
        cap = read_int(hwmon / "power1_cap") if hwmon else None
        cap_default = read_int(hwmon / "power1_cap_default") if hwmon else None
        pcie = PcieLink(
            generation_current=parse_link_generation(f("current_link_speed")),
            generation_max=parse_link_generation(f("max_link_speed")),
            width_current=fi("current_link_width") or None,
            width_max=fi("max_link_width") or None,
        )
        gfx = node.gfx_target if node else None
        cus = node.compute_units if node else None
        if sclk_max is None and node is not None:
            sclk_max = node.engine_clock_max_mhz

        smi = self._smi
        handle = self._smi_handles.get(bus_id or "")
        if smi is not None and handle is not None:
            asic = self._smi_query(smi.amdsmi_get_gpu_asic_info, handle)
            if isinstance(asic, dict):
                name = name or _smi_str(asic.get("market_name"))
                cus = cus or _smi_int(asic.get("num_of_compute_units"))
                gfx = gfx or _smi_gfx(asic.get("target_graphics_version"))
            unique_id = unique_id or _smi_str(
                self._smi_query(smi.amdsmi_get_gpu_device_uuid, handle))
            if vram is None:
                info = self._smi_query(smi.amdsmi_get_gpu_vram_info, handle)
                size_mb = _smi_int(info.get("vram_size")) if isinstance(info, dict) else None
                vram = size_mb * 1024 * 1024 if size_mb else None

        if card is not None and not card.device_dir.exists():
            raise DeviceGoneError("the GPU vanished while it was being read (unplugged or reset)")
        if name is None and d is not None:
            device_id = read_int(d / "device", 16)
            if device_id is not None:
                name = PCI_DEVICE_NAMES.get(device_id, f"AMD GPU (PCI device 0x{device_id:04x})")
        return GpuInfo(
            index=index,
            vendor="amd",
            vendor_index=local,
            name=name,
            uuid=unique_id,
            pci_bus_id=bus_id,
            architecture=amd_architecture(gfx),
            compute_capability=None,
            cuda_cores=None,
            memory_total_bytes=vram or None,
            sm_clock_max_mhz=sclk_max,
            memory_clock_max_mhz=mclk_max,
            power_limit_default_watts=cap_default / 1e6 if cap_default else None,
            power_limit_enforced_watts=cap / 1e6 if cap else None,
            pcie=pcie,
            mig_mode_current=None,
            gfx_target=gfx,
            compute_units=cus,
            peak=estimate_amd_gpu_peak(gfx_target=gfx, compute_units=cus,
                                       clock_max_mhz=sclk_max),
        )

    # -- live readings
    # ----------------------------------------------------------------------------------------
    def live_gpu_indexes(self) -> tuple[int, ...]:
        """The hwprof indexes :meth:`sample` reads (fixed at first use; sysfs devices only)."""
        return tuple(g.index for g in self._live_state())

    def metrics(self) -> tuple[MetricInfo, ...]:
        """Every metric :meth:`sample` gives, as ``gpu{index}.{metric}``."""
        return metric_infos([f"gpu{i}.{m}" for i in self.live_gpu_indexes() for m in AMD_METRICS])

    def sample(self, pids: Collection[int] = frozenset()) -> dict[str, float | None]:
        """One reading of every AMD GPU; a file that is missing or unreadable reads None.

        ``pids`` is accepted for the sampler's protocol; sysfs cannot say what memory one process
        holds. A GPU whose directory vanished reads None everywhere until it comes back.
        """
        del pids
        out: dict[str, float | None] = {}
        for gpu in self._live_state():
            try:
                values = self._sample_gpu(gpu)
            except Exception:  # nothing a GPU does may stop the sampler
                log.exception("reading AMD GPU %d failed", gpu.index)
                values = {}
            for m in AMD_METRICS:
                key = f"gpu{gpu.index}.{m}"
                out[key] = values.get(key)
        return out

    def _live_state(self) -> list[_LiveAmdGpu]:
        if self._live is None:
            self._ensure()
            self._live = [
                _LiveAmdGpu(self.index_offset + i, c.device_dir)
                for i, c in enumerate(self._cards)
            ]
        return self._live

    def _sample_gpu(self, gpu: _LiveAmdGpu) -> dict[str, float | None]:
        d = gpu.device_dir
        if not d.exists():
            if not gpu.gone:
                log.warning("AMD GPU %d vanished (%s)", gpu.index, d)
            gpu.gone = True
            return {}
        gpu.gone = False
        p = f"gpu{gpu.index}."
        out: dict[str, float | None] = {}

        def ask(key: str, path: Path) -> int | None:
            if key in gpu.missing:
                return None
            if not path.exists():
                gpu.missing.add(key)  # a file the driver does not have is not asked again
                return None
            return read_int(path)

        out[p + "util_percent"] = _f(ask("util", d / "gpu_busy_percent"))
        out[p + "memory_util_percent"] = _f(ask("mem_util", d / "mem_busy_percent"))
        used = ask("vram_used", d / "mem_info_vram_used")
        total = ask("vram_total", d / "mem_info_vram_total")
        out[p + "memory_used_bytes"] = _f(used)
        out[p + "memory_total_bytes"] = _f(total)
        if gpu.hwmon is None or not gpu.hwmon.exists():
            gpu.hwmon = _hwmon_dir(d)
        h = gpu.hwmon
        if h is not None:
            power = ask("power_average", h / "power1_average")
            if power is None:
                power = ask("power_input", h / "power1_input")
            out[p + "power_watts"] = _scaled(power, 1e-6)
            out[p + "power_limit_watts"] = _scaled(ask("power_cap", h / "power1_cap"), 1e-6)
            if gpu.temp_file is None:
                gpu.temp_file = _temperature_file(h)
            if gpu.temp_file is not None:
                out[p + "temperature_c"] = _scaled(ask("temp", gpu.temp_file), 1e-3)
        sclk, _ = parse_dpm(read_text(d / "pp_dpm_sclk"))
        mclk, _ = parse_dpm(read_text(d / "pp_dpm_mclk"))
        out[p + "sm_clock_mhz"] = _f(sclk)
        out[p + "memory_clock_mhz"] = _f(mclk)
        return out


# The live metrics of each AMD GPU (the same names as NVIDIA's, where the meaning is the same).
AMD_METRICS: tuple[str, ...] = (
    "util_percent",
    "memory_util_percent",
    "memory_used_bytes",
    "memory_total_bytes",
    "power_watts",
    "power_limit_watts",
    "temperature_c",
    "sm_clock_mhz",
    "memory_clock_mhz",
)


@dataclass
class _LiveAmdGpu:
    """What sample() remembers about one AMD GPU between ticks."""

    index: int
    device_dir: Path
    hwmon: Path | None = None
    temp_file: Path | None = None
    gone: bool = False
    missing: set[str] = field(default_factory=set)


def _temperature_file(hwmon: Path) -> Path | None:
    """The edge temperature (what the card reports as "the" temperature), else the first one."""
    try:
        inputs = sorted(n for n in os.listdir(hwmon) if re.fullmatch(r"temp\d+_input", n))
    except OSError:
        return None
    for name in inputs:
        label = read_text(hwmon / name.replace("_input", "_label"))
        if label and label.lower() == "edge":
            return hwmon / name
    return hwmon / inputs[0] if inputs else None


def _smi_str(value: object) -> str | None:
    if isinstance(value, bytes):
        value = value.decode(errors="replace")
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value if value and value.upper() != "N/A" else None


def _smi_int(value: object) -> int | None:
    """An amdsmi integer, None for its "not supported" ("N/A" or all ones, 0xFFFFFFFF)."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if 0 < value < 0xFFFFFFFF else None


def _smi_gfx(value: object) -> str | None:
    text = _smi_str(value)
    if text and re.fullmatch(r"gfx[0-9a-f]+", text.lower()):
        return text.lower()
    return None


def _broken_gpu(index: int, local: int, bus_id: str | None, error: str) -> GpuInfo:
    return GpuInfo(
        index=index,
        vendor="amd",
        vendor_index=local,
        name=None,
        uuid=None,
        pci_bus_id=bus_id,
        architecture=None,
        compute_capability=None,
        cuda_cores=None,
        memory_total_bytes=None,
        sm_clock_max_mhz=None,
        memory_clock_max_mhz=None,
        power_limit_default_watts=None,
        power_limit_enforced_watts=None,
        pcie=None,
        mig_mode_current=None,
        error=error,
    )

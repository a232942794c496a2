"""NVIDIA GPUs through NVML: the only module of hwprof that imports ``pynvml`` (nvidia-ml-py).

NVML is initialised lazily, on the first question. Two failure levels, never a crash: no driver or
no library makes the whole back end unavailable, with one line saying why; a query that one GPU does
not support (``NVMLError_NotSupported``, ``NoPermission``, ...) makes that one field None. A GPU
that falls off the bus (``NVMLError_GpuIsLost``) is reported with an error and the others carry on.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any, TypeVar

from hwprof.core.devices import GpuInfo, NvmlStatus, PcieLink
from hwprof.core.peaks import estimate_gpu_peak
from hwprof.core.telemetry import MetricInfo, metric_infos

log = logging.getLogger(__name__)

T = TypeVar("T")

# NVML's architecture enum -> name (nvmlDeviceGetArchitecture).
ARCHITECTURES: dict[int, str] = {
    2: "kepler",
    3: "maxwell",
    4: "pascal",
    5: "volta",
    6: "turing",
    7: "ampere",
    8: "ada_lovelace",
    9: "hopper",
    10: "blackwell",
    11: "rubin",
}


class GpuLostError(Exception):
    """A GPU stopped answering (fell off the bus); the caller drops it from this reading."""


def text(value: object) -> str:
    """NVML strings arrive as bytes from older bindings and str from newer ones."""
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return str(value)


def normalize_pci_bus_id(bus_id: str | None) -> str | None:
    """NVML writes "00000000:3B:00.0", TensorFlow "0000:3b:00.0": lower case, 4-digit domain."""
    if not bus_id:
        return None
    parts = bus_id.strip().lower().split(":")
    if len(parts) == 3:
        parts[0] = parts[0][-4:].rjust(4, "0")
    return ":".join(parts)


def cuda_version_text(value: int | None) -> str | None:
    """NVML's CUDA driver version number 12040 -> "12.4"."""
    if not value:
        return None
    return f"{value // 1000}.{(value % 1000) // 10}"


class NvmlBackend:
    """NVIDIA GPUs: static facts now, live readings for the sampler."""

    name = "nvml"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._initialised = False
        self._reason: str | None = None
        self._tried = False
        self._nvml: Any = None
        self._live: list[_LiveGpu] | None = None  # per-GPU state of sample(), made on first use
        self._clock: Callable[[], float] = time.monotonic

    # -- lifecycle
    # -------------------------------------------------------------------------------------
    def _ensure(self) -> bool:
        with self._lock:
            if self._tried:
                return self._initialised
            self._tried = True
            try:
                import pynvml
            except ImportError:
                self._reason = "NVML bindings missing: install the nvidia-ml-py package"
                return False
            if not hasattr(pynvml, "NVMLError_NotSupported"):
                self._reason = "the installed `pynvml` is not NVIDIA's nvidia-ml-py; reinstall that"
                return False
            self._nvml = pynvml
            try:
                pynvml.nvmlInit()
            except pynvml.NVMLError as err:
                self._reason = self._init_failure(err)
                return False
            except OSError as err:  # a broken libnvidia-ml.so
                self._reason = f"NVML could not be loaded: {err}"
                return False
            self._initialised = True
            return True

    def _init_failure(self, err: Any) -> str:
        nv = self._nvml
        code = getattr(err, "value", None)
        if code == nv.NVML_ERROR_LIBRARY_NOT_FOUND:
            return "no NVIDIA driver: NVML library not found"
        if code == nv.NVML_ERROR_DRIVER_NOT_LOADED:
            return "NVIDIA driver installed but not loaded (NVML: driver not loaded)"
        if code == nv.NVML_ERROR_NO_PERMISSION:
            return "no permission to use the NVIDIA driver (NVML: insufficient permissions)"
        if code == nv.NVML_ERROR_LIB_RM_VERSION_MISMATCH:
            return "NVIDIA driver and NVML library versions differ (reboot after a driver update?)"
        return f"NVML failed to start: {err}"

    def shutdown(self) -> None:
        """Release NVML. Safe to call at any time; a later question initialises it again."""
        with self._lock:
            if self._initialised:
                with contextlib.suppress(Exception):  # shutting down must never raise
                    self._nvml.nvmlShutdown()
            self._initialised = False
            self._tried = False
            self._live = None  # handles do not outlive NVML

    # -- the Backend protocol
    # --------------------------------------------------------------------------
    def available(self) -> bool:
        """Whether NVML answered."""
        return self._ensure()

    def unavailable_reason(self) -> str | None:
        """One line for the user when NVML cannot be used."""
        self._ensure()
        return self._reason

    def query(self, func: Callable[..., T], *args: object) -> T | None:
        """Call one NVML function: a per-metric error gives None; a lost GPU raises GpuLostError."""
        nv = self._nvml
        try:
            return func(*args)
        except nv.NVMLError as err:
            if getattr(err, "value", None) == nv.NVML_ERROR_GPU_IS_LOST:
                raise GpuLostError(str(err)) from err
            return None
        except (AttributeError, TypeError, OSError):  # a function this driver/binding lacks
            return None

    def status(self) -> NvmlStatus:
        """Driver-level facts, or why NVML is unavailable."""
        if not self._ensure():
            return NvmlStatus(available=False, message=self._reason)
        nv = self._nvml
        driver = self.query(nv.nvmlSystemGetDriverVersion)
        nvml_version = self.query(nv.nvmlSystemGetNVMLVersion)
        cuda = self.query(nv.nvmlSystemGetCudaDriverVersion)
        return NvmlStatus(
            available=True,
            driver_version=text(driver) if driver is not None else None,
            nvml_version=text(nvml_version) if nvml_version is not None else None,
            cuda_driver_version=cuda_version_text(cuda),
        )

    def device_count(self) -> int:
        """How many GPUs NVML sees (0 when unavailable)."""
        if not self._ensure():
            return 0
        try:
            count = self.query(self._nvml.nvmlDeviceGetCount)
        except GpuLostError:
            return 0
        return int(count or 0)

    def handle(self, index: int) -> Any:
        """NVML's handle for GPU ``index`` (may raise GpuLostError; None if NVML refuses)."""
        return self.query(self._nvml.nvmlDeviceGetHandleByIndex, index)

    def devices(self) -> tuple[GpuInfo, ...]:
        """Static facts of every GPU. A GPU that cannot be read is listed with its error."""
        out = []
        for index in range(self.device_count()):
            try:
                out.append(self._device(index))
            except GpuLostError as err:
                out.append(_broken_gpu(index, f"GPU is lost (fell off the bus?): {err}"))
        return tuple(out)

    def _device(self, index: int) -> GpuInfo:
        nv = self._nvml
        h = self.handle(index)
        if h is None:
            return _broken_gpu(index, "NVML gave no handle for this GPU")
        q = self.query
        name = q(nv.nvmlDeviceGetName, h)
        uuid = q(nv.nvmlDeviceGetUUID, h)
        pci = q(nv.nvmlDeviceGetPciInfo, h)
        bus_id = text(getattr(pci, "busId", "")) if pci is not None else None
        mem = q(nv.nvmlDeviceGetMemoryInfo, h)
        cc = q(nv.nvmlDeviceGetCudaComputeCapability, h)
        compute_capability = (int(cc[0]), int(cc[1])) if cc is not None else None
        cores = q(nv.nvmlDeviceGetNumGpuCores, h)
        arch = q(nv.nvmlDeviceGetArchitecture, h)
        sm_max = q(nv.nvmlDeviceGetMaxClockInfo, h, nv.NVML_CLOCK_SM)
        mem_max = q(nv.nvmlDeviceGetMaxClockInfo, h, nv.NVML_CLOCK_MEM)
        p_default = q(nv.nvmlDeviceGetPowerManagementDefaultLimit, h)
        p_enforced = q(nv.nvmlDeviceGetEnforcedPowerLimit, h)
        mig = q(nv.nvmlDeviceGetMigMode, h)
        pcie = PcieLink(
            generation_current=q(nv.nvmlDeviceGetCurrPcieLinkGeneration, h),
            generation_max=q(nv.nvmlDeviceGetMaxPcieLinkGeneration, h),
            width_current=q(nv.nvmlDeviceGetCurrPcieLinkWidth, h),
            width_max=q(nv.nvmlDeviceGetMaxPcieLinkWidth, h),
        )
        return GpuInfo(
            index=index,
            name=text(name) if name is not None else None,
            uuid=text(uuid) if uuid is not None else None,
            pci_bus_id=normalize_pci_bus_id(bus_id),
            architecture=ARCHITECTURES.get(arch) if isinstance(arch, int) else None,
            compute_capability=compute_capability,
            cuda_cores=int(cores) if cores else None,
            memory_total_bytes=int(mem.total) if mem is not None else None,
            sm_clock_max_mhz=int(sm_max) if sm_max else None,
            memory_clock_max_mhz=int(mem_max) if mem_max else None,
            power_limit_default_watts=p_default / 1000 if p_default else None,
            power_limit_enforced_watts=p_enforced / 1000 if p_enforced else None,
            pcie=pcie,
            mig_mode_current=bool(mig[0]) if mig is not None else None,
            mig_mode_pending=bool(mig[1]) if mig is not None else None,
            peak=estimate_gpu_peak(
                cuda_cores=int(cores) if cores else None,
                sm_clock_max_mhz=int(sm_max) if sm_max else None,
                compute_capability=compute_capability,
            ),
        )

    # -- live readings
    # ----------------------------------------------------------------------------------------
    def query_checked(self, func: Callable[..., T], *args: object) -> tuple[T | None, bool]:
        """Call one NVML function for a live reading: (value or None, worth asking again).

        NotSupported, NoPermission, a function this driver or binding lacks: (None, False), so the
        sampler stops asking. Other errors (a timeout, "unknown"): (None, True). A lost GPU raises
        GpuLostError.
        """
        nv = self._nvml
        try:
            return func(*args), True
        except nv.NVMLError as err:
            code = getattr(err, "value", None)
            if code == nv.NVML_ERROR_GPU_IS_LOST:
                raise GpuLostError(str(err)) from err
            return None, not _is_permanent(nv, code)
        except (AttributeError, TypeError):  # a function this binding lacks or words differently
            return None, False
        except Exception:  # e.g. NVMLLibraryMismatchError: never let a reading crash the sampler
            return None, False

    def live_gpu_indexes(self) -> tuple[int, ...]:
        """The GPUs :meth:`sample` reads: fixed at first use, empty when NVML is unavailable."""
        return tuple(g.index for g in self._live_state())

    def metrics(self) -> tuple[MetricInfo, ...]:
        """Every metric :meth:`sample` gives: each GPU's, then the watched tree's on each GPU."""
        gpus = self.live_gpu_indexes()
        names = [f"gpu{i}.{m}" for i in gpus for m in GPU_METRICS]
        names += [f"proc.gpu{i}.memory_bytes" for i in gpus]
        return metric_infos(names)

    def sample(self, pids: Collection[int] = frozenset()) -> dict[str, float | None]:
        """One reading of every GPU. ``pids``: the watched process tree, for its GPU memory.

        A metric that answered NotSupported is not asked again (it stays None). A GPU that is lost
        reads None everywhere and is asked again only every LOST_GPU_RETRY_S; the others go on.
        """
        out: dict[str, float | None] = {}
        now = self._clock()
        for gpu in self._live_state():
            try:
                values = self._sample_gpu(gpu, pids, now)
            except GpuLostError as err:
                if not gpu.lost:
                    log.warning("GPU %d is lost (fell off the bus?): %s", gpu.index, err)
                gpu.lost, gpu.handle = True, None
                gpu.retry_at = now + LOST_GPU_RETRY_S
                values = {}
            except Exception:  # nothing a GPU does may stop the sampler
                log.exception("reading GPU %d failed", gpu.index)
                values = {}
            for m in GPU_METRICS:
                key = f"gpu{gpu.index}.{m}"
                out[key] = values.get(key)
            key = f"proc.gpu{gpu.index}.memory_bytes"
            out[key] = values.get(key)
        return out

    def _live_state(self) -> list[_LiveGpu]:
        if self._live is None:
            self._live = [_LiveGpu(i) for i in range(self.device_count())]
        return self._live

    def _sample_gpu(
        self, gpu: _LiveGpu, pids: Collection[int], now: float
    ) -> dict[str, float | None]:
        nv = self._nvml
        if gpu.handle is None:
            if gpu.lost and now < gpu.retry_at:
                return {}
            gpu.handle = self.handle(gpu.index)  # raises GpuLostError while it stays lost
            if gpu.handle is None:
                gpu.lost, gpu.retry_at = True, now + LOST_GPU_RETRY_S
                return {}
            gpu.lost = False
        h = gpu.handle
        p = f"gpu{gpu.index}."
        out: dict[str, float | None] = {}

        def ask(key: str, func: Callable[..., Any], *args: object) -> Any:
            if key in gpu.unsupported:
                return None
            value, again = self.query_checked(func, h, *args)
            if not again:
                gpu.unsupported.add(key)
            return value

        util = ask("utilization", nv.nvmlDeviceGetUtilizationRates)
        if util is not None:
            out[p + "util_percent"] = float(util.gpu)
            out[p + "memory_util_percent"] = float(util.memory)
        mem = ask("memory", nv.nvmlDeviceGetMemoryInfo)
        if mem is not None:
            out[p + "memory_used_bytes"] = float(mem.used)
            out[p + "memory_total_bytes"] = float(mem.total)
        out[p + "power_watts"] = _scaled(ask("power", nv.nvmlDeviceGetPowerUsage), 1e-3)
        out[p + "energy_joules"] = _scaled(
            ask("energy", nv.nvmlDeviceGetTotalEnergyConsumption), 1e-3
        )
        out[p + "temperature_c"] = _scaled(
            ask("temperature", nv.nvmlDeviceGetTemperature, nv.NVML_TEMPERATURE_GPU), 1.0
        )
        out[p + "sm_clock_mhz"] = _scaled(
            ask("sm_clock", nv.nvmlDeviceGetClockInfo, nv.NVML_CLOCK_SM), 1.0
        )
        out[p + "memory_clock_mhz"] = _scaled(
            ask("memory_clock", nv.nvmlDeviceGetClockInfo, nv.NVML_CLOCK_MEM), 1.0
        )
        out[p + "fan_percent"] = _scaled(ask("fan", nv.nvmlDeviceGetFanSpeed), 1.0)
        reasons_fn = getattr(nv, "nvmlDeviceGetCurrentClocksEventReasons", None) or getattr(
            nv, "nvmlDeviceGetCurrentClocksThrottleReasons", None
        )
        if reasons_fn is not None:
            out[p + "clock_event_reasons"] = _scaled(ask("clock_event_reasons", reasons_fn), 1.0)

        # Slow-changing or slow-to-read values: at most every SLOW_METRICS_PERIOD_S, the last
        # reading repeated in between. nvmlDeviceGetPcieThroughput blocks ~20 ms per call.
        if now >= gpu.slow_next:
            gpu.slow_next = now + SLOW_METRICS_PERIOD_S
            gpu.slow[p + "power_limit_watts"] = _scaled(
                ask("power_limit", nv.nvmlDeviceGetEnforcedPowerLimit), 1e-3
            )
            gpu.slow[p + "pcie_tx_bytes_per_second"] = _scaled(
                ask("pcie_tx", nv.nvmlDeviceGetPcieThroughput, nv.NVML_PCIE_UTIL_TX_BYTES), 1024.0
            )
            gpu.slow[p + "pcie_rx_bytes_per_second"] = _scaled(
                ask("pcie_rx", nv.nvmlDeviceGetPcieThroughput, nv.NVML_PCIE_UTIL_RX_BYTES), 1024.0
            )
        out.update(gpu.slow)

        if pids:
            procs = ask("processes", nv.nvmlDeviceGetComputeRunningProcesses)
            if procs is not None:
                used = [getattr(q, "usedGpuMemory", None) for q in procs if q.pid in pids]
                known = [int(u) for u in used if u is not None and u < _NOT_AVAILABLE]
                # Windows (WDDM) cannot say how much a process holds: None, not 0.
                out["proc." + p + "memory_bytes"] = (
                    float(sum(known)) if len(known) == len(used) else None
                )
        return out


# The live metrics of each GPU, as "gpu{index}.{metric}".
GPU_METRICS: tuple[str, ...] = (
    "util_percent",
    "memory_util_percent",
    "memory_used_bytes",
    "memory_total_bytes",
    "power_watts",
    "power_limit_watts",
    "energy_joules",
    "temperature_c",
    "sm_clock_mhz",
    "memory_clock_mhz",
    "fan_percent",
    "pcie_tx_bytes_per_second",
    "pcie_rx_bytes_per_second",
    "clock_event_reasons",
)
LOST_GPU_RETRY_S = 10.0  # how often a lost GPU is asked whether it is back
SLOW_METRICS_PERIOD_S = 1.0  # power limit and PCIe throughput are read at most this often
_NOT_AVAILABLE = 2**63  # NVML's "value not available" for 64-bit readings is 2**64 - 1


# Errors that will not go away by asking again.
_PERMANENT_ERRORS = (
    "NVML_ERROR_NOT_SUPPORTED",
    "NVML_ERROR_NO_PERMISSION",
    "NVML_ERROR_FUNCTION_NOT_FOUND",
    "NVML_ERROR_INVALID_ARGUMENT",
    "NVML_ERROR_NOT_FOUND",
)


def _is_permanent(nv: Any, code: object) -> bool:
    return any(code == getattr(nv, name, object()) for name in _PERMANENT_ERRORS)


@dataclass
class _LiveGpu:
    """What sample() remembers about one GPU between ticks."""

    index: int
    handle: Any = None
    lost: bool = False
    retry_at: float = 0.0
    unsupported: set[str] = field(default_factory=set)
    slow: dict[str, float | None] = field(default_factory=dict)
    slow_next: float = 0.0


def _scaled(value: Any, scale: float) -> float | None:
    return None if value is None else float(value) * scale


def _broken_gpu(index: int, error: str) -> GpuInfo:
    return GpuInfo(
        index=index,
        name=None,
        uuid=None,
        pci_bus_id=None,
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

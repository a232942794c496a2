"""NVIDIA GPUs through NVML: the only module of hwprof that imports ``pynvml`` (nvidia-ml-py).

NVML is initialised lazily, on the first question. Two failure levels, never a crash: no driver or
no library makes the whole back end unavailable, with one line saying why; a query that one GPU does
not support (``NVMLError_NotSupported``, ``NoPermission``, ...) makes that one field None. A GPU
that falls off the bus (``NVMLError_GpuIsLost``) is reported with an error and the others carry on.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from hwprof.core.devices import GpuInfo, NvmlStatus, PcieLink
from hwprof.core.peaks import estimate_gpu_peak

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

    def sample(self) -> dict[str, float | None]:
        """Live readings; filled in by the sampler issue."""
        return {}


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

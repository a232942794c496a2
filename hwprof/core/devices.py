"""What hwprof knows about the machine: host, CPUs, GPUs (of every vendor) and TensorFlow's view.

These models are the stable structure of `hwprof detect --json` (schema ``hwprof.detect/1``) and the
``devices`` part of a snapshot. Units are in the field names; a fact that could not be had is
``None``, never 0 and never a string like "N/A".
"""

from __future__ import annotations

import dataclasses
import re
import sys
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

DETECT_SCHEMA = "hwprof.detect/1"

# Instruction-set extensions that matter for deep-learning kernels, in the order they are shown.
DL_EXTENSIONS_X86: tuple[str, ...] = (
    "sse4_2",
    "avx",
    "avx2",
    "fma",
    "f16c",
    "avx512f",
    "avx512bw",
    "avx512vl",
    "avx512_vnni",
    "avx512_bf16",
    "avx512_fp16",
    "avx_vnni",
    "amx_tile",
    "amx_bf16",
    "amx_int8",
    "amx_fp16",
)
DL_EXTENSIONS_ARM: tuple[str, ...] = (
    "asimd",
    "asimdhp",
    "asimddp",
    "bf16",
    "i8mm",
    "sve",
    "sve2",
    "svebf16",
    "sme",
    "sme2",
)


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class CacheLevel(_Model):
    """One level of the CPU cache hierarchy, as the OS describes it."""

    level: int
    kind: Literal["data", "instruction", "unified"]
    size_bytes: int = Field(description="size of one instance")
    instances: int = Field(description="how many of these caches the machine has")

    @property
    def total_bytes(self) -> int:
        """Size of all instances together."""
        return self.size_bytes * self.instances

    @property
    def label(self) -> str:
        """Short name as lscpu writes it: L1d, L1i, L2, L3."""
        suffix = {"data": "d", "instruction": "i", "unified": ""}[self.kind]
        return f"L{self.level}{suffix}"


class PeakEstimate(_Model):
    """An estimated peak arithmetic rate, with the formula that produced it."""

    fp32_flops: float | None
    bf16_flops: float | None
    fp16_flops: float | None = None
    formula: str = Field(description="how the numbers were computed, in words a reader can check")
    clock_hz: float | None = Field(default=None, description="the clock the estimate used")
    clock_source: str | None = Field(default=None, description="where that clock came from")
    clock_kind: Literal["all-core", "max", "base", "current"] | None = Field(
        default=None,
        description="which clock: all cores together (best), one core's max boost (an upper "
        "bound), the base clock (may be low), or the clock at detection",
    )
    basis: str | None = Field(
        default=None,
        description="the table row the FLOP/cycle came from (core.cpu_table), or the flag rule",
    )
    basis_source: str | None = Field(default=None, description="where that row's figures are from")
    notes: tuple[str, ...] = Field(default=(), description="caveats: upper bounds, masked models")
    is_estimate: bool = True


class CpuInfo(_Model):
    """One CPU model in the machine (all its sockets)."""

    vendor: str | None
    model_name: str | None
    architecture: str | None
    sockets: int | None
    physical_cores: int | None
    logical_cpus: int
    threads_per_core: int | None
    frequency_base_hz: float | None
    frequency_max_hz: float | None
    frequency_current_hz: float | None
    caches: tuple[CacheLevel, ...] = ()
    numa_nodes: int | None
    flags: tuple[str, ...] = ()
    dl_extensions: tuple[str, ...] = Field(
        default=(),
        description="the deep-learning relevant extensions this CPU has, in a fixed order",
    )
    vector_width_bits: int | None = Field(default=None, description="widest SIMD register width")
    family: int | None = Field(default=None, description="x86 CPUID family (AMD Zen 4: 25)")
    model: int | None = Field(default=None, description="x86 CPUID model within the family")
    stepping: int | None = Field(default=None, description="x86 CPUID stepping")
    arm_implementer: int | None = Field(default=None, description="Arm MIDR implementer (0x41)")
    arm_parts: dict[str, int] = Field(
        default_factory=dict,
        description='Arm MIDR part numbers ("0xd0c") and how many logical CPUs have each',
    )
    efficiency_cores: int | None = Field(
        default=None,
        description="physical cores of the efficiency kind on a hybrid CPU (Intel E-cores, Apple "
        "E-cores), when the OS says; None where it does not or the CPU is not hybrid",
    )
    peak: PeakEstimate | None = None
    sources: dict[str, str] = Field(
        default_factory=dict,
        description="for each fact that had several sources, which one was used",
    )
    notes: tuple[str, ...] = Field(default=(), description="disagreements between sources, caveats")

    def cache(self, label: str) -> CacheLevel | None:
        """The cache level named like lscpu does ("L1d", "L2", ...), if known."""
        return next((c for c in self.caches if c.label == label), None)


class PcieLink(_Model):
    """A PCIe link's generation and width, now and at most."""

    generation_current: int | None
    generation_max: int | None
    width_current: int | None
    width_max: int | None


GpuVendor = Literal["nvidia", "amd", "intel", "apple"]
VENDOR_NAMES: dict[str, str] = {"nvidia": "NVIDIA", "amd": "AMD", "intel": "Intel",
                                "apple": "Apple"}
DeviceKind = Literal["cpu", "gpu", "tpu"]
DEVICE_ID_FORMS = '"cpu", "gpu:N" or "tpu:N"'
_DEVICE_ID_RE = re.compile(r"^(cpu|(gpu|tpu):(\d{1,3}))$")


class DeviceIdError(ValueError):
    """A device id that is none of ``cpu``, ``gpu:N``, ``tpu:N``; the message says so."""


@dataclasses.dataclass(frozen=True)
class DeviceId:
    """A device as hwprof names it everywhere: ``cpu``, ``gpu:N`` or ``tpu:N``.

    ``gpu:N`` is GPU N in hwprof's numbering (see :class:`GpuInfo`); ``tpu:N`` is TPU chip N of
    this host in PCI bus order (see :class:`TpuInfo`). A TPU chip is no GPU: it has its own kind.
    """

    kind: DeviceKind
    index: int | None = None  # None for the CPU

    def __str__(self) -> str:
        return self.kind if self.index is None else f"{self.kind}:{self.index}"


def parse_device_id(text: str) -> DeviceId:
    """Parse ``cpu``, ``gpu:N`` or ``tpu:N``; a DeviceIdError's message says the forms.

    Any case, spaces around allowed; ``gpu``, ``cuda`` and ``tpu`` alone mean number 0.
    """
    word = text.strip().lower()
    if word in ("gpu", "cuda"):
        word = "gpu:0"
    elif word == "tpu":
        word = "tpu:0"
    m = _DEVICE_ID_RE.match(word)
    if m is None:
        raise DeviceIdError(f"unknown device {word!r}: use {DEVICE_ID_FORMS} (e.g. gpu:0)")
    if m.group(2) is None:
        return DeviceId("cpu")
    return DeviceId("gpu" if m.group(2) == "gpu" else "tpu", int(m.group(3)))




def vendor_gpu_state(vendor: str, count: int, reason: str | None, verb: str = "") -> str:
    """One vendor's GPUs in a few words: "NVIDIA: no driver (NVML library not found)", "AMD: 1 GPU".

    ``reason`` is the back end's "why not" line (None when it answered); ``verb`` ends the count
    ("monitored", "charted").
    """
    name = VENDOR_NAMES.get(vendor, vendor)
    if reason is not None:
        # the back ends say "no NVIDIA driver: <why>"; after "NVIDIA:" the vendor is said already
        for prefix in (f"no {name} driver: ", f"no {name} GPU driver: "):
            if reason.startswith(prefix):
                return f"{name}: no driver ({reason[len(prefix):]})"
        return f"{name}: {reason}"
    return f"{name}: {count} GPU{'s' if count != 1 else ''}{' ' + verb if verb else ''}"


def vendor_gpu_summary(states: list[tuple[str, int, str | None]], verb: str = "") -> str:
    """Each vendor's state (see :func:`vendor_gpu_state`), joined by "; "."""
    return "; ".join(vendor_gpu_state(v, n, why, verb) for v, n, why in states)


class GpuInfo(_Model):
    """One GPU, of any vendor, as its back end describes it (NVML for NVIDIA, amdsmi/sysfs for AMD).

    ``index`` is the N of the device id ``gpu:N`` that names this GPU everywhere (detect, monitor,
    run, telemetry keys ``gpuN.*``, snapshots, the window). On a machine with GPUs of several
    vendors the numbering is: NVIDIA GPUs first, in NVML's order (PCI bus order), then AMD GPUs in
    PCI bus order (the order HIP numbers them in), then Intel GPUs in PCI bus order (the order
    Level Zero numbers them in), then the Apple silicon GPU of a Mac (there is one, part of the
    chip). ``vendor_index`` is the GPU's number within its own vendor's
    numbering (NVML's index; HIP's device number; Level Zero's device number; 0 for Apple's,
    TensorFlow's ``GPU:0`` with tensorflow-metal), which is what
    ``CUDA_VISIBLE_DEVICES`` / ``HIP_VISIBLE_DEVICES`` / ``ZE_AFFINITY_MASK`` take. On an
    NVIDIA-only machine both are the same, so every snapshot saved before AMD support keeps its
    meaning (``vendor`` defaults to "nvidia").

    Fields of one vendor are None for the other: ``compute_capability``, ``cuda_cores`` and MIG are
    NVIDIA's; ``gfx_target`` AMD's; ``compute_units`` AMD's CUs, Intel's Xe-cores or Apple's GPU
    cores; ``unified_memory`` and ``metal_support`` Apple's (an Apple GPU's memory total is the
    machine's memory, shared with the CPU).
    ``sm_clock_max_mhz`` is the top shader clock (NVIDIA's SM clock, AMD's GFX engine clock,
    Intel's RP0 GT frequency).
    """

    index: int
    vendor: GpuVendor = "nvidia"
    vendor_index: int | None = Field(
        default=None,
        description="the number within the vendor's own numbering (NVML index, HIP device); "
        "None in snapshots saved before AMD support, where it equals index",
    )
    name: str | None
    uuid: str | None
    pci_bus_id: str | None
    architecture: str | None
    compute_capability: tuple[int, int] | None
    cuda_cores: int | None
    multiprocessors: int | None = None
    memory_total_bytes: int | None
    sm_clock_max_mhz: int | None
    memory_clock_max_mhz: int | None
    power_limit_default_watts: float | None
    power_limit_enforced_watts: float | None
    pcie: PcieLink | None
    mig_mode_current: bool | None
    mig_mode_pending: bool | None = None
    gfx_target: str | None = Field(default=None, description='AMD GFX target, e.g. "gfx942"')
    compute_units: int | None = Field(
        default=None, description="AMD compute units (CUs); Intel Xe-cores; Apple GPU cores"
    )
    unified_memory: bool | None = Field(
        default=None,
        description="True when the memory total is memory shared with the CPU (Apple silicon)",
    )
    metal_support: str | None = Field(default=None, description='Apple: e.g. "Metal 3"')
    peak: PeakEstimate | None = None
    error: str | None = Field(default=None, description="set when the GPU could not be read at all")
    tensorflow_device: str | None = Field(
        default=None, description='the TensorFlow device this GPU is, e.g. "/physical_device:GPU:0"'
    )
    tensorflow_missing_reason: str | None = Field(
        default=None, description="why TensorFlow does not see this GPU, when it does not"
    )


class NvmlStatus(_Model):
    """Whether NVML could be used, and the facts it gives about the whole system."""

    available: bool
    message: str | None = Field(default=None, description="why NVML is unavailable, for the user")
    driver_version: str | None = None
    nvml_version: str | None = None
    cuda_driver_version: str | None = Field(default=None, description='e.g. "12.4"')


class AmdStatus(_Model):
    """Whether AMD GPUs could be read (amdsmi or amdgpu's sysfs), and the driver facts."""

    available: bool
    message: str | None = Field(default=None, description="why AMD GPUs cannot be read")
    source: Literal["amdsmi", "sysfs"] | None = Field(
        default=None, description="where the facts came from"
    )
    driver_version: str | None = Field(default=None, description="the amdgpu kernel driver")
    rocm_version: str | None = Field(default=None, description='the installed ROCm, e.g. "6.2.0"')


class IntelStatus(_Model):
    """Whether Intel GPUs could be read (the i915/xe drivers' sysfs), and the driver facts."""

    available: bool
    message: str | None = Field(default=None, description="why Intel GPUs cannot be read")
    drivers: tuple[str, ...] = Field(
        default=(), description='the kernel drivers the GPUs use, e.g. ("i915", "xe")'
    )
    busy_note: str | None = Field(
        default=None, description="why engine busyness is not reported (it needs the perf PMU)"
    )


class AppleStatus(_Model):
    """Whether a Mac's Apple silicon GPU could be read (system_profiler, sysctl, ioreg)."""

    available: bool
    message: str | None = Field(default=None, description="why the Apple GPU cannot be read")
    chip: str | None = Field(default=None, description='e.g. "Apple M2 Max"')
    performance_cores: int | None = Field(default=None, description="CPU performance cores")
    efficiency_cores: int | None = Field(default=None, description="CPU efficiency cores")
    metal_support: str | None = Field(default=None, description='e.g. "Metal 3"')
    power_note: str | None = Field(
        default=None, description="why GPU power is not shown (powermetrics needs root)"
    )
    memory_note: str | None = Field(
        default=None, description="what the memory total means (unified memory)"
    )


TPU_INFO_HINT = "pip install tpu-info"
TPU_IDLE_NOTE = "no TPU program running"
# TensorFlow's TPU build pins its libtpu, published on Google's own index, not PyPI (the
# TensorFlow TPU images install it so: tensorflow-tpu==<v> --find-links .../libtpu-tf-releases)
TPU_INSTALL_HINT = (
    "TensorFlow reaches TPUs through libtpu, which is not installed: pip install tensorflow-tpu "
    "-f https://storage.googleapis.com/libtpu-tf-releases/index.html"
)


def libtpu_installed() -> bool:
    """Whether libtpu, TensorFlow's way to TPU chips, is installed: found, never loaded.

    The probe child asks (detection), and so does run planning, before any worker starts.
    """
    import importlib.metadata
    import importlib.util

    try:
        if importlib.util.find_spec("libtpu") is not None:
            return True
    except (ImportError, ValueError):
        pass
    for dist in ("libtpu", "libtpu-nightly"):
        try:
            importlib.metadata.distribution(dist)
            return True
        except importlib.metadata.PackageNotFoundError:
            continue
    return False


class TpuStatus(_Model):
    """Whether TPU chips were found (PCI sysfs, Google's vendor id) and can be watched."""

    available: bool
    message: str | None = Field(default=None, description="why no TPU chip can be read")
    telemetry: Literal["tpu-info"] | None = Field(
        default=None, description="where the live readings come from, when they can be had"
    )
    telemetry_note: str | None = Field(
        default=None,
        description='why there are no live readings: "pip install tpu-info", or that no TPU '
        "program is running (the TPU runtime gives them only while a program runs)",
    )


class TpuInfo(_Model):
    """One TPU chip of this host. ``index`` is the N of ``tpu:N``: chips in PCI bus order.

    A chip with two TensorCores (v4, v5p: "megacore") is one chip here, as Google counts chips;
    ``tensor_cores`` says how many it has. The facts per type come from Google's published
    specifications (:data:`hwprof.core.peaks.TPU_TYPES`).
    """

    index: int
    name: str | None = Field(description='e.g. "TPU v5e"; None for a type hwprof does not know')
    tpu_type: str | None = Field(default=None, description='Google\'s name, e.g. "v5e", "v4"')
    pci_device_id: int | None = None
    pci_bus_id: str | None = None
    device_path: str | None = Field(
        default=None, description='the device node a TPU program opens: /dev/accel0, /dev/vfio/0'
    )
    memory_total_bytes: int | None = Field(default=None, description="HBM of this chip")
    tensor_cores: int | None = None
    peak: PeakEstimate | None = None
    error: str | None = Field(default=None, description="set when the chip could not be read")
    tensorflow_missing_reason: str | None = Field(
        default=None, description="why TensorFlow cannot use this chip, when it cannot"
    )


class TfDevice(_Model):
    """A physical device that TensorFlow sees."""

    name: str = Field(description='TensorFlow\'s name, e.g. "/physical_device:GPU:0"')
    device_type: str = Field(description="CPU, GPU, TPU or a pluggable device type")
    index: int
    details: dict[str, str] = Field(default_factory=dict)
    pci_bus_id: str | None = None
    compute_capability: tuple[int, int] | None = None
    nvml_index: int | None = Field(default=None, description="the NVML GPU this is, when matched")


TfStatus = Literal["ok", "not_installed", "import_failed", "timeout", "error"]


class TfliteDelegate(_Model):
    """A TensorFlow Lite delegate: whether this machine has it, and where, or what to install."""

    name: str
    available: bool
    detail: str


class TensorFlowInfo(_Model):
    """TensorFlow's view of the machine, from a short probe child process."""

    status: TfStatus
    message: str | None = None
    version: str | None = None
    built_with_cuda: bool | None = None
    built_with_rocm: bool | None = None
    cuda_version: str | None = None
    cudnn_version: str | None = None
    devices: tuple[TfDevice, ...] = ()
    probe_seconds: float | None = None
    libtpu: bool | None = Field(
        default=None, description="whether libtpu (TensorFlow's way to TPUs) is installed; "
        "None when not probed"
    )
    tflite_runtimes: tuple[str, ...] = Field(
        default=(), description='TFLite interpreters and versions, e.g. "tf.lite 2.21.0"')


class HostInfo(_Model):
    """The machine and its software."""

    hostname: str
    os: str = Field(description='e.g. "Linux"')
    os_release: str | None = Field(
        default=None, description='e.g. "Debian GNU/Linux 12 (bookworm)"'
    )
    kernel: str | None = None
    machine: str = Field(description='hardware architecture, e.g. "x86_64"')
    python_version: str
    memory_total_bytes: int | None
    memory_available_bytes: int | None
    swap_total_bytes: int | None
    virtualized: str | None = Field(default=None, description="hypervisor vendor, when under one")


class DetectReport(_Model):
    """Everything `hwprof detect` finds. This is the structure of `hwprof detect --json`."""

    schema_id: str = Field(default=DETECT_SCHEMA, alias="schema")
    hwprof_version: str
    created_at: str = Field(description="ISO 8601, UTC")
    host: HostInfo
    cpus: tuple[CpuInfo, ...]
    nvml: NvmlStatus
    amd: AmdStatus | None = Field(default=None, description="None in reports made before AMD")
    intel: IntelStatus | None = Field(
        default=None, description="None in reports made before Intel GPU support"
    )
    apple: AppleStatus | None = Field(
        default=None, description="None in reports made before Apple GPU support"
    )
    gpus: tuple[GpuInfo, ...]
    tpu: TpuStatus | None = Field(default=None, description="None in reports made before TPUs")
    tpus: tuple[TpuInfo, ...] = ()
    tensorflow: TensorFlowInfo
    detect_seconds: float | None = None
    tflite_delegates: tuple[TfliteDelegate, ...] = Field(
        default=(), description="TensorFlow Lite delegates looked for (XNNPACK, the Edge TPU, "
        "its compiler, a GPU delegate); () in reports made before TFLite support"
    )

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False,
                              populate_by_name=True)

    def gpu(self, index: int) -> GpuInfo | None:
        """The GPU ``gpu:index`` (any vendor)."""
        return next((g for g in self.gpus if g.index == index), None)

    def tpu_chip(self, index: int) -> TpuInfo | None:
        """The TPU chip ``tpu:index``."""
        return next((t for t in self.tpus if t.index == index), None)

    def to_json_dict(self) -> dict[str, object]:
        """The JSON-ready dictionary, with the documented field names."""
        return self.model_dump(mode="json", by_alias=True)


def _visible_order(gpus: tuple[GpuInfo, ...], cuda_visible_devices: str | None) -> list[GpuInfo]:
    """The GPUs CUDA shows, in its order, given CUDA_DEVICE_ORDER=PCI_BUS_ID."""
    by_bus = sorted(gpus, key=lambda g: (g.pci_bus_id or "~", g.index))
    if cuda_visible_devices is None:
        return by_bus
    visible: list[GpuInfo] = []
    for token in cuda_visible_devices.split(","):
        token = token.strip()
        if not token:
            continue
        if token.lstrip("-").isdigit():
            i = int(token)
            if i < 0 or i >= len(by_bus):
                break  # CUDA stops at the first invalid entry
            visible.append(by_bus[i])
        else:
            match = next((g for g in by_bus if g.uuid and g.uuid.startswith(token)), None)
            if match is None:
                break
            visible.append(match)
    return visible


def rocm_install_hint(tf: TensorFlowInfo, rocm_version: str | None) -> str:
    """What to install so that TensorFlow can use an AMD GPU, in plain words."""
    version = f"TensorFlow {tf.version}" if tf.version else "this TensorFlow"
    rocm = (
        f"the release built for ROCm {rocm_version}, the ROCm installed here"
        if rocm_version
        else "the release built for your ROCm version (ROCm itself was not found in /opt/rocm)"
    )
    return (
        f"AMD GPU found; {version} has no ROCm support: install TensorFlow's ROCm build in its "
        f"place (pip install tensorflow-rocm, {rocm})"
    )


INTEL_EXTENSION_HINT = (
    "Intel GPU found; TensorFlow uses it only through the Intel Extension for TensorFlow, which "
    "is not installed: pip install intel-extension-for-tensorflow[xpu]"
)
METAL_PLUGIN_HINT = (
    "Apple GPU found; TensorFlow uses it only through the tensorflow-metal plug-in, which is not "
    "installed: pip install tensorflow-metal"
)
# the device type the Intel Extension for TensorFlow (a PluggableDevice) gives Intel GPUs
XPU_DEVICE_TYPE = "XPU"


def match_tensorflow_gpus(
    tf: TensorFlowInfo,
    gpus: tuple[GpuInfo, ...],
    cuda_visible_devices: str | None,
    *,
    hip_visible_devices: str | None = None,
    rocm_version: str | None = None,
    intel_extension: bool | None = None,
    metal_plugin: bool | None = None,
) -> tuple[TensorFlowInfo, tuple[GpuInfo, ...]]:
    """Pair TensorFlow's GPUs with the detected ones, and say why any GPU has no TensorFlow device.

    A TensorFlow build uses one vendor's GPUs: the CUDA build NVIDIA's, the ROCm build AMD's. It
    numbers them as CUDA (or HIP) does; with CUDA_DEVICE_ORDER=PCI_BUS_ID (which hwprof sets for
    its workers) that is PCI bus order over the GPUs CUDA_VISIBLE_DEVICES (HIP_VISIBLE_DEVICES)
    leaves visible. HIP numbers AMD GPUs in PCI bus order.

    Intel GPUs are TensorFlow's XPU devices (the Intel Extension for TensorFlow), which Level Zero
    numbers in PCI bus order: XPU:N is the N-th Intel GPU. ``intel_extension`` says whether the
    extension is installed (None: not known), for the reason an Intel GPU has no device.

    An Apple silicon GPU is TensorFlow's ``GPU:0`` through the tensorflow-metal plug-in (a Mac has
    no CUDA or ROCm TensorFlow, and one GPU); ``metal_plugin`` says whether the plug-in is
    installed (None: not known).
    """
    rocm = bool(tf.built_with_rocm)
    usable_vendor: GpuVendor = "amd" if rocm else "nvidia"
    own = tuple(g for g in gpus if g.vendor == usable_vendor)
    visible = _visible_order(own, hip_visible_devices if rocm else cuda_visible_devices)
    tf_gpus = [d for d in tf.devices if d.device_type == "GPU"]
    pairs: dict[int, TfDevice] = {}
    for dev in tf_gpus:
        if dev.index < len(visible):
            pairs[visible[dev.index].index] = dev
    new_devices = tuple(
        d.model_copy(
            update={
                "nvml_index": None if rocm else visible[d.index].index,
                "pci_bus_id": visible[d.index].pci_bus_id,
            }
        )
        if d.device_type == "GPU" and d.index < len(visible)
        else d
        for d in tf.devices
    )
    intel = sorted((g for g in gpus if g.vendor == "intel"),
                   key=lambda g: (g.pci_bus_id or "~", g.index))
    xpus = [d for d in new_devices if d.device_type == XPU_DEVICE_TYPE]
    for dev in xpus:
        if dev.index < len(intel):
            pairs[intel[dev.index].index] = dev
    new_devices = tuple(
        d.model_copy(update={"pci_bus_id": intel[d.index].pci_bus_id})
        if d.device_type == XPU_DEVICE_TYPE and d.index < len(intel)
        else d
        for d in new_devices
    )
    apple = [g for g in gpus if g.vendor == "apple"]
    if apple and not own and tf_gpus and tf_gpus[0].index == 0:
        pairs[apple[0].index] = tf_gpus[0]  # the Metal plug-in's GPU:0 is the chip's GPU
    visible_ids = {g.index for g in visible}
    new_gpus = []
    for g in gpus:
        if g.index in pairs:
            new_gpus.append(g.model_copy(update={"tensorflow_device": pairs[g.index].name}))
            continue
        if g.error:
            reason = "the GPU could not be read"
        elif tf.status != "ok":
            reason = tf.message or f"TensorFlow unavailable ({tf.status})"
        elif g.vendor == "amd" and not rocm:
            reason = rocm_install_hint(tf, rocm_version)
        elif g.vendor == "nvidia" and rocm:
            reason = "this TensorFlow is the ROCm build, which uses AMD GPUs only"
        elif g.vendor == "intel":
            if intel_extension is False or (intel_extension is None and not xpus):
                reason = INTEL_EXTENSION_HINT
            else:
                reason = tf.message or (
                    "TensorFlow does not list it as an XPU device (the Intel Extension for "
                    "TensorFlow is installed, but Intel's GPU runtime, Level Zero, is missing or "
                    "does not support this GPU)")
        elif g.vendor == "apple":
            if metal_plugin is False or (metal_plugin is None and not tf_gpus):
                reason = METAL_PLUGIN_HINT
            else:
                reason = tf.message or (
                    "TensorFlow does not list it as a GPU device (tensorflow-metal is installed "
                    "but did not load: its version must match TensorFlow's)")
        elif g.vendor not in ("nvidia", "amd"):
            reason = f"hwprof does not run TensorFlow on {g.vendor} GPUs yet"
        elif not tf.built_with_cuda and not rocm and sys.platform == "win32":
            reason = ("TensorFlow has no GPU support on native Windows since 2.10: hwprof shows "
                      "this GPU's telemetry, workloads run on the CPU (use WSL2 for the GPU)")
        elif not tf.built_with_cuda and not rocm:
            reason = "this TensorFlow build has no CUDA support"
        elif g.index not in visible_ids:
            reason = f"hidden by {'HIP' if rocm else 'CUDA'}_VISIBLE_DEVICES"
        else:
            reason = tf.message or (
                "TensorFlow does not list it (ROCm libraries missing, or a GFX target this build "
                "does not support)" if rocm else
                "TensorFlow does not list it (CUDA libraries missing, or compute capability too old"
                " for this build)"
            )
        new_gpus.append(g.model_copy(update={"tensorflow_missing_reason": reason}))
    return tf.model_copy(update={"devices": new_devices}), tuple(new_gpus)


def match_tensorflow_tpus(tf: TensorFlowInfo, tpus: tuple[TpuInfo, ...]) -> tuple[TpuInfo, ...]:
    """Say, for each TPU chip, why TensorFlow cannot use it, when it cannot.

    TensorFlow lists TPU devices only after it has connected to the TPU system (in the worker,
    through TPUClusterResolver), so the probe cannot pair chips with devices; what it can say is
    whether TensorFlow could reach them at all: that needs libtpu.
    """
    if tf.status != "ok":
        reason: str | None = tf.message or f"TensorFlow unavailable ({tf.status})"
    elif tf.libtpu is False:
        reason = TPU_INSTALL_HINT
    elif tf.libtpu is None:  # a probe (or a report) from before TPUs: it did not look
        reason = "libtpu was not looked for (a TensorFlow probe from before TPU support)"
    else:
        reason = None
    return tuple(t if t.error else t.model_copy(update={"tensorflow_missing_reason": reason})
                 for t in tpus)


@dataclasses.dataclass(frozen=True)
class PartialReport:
    """What detection has found so far; a part not known yet is None.

    Detection fills it in step by step (host and NVIDIA GPUs in milliseconds, the CPU after
    py-cpuinfo, TensorFlow's view when its probe child answers) so a window can show each part as
    it arrives.
    """

    host: HostInfo | None = None
    cpus: tuple[CpuInfo, ...] | None = None
    nvml: NvmlStatus | None = None
    amd: AmdStatus | None = None  # known together with nvml (the same detection step)
    intel: IntelStatus | None = None  # likewise
    apple: AppleStatus | None = None  # likewise
    gpus: tuple[GpuInfo, ...] | None = None
    tpu: TpuStatus | None = None  # known with the GPUs; None when TPUs were not looked for
    tpus: tuple[TpuInfo, ...] = ()
    tensorflow: TensorFlowInfo | None = None
    errors: tuple[str, ...] = ()
    detect_seconds: float | None = None

    @property
    def complete(self) -> bool:
        """Whether every part is known."""
        return None not in (self.host, self.cpus, self.nvml, self.gpus, self.tensorflow)

    def replace(self, **changes: object) -> PartialReport:
        """A copy with some parts changed."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    def to_report(self, created_at: str | None = None) -> DetectReport | None:
        """The full DetectReport (as `hwprof detect --json` gives it), once complete."""
        if not self.complete:
            return None
        import datetime as dt

        import hwprof

        assert self.host and self.cpus is not None and self.nvml and self.tensorflow
        return DetectReport(
            hwprof_version=hwprof.__version__,
            created_at=created_at
            or dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            host=self.host,
            cpus=self.cpus,
            nvml=self.nvml,
            amd=self.amd,
            intel=self.intel,
            apple=self.apple,
            gpus=self.gpus or (),
            tpu=self.tpu,
            tpus=self.tpus,
            tensorflow=self.tensorflow,
            detect_seconds=self.detect_seconds,
        )

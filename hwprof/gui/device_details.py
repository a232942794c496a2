"""The field/value rows the Devices panel shows for each node, built from detection's models.

Pure functions (no widgets), so what is shown can be tested and reused (a report, a copy to the
clipboard) apart from how it is drawn. Values carry units (hwprof.core.units); a fact detection
could not get reads "n/a".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from hwprof.core.units import NA, fmt_bytes, fmt_flops, fmt_hz, fmt_num, fmt_seconds

if TYPE_CHECKING:
    from hwprof.core.devices import (
        AmdStatus,
        AppleStatus,
        CpuInfo,
        GpuInfo,
        HostInfo,
        IntelStatus,
        NvmlStatus,
        PeakEstimate,
        TensorFlowInfo,
        TfDevice,
    )

Tone = Literal["normal", "muted", "warning", "error"]


@dataclass(frozen=True)
class Row:
    """One field and its value, with a plain-words explanation for the tooltip."""

    field: str
    value: str
    help: str = ""
    tone: Tone = "normal"


@dataclass(frozen=True)
class Section:
    """A titled group of rows; ``expanded`` False for long, rarely needed lists."""

    title: str
    rows: tuple[Row, ...]
    expanded: bool = True


# What each metric means, for people who do not read datasheets for fun.
HELP: dict[str, str] = {
    "Hostname": "The network name of this computer.",
    "Operating system": "The operating system and its release.",
    "Kernel": "The operating-system kernel's version.",
    "Machine": "The hardware architecture the OS runs on (x86_64, aarch64, ...).",
    "Python": "The Python interpreter hwprof runs in.",
    "Memory total": "Main memory (RAM) installed and visible to the OS.",
    "Memory available": "RAM free for new programs right now, without swapping.",
    "Swap": "Disk space the OS uses when RAM runs out; training that swaps slows down a lot.",
    "Virtualized": "Whether the OS runs under a hypervisor (a VM). VMs often hide clocks and "
    "sensors, and share cores with other tenants.",
    "Model": "The processor's marketing name as it reports it.",
    "Vendor": "Who made the processor.",
    "Architecture": "The instruction-set architecture (or, for a GPU, its generation).",
    "Sockets": "Physical processor packages on the board.",
    "Physical cores": "Real cores. Dense math scales with these, not with hyper-threads.",
    "Logical CPUs": "What the OS schedules on: physical cores times threads per core.",
    "Threads per core": "Hardware threads (hyper-threading / SMT) per physical core.",
    "NUMA nodes": "Memory regions with their own controller; crossing them costs bandwidth.",
    "Base clock": "The clock the CPU is guaranteed to sustain.",
    "Max clock": "The highest (turbo) clock a core can reach, briefly or with few cores busy.",
    "Current clock": "The average clock of all cores at the moment of detection.",
    "Vector width": "The widest SIMD register: how many numbers one instruction works on "
    "(512 bit = 16 fp32 values).",
    "DL extensions": "Instruction-set extensions deep-learning libraries use for speed: AVX2/FMA "
    "(fast fp32), AVX-512, VNNI (int8), BF16/AMX (bfloat16 matrix units), NEON/SVE on Arm.",
    "All flags": "Every feature flag the CPU reports.",
    "FP32 peak": "The most 32-bit floating-point operations per second the hardware could do in "
    "theory, from its core count, clock and vector units. Real programs reach a fraction.",
    "BF16 peak": "The theoretical rate for bfloat16 math (half the bits of fp32, same range), "
    "where the hardware has units for it.",
    "FP16 peak": "The theoretical rate for 16-bit floating-point math (e.g. on tensor cores).",
    "Clock used": "The clock the estimate assumed, and where that number came from.",
    "Formula": "How the estimate was computed, so it can be checked.",
    "Name": "The GPU's name as its driver reports it.",
    "GPU vendor": "Who made the GPU: NVIDIA (read through NVML), AMD (read from the amdgpu "
    "driver, or ROCm's amdsmi library), Intel (read from the i915 or xe driver's files) or "
    "Apple (a Mac's Apple silicon, read from system_profiler and ioreg).",
    "hwprof device": "The name hwprof uses for this GPU in detect, monitor, run and snapshots: "
    "NVIDIA GPUs are numbered first, then AMD GPUs, then Intel GPUs, each in PCI bus order, "
    "then a Mac's Apple GPU.",
    "GPU cores": "Apple GPU cores: the GPU's equivalent of NVIDIA's SMs (128 FP32 lanes each).",
    "Unified memory": "An Apple GPU has no memory of its own: it shares the machine's memory with "
    "the CPU, so this is the machine's memory, not the GPU's.",
    "Metal": "The Metal version the GPU supports (Apple's GPU interface, which tensorflow-metal "
    "uses).",
    "GPU power": "macOS gives GPU power only to powermetrics, which needs root; hwprof never asks "
    "for a password.",
    "tensorflow-metal": "TensorFlow uses an Apple GPU only through the tensorflow-metal plug-in "
    "(pip install tensorflow-metal).",
    "Level Zero index": "The GPU's number for Intel's GPU runtime, Level Zero (as "
    "ZE_AFFINITY_MASK numbers it): TensorFlow's XPU:N with the Intel Extension for TensorFlow.",
    "Xe-cores": "Intel Xe-cores: the GPU's equivalent of NVIDIA's SMs or AMD's CUs.",
    "GT clock max": "The highest clock of the GPU's graphics/compute engine (RP0).",
    "Kernel driver": "The Linux kernel driver that runs the GPU: i915, or xe on newer GPUs.",
    "Intel driver": "The i915/xe kernel drivers, read from their files under /sys.",
    "Kernel drivers": "The kernel drivers the Intel GPUs use (i915, xe).",
    "Engine busyness": "How busy the GPU's engines are. i915 and xe give it only through the "
    "kernel's perf interface, which hwprof does not read.",
    "Intel Extension": "TensorFlow uses Intel GPUs only through the Intel Extension for "
    "TensorFlow (pip install intel-extension-for-tensorflow[xpu]).",
    "NVML index": "The GPU's number in NVIDIA's management library (as nvidia-smi numbers it).",
    "HIP index": "The GPU's number for ROCm/HIP (as HIP_VISIBLE_DEVICES and rocm-smi number it).",
    "GFX target": "The AMD instruction-set generation (gfx90a: MI200, gfx942: MI300, gfx1100: RX "
    "7900); each ROCm TensorFlow build supports a list of them.",
    "Compute units": "AMD compute units (CUs): the GPU's equivalent of cores.",
    "Engine clock max": "The highest clock of the GPU's compute engine.",
    "Power cap (default)": "The board's power cap as shipped. Under load the GPU lowers its clocks "
    "to stay below it.",
    "Power cap (now)": "The power cap in force now (an administrator may have changed it).",
    "AMD driver": "The amdgpu kernel driver, and where hwprof read the GPUs from.",
    "amdgpu version": "The amdgpu kernel driver's version.",
    "ROCm": "The ROCm version installed (/opt/rocm); a ROCm TensorFlow must be built for it.",
    "Read from": "sysfs: the driver's files under /sys; amdsmi: ROCm's management library.",
    "Built with ROCm": "Whether this TensorFlow build can use AMD GPUs.",
    "UUID": "The GPU's unique identifier; stable across reboots, unlike its index.",
    "PCI bus ID": "Where the GPU sits on the PCI Express bus; used to match it with TensorFlow's "
    "GPU numbering.",
    "Compute capability": "The CUDA feature level of the GPU; each TensorFlow build supports a "
    "range of them (7.0 Volta, 7.5 Turing, 8.x Ampere/Ada, 9.0 Hopper).",
    "CUDA cores": "Scalar fp32 units. Tensor cores (matrix units) are counted apart and are "
    "much faster for mixed precision.",
    "Multiprocessors": "Streaming multiprocessors (SMs): the GPU's equivalent of cores.",
    "Memory": "GPU memory (VRAM). A model, its activations and optimizer state must fit here.",
    "SM clock max": "The highest clock of the GPU's compute units.",
    "Memory clock max": "The highest clock of the GPU's memory.",
    "Power limit (default)": "The board's power cap as shipped. Under load the GPU lowers its "
    "clocks to stay below its power cap.",
    "Power limit (enforced)": "The power cap in force now (an administrator may have changed "
    "it).",
    "PCIe link": "The PCI Express generation and lane count now, and at most. Data copied between "
    "CPU and GPU memory crosses this link. An idle GPU drops to a lower generation to save power.",
    "MIG mode": "Multi-Instance GPU: the GPU split into isolated smaller GPUs (A100, H100...).",
    "TensorFlow device": "The TensorFlow device this GPU is, when TensorFlow can use it.",
    "Not visible to TensorFlow": "TensorFlow cannot use this GPU; the reason is given.",
    "Error": "The GPU could not be read.",
    "NVML": "NVIDIA's management library, which comes with the driver; hwprof reads GPUs "
    "through it.",
    "Driver version": "The NVIDIA driver installed.",
    "NVML version": "The version of NVIDIA's management library.",
    "CUDA (driver)": "The newest CUDA version the installed driver supports.",
    "GPUs": "How many NVIDIA GPUs the driver sees.",
    "Status": "Whether TensorFlow could be imported and asked (in a short child process; "
    "hwprof's window never imports it).",
    "Version": "The installed TensorFlow.",
    "Built with CUDA": "Whether this TensorFlow build can use NVIDIA GPUs at all.",
    "CUDA (build)": "The CUDA version TensorFlow was built against.",
    "cuDNN (build)": "The cuDNN (NVIDIA's deep-learning kernels) version TensorFlow was built "
    "against.",
    "Message": "What went wrong or needs attention.",
    "Probe time": "How long the TensorFlow probe child took (mostly importing TensorFlow).",
    "Devices": "The physical devices TensorFlow lists.",
    "Device type": "CPU, GPU or another device kind.",
    "Index": "The device's number within its type, as TensorFlow numbers it.",
    "NVML GPU": "The NVML GPU this TensorFlow device was matched with (by PCI bus order).",
    "Source": "Which source each fact came from, when several could give it.",
    "Note": "A caveat, or a place where the sources disagreed.",
}



def tf_device_short(name: str) -> str:
    """A TensorFlow device's name without its "/physical_device:" prefix: "CPU:0", "GPU:1"."""
    return name.removeprefix("/physical_device:") or name


def row(field: str, value: str, tone: Tone = "normal", help: str | None = None) -> Row:
    """A row with its tooltip from HELP; "n/a" values are shown muted."""
    if value == NA and tone == "normal":
        tone = "muted"
    return Row(field, value, HELP.get(field, "") if help is None else help, tone)


def yes_no(value: bool | None) -> str:
    """True -> "yes", False -> "no", None -> "n/a"."""
    return NA if value is None else ("yes" if value else "no")


def cache_text(cpu: CpuInfo) -> str:
    """The cache hierarchy in one line: "L1d 48 KiB × 4, L1i 32 KiB × 4, L2 2 MiB × 2"."""
    return ", ".join(f"{c.label} {fmt_bytes(c.size_bytes)} × {c.instances}" for c in cpu.caches)


def host_sections(host: HostInfo) -> list[Section]:
    """The rows of the Host node."""
    return [
        Section(
            "Host",
            (
                row("Hostname", host.hostname),
                row("Operating system", host.os_release or host.os),
                row("Kernel", host.kernel or NA),
                row("Machine", host.machine),
                row("Python", host.python_version),
                row("Virtualized", host.virtualized or "no hypervisor detected"),
            ),
        ),
        Section(
            "Memory",
            (
                row("Memory total", fmt_bytes(host.memory_total_bytes)),
                row("Memory available", fmt_bytes(host.memory_available_bytes)),
                row("Swap", fmt_bytes(host.swap_total_bytes)),
            ),
        ),
    ]


def peak_section(peak: PeakEstimate | None) -> Section:
    """The peak arithmetic estimate and the formula behind it."""
    if peak is None:
        return Section("Peak arithmetic (estimate)", (row("FP32 peak", NA),))
    rows = [
        row("FP32 peak", fmt_flops(peak.fp32_flops)),
        row("BF16 peak", fmt_flops(peak.bf16_flops)),
    ]
    if peak.fp16_flops is not None:
        rows.append(row("FP16 peak", fmt_flops(peak.fp16_flops)))
    if peak.clock_hz is not None:
        source = f" ({peak.clock_source})" if peak.clock_source else ""
        rows.append(row("Clock used", f"{fmt_hz(peak.clock_hz)}{source}"))
    rows.append(row("Formula", peak.formula))
    if peak.basis:
        rows.append(row("FLOP/cycle from", f"{peak.basis}; source: {peak.basis_source}"))
    rows.extend(row("Note", n) for n in peak.notes)
    title = "Peak arithmetic (estimate)" if peak.is_estimate else "Peak arithmetic"
    return Section(title, tuple(rows))


def cpu_summary(cpu: CpuInfo) -> str:
    """One line for the tree: cores, threads, clock, widest extension."""
    parts = [
        f"{fmt_num(cpu.physical_cores)} cores / {cpu.logical_cpus} threads",
        fmt_hz(cpu.frequency_max_hz or cpu.frequency_base_hz),
    ]
    if cpu.peak and cpu.peak.fp32_flops:
        parts.append(f"~{fmt_flops(cpu.peak.fp32_flops)} fp32")
    return " · ".join(parts)


def cpu_sections(cpu: CpuInfo) -> list[Section]:
    """The rows of a CPU node."""
    sections = [
        Section(
            "Processor",
            (
                row("Model", cpu.model_name or NA),
                row("Vendor", cpu.vendor or NA),
                row("Architecture", cpu.architecture or NA),
            ),
        ),
        Section(
            "Cores",
            (
                row("Sockets", fmt_num(cpu.sockets)),
                row("Physical cores", fmt_num(cpu.physical_cores)),
                row("Logical CPUs", fmt_num(cpu.logical_cpus)),
                row("Threads per core", fmt_num(cpu.threads_per_core)),
                row("NUMA nodes", fmt_num(cpu.numa_nodes)),
            ),
        ),
        Section(
            "Clocks",
            (
                row("Base clock", fmt_hz(cpu.frequency_base_hz)),
                row("Max clock", fmt_hz(cpu.frequency_max_hz)),
                row("Current clock", fmt_hz(cpu.frequency_current_hz)),
            ),
        ),
        Section(
            "Caches",
            tuple(
                row(
                    c.label,
                    f"{fmt_bytes(c.size_bytes)} × {c.instances}"
                    + (f"  ({fmt_bytes(c.total_bytes)} total)" if c.instances > 1 else ""),
                    help=f"Level-{c.level} {c.kind} cache: size of one, times how many the "
                    "machine has. Data that fits in cache is read far faster than from RAM.",
                )
                for c in cpu.caches
            )
            or (row("Caches", NA),),
        ),
        Section(
            "Instruction set",
            (
                row("Vector width", fmt_num(cpu.vector_width_bits, unit="bit")),
                row("DL extensions", " ".join(cpu.dl_extensions) or "none"),
            ),
        ),
        peak_section(cpu.peak),
    ]
    if cpu.notes:
        sections.append(Section("Notes", tuple(row("Note", n, "warning") for n in cpu.notes)))
    if cpu.sources:
        sections.append(
            Section(
                "Sources",
                tuple(row(k, v, help=HELP["Source"]) for k, v in sorted(cpu.sources.items())),
                expanded=False,
            )
        )
    sections.append(
        Section(
            f"All flags ({len(cpu.flags)})",
            (row("All flags", " ".join(cpu.flags) or NA),),
            expanded=False,
        )
    )
    return sections


def pcie_text(gpu: GpuInfo) -> str:
    """The PCIe link now and at most, e.g. "Gen 4 ×16 (max Gen 4 ×16)"."""
    p = gpu.pcie
    if p is None:
        return NA
    now = f"Gen {fmt_num(p.generation_current)} ×{fmt_num(p.width_current)}"
    top = f"Gen {fmt_num(p.generation_max)} ×{fmt_num(p.width_max)}"
    return now if now == top else f"{now} (max {top})"


def gpu_title(gpu: GpuInfo) -> str:
    """The GPU's tree title, e.g. "GPU 0 · Tesla T4"."""
    return f"GPU {gpu.index} · {gpu.name or 'unreadable GPU'}"


VENDOR_NAMES = {"nvidia": "NVIDIA", "amd": "AMD", "intel": "Intel", "apple": "Apple"}


def vendor_name(gpu: GpuInfo) -> str:
    """The vendor as people write it: "NVIDIA", "AMD", "Intel"."""
    return VENDOR_NAMES.get(gpu.vendor, gpu.vendor)


def gpu_summary(gpu: GpuInfo) -> str:
    """One line for the tree: vendor, memory, compute capability or GFX target, TensorFlow."""
    if gpu.error:
        return f"{vendor_name(gpu)} · {gpu.error}"
    if gpu.vendor == "amd":
        parts = [vendor_name(gpu), fmt_bytes(gpu.memory_total_bytes), gpu.gfx_target or NA]
    elif gpu.vendor == "intel":
        parts = [vendor_name(gpu), fmt_bytes(gpu.memory_total_bytes), gpu.architecture or NA]
    elif gpu.vendor == "apple":
        parts = [vendor_name(gpu), f"{fmt_num(gpu.compute_units)} GPU cores",
                 f"{fmt_bytes(gpu.memory_total_bytes)} unified"]
    else:
        cc = ".".join(map(str, gpu.compute_capability)) if gpu.compute_capability else NA
        parts = [vendor_name(gpu), fmt_bytes(gpu.memory_total_bytes), f"cc {cc}"]
    if gpu.tensorflow_missing_reason:
        parts.append("not visible to TensorFlow")
    return " · ".join(parts)


def _tf_row(gpu: GpuInfo) -> Row:
    if gpu.tensorflow_device:
        return row("TensorFlow device", gpu.tensorflow_device)
    if gpu.tensorflow_missing_reason:
        return row("Not visible to TensorFlow", gpu.tensorflow_missing_reason, "warning")
    return row("TensorFlow device", "waiting for the TensorFlow probe…", "muted")


def amd_gpu_sections(gpu: GpuInfo) -> list[Section]:
    """The rows of an AMD GPU node."""
    local = gpu.vendor_index if gpu.vendor_index is not None else gpu.index
    ids = (
        row("GPU vendor", "AMD"),
        row("hwprof device", f"gpu:{gpu.index}"),
        row("HIP index", str(local)),
        row("PCI bus ID", gpu.pci_bus_id or NA),
    )
    if gpu.error:
        return [Section("GPU", (*ids, row("Error", gpu.error, "error"), _tf_row(gpu)))]
    return [
        Section(
            "GPU",
            (
                row("Name", gpu.name or NA),
                *ids,
                row("UUID", gpu.uuid or NA),
                row("Architecture", gpu.architecture or NA),
                row("GFX target", gpu.gfx_target or NA),
                _tf_row(gpu),
            ),
        ),
        Section(
            "Compute and memory",
            (
                row("Compute units", fmt_num(gpu.compute_units)),
                row("Engine clock max", fmt_num(gpu.sm_clock_max_mhz, unit="MHz")),
                row("Memory", fmt_bytes(gpu.memory_total_bytes)),
                row("Memory clock max", fmt_num(gpu.memory_clock_max_mhz, unit="MHz")),
            ),
        ),
        Section(
            "Power and links",
            (
                row("Power cap (default)", fmt_num(gpu.power_limit_default_watts, unit="W")),
                row("Power cap (now)", fmt_num(gpu.power_limit_enforced_watts, unit="W")),
                row("PCIe link", pcie_text(gpu)),
            ),
        ),
        peak_section(gpu.peak),
    ]


def intel_gpu_sections(gpu: GpuInfo) -> list[Section]:
    """The rows of an Intel GPU node."""
    local = gpu.vendor_index if gpu.vendor_index is not None else gpu.index
    ids = (
        row("GPU vendor", "Intel"),
        row("hwprof device", f"gpu:{gpu.index}"),
        row("Level Zero index", str(local)),
        row("PCI bus ID", gpu.pci_bus_id or NA),
    )
    if gpu.error:
        return [Section("GPU", (*ids, row("Error", gpu.error, "error"), _tf_row(gpu)))]
    return [
        Section(
            "GPU",
            (
                row("Name", gpu.name or NA),
                *ids,
                row("Architecture", gpu.architecture or NA),
                _tf_row(gpu),
            ),
        ),
        Section(
            "Compute and memory",
            (
                row("Xe-cores", fmt_num(gpu.compute_units)),
                row("GT clock max", fmt_num(gpu.sm_clock_max_mhz, unit="MHz")),
                # an integrated GPU has no memory of its own: it shares the system's
                row("Memory", fmt_bytes(gpu.memory_total_bytes) if gpu.memory_total_bytes
                    else "no local memory read (an integrated GPU shares system memory)"),
                row("Engine busyness", "not shown (needs the kernel's perf interface)", "muted"),
            ),
        ),
        Section(
            "Power and links",
            (
                row("Power cap (default)", fmt_num(gpu.power_limit_default_watts, unit="W")),
                row("Power cap (now)", fmt_num(gpu.power_limit_enforced_watts, unit="W")),
                row("PCIe link", pcie_text(gpu)),
            ),
        ),
        peak_section(gpu.peak),
    ]


def apple_gpu_sections(gpu: GpuInfo) -> list[Section]:
    """The rows of an Apple silicon GPU node."""
    return [
        Section(
            "GPU",
            (
                row("Chip", gpu.name or NA),
                row("GPU vendor", "Apple"),
                row("hwprof device", f"gpu:{gpu.index}"),
                row("Metal", gpu.metal_support or NA),
                _tf_row(gpu),
            ),
        ),
        Section(
            "Compute and memory",
            (
                row("GPU cores", fmt_num(gpu.compute_units)),
                row("Unified memory", f"{fmt_bytes(gpu.memory_total_bytes)}, shared with the CPU"
                    if gpu.memory_total_bytes else NA),
                row("GPU clock", "not reported by macOS (the peak uses the published clock)",
                    "muted"),
                row("GPU power", "not shown: macOS gives it only to powermetrics, which "
                    "needs root", "muted"),
            ),
        ),
        peak_section(gpu.peak),
    ]


def gpu_sections(gpu: GpuInfo) -> list[Section]:
    """The rows of a GPU node."""
    if gpu.vendor == "apple":
        return apple_gpu_sections(gpu)
    if gpu.vendor == "amd":
        return amd_gpu_sections(gpu)
    if gpu.vendor == "intel":
        return intel_gpu_sections(gpu)
    if gpu.error:
        return [
            Section(
                "GPU",
                (
                    row("NVML index", str(gpu.index)),
                    row("Error", gpu.error, "error"),
                    row("Not visible to TensorFlow", gpu.tensorflow_missing_reason or NA),
                ),
            )
        ]
    cc = ".".join(map(str, gpu.compute_capability)) if gpu.compute_capability else NA
    mig = NA if gpu.mig_mode_current is None else ("on" if gpu.mig_mode_current else "off")
    if gpu.mig_mode_pending is not None and gpu.mig_mode_pending != gpu.mig_mode_current:
        mig += f" ({'on' if gpu.mig_mode_pending else 'off'} after reset)"
    if gpu.tensorflow_device:
        tf_row = row("TensorFlow device", gpu.tensorflow_device)
    elif gpu.tensorflow_missing_reason:
        tf_row = row("Not visible to TensorFlow", gpu.tensorflow_missing_reason, "warning")
    else:
        tf_row = row("TensorFlow device", "waiting for the TensorFlow probe…", "muted")
    return [
        Section(
            "GPU",
            (
                row("Name", gpu.name or NA),
                row("GPU vendor", "NVIDIA"),
                row("NVML index", str(gpu.vendor_index if gpu.vendor_index is not None
                                      else gpu.index)),
                row("UUID", gpu.uuid or NA),
                row("PCI bus ID", gpu.pci_bus_id or NA),
                row("Architecture", (gpu.architecture or NA).replace("_", " ").title()
                    if gpu.architecture else NA),
                row("Compute capability", cc),
                tf_row,
            ),
        ),
        Section(
            "Compute and memory",
            (
                row("CUDA cores", fmt_num(gpu.cuda_cores)),
                row("Multiprocessors", fmt_num(gpu.multiprocessors)),
                row("SM clock max", fmt_num(gpu.sm_clock_max_mhz, unit="MHz")),
                row("Memory", fmt_bytes(gpu.memory_total_bytes)),
                row("Memory clock max", fmt_num(gpu.memory_clock_max_mhz, unit="MHz")),
            ),
        ),
        Section(
            "Power and links",
            (
                row("Power limit (default)", fmt_num(gpu.power_limit_default_watts, unit="W")),
                row("Power limit (enforced)", fmt_num(gpu.power_limit_enforced_watts, unit="W")),
                row("PCIe link", pcie_text(gpu)),
                row("MIG mode", mig),
            ),
        ),
        peak_section(gpu.peak),
    ]


def amd_sections(amd: AmdStatus, gpus: tuple[GpuInfo, ...]) -> list[Section]:
    """The AMD rows of the "GPUs" node."""
    if not amd.available:
        return [Section("AMD driver", (row("AMD driver", "unavailable", "muted"),
                                       row("Message", amd.message or NA, "muted")))]
    count = sum(1 for g in gpus if g.vendor == "amd")
    return [
        Section(
            "AMD driver",
            (
                row("amdgpu version", amd.driver_version or NA),
                row("ROCm", amd.rocm_version or "not found"),
                row("Read from", amd.source or NA),
                row("GPUs", str(count), help="How many AMD GPUs the amdgpu driver shows."),
            ),
        )
    ]


def intel_sections(intel: IntelStatus, gpus: tuple[GpuInfo, ...]) -> list[Section]:
    """The Intel rows of the "GPUs" node."""
    if not intel.available:
        return [Section("Intel driver", (row("Intel driver", "unavailable", "muted"),
                                         row("Message", intel.message or NA, "muted")))]
    count = sum(1 for g in gpus if g.vendor == "intel")
    return [
        Section(
            "Intel driver",
            (
                row("Kernel drivers", ", ".join(intel.drivers) or NA),
                row("Read from", "sysfs"),
                row("GPUs", str(count), help="How many Intel GPUs the i915/xe drivers show."),
                row("Engine busyness", intel.busy_note or NA, "muted"),
            ),
        )
    ]


def apple_sections(apple: AppleStatus) -> list[Section]:
    """The Apple rows of the "GPUs" node (only on a Mac: off macOS there is nothing to say)."""
    if not apple.available:
        return [Section("Apple GPU", (row("Apple GPU", "unavailable", "muted"),
                                      row("Message", apple.message or NA, "muted")))]
    cores = (f"{apple.performance_cores} performance + {apple.efficiency_cores} efficiency"
             if apple.performance_cores is not None and apple.efficiency_cores is not None
             else NA)
    return [
        Section(
            "Apple silicon",
            (
                row("Chip", apple.chip or NA),
                row("CPU cores", cores),
                row("Read from", "system_profiler, sysctl, ioreg"),
                row("GPU power", apple.power_note or NA, "muted"),
            ),
        )
    ]


def nvml_sections(nvml: NvmlStatus, gpus: tuple[GpuInfo, ...]) -> list[Section]:
    """The NVIDIA rows of the "GPUs" node."""
    if not nvml.available:
        return [
            Section(
                "NVIDIA driver",
                (
                    row("NVML", "unavailable", "warning"),
                    row("Message", nvml.message or NA, "warning"),
                ),
            )
        ]
    return [
        Section(
            "NVIDIA driver",
            (
                row("NVML", "available"),
                row("Driver version", nvml.driver_version or NA),
                row("NVML version", nvml.nvml_version or NA),
                row("CUDA (driver)", nvml.cuda_driver_version or NA),
                row("GPUs", str(sum(1 for g in gpus if g.vendor == "nvidia"))),
            ),
        )
    ]


def tensorflow_summary(tf: TensorFlowInfo) -> str:
    """One line for the tree."""
    if tf.status != "ok":
        return {"not_installed": "not installed", "timeout": "did not answer"}.get(
            tf.status, "unavailable"
        )
    gpus = sum(1 for d in tf.devices if d.device_type == "GPU")
    build = (
        f"CUDA {tf.cuda_version}" if tf.built_with_cuda
        else "ROCm build" if tf.built_with_rocm
        else "CPU-only build"
    )
    return f"{tf.version} · {build} · {gpus} GPU{'s' if gpus != 1 else ''}"


def tensorflow_sections(tf: TensorFlowInfo) -> list[Section]:
    """The rows of the TensorFlow node."""
    status = {
        "ok": "ok",
        "not_installed": "not installed",
        "import_failed": "import failed",
        "timeout": "timed out",
        "error": "error",
    }[tf.status]
    rows = [
        row("Status", status, "normal" if tf.status == "ok" else "warning"),
        row("Version", tf.version or NA),
        row("Built with CUDA", yes_no(tf.built_with_cuda)),
        row("Built with ROCm", yes_no(tf.built_with_rocm)),
        row("CUDA (build)", tf.cuda_version or NA),
        row("cuDNN (build)", tf.cudnn_version or NA),
        row("Devices", ", ".join(d.name for d in tf.devices) or "none"),
        row("Probe time", fmt_seconds(tf.probe_seconds)),
    ]
    if tf.message:
        rows.insert(1, row("Message", tf.message, "warning"))
    return [Section("TensorFlow", tuple(rows))]


def tf_device_sections(dev: TfDevice) -> list[Section]:
    """The rows of one TensorFlow device."""
    cc = ".".join(map(str, dev.compute_capability)) if dev.compute_capability else NA
    rows = [
        row("Name", dev.name, help="TensorFlow's name for the device."),
        row("Device type", dev.device_type),
        row("Index", str(dev.index)),
    ]
    if dev.device_type == "GPU":
        rows += [
            row("PCI bus ID", dev.pci_bus_id or NA),
            row("Compute capability", cc),
            row("NVML GPU", fmt_num(dev.nvml_index)),
        ]
    rows += [row(k, v, help="A detail TensorFlow gives.") for k, v in sorted(dev.details.items())]
    return [Section("TensorFlow device", tuple(rows))]

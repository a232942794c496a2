"""Peak arithmetic-rate estimates for CPUs and GPUs (NVIDIA, AMD).

These are estimates from published micro-architecture facts, and are always labelled as such. A
later measurement (a GEMM run) is the number to trust; these tell how far a run is from what the
silicon could do.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from hwprof.core.cpu_table import CoreRow, TableMatch, match_cpu
from hwprof.core.devices import CpuInfo, PeakEstimate
from hwprof.core.units import NA, fmt_si


def cpu_vector_width_bits(flags: Iterable[str], architecture: str | None) -> int | None:
    """The widest SIMD register the CPU can use for floating point."""
    f = set(flags)
    if "avx512f" in f:
        return 512
    if "avx" in f or "avx2" in f:
        return 256
    if f & {"sse", "sse2", "sse4_2", "asimd", "neon"}:
        return 128
    if architecture and architecture.startswith(("aarch64", "arm")):
        return 128
    return None


def cpu_fp32_flops_per_cycle(
    flags: Iterable[str], vendor: str | None, architecture: str | None
) -> tuple[int | None, str]:
    """The flag rule: FP32 FLOPs one core retires per cycle from its SIMD flags alone, and why.

    Used only for a CPU the table (:mod:`hwprof.core.cpu_table`) does not know. lanes = vector
    width / 32; x2 with fused multiply-add; x2 FMA pipes. It cannot tell one 512-bit FMA unit from
    two, nor AMD Zen 4's 256-bit halves from Zen 5's full width, so it takes the larger: an upper
    bound. ``vendor`` is kept for callers; the rule no longer depends on it.
    """
    del vendor  # an unknown AMD with AVX-512 is a Zen 5 or later: full width, like Intel's
    f = set(flags)
    width = cpu_vector_width_bits(f, architecture)
    if width is None:
        return None, "unknown SIMD width"
    has_fma = "fma" in f or "avx512f" in f or "asimd" in f or "neon" in f
    lanes = width // 32
    fma_factor = 2 if has_fma else 1
    pipes = 2
    flops = lanes * fma_factor * pipes
    why = (
        f"{width}-bit vectors = {lanes} fp32 lanes"
        f" x {fma_factor} ({'FMA' if has_fma else 'no FMA'}) x {pipes} pipes = {flops} FLOP/cycle"
    )
    return flops, why


def x86_isa_cap(flags: Iterable[str]) -> tuple[int | None, str]:
    """The most FP32 FLOP/cycle an x86 core reaches with the instructions it shows (None: no cap).

    A VM can hide AVX-512 (or FMA): the silicon's rate then cannot be reached, since TensorFlow
    only uses what CPUID shows. No x86 core has more than two FMA pipes of a width.
    """
    f = set(flags)
    if "avx512f" in f:
        return None, ""
    if "fma" in f or "avx2" in f:
        return 32, "AVX-512 is not visible here: at most two 256-bit FMA pipes = 32 FLOP/cycle"
    if "avx" in f:
        return 16, "only AVX (no FMA) is visible here: at most 16 FLOP/cycle"
    if f & {"sse", "sse2", "sse4_2"}:
        return 8, "only SSE is visible here: at most 8 FLOP/cycle"
    return None, ""


def bf16_flops_per_cycle(row: CoreRow | None, fp32_per_cycle: int,
                         flags: Iterable[str]) -> tuple[int, str]:
    """BF16 FLOP/cycle of one core: the table's figure where it has one, else the flag rule.

    Flag rule: AMX tiles 1024 FLOP/cycle (Intel's figure); AVX512_BF16 dot products twice the fp32
    rate; Arm BF16 (BFMMLA) about 4x NEON fp32, an upper bound. Without native support bf16 is
    converted to fp32, so its ceiling is the fp32 one.
    """
    f = set(flags)
    if row is not None and row.bf16_flops_per_cycle and row.bf16_flag in f:
        return row.bf16_flops_per_cycle, f"{row.bf16_flag}: {row.bf16_flops_per_cycle} FLOP/cycle"
    if "amx_bf16" in f:
        return 1024, "AMX-BF16 tiles: 1024 FLOP/cycle (flag rule)"
    if "avx512_bf16" in f:
        return fp32_per_cycle * 2, "AVX512_BF16 dot products: 2x the fp32 rate (flag rule)"
    if "bf16" in f or "svebf16" in f:
        return fp32_per_cycle * 4, "Arm BF16 matrix multiply: 4x the fp32 rate (flag rule)"
    return fp32_per_cycle, "no native bf16: converted to fp32"


ClockKind = Literal["all-core", "max", "base", "current"]


@dataclass(frozen=True)
class ClockChoice:
    """The clock a peak estimate uses, which kind it is, and what that means for the estimate."""

    hz: float
    kind: ClockKind
    source: str  # where it came from, with its kind: "max clock (sysfs cpufreq ...)"
    caveat: str  # what it means for the estimate ("" for the all-core clock)


def choose_clock(
    *,
    all_core_hz: float | None = None,
    all_core_source: str | None = None,
    max_hz: float | None = None,
    max_source: str | None = None,
    base_hz: float | None = None,
    base_source: str | None = None,
    current_hz: float | None = None,
    current_source: str | None = None,
) -> ClockChoice | None:
    """The clock for a peak: all-core where known, else the max boost (an upper bound), else base.

    All cores busy with wide vectors run below one core's max boost (and AVX-512 lower still), so
    the max clock gives an upper bound. No OS reports the all-core clock today; a caller that knows
    it (a table, a measurement) passes it. The base clock, where no max is known (a VM without
    cpufreq), may be below what the cores reach: the estimate can then be low.
    """
    if all_core_hz:
        return ClockChoice(all_core_hz, "all-core",
                           f"all-core clock ({all_core_source or 'given'})", "")
    if max_hz:
        return ClockChoice(max_hz, "max", f"max clock ({max_source or '?'})",
                           "the max clock is one core's boost; all cores busy with vectors run "
                           "slower, so this peak is an upper bound")
    if base_hz:
        return ClockChoice(base_hz, "base", f"base clock ({base_source or '?'})",
                           "no max (turbo) clock is known here, so the base clock is used: the "
                           "cores may run faster and the estimate be low")
    if current_hz:
        return ClockChoice(current_hz, "current", f"current clock ({current_source or '?'})",
                           "only the clock at detection is known: the estimate may be off either "
                           "way")
    return None


@dataclass(frozen=True)
class _Group:
    """Cores of one kind and their per-cycle rates."""

    label: str
    cores: int
    fp32: int
    bf16: int
    bf16_why: str


def _row_groups(cpu: CpuInfo, match: TableMatch, flags: set[str], cores: int,
                notes: list[str]) -> list[_Group]:
    """Cores per table row (Arm parts; hybrid P/E), with the x86 ISA cap applied."""
    raw: list[tuple[str, int, CoreRow, int]] = []
    threads = max(cpu.threads_per_core or 1, 1)
    if len(match.rows) > 1 or match.rows[0][1] is not None:
        for row, logical in match.rows:
            raw.append((row.name, max(1, (logical or threads) // threads), row,
                        row.fp32_flops_per_cycle))
    else:
        row = match.rows[0][0]
        eff = row.efficiency_fp32_flops_per_cycle
        e_cores = cpu.efficiency_cores
        if eff is None or eff == row.fp32_flops_per_cycle:
            raw.append(("cores", cores, row, row.fp32_flops_per_cycle))
        elif e_cores is not None and 0 <= e_cores < cores:
            raw.append(("P-cores", cores - e_cores, row, row.fp32_flops_per_cycle))
            if e_cores:
                raw.append(("E-cores", e_cores, row, eff))
        else:
            raw.append(("cores", cores, row, row.fp32_flops_per_cycle))
            notes.append("how many cores are E-cores is not known here: every core is counted at "
                         "the P-core rate, an upper bound")
    cap, cap_why = (x86_isa_cap(flags) if (cpu.architecture or "").lower() in
                    ("x86_64", "amd64", "i686", "i386", "x86") else (None, ""))
    groups = []
    for label, n, row, rate in raw:
        if cap is not None and rate > cap:
            rate = cap
            if cap_why not in notes:
                notes.append(cap_why)
        bf16, bf16_why = bf16_flops_per_cycle(row, rate, flags)
        groups.append(_Group(label, n, rate, bf16, bf16_why))
    return groups


def _sum_text(groups: list[_Group], attr: str, ghz: float) -> str:
    if len(groups) == 1:
        g = groups[0]
        return f"{g.cores} {g.label} x {ghz:.2f} GHz x {getattr(g, attr)} FLOP/cycle"
    parts = " + ".join(f"{g.cores} {g.label} x {getattr(g, attr)}" for g in groups)
    return f"({parts}) FLOP/cycle x {ghz:.2f} GHz"


def estimate_cpu_peak(
    cpu: CpuInfo, *, all_core_hz: float | None = None, all_core_source: str | None = None
) -> PeakEstimate | None:
    """Estimate a CPU's peak FP32 and BF16 FLOP/s: cores x clock x FLOPs per cycle per core.

    FLOP/cycle comes from the table row that fits the CPU's vendor/family/model (Arm: part;
    Apple: chip name), else from the flag rule, and the estimate says which (``basis``,
    ``basis_source``); the clock from :func:`choose_clock` (``clock_kind``). None when the cores,
    the clock or the SIMD width are unknown.
    """
    src = cpu.sources
    clock = choose_clock(
        all_core_hz=all_core_hz, all_core_source=all_core_source,
        max_hz=cpu.frequency_max_hz, max_source=src.get("frequency_max"),
        base_hz=cpu.frequency_base_hz, base_source=src.get("frequency_base"),
        current_hz=cpu.frequency_current_hz, current_source=src.get("frequency_current"),
    )
    cores = cpu.physical_cores
    if clock is None or not cores:
        return None
    flags = set(cpu.flags)
    if "neon" in flags:
        flags.add("asimd")
    match = match_cpu(vendor=cpu.vendor, model_name=cpu.model_name, family=cpu.family,
                      model=cpu.model, flags=flags, arm_implementer=cpu.arm_implementer,
                      arm_parts=cpu.arm_parts)
    notes: list[str] = list(match.notes) if match else []
    if match is not None:
        groups = _row_groups(cpu, match, flags, cores, notes)
        names = "; ".join(dict.fromkeys(r.name for r, _ in match.rows))
        basis = f"table: {names} (by {match.how})"
        basis_source = " | ".join(dict.fromkeys(r.source for r, _ in match.rows))
        notes.extend(r.note for r, _ in dict.fromkeys(match.rows) if r.note)
        fp32_why = names
    else:
        per_cycle, why = cpu_fp32_flops_per_cycle(flags, cpu.vendor, cpu.architecture)
        if per_cycle is None:
            return None
        rule_bf16, rule_why = bf16_flops_per_cycle(None, per_cycle, flags)
        groups = [_Group("cores", cores, per_cycle, rule_bf16, rule_why)]
        ident = (f"family {cpu.family} model {cpu.model}" if cpu.family is not None
                 else next(iter(cpu.arm_parts), None) or "no family/model known")
        basis = f"flag rule: this CPU is not in the table ({cpu.vendor or '?'}, {ident})"
        basis_source = "SIMD flags: vector width x FMA x 2 pipes, the larger where unsure"
        fp32_why = why
    if len(groups) > 1 and clock.kind != "all-core":
        notes.append("every kind of core is counted at the same clock; E-cores run slower")
    if clock.caveat:
        notes.append(clock.caveat)
    ghz = clock.hz / 1e9
    fp32 = clock.hz * sum(g.cores * g.fp32 for g in groups)
    bf16 = clock.hz * sum(g.cores * g.bf16 for g in groups)
    bf16_why = "; ".join(dict.fromkeys(g.bf16_why for g in groups))
    formula = (f"fp32: {_sum_text(groups, 'fp32', ghz)} ({fp32_why}); "
               f"bf16: {_sum_text(groups, 'bf16', ghz)} ({bf16_why})")
    return PeakEstimate(
        fp32_flops=fp32,
        bf16_flops=bf16,
        formula=formula,
        clock_hz=clock.hz,
        clock_source=clock.source,
        clock_kind=clock.kind,
        basis=basis,
        basis_source=basis_source,
        notes=tuple(dict.fromkeys(notes)),
    )


# Dense tensor-core FP16 (FP32 accumulate) throughput as a multiple of the CUDA-core FP32 rate, by
# compute capability, from NVIDIA's data sheets (V100 125/15.7, T4 65/8.1, A100 312/19.5, A10
# 125/31.2, L40S 362/91.6, H100 SXM 989/67). BF16 tensor cores arrived with Ampere (8.0).
_TENSOR_FP16_RATIO: dict[tuple[int, int], float] = {
    (7, 0): 8.0,
    (7, 2): 8.0,
    (7, 5): 8.0,
    (8, 0): 16.0,
    (8, 6): 4.0,
    (8, 7): 4.0,
    (8, 9): 4.0,
    (9, 0): 14.8,
}


def estimate_gpu_peak(
    *,
    cuda_cores: int | None,
    sm_clock_max_mhz: int | None,
    compute_capability: tuple[int, int] | None,
) -> PeakEstimate | None:
    """Estimate an NVIDIA GPU's peak FP32 (CUDA cores) and FP16/BF16 (tensor cores) FLOP/s."""
    if not cuda_cores or not sm_clock_max_mhz:
        return None
    clock_hz = sm_clock_max_mhz * 1e6
    fp32 = cuda_cores * clock_hz * 2
    formula = (
        f"fp32: {cuda_cores} CUDA cores x {sm_clock_max_mhz} MHz x 2 (FMA)"
        f" = {fp32 / 1e12:.1f} TFLOP/s"
    )
    fp16 = bf16 = None
    if compute_capability is not None:
        ratio = _TENSOR_FP16_RATIO.get(compute_capability)
        if ratio is None and compute_capability >= (9, 0):
            ratio = _TENSOR_FP16_RATIO[(9, 0)]
        if ratio is not None:
            fp16 = fp32 * ratio
            bf16 = fp16 if compute_capability >= (8, 0) else None
            formula += (
                f"; fp16 tensor cores: {ratio:g}x fp32 for compute capability "
                f"{compute_capability[0]}.{compute_capability[1]} (dense, data-sheet ratio)"
            )
    return PeakEstimate(
        fp32_flops=fp32,
        bf16_flops=bf16,
        fp16_flops=fp16,
        formula=formula,
        clock_hz=clock_hz,
        clock_source="NVML max SM clock",
    )


@dataclass(frozen=True)
class AmdGpuFamily:
    """FLOP per clock per compute unit of one AMD GFX family, and where the figures come from."""

    architecture: str
    fp32_per_cu_clock: int  # vector FP32 (FMA = 2 FLOP)
    fp16_per_cu_clock: int  # dense matrix FP16 (MFMA / WMMA)
    bf16_per_cu_clock: int  # dense matrix BF16
    source: str


# Derived from AMD's published peaks: rate / (compute units x peak engine clock). MI300X: 81.7
# TFLOP/s FP32 vector, 1307.4 FP16/BF16 dense, 304 CUs at 2100 MHz; MI210: 22.6 FP32 vector, 181.0
# FP16/BF16, 104 CUs at 1700 MHz; RX 7900 XTX: 61.4 FP32 (dual issue), 122.8 FP16, 96 CUs at
# 2500 MHz. The CDNA parts' FP32 matrix rate (163.4 and 45.3) is twice the vector one.
AMD_GPU_FAMILIES: dict[str, AmdGpuFamily] = {
    "gfx942": AmdGpuFamily("CDNA 3", 128, 2048, 2048,
                           "AMD Instinct MI300X data sheet (amd.com): 81.7 TFLOP/s FP32 vector, "
                           "1307.4 FP16/BF16 dense, 304 CUs, 2100 MHz"),
    "gfx90a": AmdGpuFamily("CDNA 2", 128, 1024, 1024,
                           "AMD Instinct MI210 data sheet (amd.com): 22.6 TFLOP/s FP32 vector, "
                           "181.0 FP16/BF16, 104 CUs, 1700 MHz"),
    "gfx1100": AmdGpuFamily("RDNA 3", 256, 512, 512,
                            "AMD Radeon RX 7900 XTX specifications (amd.com): 61.4 TFLOP/s FP32, "
                            "122.8 FP16, 96 CUs, 2500 MHz boost"),
}
# Other targets of the same families share the per-CU rates (gfx940/941 are MI300 variants,
# gfx1101/1102 smaller RDNA 3 parts).
AMD_GPU_FAMILIES["gfx940"] = AMD_GPU_FAMILIES["gfx941"] = AMD_GPU_FAMILIES["gfx942"]
AMD_GPU_FAMILIES["gfx1101"] = AMD_GPU_FAMILIES["gfx1102"] = AMD_GPU_FAMILIES["gfx1100"]


def amd_architecture(gfx_target: str | None) -> str | None:
    """The family name of a GFX target ("gfx942" -> "CDNA 3"), when hwprof knows it."""
    family = AMD_GPU_FAMILIES.get(gfx_target or "")
    return family.architecture if family else None


def estimate_amd_gpu_peak(
    *, gfx_target: str | None, compute_units: int | None, clock_max_mhz: int | None
) -> PeakEstimate | None:
    """Estimate an AMD GPU's peak FP32 (vector) and FP16/BF16 (matrix cores) FLOP/s.

    None when the GFX target is not in the table or the CUs or the clock are unknown: a guess
    from another family would be off by 2x or more.
    """
    family = AMD_GPU_FAMILIES.get(gfx_target or "")
    if family is None or not compute_units or not clock_max_mhz:
        return None
    clock_hz = clock_max_mhz * 1e6
    fp32 = compute_units * clock_hz * family.fp32_per_cu_clock
    fp16 = compute_units * clock_hz * family.fp16_per_cu_clock
    bf16 = compute_units * clock_hz * family.bf16_per_cu_clock
    formula = (
        f"fp32: {compute_units} CUs x {clock_max_mhz} MHz x {family.fp32_per_cu_clock} FLOP/clock"
        f" = {fp32 / 1e12:.1f} TFLOP/s; fp16: x {family.fp16_per_cu_clock} FLOP/clock (dense "
        f"matrix cores) = {fp16 / 1e12:.1f} TFLOP/s"
    )
    return PeakEstimate(
        fp32_flops=fp32,
        bf16_flops=bf16,
        fp16_flops=fp16,
        formula=formula,
        clock_hz=clock_hz,
        clock_source="top GFX engine clock (amdgpu)",
        clock_kind="max",
        basis=f"{gfx_target} ({family.architecture})",
        basis_source=family.source,
    )


@dataclass(frozen=True)
class IntelGpuFamily:
    """FLOP per clock per Xe-core of one Intel GPU architecture, and where the figures come from."""

    architecture: str
    fp32_per_core_clock: int  # vector engines: lanes x 2 (FMA)
    fp16_per_core_clock: int  # dense XMX matrix engines, FP16
    bf16_per_core_clock: int  # dense XMX matrix engines, BF16
    source: str


# Per Xe-core per clock. Xe-HPG (Arc A-series, Flex): 16 vector engines of 256 bits (8 fp32 lanes)
# = 8 x 16 lanes x 2 (FMA) = 256 fp32 FLOP/clock, and 16 XMX engines giving 2048 dense fp16/bf16
# FLOP/clock. Check: Arc A770, 32 Xe-cores at its 2100 MHz graphics clock -> 17.2 TFLOP/s fp32 and
# 137.6 fp16, Intel's published figures. Xe-HPC (Data Center GPU Max): 8 vector engines of 512
# bits (16 fp32 lanes) = 256 fp32 FLOP/clock, and 8 XMX engines of 4096 bits = 4096 fp16/bf16
# FLOP/clock. Check: Max 1100, 56 Xe-cores at 1550 MHz -> 22.2 TFLOP/s fp32 (published 22.2) and
# 355 fp16/bf16 (published 352).
INTEL_GPU_FAMILIES: dict[str, IntelGpuFamily] = {
    "Xe-HPG": IntelGpuFamily("Xe-HPG", 256, 2048, 2048,
                             "Intel Arc A770 specifications (intel.com/ark, Arc A-series white "
                             "paper): 32 Xe-cores, 17.2 TFLOP/s FP32, 137.6 FP16 XMX at 2100 MHz"),
    "Xe-HPC": IntelGpuFamily("Xe-HPC", 256, 4096, 4096,
                             "Intel Data Center GPU Max 1100 product brief (intel.com): 56 "
                             "Xe-cores, 22.2 TFLOP/s FP32, 352 FP16/BF16 XMX, 1550 MHz"),
}


def estimate_intel_gpu_peak(
    *, architecture: str | None, xe_cores: int | None, clock_max_mhz: int | None
) -> PeakEstimate | None:
    """Estimate an Intel GPU's peak FP32 (vector engines) and FP16/BF16 (XMX) FLOP/s.

    None when the architecture is not in the table (an iGPU hwprof does not know) or the Xe-core
    count or the clock is unknown: a guess from another architecture would be off by 2x or more.
    """
    family = INTEL_GPU_FAMILIES.get(architecture or "")
    if family is None or not xe_cores or not clock_max_mhz:
        return None
    clock_hz = clock_max_mhz * 1e6
    fp32 = xe_cores * clock_hz * family.fp32_per_core_clock
    fp16 = xe_cores * clock_hz * family.fp16_per_core_clock
    bf16 = xe_cores * clock_hz * family.bf16_per_core_clock
    formula = (
        f"fp32: {xe_cores} Xe-cores x {clock_max_mhz} MHz x {family.fp32_per_core_clock} "
        f"FLOP/clock = {fp32 / 1e12:.1f} TFLOP/s; fp16: x {family.fp16_per_core_clock} FLOP/clock "
        f"(dense XMX) = {fp16 / 1e12:.1f} TFLOP/s"
    )
    return PeakEstimate(
        fp32_flops=fp32,
        bf16_flops=bf16,
        fp16_flops=fp16,
        formula=formula,
        clock_hz=clock_hz,
        clock_source="top GT frequency, RP0 (i915/xe)",
        clock_kind="max",
        basis=family.architecture,
        basis_source=family.source,
    )


@dataclass(frozen=True)
class AppleGpuGeneration:
    """The GPU clock of one Apple silicon generation, and where the figure comes from."""

    generation: str  # "M2"
    clock_mhz: int
    source: str


# An Apple GPU core has 128 FP32 ALUs (4 execution units of 32 lanes), each one fused multiply-add
# (2 FLOP) per clock: 256 FP32 FLOP per core per clock; FP16 runs at the same rate as FP32 on these
# GPUs (no double-rate FP16, no matrix units TensorFlow reaches), and BF16 has no faster path.
# macOS does not report the GPU clock, so it comes from the published figures per generation:
# M1 (Apple: 8-core GPU, 2.6 TFLOP/s -> 1278 MHz); M2 (Apple: M2 Max 38-core, 13.6 TFLOP/s; M2
# 10-core, 3.6 TFLOP/s -> 1398 MHz). Apple published no TFLOP/s for M3; 1398 MHz is the GPU
# databases' figure (TechPowerUp-style: M3 10-core 3.58, M3 Pro 18-core 6.44 TFLOP/s), so M3's
# estimate is the least certain. Later generations are not in the table: None, not a guess.
APPLE_GPU_CORE_FP32_PER_CLOCK = 256
APPLE_GPU_GENERATIONS: dict[str, AppleGpuGeneration] = {
    "M1": AppleGpuGeneration("M1", 1278, "Apple M1 press release (apple.com, 2020-11): 8-core "
                             "GPU, 2.6 TFLOP/s"),
    "M2": AppleGpuGeneration("M2", 1398, "Apple M2 Pro/M2 Max press release (apple.com, "
                             "2023-01): M2 Max 38-core GPU, 13.6 TFLOP/s; M2 (2022-06) 3.6"),
    "M3": AppleGpuGeneration("M3", 1398, "GPU databases (Apple published no M3 TFLOP/s): M3 "
                             "Pro 18-core 6.44 TFLOP/s FP32 at 1398 MHz"),
}


def estimate_apple_gpu_peak(*, chip: str | None, gpu_cores: int | None) -> PeakEstimate | None:
    """Estimate an Apple silicon GPU's peak FP32 (= FP16) FLOP/s from its chip and core count.

    None when the generation is not in the table or the core count is unknown.
    """
    import re

    m = re.match(r"^Apple (M\d+)\b", chip or "")
    generation = APPLE_GPU_GENERATIONS.get(m[1]) if m else None
    if generation is None or not gpu_cores:
        return None
    clock_hz = generation.clock_mhz * 1e6
    fp32 = gpu_cores * clock_hz * APPLE_GPU_CORE_FP32_PER_CLOCK
    formula = (
        f"fp32: {gpu_cores} GPU cores x 128 ALUs x 2 (FMA) x {generation.clock_mhz} MHz = "
        f"{fp32 / 1e12:.1f} TFLOP/s; fp16 the same rate"
    )
    return PeakEstimate(
        fp32_flops=fp32,
        bf16_flops=None,
        fp16_flops=fp32,
        formula=formula,
        clock_hz=clock_hz,
        clock_source=f"published {generation.generation} GPU clock (macOS does not report it)",
        clock_kind="max",
        basis=f"Apple {generation.generation} GPU",
        basis_source=generation.source,
    )


# -- a run's share of the peak ------------------------------------------------------------------
# A run a little above the ceiling it is held against is within that ceiling's own noise (the
# ceiling is a throughput measured over windows, the run's FLOP/s over all its steps): up to this
# share it counts as 100%. Beyond it the ceiling is too low and says so.
CEILING_NOISE_PERCENT = 102.0


@dataclass(frozen=True)
class PeakShare:
    """How much of its device's peak a run reached, decided once for every front end.

    Against the measured ceiling of the run's device and precision when there is one, with the
    estimate beside it; against the estimate otherwise. Never above 100%: a run above its measured
    ceiling says the ceiling looks low, one above the estimate that the estimate is too low.
    """

    percent: float | None  # of the basis; None when unknown or above it
    basis: Literal["measured", "estimate"] | None
    ceiling_flops: float | None
    estimate_flops: float | None
    percent_of_estimate: float | None  # None when unknown or above the estimate
    above_ceiling: bool
    above_estimate: bool
    text: str  # one line: "41% of measured 220 GFLOP/s; 12% of the 1.8 TFLOP/s estimate"
    cell: str  # a table cell: "41%", "ceiling low", "n/a"
    note: str  # why, where there is something to say (a tooltip); "" otherwise


def _share(achieved: float, of: float | None) -> tuple[float | None, bool]:
    """(percent, above): percent None when ``of`` is unknown or ``achieved`` is above it."""
    if of is None:
        return None, False
    pct = 100.0 * achieved / of
    if pct > CEILING_NOISE_PERCENT:
        return None, True
    return min(pct, 100.0), False


def peak_share(
    achieved_flops: float | None,
    *,
    ceiling_flops: float | None = None,
    ceiling_source: str | None = None,
    estimate_flops: float | None = None,
    estimate_source: str | None = None,
) -> PeakShare:
    """Decide a run's % of peak: the measured ceiling first, the estimate beside it."""
    # a ceiling or an estimate that is not a positive number (a damaged file) is no ceiling
    ceiling_flops = ceiling_flops if ceiling_flops and ceiling_flops > 0 else None
    estimate_flops = estimate_flops if estimate_flops and estimate_flops > 0 else None
    if not achieved_flops or achieved_flops <= 0:
        return PeakShare(None, None, ceiling_flops, estimate_flops, None, False, False, NA, NA,
                         "")
    pct_c, above_c = _share(achieved_flops, ceiling_flops)
    pct_e, above_e = _share(achieved_flops, estimate_flops)
    est = fmt_si(estimate_flops, "FLOP/s")
    if above_e:
        est_text = (f"above the {est} estimate, so the estimate is too low (its clock or "
                    "FLOP/cycle)")
    elif pct_e is not None:
        est_text = f"{pct_e:.0f}% of the {est} estimate"
    else:
        est_text = "no estimate"
    notes = []
    if estimate_source:
        notes.append(f"estimate: {estimate_source}")
    if ceiling_flops:
        ceil = fmt_si(ceiling_flops, "FLOP/s")
        if ceiling_source:
            notes.insert(0, f"ceiling: {ceiling_source}")
        if above_c:
            why = (f"{fmt_si(achieved_flops, 'FLOP/s')} is above the measured {ceil} ceiling: the "
                   "ceiling looks low (measured while other programs were busy, or in a state "
                   "the machine is no longer in); measure the ceilings again on an idle machine")
            return PeakShare(None, "measured", ceiling_flops, estimate_flops, pct_e, True,
                             above_e, f"{why}; {est_text}", "ceiling low",
                             "; ".join([why, *notes]))
        text = f"{pct_c:.0f}% of measured {ceil}; {est_text}"
        return PeakShare(pct_c, "measured", ceiling_flops, estimate_flops, pct_e, False, above_e,
                         text, f"{pct_c:.0f}%", "; ".join(notes))
    if estimate_flops:
        text = est_text + ("" if above_e else "; no ceiling measured yet")
        cell = "above est." if above_e else f"{pct_e:.0f}%"
        return PeakShare(pct_e, "estimate", None, estimate_flops, pct_e, False, above_e, text,
                         cell, "; ".join(notes))
    return PeakShare(None, None, None, None, None, False, False, "no peak known", NA, "")

"""Peak arithmetic-rate estimates for CPUs and NVIDIA GPUs.

These are estimates from published micro-architecture facts, and are always labelled as such. A
later measurement (a GEMM run) is the number to trust; these tell how far a run is from what the
silicon could do.
"""

from __future__ import annotations

from collections.abc import Iterable

from hwprof.core.devices import PeakEstimate


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
    """FP32 FLOPs one core can retire per cycle, and the reasoning in words.

    lanes = vector width / 32; x2 when the CPU has fused multiply-add; x the number of FMA pipes.
    Intel cores with AVX-512 are counted with two 512-bit FMA pipes (Xeon Scalable Gold/Platinum and
    later); AMD Zen 4 runs AVX-512 as two 256-bit halves, so it is counted like AVX2 with two pipes.
    """
    f = set(flags)
    width = cpu_vector_width_bits(f, architecture)
    if width is None:
        return None, "unknown SIMD width"
    is_amd = bool(vendor and "amd" in vendor.lower())
    has_fma = "fma" in f or "avx512f" in f or "asimd" in f or "neon" in f
    if width == 512 and is_amd:
        width = 256
    lanes = width // 32
    fma_factor = 2 if has_fma else 1
    pipes = 2
    flops = lanes * fma_factor * pipes
    why = (
        f"{width}-bit vectors = {lanes} fp32 lanes"
        f" x {fma_factor} ({'FMA' if has_fma else 'no FMA'}) x {pipes} pipes = {flops} FLOP/cycle"
    )
    return flops, why


def estimate_cpu_peak(
    *,
    cores: int | None,
    clock_hz: float | None,
    clock_source: str | None,
    flags: Iterable[str],
    vendor: str | None,
    architecture: str | None,
) -> PeakEstimate | None:
    """Estimate a CPU's peak FP32 and BF16 FLOP/s: cores x clock x FLOPs per cycle."""
    f = set(flags)
    per_cycle, why = cpu_fp32_flops_per_cycle(f, vendor, architecture)
    if not cores or not clock_hz or per_cycle is None:
        return None
    fp32 = cores * clock_hz * per_cycle
    # BF16: AMX tiles do 1024 bf16 FLOP/cycle/core (Intel's figure); AVX512_BF16 dot products run at
    # twice the fp32 rate; ARM BF16 (BFMMLA) about 4x NEON fp32 on the cores that have it. Without
    # native support bf16 is converted to fp32, so its ceiling is the fp32 one.
    if "amx_bf16" in f:
        bf16_per_cycle, bf16_why = 1024, "AMX-BF16 tiles: 1024 FLOP/cycle"
    elif "avx512_bf16" in f:
        bf16_per_cycle, bf16_why = per_cycle * 2, "AVX512_BF16 dot products: 2x the fp32 rate"
    elif "bf16" in f or "svebf16" in f:
        bf16_per_cycle, bf16_why = per_cycle * 4, "Arm BF16 matrix multiply: 4x the NEON fp32 rate"
    else:
        bf16_per_cycle, bf16_why = per_cycle, "no native bf16: converted to fp32"
    bf16 = cores * clock_hz * bf16_per_cycle
    formula = (
        f"fp32: {cores} cores x {clock_hz / 1e9:.2f} GHz x {per_cycle} FLOP/cycle ({why}); "
        f"bf16: {cores} cores x {clock_hz / 1e9:.2f} GHz x {bf16_per_cycle} FLOP/cycle ({bf16_why})"
    )
    return PeakEstimate(
        fp32_flops=fp32,
        bf16_flops=bf16,
        formula=formula,
        clock_hz=clock_hz,
        clock_source=clock_source,
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

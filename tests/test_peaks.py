"""Peak estimates against NVIDIA's published figures and hand-worked CPU examples."""

from __future__ import annotations

import pytest

from hwprof.core.peaks import estimate_cpu_peak, estimate_gpu_peak


@pytest.mark.parametrize(
    ("cores", "mhz", "cc", "fp32_tflops", "fp16_tflops"),
    [
        (2560, 1590, (7, 5), 8.1, 65),  # T4
        (6912, 1410, (8, 0), 19.5, 312),  # A100
        (18176, 2520, (8, 9), 91.6, 366),  # L40S
        (16896, 1980, (9, 0), 66.9, 990),  # H100 SXM
    ],
)
def test_gpu_peaks_match_data_sheets(
    cores: int, mhz: int, cc: tuple[int, int], fp32_tflops: float, fp16_tflops: float
) -> None:
    peak = estimate_gpu_peak(cuda_cores=cores, sm_clock_max_mhz=mhz, compute_capability=cc)
    assert peak is not None
    assert peak.fp32_flops == pytest.approx(fp32_tflops * 1e12, rel=0.01)
    assert peak.fp16_flops == pytest.approx(fp16_tflops * 1e12, rel=0.02)
    assert (peak.bf16_flops is None) == (cc < (8, 0))


def test_gpu_peak_unknown_without_cores() -> None:
    assert (
        estimate_gpu_peak(cuda_cores=None, sm_clock_max_mhz=1410, compute_capability=(8, 0)) is None
    )


def test_cpu_peak_avx2_and_avx512() -> None:
    avx2 = estimate_cpu_peak(
        cores=8,
        clock_hz=3e9,
        clock_source="test",
        flags=["avx", "avx2", "fma"],
        vendor="AuthenticAMD",
        architecture="x86_64",
    )
    assert avx2 is not None and avx2.fp32_flops == 8 * 3e9 * 32
    assert avx2.bf16_flops == avx2.fp32_flops  # no native bf16
    zen4 = estimate_cpu_peak(
        cores=8,
        clock_hz=3e9,
        clock_source="test",
        flags=["avx2", "fma", "avx512f", "avx512_bf16"],
        vendor="AuthenticAMD",
        architecture="x86_64",
    )
    assert (
        zen4 is not None
        and zen4.fp32_flops == 8 * 3e9 * 32
        and zen4.bf16_flops == 2 * zen4.fp32_flops
    )
    spr = estimate_cpu_peak(
        cores=2,
        clock_hz=2.6e9,
        clock_source="test",
        flags=["avx512f", "fma", "amx_bf16", "amx_tile"],
        vendor="GenuineIntel",
        architecture="x86_64",
    )
    assert (
        spr is not None and spr.fp32_flops == 2 * 2.6e9 * 64 and spr.bf16_flops == 2 * 2.6e9 * 1024
    )
    assert "2 cores x 2.60 GHz x 64 FLOP/cycle" in spr.formula
    assert (
        estimate_cpu_peak(
            cores=2, clock_hz=None, clock_source=None, flags=[], vendor=None, architecture=None
        )
        is None
    )

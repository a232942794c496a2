"""Peak estimates: NVIDIA's published figures; CPUs by the table (real CPUs' CPUID facts).

The CPU cases are the family/model/flags real machines report (/proc/cpuinfo, py-cpuinfo), so a
row that stops matching its chip, or a chip that lands on the wrong row, fails here.
"""

from __future__ import annotations

import math

import pytest

from hwprof.core.cpu_table import CPU_TABLE, match_cpu
from hwprof.core.devices import CpuInfo
from hwprof.core.peaks import (
    CEILING_NOISE_PERCENT,
    choose_clock,
    estimate_cpu_peak,
    estimate_gpu_peak,
    peak_share,
)


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


# -- CPUs ------------------------------------------------------------------------------------------
AVX2 = ("sse", "sse2", "sse4_2", "avx", "avx2", "fma", "f16c")
AVX512 = (*AVX2, "avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512cd")
ZEN4 = (*AVX512, "avx512_bf16", "avx512_vnni")
SPR = (*AVX512, "avx512_bf16", "avx512_fp16", "avx512_vnni", "amx_tile", "amx_bf16", "amx_int8")
NEON = ("fp", "asimd", "asimddp")


def cpu(model_name: str | None, *, vendor: str | None = None, family: int | None = None,
        model: int | None = None, flags: tuple[str, ...] = AVX2, cores: int = 8,
        max_hz: float | None = 3e9, base_hz: float | None = None, arch: str = "x86_64",
        implementer: int | None = None, parts: dict[str, int] | None = None,
        efficiency: int | None = None) -> CpuInfo:
    """A CPU as detection describes it."""
    sources = {"frequency_max": "sysfs cpufreq cpuinfo_max_freq"} if max_hz else {}
    if base_hz:
        sources["frequency_base"] = "model name"
    return CpuInfo(vendor=vendor, model_name=model_name, architecture=arch, sockets=1,
                   physical_cores=cores, logical_cpus=cores, threads_per_core=1,
                   frequency_base_hz=base_hz, frequency_max_hz=max_hz, frequency_current_hz=None,
                   numa_nodes=1, flags=flags, family=family, model=model,
                   arm_implementer=implementer, arm_parts=parts or {},
                   efficiency_cores=efficiency, sources=sources)


def per_core_cycle(info: CpuInfo, precision: str = "fp32") -> float:
    """The estimate's FLOP/cycle per core (over all cores, at its clock)."""
    peak = estimate_cpu_peak(info)
    assert peak is not None and peak.clock_hz and info.physical_cores
    flops = peak.fp32_flops if precision == "fp32" else peak.bf16_flops
    assert flops is not None
    return flops / peak.clock_hz / info.physical_cores


AMD, INTEL = "AuthenticAMD", "GenuineIntel"


@pytest.mark.parametrize(
    ("info", "row", "fp32", "bf16"),
    [
        # AMD: Zen 2/3/4 at 32 (Zen 4's AVX-512 on 256-bit halves), Zen 5 server/desktop at 64
        (cpu("AMD EPYC 7R32", vendor=AMD, family=23, model=49), "amd-zen2", 32, 32),
        (cpu("AMD Ryzen 7 1700", vendor=AMD, family=23, model=1), "amd-zen1", 16, 16),
        (cpu("AMD EPYC 7R13 Processor", vendor=AMD, family=25, model=1), "amd-zen3", 32, 32),
        (cpu("AMD EPYC", vendor=AMD, family=25, model=17, flags=ZEN4), "amd-zen4", 32, 64),
        (cpu("AMD Ryzen 9 7950X", vendor=AMD, family=25, model=97, flags=ZEN4), "amd-zen4", 32,
         64),
        (cpu("AMD EPYC", vendor=AMD, family=26, model=2, flags=ZEN4), "amd-zen5", 64, 128),
        (cpu("AMD Ryzen 9 9950X", vendor=AMD, family=26, model=68, flags=ZEN4), "amd-zen5", 64,
         128),
        (cpu("AMD Ryzen AI 9 HX 370", vendor=AMD, family=26, model=36, flags=ZEN4),
         "amd-zen5-mobile", 32, 64),
        # Intel Skylake-SP: the same family/model, one or two 512-bit FMA units by SKU tier
        (cpu("Intel(R) Xeon(R) Gold 6148 CPU @ 2.40GHz", vendor=INTEL, family=6, model=85,
             flags=AVX512), "intel-skx", 64, 64),
        (cpu("Intel(R) Xeon(R) Platinum 8175M CPU @ 2.50GHz", vendor=INTEL, family=6, model=85,
             flags=AVX512), "intel-skx", 64, 64),
        (cpu("Intel(R) Xeon(R) Silver 4114 CPU @ 2.20GHz", vendor=INTEL, family=6, model=85,
             flags=AVX512), "intel-skx-one-fma", 32, 32),
        (cpu("Intel(R) Xeon(R) Gold 5118 CPU @ 2.30GHz", vendor=INTEL, family=6, model=85,
             flags=AVX512), "intel-skx-one-fma", 32, 32),
        (cpu("Intel(R) Xeon(R) Gold 5122 CPU @ 3.60GHz", vendor=INTEL, family=6, model=85,
             flags=AVX512), "intel-skx", 64, 64),
        (cpu("Intel(R) Xeon(R) Gold 5222 CPU @ 3.80GHz", vendor=INTEL, family=6, model=85,
             flags=AVX512), "intel-skx", 64, 64),
        # Sapphire Rapids: AMX tiles 1024 bf16 FLOP/cycle
        (cpu("Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz", vendor=INTEL, family=6, model=143,
             flags=SPR), "intel-spr", 64, 1024),
        (cpu("INTEL(R) XEON(R) PLATINUM 8581C CPU @ 2.10GHz", vendor=INTEL, family=6, model=207,
             flags=SPR), "intel-emr", 64, 1024),
        # client cores: one 512-bit FMA (Rocket Lake), two 256-bit (Comet Lake)
        (cpu("11th Gen Intel(R) Core(TM) i9-11900K @ 3.50GHz", vendor=INTEL, family=6,
             model=167, flags=AVX512), "intel-client-avx512", 32, 32),
        (cpu("Intel(R) Core(TM) i7-10700 CPU @ 2.90GHz", vendor=INTEL, family=6, model=165),
         "intel-haswell-comet-lake", 32, 32),
        # Arm: Neoverse by MIDR part
        (cpu(None, arch="aarch64", flags=NEON, implementer=0x41, parts={"0xd0c": 8}),
         "arm-neoverse-n1", 16, 16),
        (cpu(None, arch="aarch64", flags=(*NEON, "sve", "bf16"), implementer=0x41,
             parts={"0xd40": 8}), "arm-neoverse-v1", 32, 128),
        (cpu(None, arch="aarch64", flags=(*NEON, "sve2", "bf16"), implementer=0x41,
             parts={"0xd4f": 8}), "arm-neoverse-v2", 32, 128),
        (cpu(None, arch="aarch64", flags=(*NEON, "sve2", "bf16"), implementer=0x41,
             parts={"0xd49": 8}), "arm-neoverse-n2", 16, 64),
    ],
)
def test_table_rows_for_real_cpus(info: CpuInfo, row: str, fp32: int, bf16: int) -> None:
    peak = estimate_cpu_peak(info)
    assert peak is not None
    assert per_core_cycle(info) == fp32
    assert per_core_cycle(info, "bf16") == bf16
    chosen = next(r for r in CPU_TABLE if r.key == row)
    assert peak.basis is not None and peak.basis.startswith("table: ")
    assert chosen.name in peak.basis
    assert peak.basis_source == chosen.source  # the row's own source, cited


def test_every_row_cites_a_source_and_sane_rates() -> None:
    keys = [r.key for r in CPU_TABLE]
    assert len(keys) == len(set(keys))
    for r in CPU_TABLE:
        assert len(r.source) > 20, r.key
        assert r.fp32_flops_per_cycle in (16, 32, 64), r.key
        assert r.efficiency_fp32_flops_per_cycle in (None, 16, 32), r.key


def test_same_name_amd_epyc_zen4_and_zen5_differ() -> None:
    """The machine kind that showed both under "AMD EPYC": the family decides, not the name."""
    zen4 = estimate_cpu_peak(cpu("AMD EPYC", vendor=AMD, family=25, model=17, flags=ZEN4))
    zen5 = estimate_cpu_peak(cpu("AMD EPYC", vendor=AMD, family=26, model=2, flags=ZEN4))
    assert zen4 is not None and zen5 is not None
    assert zen5.fp32_flops == 2 * zen4.fp32_flops  # type: ignore[operator]
    assert "Zen 4" in (zen4.basis or "") and "Zen 5" in (zen5.basis or "")


def test_masked_model_number_this_machine_kind() -> None:
    """An AMX Xeon a VM reports as family 6 model 167 (Rocket Lake has no AMX): flags decide."""
    info = cpu("Intel(R) Xeon(R) Processor", vendor=INTEL, family=6, model=167, flags=SPR,
               cores=2, max_hz=None, base_hz=2.6e9)
    peak = estimate_cpu_peak(info)
    assert peak is not None
    assert peak.fp32_flops == pytest.approx(2 * 2.6e9 * 64)
    assert peak.bf16_flops == pytest.approx(2 * 2.6e9 * 1024)
    assert "with AMX" in (peak.basis or "") and "its flags (amx_tile)" in (peak.basis or "")
    assert any("model number is masked" in n and "Rocket Lake" in n for n in peak.notes)
    assert "2 cores x 2.60 GHz x 64 FLOP/cycle" in peak.formula


def test_unknown_tier_takes_the_larger_figure_and_says_so() -> None:
    """A cloud Skylake-SP named without its tier: two FMA units, an upper bound, said."""
    info = cpu("Intel(R) Xeon(R) CPU @ 2.00GHz", vendor=INTEL, family=6, model=85, flags=AVX512)
    peak = estimate_cpu_peak(info)
    assert peak is not None and per_core_cycle(info) == 64
    assert any("upper bound" in n for n in peak.notes)


def test_hidden_avx512_caps_the_row() -> None:
    """A Gold 6148 whose VM hides AVX-512: TensorFlow gets AVX2 only, at most 32 FLOP/cycle."""
    info = cpu("Intel(R) Xeon(R) Gold 6148 CPU @ 2.40GHz", vendor=INTEL, family=6, model=85,
               flags=AVX2)
    peak = estimate_cpu_peak(info)
    assert peak is not None and per_core_cycle(info) == 32
    assert any("AVX-512 is not visible" in n for n in peak.notes)


def test_hybrid_alder_lake_counts_e_cores_at_their_rate() -> None:
    """i9-12900K: 8 P-cores (two 256-bit FMA) and 8 E-cores (Gracemont, two 128-bit FMA)."""
    known = cpu("12th Gen Intel(R) Core(TM) i9-12900K", vendor=INTEL, family=6, model=151,
                cores=16, efficiency=8)
    peak = estimate_cpu_peak(known)
    assert peak is not None and peak.fp32_flops == pytest.approx(3e9 * (8 * 32 + 8 * 16))
    assert "8 P-cores x 32 + 8 E-cores x 16" in peak.formula
    unknown = estimate_cpu_peak(known.model_copy(update={"efficiency_cores": None}))
    assert unknown is not None and unknown.fp32_flops == pytest.approx(3e9 * 16 * 32)
    assert any("E-cores is not known" in n and "upper bound" in n for n in unknown.notes)


def test_apple_m2_by_name_on_macos_and_by_part_on_linux() -> None:
    """M2: 4 Avalanche P-cores (four 128-bit FMA pipes) and 4 Blizzard E-cores (two)."""
    mac = cpu("Apple M2", arch="arm64", flags=(), cores=8, max_hz=3.5e9, efficiency=4)
    peak = estimate_cpu_peak(mac)
    assert peak is not None and peak.fp32_flops == pytest.approx(3.5e9 * (4 * 32 + 4 * 16))
    assert "Apple M1-M4" in (peak.basis or "")
    linux = cpu(None, arch="aarch64", flags=NEON, cores=8, max_hz=3.5e9, implementer=0x61,
                parts={"0x032": 4, "0x033": 4})
    assert estimate_cpu_peak(linux).fp32_flops == peak.fp32_flops  # type: ignore[union-attr]


def test_unknown_cpu_falls_back_to_the_flag_rule_labelled() -> None:
    zhaoxin = cpu("ZHAOXIN KaiXian KX-7000", vendor="CentaurHauls", family=7, model=91)
    peak = estimate_cpu_peak(zhaoxin)
    assert peak is not None and per_core_cycle(zhaoxin) == 32
    assert (peak.basis or "").startswith("flag rule")
    assert "vector width" in (peak.basis_source or "")
    # an unknown AMD with AVX-512 counts full width (a Zen 5 or later): an upper bound
    future = cpu("AMD EPYC", vendor=AMD, family=27, model=0, flags=ZEN4)
    assert per_core_cycle(future) == 64
    # an Arm core not in the table: the flag rule, 128-bit NEON x FMA x 2 pipes
    arm = cpu(None, arch="aarch64", flags=NEON, implementer=0x41, parts={"0xd03": 4})
    assert per_core_cycle(arm) == 16 and match_cpu(
        vendor=None, model_name=None, family=None, model=None, flags=NEON, arm_implementer=0x41,
        arm_parts={"0xd03": 4}) is None
    assert estimate_cpu_peak(cpu("x", flags=(), cores=2)) is None  # no SIMD width known


def test_clock_choice() -> None:
    both = choose_clock(all_core_hz=3.1e9, all_core_source="test", max_hz=3.7e9, max_source="x",
                        base_hz=2.4e9, base_source="y")
    assert both is not None and both.kind == "all-core" and both.hz == 3.1e9 and not both.caveat
    boost = choose_clock(max_hz=3.7e9, max_source="sysfs", base_hz=2.4e9, base_source="name")
    assert boost is not None and boost.kind == "max" and "upper bound" in boost.caveat
    assert boost.source == "max clock (sysfs)"
    base = choose_clock(base_hz=2.4e9, base_source="name", current_hz=3e9, current_source="p")
    assert base is not None and base.kind == "base" and "may run faster" in base.caveat
    assert choose_clock(current_hz=1e9, current_source="p").kind == "current"  # type: ignore
    assert choose_clock() is None
    # the estimate carries the kind and its caveat
    info = cpu("AMD EPYC 7R13 Processor", vendor=AMD, family=25, model=1, max_hz=3.6e9,
               base_hz=2.6e9)
    peak = estimate_cpu_peak(info)
    assert peak is not None and peak.clock_kind == "max" and peak.clock_hz == 3.6e9
    assert any("upper bound" in n for n in peak.notes)
    assert estimate_cpu_peak(info, all_core_hz=3.3e9, all_core_source="spec sheet").clock_kind \
        == "all-core"  # type: ignore[union-attr]
    assert estimate_cpu_peak(cpu("x", cores=2, max_hz=None)) is None  # no clock at all


def test_cpu_peak_unknown_without_cores() -> None:
    assert estimate_cpu_peak(cpu("AMD EPYC", vendor=AMD, family=25, model=17, cores=0)) is None


# -- % of peak: measured ceiling first, never above 100 --------------------------------------------
def test_share_prefers_the_measured_ceiling_with_the_estimate_beside() -> None:
    s = peak_share(90e9, ceiling_flops=220e9, ceiling_source="fp32 matmul, measured today",
                   estimate_flops=1.8e12, estimate_source="CPU fp32 peak estimate")
    assert s.basis == "measured" and s.percent == pytest.approx(100 * 90 / 220)
    assert s.text == "41% of measured 220 GFLOP/s; 5% of the 1.8 TFLOP/s estimate"
    assert s.cell == "41%" and "ceiling: fp32 matmul, measured today" in s.note


def test_share_above_the_measured_ceiling_says_it_looks_low() -> None:
    s = peak_share(300e9, ceiling_flops=220e9, estimate_flops=1.8e12)
    assert s.percent is None and s.above_ceiling and s.cell == "ceiling low"
    assert "ceiling looks low" in s.text and "idle machine" in s.text
    assert "17% of the 1.8 TFLOP/s estimate" in s.text
    # within the ceiling's own noise it is 100%, not "above"
    near = peak_share(220e9 * (CEILING_NOISE_PERCENT - 0.5) / 100, ceiling_flops=220e9)
    assert near.percent == 100.0 and not near.above_ceiling


def test_share_without_a_ceiling_is_of_the_estimate() -> None:
    s = peak_share(90e9, estimate_flops=1.8e12, estimate_source="est")
    assert s.basis == "estimate" and s.percent == pytest.approx(5.0)
    assert "no ceiling measured yet" in s.text
    over = peak_share(2e12, estimate_flops=1.8e12)
    assert over.percent is None and over.cell == "above est." and "estimate is too low" in over.text
    assert peak_share(None, estimate_flops=1.8e12).basis is None
    assert peak_share(1e9).cell == "n/a"


@pytest.mark.parametrize("achieved", [1.0, 99.0, 100.0, 101.9, 103.0, 1e6, math.nextafter(0, 1)])
@pytest.mark.parametrize("ceiling", [None, 1.0, 100.0])
@pytest.mark.parametrize("estimate", [None, 50.0, 1e9])
def test_share_never_above_100(achieved: float, ceiling: float | None,
                               estimate: float | None) -> None:
    s = peak_share(achieved, ceiling_flops=ceiling, estimate_flops=estimate)
    for pct in (s.percent, s.percent_of_estimate):
        assert pct is None or 0 <= pct <= 100
    assert not s.cell.rstrip("%").replace(".", "").isdigit() or float(s.cell.rstrip("%")) <= 100


def test_share_of_a_damaged_file_is_no_share() -> None:
    """A negative or zero estimate or ceiling (a hand-edited snapshot) is no basis at all."""
    s = peak_share(1e257, estimate_flops=-1.2e-7, ceiling_flops=0.0)
    assert s.basis is None and s.percent is None and s.cell == "n/a"
    huge = peak_share(1e257, estimate_flops=1e-300)  # overflows to infinity: above the estimate
    assert huge.percent is None and huge.above_estimate

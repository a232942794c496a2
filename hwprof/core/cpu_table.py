"""FP32 FLOP per cycle per core, by microarchitecture: which row of the table a CPU is.

The SIMD flags alone cannot say how fast a core computes: an AMD Zen 4 and a Zen 5 both report
AVX-512 (Zen 4 runs it on 256-bit halves, Zen 5 on full 512-bit datapaths), and a Xeon Silver and a
Xeon Gold of the same generation report the same flags with one and two 512-bit FMA units. The
model name does not say either ("AMD EPYC" has been both on the same cloud machine kind). So a CPU
is matched by vendor, CPUID family and model (Arm: MIDR implementer and part; Apple on macOS: the
chip's name), and each row says where its figures come from.

A VM can mask the model number: a hypervisor has reported an AMX-capable Xeon as family 6 model
167 (Rocket Lake, a client chip without AMX). A row lists the flags its chip never has; a CPU that
shows one of them is not that chip, and rows that flags alone identify (AMX: a Sapphire Rapids or
later server core) are tried instead. Where a figure is uncertain (a SKU tier hidden, a family
model not listed) the row takes the larger one: the estimate is then an upper bound, and a run's
% of it a lower bound, never a claim above 100% of the silicon.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

AMD, INTEL, HYGON = "AuthenticAMD", "GenuineIntel", "HygonGenuine"
ARM_IMPLEMENTER_ARM, ARM_IMPLEMENTER_FUJITSU = 0x41, 0x46
ARM_IMPLEMENTER_APPLE, ARM_IMPLEMENTER_MICROSOFT = 0x61, 0x6D

# Sources, cited once each (no web access here: these are the documents the figures are from).
_AMD_ZEN1 = ("AMD Software Optimization Guide for Family 17h (pub. 55723): four 128-bit FP pipes, "
             "two with FMA, 256-bit AVX split into halves; Agner Fog, microarchitecture.pdf, Zen")
_AMD_ZEN2 = ("AMD Software Optimization Guide for Family 17h Models 30h+ (pub. 56305): four "
             "256-bit FP pipes, two with FMA")
_AMD_ZEN3 = ("AMD Software Optimization Guide for Family 19h (pub. 56665): two 256-bit FMA pipes")
_AMD_ZEN4 = ("AMD Software Optimization Guide for Family 19h Models 10h+ (pub. 57647): AVX-512 "
             "runs on the two 256-bit FMA pipes as halves; numberworld.org Zen 4 AVX-512 teardown "
             "(2022)")
_AMD_ZEN5 = ("AMD Software Optimization Guide for Family 1Ah (pub. 58455) and Hot Chips 2024: two "
             "512-bit FMA pipes (full 512-bit datapath); numberworld.org Zen 5 AVX-512 teardown "
             "(2024)")
_AMD_ZEN5_MOBILE = ("chips and cheese, 'AMD's Strix Point: Zen 5 Hits Mobile' (2024): the mobile "
                    "Zen 5 cores keep a 256-bit FP datapath (two 256-bit FMA pipes)")
_INTEL_ORM = "Intel 64 and IA-32 Architectures Optimization Reference Manual (248966)"
_INTEL_AVX2 = f"{_INTEL_ORM}: two 256-bit FMA units (ports 0 and 1)"
_INTEL_ONE_512 = (f"{_INTEL_ORM}: one 512-bit FMA unit (ports 0 and 1 fused); 256-bit code uses "
                  "the two 256-bit units at the same rate")
_INTEL_TWO_512 = (f"{_INTEL_ORM}; Intel ARK '# of AVX-512 FMA Units': two (port 0+1 fused and "
                  "port 5)")
_INTEL_SKX_TIERS = ("Intel ARK '# of AVX-512 FMA Units'; Xeon Scalable specification update "
                    "(336065); J. McCalpin on Intel's forum: Gold 6000 and Platinum have two, "
                    "Gold 5000 one (except 5122/5222), Silver and Bronze one")
_INTEL_AMX = (f"{_INTEL_ORM}, AMX chapter; Intel Architecture Day 2021: two 512-bit FMA units, "
              "AMX TMUL 1024 BF16 FLOP/cycle per core")
_INTEL_SNB = ("Agner Fog, microarchitecture.pdf, Sandy Bridge: one 256-bit add and one 256-bit "
              "multiply port, no FMA")
_INTEL_GRACEMONT = ("chips and cheese, 'Gracemont: Revenge of the Atom Cores' (2021): two 128-bit "
                    "FMA pipes, 256-bit AVX2 in halves")
_INTEL_SKYMONT = ("chips and cheese, 'Skymont: Intel's E-Cores Reach for the Sky' (2024): four "
                  "128-bit FMA pipes")
_INTEL_KNL = ("Intel Xeon Phi Processor High Performance Programming, Knights Landing edition "
              "(Jeffers, Reinders, Sodani): two 512-bit VPUs per core")
_ARM_SOG = "Arm Neoverse {core} Software Optimization Guide"
_APPLE = ("Dougall Johnson, Apple M1 microarchitecture measurements (dougallj.github.io/applecpu): "
          "Firestorm four 128-bit FP/SIMD pipes, all FMA; Icestorm two")


@dataclass(frozen=True)
class CoreRow:
    """One microarchitecture's FLOP/cycle per core and how a CPU is recognised as it."""

    key: str
    name: str
    fp32_flops_per_cycle: int
    source: str
    vendor: str | None = None  # CPUID vendor string (x86)
    family: int | None = None
    models: tuple[tuple[int, int], ...] = ()  # inclusive model ranges; () = any of the family
    name_pattern: str | None = None  # a regex the model name must match (SKU tier, Apple chip)
    arm_implementer: int | None = None
    arm_parts: tuple[int, ...] = ()
    bf16_flops_per_cycle: int | None = None  # where the table knows it (AMX); else the flag rule
    bf16_flag: str | None = None  # the flag that must be visible for that bf16 rate
    efficiency_fp32_flops_per_cycle: int | None = None  # hybrid chips: the E-cores' rate
    lacks: frozenset[str] = frozenset()  # flags this chip never has: one seen = masked model
    implied_by: frozenset[str] = frozenset()  # flags that identify it when the model cannot
    note: str = ""

    def matches_x86(self, vendor: str | None, family: int | None, model: int | None,
                    model_name: str | None) -> bool:
        """Whether an x86 CPU's CPUID vendor, family, model (and name, where asked) fit."""
        if self.vendor is None or vendor != self.vendor or family != self.family:
            return False
        if self.models and (model is None
                            or not any(lo <= model <= hi for lo, hi in self.models)):
            return False
        return self.name_pattern is None or bool(
            model_name and re.search(self.name_pattern, model_name))


def _r(lo: int, hi: int | None = None) -> tuple[int, int]:
    return (lo, lo if hi is None else hi)


_NO_AVX512 = frozenset({"avx512f", "amx_tile"})
_NO_AMX = frozenset({"amx_tile", "amx_bf16", "avx512_fp16"})

# Specific rows first: the first row that fits (and whose chip could have these flags) is used.
CPU_TABLE: tuple[CoreRow, ...] = (
    # -- AMD ------------------------------------------------------------------------------------
    CoreRow("amd-zen1", "AMD Zen / Zen+ (EPYC 7001, Ryzen 1000-3000 APUs)", 16, _AMD_ZEN1,
            vendor=AMD, family=23, models=(_r(0x00, 0x2F),), lacks=_NO_AVX512),
    CoreRow("hygon-dhyana", "Hygon Dhyana (Zen 1)", 16, _AMD_ZEN1, vendor=HYGON, family=24,
            lacks=_NO_AVX512),
    CoreRow("amd-zen2", "AMD Zen 2 (EPYC 7002 Rome, Ryzen 3000/4000)", 32, _AMD_ZEN2,
            vendor=AMD, family=23, models=(_r(0x30, 0xFF),), lacks=_NO_AVX512),
    CoreRow("amd-zen3", "AMD Zen 3 (EPYC 7003 Milan, Ryzen 5000)", 32, _AMD_ZEN3, vendor=AMD,
            family=25, models=(_r(0x00, 0x0F), _r(0x20, 0x2F), _r(0x40, 0x5F)),
            lacks=_NO_AVX512),
    CoreRow("amd-zen4", "AMD Zen 4 (EPYC 9004 Genoa/Bergamo/Siena, Ryzen 7000/8000)", 32,
            _AMD_ZEN4, vendor=AMD, family=25,
            models=(_r(0x10, 0x1F), _r(0x60, 0x7F), _r(0xA0, 0xAF)), lacks=_NO_AMX,
            note="AVX-512 runs as two 256-bit halves: no faster per cycle than AVX2"),
    CoreRow("amd-family25", "AMD family 25 (Zen 3 or Zen 4), model not in the table", 32,
            f"{_AMD_ZEN3}; {_AMD_ZEN4}", vendor=AMD, family=25),
    CoreRow("amd-zen5-mobile", "AMD Zen 5 mobile (Ryzen AI 300 Strix Point, Krackan Point)", 32,
            _AMD_ZEN5_MOBILE, vendor=AMD, family=26, models=(_r(0x20, 0x2F), _r(0x60, 0x6F)),
            lacks=_NO_AMX),
    CoreRow("amd-zen5", "AMD Zen 5 (EPYC 9005 Turin, Ryzen 9000, Strix Halo)", 64, _AMD_ZEN5,
            vendor=AMD, family=26, models=(_r(0x00, 0x1F), _r(0x40, 0x4F), _r(0x70, 0x7F)),
            lacks=_NO_AMX),
    CoreRow("amd-family26", "AMD family 26 (Zen 5 or later), model not in the table", 64,
            _AMD_ZEN5, vendor=AMD, family=26,
            note="counted with full 512-bit datapaths: an upper bound (mobile Zen 5 has half)"),
    # -- Intel: SKU tiers of one model number first ---------------------------------------------
    CoreRow("intel-skx-one-fma",
            "Intel Skylake-SP / Cascade Lake, one AVX-512 FMA unit (Xeon Bronze, Silver, Gold "
            "5100/5200)", 32, _INTEL_SKX_TIERS, vendor=INTEL, family=6, models=(_r(85),),
            name_pattern=r"(?i)\b(bronze|silver)\b|gold\s*5(1(?!22)|2(?!22))\d\d",
            lacks=_NO_AMX),
    CoreRow("intel-skx", "Intel Skylake-SP / Cascade Lake / Cooper Lake, two AVX-512 FMA units "
            "(Xeon Gold 6000, Platinum, W, Core X)", 64, _INTEL_SKX_TIERS, vendor=INTEL,
            family=6, models=(_r(85),), lacks=_NO_AMX,
            note="SKUs with one FMA unit (Silver, Bronze, Gold 5100/5200) reach half of this; "
            "without a tier in the model name the two-unit figure is used: an upper bound"),
    CoreRow("intel-spr", "Intel Sapphire Rapids (Golden Cove, Xeon 4th gen)", 64, _INTEL_AMX,
            vendor=INTEL, family=6, models=(_r(143),), bf16_flops_per_cycle=1024,
            bf16_flag="amx_bf16"),
    CoreRow("intel-emr", "Intel Emerald Rapids (Raptor Cove, Xeon 5th gen)", 64, _INTEL_AMX,
            vendor=INTEL, family=6, models=(_r(207),), bf16_flops_per_cycle=1024,
            bf16_flag="amx_bf16"),
    CoreRow("intel-gnr", "Intel Granite Rapids (Redwood Cove, Xeon 6 P-core)", 64, _INTEL_AMX,
            vendor=INTEL, family=6, models=(_r(173, 174),), bf16_flops_per_cycle=1024,
            bf16_flag="amx_bf16"),
    CoreRow("intel-icx", "Intel Ice Lake-SP / Ice Lake-D (Sunny Cove, Xeon 3rd gen)", 64,
            _INTEL_TWO_512, vendor=INTEL, family=6, models=(_r(106), _r(108)), lacks=_NO_AMX),
    CoreRow("intel-knl", "Intel Xeon Phi Knights Landing / Knights Mill", 64, _INTEL_KNL,
            vendor=INTEL, family=6, models=(_r(87), _r(133)), lacks=_NO_AMX),
    CoreRow("intel-client-avx512",
            "Intel Cannon Lake / Ice Lake / Tiger Lake / Rocket Lake client (one 512-bit FMA)",
            32, _INTEL_ONE_512, vendor=INTEL, family=6,
            models=(_r(102), _r(125, 126), _r(140, 141), _r(167)), lacks=_NO_AMX),
    CoreRow("intel-alder-lake", "Intel Alder Lake / Raptor Lake (Golden/Raptor Cove P-cores, "
            "Gracemont E-cores)", 32, f"{_INTEL_AVX2}; {_INTEL_GRACEMONT}", vendor=INTEL,
            family=6, models=(_r(151), _r(154), _r(183), _r(186), _r(191)),
            efficiency_fp32_flops_per_cycle=16, lacks=_NO_AVX512),
    CoreRow("intel-meteor-lake", "Intel Meteor Lake (Redwood Cove P-cores, Crestmont E-cores)",
            32, f"{_INTEL_AVX2}; {_INTEL_GRACEMONT} (Crestmont keeps them)", vendor=INTEL,
            family=6, models=(_r(170), _r(172)), efficiency_fp32_flops_per_cycle=16,
            lacks=_NO_AVX512),
    CoreRow("intel-arrow-lake", "Intel Arrow Lake / Lunar Lake (Lion Cove P-cores, Skymont "
            "E-cores)", 32, f"{_INTEL_AVX2}; {_INTEL_SKYMONT}", vendor=INTEL, family=6,
            models=(_r(189), _r(197, 198)), efficiency_fp32_flops_per_cycle=32,
            lacks=_NO_AVX512),
    CoreRow("intel-alder-lake-n", "Intel Alder Lake-N / Sierra Forest / Grand Ridge "
            "(Gracemont/Crestmont E-cores only)", 16, _INTEL_GRACEMONT, vendor=INTEL, family=6,
            models=(_r(175), _r(182), _r(190)), lacks=_NO_AVX512),
    CoreRow("intel-clearwater-forest", "Intel Clearwater Forest (Darkmont E-cores)", 32,
            f"{_INTEL_SKYMONT} (Darkmont keeps them)", vendor=INTEL, family=6,
            models=(_r(221),), lacks=_NO_AVX512),
    CoreRow("intel-haswell-comet-lake", "Intel Haswell / Broadwell / Skylake client / Kaby, "
            "Coffee, Comet Lake (two 256-bit FMA)", 32, _INTEL_AVX2, vendor=INTEL, family=6,
            models=(_r(60), _r(61), _r(63), _r(69, 71), _r(78), _r(79), _r(86), _r(94),
                    _r(142), _r(158), _r(165, 166)), lacks=_NO_AVX512),
    CoreRow("intel-sandy-ivy", "Intel Sandy Bridge / Ivy Bridge (AVX, no FMA)", 16, _INTEL_SNB,
            vendor=INTEL, family=6, models=(_r(42), _r(45), _r(58), _r(62)),
            lacks=_NO_AVX512 | {"fma", "avx2"}),
    # flags alone: an AMX tile unit exists only on Sapphire Rapids and later server cores
    CoreRow("intel-amx-server", "Intel Xeon with AMX (Sapphire Rapids or later; the model number "
            "is masked)", 64, _INTEL_AMX, vendor=INTEL, bf16_flops_per_cycle=1024,
            bf16_flag="amx_bf16", implied_by=frozenset({"amx_tile"})),
    # -- Arm ------------------------------------------------------------------------------------
    CoreRow("arm-neoverse-n1", "Arm Neoverse N1 (AWS Graviton2, Ampere Altra)", 16,
            _ARM_SOG.format(core="N1") + ": two 128-bit FP/ASIMD pipes, both FMA",
            arm_implementer=ARM_IMPLEMENTER_ARM, arm_parts=(0xD0C,)),
    CoreRow("arm-neoverse-v1", "Arm Neoverse V1 (AWS Graviton3)", 32,
            _ARM_SOG.format(core="V1") + ": two 256-bit SVE pipes (four 128-bit NEON)",
            arm_implementer=ARM_IMPLEMENTER_ARM, arm_parts=(0xD40,)),
    CoreRow("arm-neoverse-n2", "Arm Neoverse N2 (Azure Cobalt 100, Alibaba Yitian 710)", 16,
            _ARM_SOG.format(core="N2") + ": two 128-bit SVE2/ASIMD pipes",
            arm_implementer=ARM_IMPLEMENTER_ARM, arm_parts=(0xD49,)),
    CoreRow("msft-cobalt-100", "Microsoft Azure Cobalt 100 (Neoverse N2)", 16,
            _ARM_SOG.format(core="N2") + ": two 128-bit SVE2/ASIMD pipes",
            arm_implementer=ARM_IMPLEMENTER_MICROSOFT, arm_parts=(0xD49,)),
    CoreRow("arm-neoverse-v2", "Arm Neoverse V2 (AWS Graviton4, NVIDIA Grace, Google Axion)", 32,
            _ARM_SOG.format(core="V2") + ": four 128-bit SVE2/ASIMD pipes",
            arm_implementer=ARM_IMPLEMENTER_ARM, arm_parts=(0xD4F,)),
    CoreRow("arm-neoverse-v3", "Arm Neoverse V3", 32,
            _ARM_SOG.format(core="V3") + ": four 128-bit SVE2/ASIMD pipes",
            arm_implementer=ARM_IMPLEMENTER_ARM, arm_parts=(0xD83, 0xD84)),
    CoreRow("arm-neoverse-n3", "Arm Neoverse N3", 16,
            _ARM_SOG.format(core="N3") + ": two 128-bit SVE2/ASIMD pipes",
            arm_implementer=ARM_IMPLEMENTER_ARM, arm_parts=(0xD8E,)),
    CoreRow("arm-cortex-a76", "Arm Cortex-A76 (Raspberry Pi 5)", 16,
            "Arm Cortex-A76 Software Optimization Guide: two 128-bit FP/ASIMD pipes",
            arm_implementer=ARM_IMPLEMENTER_ARM, arm_parts=(0xD0B,)),
    CoreRow("arm-cortex-x1", "Arm Cortex-X1", 32,
            "Arm Cortex-X1 Software Optimization Guide: four 128-bit FP/ASIMD pipes",
            arm_implementer=ARM_IMPLEMENTER_ARM, arm_parts=(0xD44,)),
    CoreRow("fujitsu-a64fx", "Fujitsu A64FX", 64,
            "Fujitsu A64FX Microarchitecture Manual: two 512-bit SVE FMA pipes",
            arm_implementer=ARM_IMPLEMENTER_FUJITSU, arm_parts=(0x001,)),
    CoreRow("apple-p-core", "Apple P-core (M1 Firestorm, M2 Avalanche)", 32, _APPLE,
            arm_implementer=ARM_IMPLEMENTER_APPLE, arm_parts=(0x023, 0x025, 0x029, 0x033, 0x035,
                                                              0x039)),
    CoreRow("apple-e-core", "Apple E-core (M1 Icestorm, M2 Blizzard)", 16, _APPLE,
            arm_implementer=ARM_IMPLEMENTER_APPLE, arm_parts=(0x022, 0x024, 0x028, 0x032, 0x034,
                                                              0x038)),
    # Apple on macOS: no MIDR, the chip's name; P-cores at 32, E-cores at 16
    CoreRow("apple-m", "Apple M1-M4 (P-cores four 128-bit FMA pipes, E-cores two)", 32, _APPLE,
            name_pattern=r"^Apple M\d+\b", efficiency_fp32_flops_per_cycle=16,
            note="the CPU's AMX/SME matrix unit (Accelerate) is not counted: TensorFlow's CPU "
            "kernels do not use it"),
)


@dataclass(frozen=True)
class TableMatch:
    """The rows a CPU matched, with the logical CPUs each covers (None: all of them)."""

    rows: tuple[tuple[CoreRow, int | None], ...]
    how: str  # what identified it, in words: "family 25 model 17", "Arm part 0xd0c"
    notes: tuple[str, ...] = field(default=())


def _hex(n: int) -> str:
    return f"0x{n:x}"


def parse_part(text: str) -> int | None:
    """An Arm MIDR part ("0xd0c") as a number, or None."""
    try:
        return int(text, 16) if text.strip().lower().startswith("0x") else int(text)
    except ValueError:
        return None


def _arm_match(implementer: int, parts: Mapping[str, int]) -> TableMatch | None:
    rows: list[tuple[CoreRow, int | None]] = []
    for text, count in sorted(parts.items()):
        part = parse_part(text)
        row = next((r for r in CPU_TABLE if r.arm_implementer == implementer
                    and part in r.arm_parts), None)
        if row is None:
            return None  # one unknown kind of core: the whole CPU falls back to the flag rule
        rows.append((row, count))
    if not rows:
        return None
    how = ", ".join(f"{_hex(parse_part(t) or 0)} x {n}" for t, n in sorted(parts.items()))
    return TableMatch(tuple(rows), f"Arm implementer {_hex(implementer)}, parts {how}")


def match_cpu(
    *,
    vendor: str | None,
    model_name: str | None,
    family: int | None,
    model: int | None,
    flags: Iterable[str],
    arm_implementer: int | None = None,
    arm_parts: Mapping[str, int] | None = None,
) -> TableMatch | None:
    """The table rows for a CPU, or None when the table does not know it (the flag rule then)."""
    f = set(flags)
    if arm_implementer is not None and arm_parts:
        return _arm_match(arm_implementer, arm_parts)
    notes: list[str] = []
    for row in CPU_TABLE:
        if row.name_pattern and row.vendor is None and model_name and re.search(
                row.name_pattern, model_name):
            return TableMatch(((row, None),), f"model name {model_name!r}")
        if not row.matches_x86(vendor, family, model, model_name):
            continue
        masked = sorted(row.lacks & f)
        if masked:
            notes.append(f"family {family} model {model} would be {row.name}, but this CPU "
                         f"reports {', '.join(masked)}, which that chip lacks: the model number is "
                         "masked (a virtual machine?), so the flags decide")
            continue
        return TableMatch(((row, None),), f"family {family} model {model}", tuple(notes))
    for row in CPU_TABLE:
        if row.implied_by and row.vendor == vendor and row.implied_by <= f:
            return TableMatch(((row, None),), f"its flags ({', '.join(sorted(row.implied_by))})",
                              tuple(notes))
    return None

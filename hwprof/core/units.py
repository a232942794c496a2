"""Formatting numbers with their units for people. A missing value prints as "n/a"."""

from __future__ import annotations

import math

NA = "n/a"


def fmt_bytes(value: float | None, *, binary: bool = True) -> str:
    """1536 -> "1.5 KiB"; None -> "n/a"."""
    if value is None:
        return NA
    base = 1024.0 if binary else 1000.0
    units = (
        ("B", "KiB", "MiB", "GiB", "TiB", "PiB") if binary else ("B", "kB", "MB", "GB", "TB", "PB")
    )
    v = float(value)
    for unit in units:
        if abs(v) < base or unit == units[-1]:
            if unit == "B":
                return f"{int(v)} B"
            return f"{v:.3g} {unit}" if v < 100 else f"{v:.0f} {unit}"
        v /= base
    return NA  # pragma: no cover - the loop always returns


def _scaled(value: float, unit: str, prefixes: tuple[tuple[float, str], ...], digits: int) -> str:
    for scale, prefix in prefixes:
        if abs(value) >= scale:
            return f"{value / scale:.{digits}g} {prefix}{unit}"
    return f"{value:.{digits}g} {unit}"


_SI = ((1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"))


def fmt_hz(value: float | None) -> str:
    """2.6e9 -> "2.6 GHz"."""
    if value is None:
        return NA
    return _scaled(value, "Hz", _SI, 3)


def fmt_flops(value: float | None) -> str:
    """4.9e11 -> "490 GFLOP/s"."""
    if value is None:
        return NA
    return _scaled(value, "FLOP/s", _SI, 3)


def fmt_rate(value: float | None, unit: str, digits: int = 4) -> str:
    """Format a rate with an SI prefix: (2.1e9, "B/s") -> "2.1 GB/s"."""
    if value is None:
        return NA
    return _scaled(value, unit, _SI, digits)


def fmt_num(value: float | None, fmt: str = "{:g}", unit: str = "") -> str:
    """Any number, or "n/a"."""
    if value is None:
        return NA
    text = fmt.format(value)
    return f"{text} {unit}" if unit else text


def fmt_seconds(value: float | None) -> str:
    """0.0123 -> "12.3 ms"."""
    if value is None:
        return NA
    v = float(value)
    if v >= 1:
        return f"{v:.3g} s"
    if v >= 1e-3:
        return f"{v * 1e3:.3g} ms"
    return f"{v * 1e6:.3g} µs"


def fmt_count(value: float | None, unit: str = "") -> str:
    """A rate or count people read at a glance: 42310.5 -> "42,310", 81.59 -> "81.6"."""
    if value is None:
        return NA
    v = float(value)
    text = f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3g}"
    return f"{text} {unit}" if unit else text


def fmt_eng(value: float | None) -> str:
    """A number in three figures with a k/M/G suffix: 467k, 1.23M, 0.512."""
    if value is None or not math.isfinite(value):
        return NA
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            return f"{value / scale:.3g}{suffix}"
    return f"{value:.3g}"


# Units that take an SI prefix directly ("GB/s", "GHz"); any other unit ("img/s", "GEMMs/s") gets
# the prefix on the number ("42.3k img/s"), since "kimg/s" reads as a new word.
SI_UNITS = frozenset({"B", "B/s", "FLOP/s", "FLOP", "Hz", "W", "J", "s"})


def fmt_si(value: float | None, unit: str = "", digits: int = 3) -> str:
    """Any reading with an SI prefix: (9.1e9, "B/s") -> "9.1 GB/s", 42310 img/s -> "42.3k img/s".

    No scientific notation ever; NaN and infinities print as "n/a" like a missing value.
    """
    if value is None or not math.isfinite(value):
        return NA
    v = float(value)
    prefix, scaled = "", v
    for scale, p in _SI:
        if abs(v) >= scale * 0.9995:  # 999.96 rounds to "1k", not "1e+03"
            prefix, scaled = p, v / scale
            break
    else:
        if unit in SI_UNITS and v != 0 and abs(v) < 0.9995:
            for scale, p in ((1e-3, "m"), (1e-6, "µ"), (1e-9, "n")):
                if abs(v) >= scale * 0.9995:
                    prefix, scaled = p, v / scale
                    break
    text = f"{scaled:.{digits}g}"
    if "e" in text:  # .3g of 999.96 is "1e+03": print the plain number instead
        text = f"{scaled:.0f}"
    if not unit:
        return f"{text}{prefix}"
    if unit in SI_UNITS:
        return f"{text} {prefix}{unit}"
    return f"{text}{prefix} {unit}"

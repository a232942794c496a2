"""A profile's figures in words: values with their 95% intervals and units, scores, speedups.

The one place where the window, the command line and the HTML report turn a profile's numbers
into text, so that each says the same thing the same way. Every number keeps its unit with an SI
prefix, and an interval is written in the prefix of its value ("28.4 GFLOP/s (11.6–45.2)"), so
the eye compares digits, not prefixes. Where no column header says what the brackets hold (a line
of the command line's output), ``labelled=True`` writes "(95%: 11.6–45.2)".
"""

from __future__ import annotations

import math

from hwprof.core.profile import DeployRow, Score, Speedup, TestOutcome
from hwprof.core.units import NA, SI_UNITS

DASH = "–"
# a test's unit as saved, and how it is written with SI prefixes: (factor to the base unit, base)
BASE_UNITS: dict[str, tuple[float, str]] = {
    "GFLOP/s": (1e9, "FLOP/s"),
    "GB/s": (1e9, "B/s"),
    "ms": (1e-3, "s"),
}
_UP = ((1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"))
_DOWN = ((1e-3, "m"), (1e-6, "µ"), (1e-9, "n"))
STATUS_WORDS = {"failed": "failed", "out_of_memory": "out of memory", "skipped": "skipped",
                "cancelled": "cancelled", "ok": "no value"}


def _interval(low: str, high: str, labelled: bool) -> str:
    return f" ({'95%: ' if labelled else ''}{low}{DASH}{high})"


def _prefix(value: float, unit: str) -> tuple[float, str]:
    """The scale and SI prefix a value of this unit is written in."""
    v = abs(value)
    for scale, p in _UP:
        if v >= scale * 0.9995:
            return scale, p
    if unit in SI_UNITS and 0 < v < 0.9995:
        for scale, p in _DOWN:
            if v >= scale * 0.9995:
                return scale, p
    return 1.0, ""


def _digits(x: float, *, zeros: bool = False) -> str:
    """Three significant figures ("41.6"); ``zeros`` keeps trailing ones ("1.00", "250")."""
    text = f"{x:#.3g}".rstrip(".") if zeros else f"{x:.3g}"
    return f"{x:.0f}" if "e" in text else text


def fmt_measure(value: float | None, unit: str, low: float | None = None,
                high: float | None = None, *, labelled: bool = False) -> str:
    """A value in its unit with an SI prefix, and its 95% interval in the same prefix.

    ``(28.37, "GFLOP/s", 11.6, 45.2)`` -> ``"28.4 GFLOP/s (11.6–45.2)"``; ``(12.3, "ms")`` ->
    ``"12.3 ms"``; ``(25071, "samples/s")`` -> ``"25.1k samples/s"``.
    """
    if value is None or not math.isfinite(value):
        return NA
    factor, base = BASE_UNITS.get(unit, (1.0, unit))
    v = value * factor
    scale, p = _prefix(v, base)
    if base in SI_UNITS:
        text = f"{_digits(v / scale, zeros=True)} {p}{base}"
    else:
        text = f"{_digits(v / scale, zeros=True)}{p} {base}".rstrip()
    if low is not None and high is not None and math.isfinite(low) and math.isfinite(high):
        text += _interval(_digits(low * factor / scale, zeros=True),
                          _digits(high * factor / scale, zeros=True), labelled)
    return text


def fmt_outcome(outcome: TestOutcome, *, labelled: bool = False) -> str:
    """A test's result: its value with interval and unit, or what happened instead."""
    if outcome.status != "ok" or outcome.value is None:
        what = STATUS_WORDS.get(outcome.status, outcome.status)
        return f"{what}: {outcome.reason}" if outcome.reason else what
    text = fmt_measure(outcome.value, outcome.unit, outcome.low, outcome.high, labelled=labelled)
    if (outcome.low is None or outcome.high is None) and outcome.windows < 2:
        text += " (one window: no interval)"
    return text


def fmt_score(score: Score | None, *, labelled: bool = False, missing: str = DASH) -> str:
    """``"1234 (1180–1290)"``; ``missing`` when there is no score."""
    if score is None:
        return missing
    text = f"{score.value:.0f}"
    if score.low is not None and score.high is not None:
        text += _interval(f"{score.low:.0f}", f"{score.high:.0f}", labelled)
    return text


def score_interval_text(score: Score) -> str:
    """A score's interval on a line of its own: "95% interval 1180–1290"."""
    if score.low is None or score.high is None:
        return "no interval (too few windows)"
    return f"95% interval {score.low:.0f}{DASH}{score.high:.0f}"


def fmt_ratio(x: float) -> str:
    """A ratio in three figures: 1.23×, 0.456×, 12.3×."""
    return f"{_digits(x)}×"


def fmt_speedup(speedup: Speedup | None, *, labelled: bool = False) -> str:
    """``"1.23× (1.10–1.38)"``; a dash when the test cannot be compared."""
    if speedup is None:
        return DASH
    text = fmt_ratio(speedup.ratio)
    if speedup.low is not None and speedup.high is not None:
        text += _interval(_digits(speedup.low), _digits(speedup.high), labelled)
    return text


def speedup_verdict(speedup: Speedup | None) -> str:
    """Faster, slower, or no significant difference (95%)."""
    if speedup is None:
        return "not compared: one side has no valid result"
    if speedup.significant is None:
        return "no interval: cannot tell"
    if not speedup.significant:
        return "no significant difference"
    return "faster" if speedup.ratio > 1 else "slower"


def comparison_verdict(base: str, other: str, speedup: Speedup | None) -> str:
    """One test's verdict between two named profiles (ratios above 1: ``other`` is faster)."""
    if speedup is None:
        return "not measured in both"
    if speedup.significant is None:
        return "no verdict: too few windows for an interval"
    if not speedup.significant:
        return "no significant difference"
    if speedup.ratio > 1:
        return f"{other} is {fmt_ratio(speedup.ratio)} faster (significant)"
    return f"{base} is {fmt_ratio(1 / speedup.ratio)} faster (significant)"


def fmt_percent_of_ceiling(outcome: TestOutcome) -> str:
    """``"31%"`` of the device's ceiling (never above 100%); a dash when unknown."""
    if outcome.percent_of_ceiling is None:
        return DASH
    return f"{outcome.percent_of_ceiling:.0f}%"


def numerics_text(outcome: TestOutcome) -> str:
    """The numerics check in a few words: passed or failed, the error against the limit."""
    check = outcome.numerics
    if check is None:
        try:
            model = outcome.test.is_model
        except KeyError:
            model = False
        return "not checked" if model and outcome.status == "ok" else DASH
    limit = f"limit {check.tolerance * 100:.3g}%"
    if check.max_relative_error is None:
        return f"FAILED: {check.detail or 'NaN or infinity'}"
    err = f"error {check.max_relative_error * 100:.2g}%"
    if check.passed:
        return f"passed ({err}, {limit})"
    return f"FAILED ({err}, {limit})" + (f": {check.detail}" if check.detail else "")


def fmt_duration(seconds: float | None) -> str:
    """How long, for people: "45 s", "3 min 10 s", "1 h 5 min"."""
    if seconds is None or not math.isfinite(seconds):
        return NA
    s = max(0, round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        m, r = divmod(s, 60)
        return f"{m} min {r} s" if r and m < 10 else f"{m} min"
    h, r = divmod(s, 3600)
    return f"{h} h {r // 60} min" if r >= 60 else f"{h} h"


# -- the deployment section ------------------------------------------------------------------------
NO_DEPLOY_REFERENCE = ("no reference profile has the deployment section yet: each TFLite test is "
                       "set against this device's own TensorFlow fp32 test, not scored")


def accuracy_text(outcome: TestOutcome) -> str:
    """A deployed model's accuracy against TensorFlow fp32: "top-1 agreement 97%, max rel. ..."."""
    acc = outcome.accuracy
    if acc is None:
        return DASH
    return (f"top-1 agreement {acc.top1_agreement * 100:.3g}%, "
            f"max rel. error {acc.max_relative_error * 100:.2g}% ({acc.samples} samples)")


def model_size_text(outcome: TestOutcome) -> str:
    """The .tflite file's size in MB ("3.5 MB"); a dash when unknown."""
    if outcome.model_bytes is None:
        return DASH
    return f"{_digits(outcome.model_bytes / 1e6)} MB"


def deploy_sentence(row: DeployRow) -> str:
    """A deployment test against TensorFlow, in words.

    "TFLite int8 2.9× the TensorFlow fp32 test, top-1 agreement 31%".
    """
    o = row.outcome
    if o.status != "ok" or o.value is None:
        try:
            title = o.test.title
        except KeyError:  # a test of another version of the section
            title = o.test_id
        return f"{title}: {fmt_outcome(o)}"
    what = f"TFLite {o.precision or ''}".rstrip()
    if row.speedup is None:
        speed = (f"{what}: no valid TensorFlow fp32 test ({row.baseline_id or 'none'}) in this "
                 "profile to set it against")
    else:
        kind = "speed" if o.test.higher_is_better else "latency"
        speed = f"{what} {fmt_ratio(row.speedup.ratio)} the TensorFlow fp32 test ({kind})"
    if o.accuracy is not None:
        speed += f", top-1 agreement {o.accuracy.top1_agreement * 100:.3g}%"
    return speed

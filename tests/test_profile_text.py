"""The one set of profile formatters that the window, the command line and the report share."""

from __future__ import annotations

import math

import pytest

from hwprof.core.profile import NumericsCheck, Score, Speedup, TestOutcome
from hwprof.core.profile_text import (
    DASH,
    comparison_verdict,
    fmt_duration,
    fmt_measure,
    fmt_outcome,
    fmt_percent_of_ceiling,
    fmt_score,
    fmt_speedup,
    numerics_text,
    score_interval_text,
    speedup_verdict,
)
from hwprof.core.units import NA


@pytest.mark.parametrize(("args", "text"), [
    ((250.628, "GFLOP/s", 242.0, 259.0), "251 GFLOP/s (242–259)"),
    # the interval is written in its value's prefix, and three figures keep their zeros
    ((1003.31, "GFLOP/s", 971.0, 1040.0), "1.00 TFLOP/s (0.971–1.04)"),
    ((13.1, "GB/s", 13.0, 13.3), "13.1 GB/s (13.0–13.3)"),
    ((43786.0, "samples/s", 43000.0, 44600.0), "43.8k samples/s (43.0–44.6)"),
    ((16.76, "ms", 16.6, 17.0), "16.8 ms (16.6–17.0)"),
    ((0.5, "ms"), "500 µs"),
    ((123456789.0, "img/s"), "123M img/s"),
])
def test_a_value_keeps_its_unit_and_its_interval_its_prefix(args: tuple, text: str) -> None:
    assert fmt_measure(*args) == text


def test_the_command_line_labels_what_the_brackets_hold() -> None:
    assert fmt_measure(16.76, "ms", 16.6, 17.0, labelled=True) == "16.8 ms (95%: 16.6–17.0)"
    s = Score(2000.0, 1900.0, 2100.0, 3)
    assert fmt_score(s) == "2000 (1900–2100)"
    assert fmt_score(s, labelled=True) == "2000 (95%: 1900–2100)"
    assert fmt_speedup(Speedup("t", 1.234, 1.1, 1.38), labelled=True) == "1.23× (95%: 1.1–1.38)"


@pytest.mark.parametrize("bad", [None, math.nan, math.inf, -math.inf])
def test_a_missing_or_non_finite_value_is_not_a_number(bad: float | None) -> None:
    assert fmt_measure(bad, "GFLOP/s") == NA
    assert fmt_measure(10.0, "GFLOP/s", bad, 12.0) == "10.0 GFLOP/s"  # no half an interval


def test_outcomes_say_what_happened() -> None:
    ok = TestOutcome(test_id="mlp.train", status="ok", unit="samples/s", value=41600.0,
                     low=38800.0, high=44500.0, windows=5)
    assert fmt_outcome(ok) == "41.6k samples/s (38.8–44.5)"
    one = ok.model_copy(update={"low": None, "high": None, "windows": 1})
    assert fmt_outcome(one) == "41.6k samples/s (one window: no interval)"
    oom = TestOutcome(test_id="resnet50.train", status="out_of_memory", reason="batch 64")
    assert fmt_outcome(oom) == "out of memory: batch 64"
    assert fmt_outcome(TestOutcome(test_id="x", status="skipped")) == "skipped"


def test_scores_speedups_and_verdicts() -> None:
    assert fmt_score(None) == DASH and fmt_score(None, missing=NA) == NA
    assert score_interval_text(Score(2000.0, 1900.0, 2100.0, 3)) == "95% interval 1900–2100"
    assert score_interval_text(Score(2000.0, None, None, 1)) == "no interval (too few windows)"
    faster = Speedup("t", 2.0, 1.8, 2.2)
    slower = Speedup("t", 0.5, 0.45, 0.55)
    same = Speedup("t", 1.01, 0.95, 1.07)
    assert fmt_speedup(faster) == "2× (1.8–2.2)" and fmt_speedup(None) == DASH
    assert comparison_verdict("a", "b", faster) == "b is 2× faster (significant)"
    assert comparison_verdict("a", "b", slower) == "a is 2× faster (significant)"
    assert comparison_verdict("a", "b", same) == "no significant difference"
    assert comparison_verdict("a", "b", Speedup("t", 2.0, None, None)).startswith("no verdict")
    assert comparison_verdict("a", "b", None) == "not measured in both"
    assert speedup_verdict(faster) == "faster" and speedup_verdict(slower) == "slower"


def test_numerics_ceiling_and_durations() -> None:
    base = TestOutcome(test_id="mlp.train", status="ok", unit="samples/s", value=1.0)
    passed = NumericsCheck(max_relative_error=0.0012, tolerance=0.02, passed=True)
    failed = NumericsCheck(max_relative_error=0.5, tolerance=0.02, passed=False, detail="wrong")
    nan = NumericsCheck(max_relative_error=None, tolerance=0.02, passed=False)
    assert numerics_text(base.model_copy(update={"numerics": passed})) == \
        "passed (error 0.12%, limit 2%)"
    assert numerics_text(base.model_copy(update={"numerics": failed})) == \
        "FAILED (error 50%, limit 2%): wrong"
    assert numerics_text(base.model_copy(update={"numerics": nan})) == "FAILED: NaN or infinity"
    assert numerics_text(base) == "not checked"  # a model test that ran, unchecked
    assert fmt_percent_of_ceiling(base.model_copy(update={"percent_of_ceiling": 31.4})) == "31%"
    assert fmt_percent_of_ceiling(base) == DASH
    assert [fmt_duration(s) for s in (44.6, 190, 3900, None)] == ["45 s", "3 min 10 s",
                                                                   "1 h 5 min", NA]

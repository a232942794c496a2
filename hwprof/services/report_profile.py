"""The profile part of a report page: the score card, every test, bars, numerics and time split.

:func:`profile_sections` is called by :mod:`hwprof.services.report` for a snapshot of kind
profile; the rest of the page (environment, runs, each run's charts) follows as for any snapshot.
Every string is escaped by the report's own helpers.
"""

from __future__ import annotations

from functools import partial

from hwprof.core.profile import Speedup, TestOutcome
from hwprof.core.profile_text import (
    fmt_measure,
    fmt_outcome,
    fmt_percent_of_ceiling,
    fmt_score,
    fmt_speedup,
    numerics_text,
    score_interval_text,
)
from hwprof.core.snapshot import Snapshot
from hwprof.core.suite import CATEGORY_TITLE
from hwprof.services import charts
from hwprof.services.profile_view import (
    SCORE_GROUP_NAMES,
    ProfileView,
    overhead_rows,
    overhead_summary,
    title_of,
    view,
)
from hwprof.services.report import _charts, _e, _table


def _category(o: TestOutcome) -> str:
    try:
        return CATEGORY_TITLE[o.test.category]
    except KeyError:  # a test of another suite version
        return ""


def _score_card(v: ProfileView) -> str:
    r = v.record
    parts = ["<div class='card'>"]
    overall = v.group("overall")
    if overall is not None:
        parts.append(f"<div><div class='label'>overall score</div><div class='big'>"
                     f"{overall.value:.0f}</div><div class='label'>"
                     f"{_e(score_interval_text(overall))}"
                     f" · {overall.tests} tests</div></div>")
        for g in SCORE_GROUP_NAMES[1:]:
            s = v.group(g)
            parts.append(f"<div><div class='label'>{_e(g)}</div><div class='sub'>"
                         f"{_e(fmt_score(s))}</div></div>")
    else:
        cls = "bad" if v.scores is not None and v.scores.invalid_reason else "muted"
        parts.append(f"<div><div class='label'>overall score</div><div class='sub {cls}'>"
                     f"{_e(v.note or 'no score')}</div></div>")
    parts.append("</div>")
    ref = v.reference
    if ref is not None and v.scores is not None:
        parts.append(f"<p class='muted'>1000 = the reference profile {_e(ref.name)}: "
                     f"{_e(ref.machine)}. The overall score is the geometric mean over the fp32 "
                     "tests; each interval is 95%.</p>")
    facts = [
        ("device", f"{r.device_label or r.device} ({r.device})"),
        ("host", v.snapshot.hostname),
        ("suite", r.suite),
        ("length", r.length + (" (some tests only: --only)" if r.partial else "")),
        ("started", r.started_at),
    ]
    facts += [(k, val) for k, val in r.settings.items()]
    parts.append(_table(("profile", ""), facts))
    return "".join(parts)


def _tests_table(v: ProfileView) -> str:
    scored = v.scores is not None
    headers = ["test", "category", "result (95% interval)", *(["score"] if scored else []),
               "% of ceiling", "latency p50 / p90 / p99", "numerics"]
    rows = []
    for o in v.record.tests:
        lat = o.latency_ms or {}
        latency = " / ".join(fmt_measure(lat.get(k), "ms") for k in ("p50", "p90", "p99"))
        row = [title_of(o.test_id), _category(o), fmt_outcome(o)]
        if scored:
            row.append(fmt_score(v.test_score(o.test_id)))
        row += [fmt_percent_of_ceiling(o), latency if lat else "–", numerics_text(o)]
        rows.append(row)
    return _table(headers, rows)


def _bars(v: ProfileView) -> list[str]:
    ok = [o for o in v.record.tests if o.status == "ok" and o.value is not None]
    if not ok:
        return []
    if v.scores is not None and v.scores.per_test:
        scored = [(o, v.test_score(o.test_id)) for o in ok if v.test_score(o.test_id)]
        return _charts(partial(
            charts.bar_chart, [title_of(o.test_id) for o, _s in scored],
            [s.value if s else None for _o, s in scored],
            lows=[s.low if s else None for _o, s in scored],
            highs=[s.high if s else None for _o, s in scored],
            title="score per test, with its 95% interval (1000 = the reference machine)",
            ylabel="score"))
    # no reference: the raw values, one chart per unit (GFLOP/s, img/s, ms never share an axis)
    out: list[str] = []
    units: list[str] = []
    for o in ok:
        if o.unit not in units:
            units.append(o.unit)
    for unit in units:
        group = [o for o in ok if o.unit == unit]
        what = "lower is better" if unit == "ms" else "higher is better"
        out += _charts(partial(
            charts.bar_chart, [title_of(o.test_id) for o in group], [o.value for o in group],
            lows=[o.low if o.low is not None else o.value for o in group],
            highs=[o.high if o.high is not None else o.value for o in group],
            title=f"{unit}, with the 95% interval ({what}; no reference to score against)",
            ylabel=unit))
    return out


def _numerics(v: ProfileView) -> str:
    checked = [o for o in v.record.tests if o.numerics is not None]
    if not checked:
        return ("<p class='muted'>No numerics check in this profile (the model tests compare "
                "their output with the CPU's fp32 output where the runner checks it).</p>")
    rows = []
    for o in checked:
        n = o.numerics
        assert n is not None
        err = "NaN or infinity" if n.max_relative_error is None else f"{n.max_relative_error:.3g}"
        rows.append([title_of(o.test_id), o.precision or "", err, f"{n.tolerance:g}",
                     "pass" if n.passed else "FAIL", n.reference, n.detail])
    return _table(("test", "precision", "max relative error", "tolerance", "result",
                   "against", "detail"), rows)


def _deployment(v: ProfileView) -> list[str]:
    """The deployment section (when the profile ran it): TFLite against TensorFlow fp32."""
    from hwprof.services.profile_view import deploy_document

    doc = deploy_document(v.record)
    if doc is None:
        return []
    rows = []
    for row in doc["tests"]:
        sp = row["against_tensorflow"]
        ratio = "–"
        if sp is not None:
            ratio = fmt_speedup(Speedup(row["test_id"], sp["ratio"], sp["low"], sp["high"]))
        rows.append([row["title"], row["text"], ratio, row["accuracy_text"],
                     row["model_size_text"]])
    parts = [f"<h2>Deployment ({_e(doc['suite'])}, TFLite on the CPU)</h2>",
             _table(("test", "result (95% interval)", "against TensorFlow fp32", "accuracy",
                     "model"), rows)]
    parts += [f"<p>{_e(row['sentence'])}</p>" for row in doc["tests"]]
    parts.append(f"<p class='muted'>{_e(doc['note'])}</p>")
    return parts


def profile_sections(snapshot: Snapshot) -> list[str]:
    """The profile's part of the page (nothing for a session snapshot)."""
    try:
        v = view(snapshot)
    except ValueError:
        return []
    parts = ["<h2>Score</h2>", _score_card(v),
             "<h2>Tests</h2>", _tests_table(v)]
    parts += _bars(v)
    parts += _deployment(v)
    parts.append("<h2>Numerics</h2>")
    parts.append(_numerics(v))
    parts.append("<h2>Where the time went</h2>")
    parts.append(f"<p>{_e(overhead_summary(v.record.overhead))}</p>")
    rows = [[what, f"{seconds:.1f} s", f"{100 * share:.0f}%"]
            for what, seconds, share in overhead_rows(v.record.overhead)]
    if rows:
        parts.append(_table(("phase", "seconds", "share of the wall time"), rows,
                            numeric=frozenset({1, 2})))
    return parts

"""A traced run's "where the time goes" in the HTML report: verdict, categories, ops, steps.

Bars are plain HTML (a box whose width is the share), so the page stays one file with no script.
Every name comes from TensorFlow or the file: it is escaped, control characters made visible.
"""

from __future__ import annotations

import html

from hwprof.core.text import printable
from hwprof.core.trace import TraceSummary
from hwprof.core.units import fmt_seconds

# the step split's parts, in the window's order and colours (pyqtgraph's first four series)
SPLIT_PARTS = (
    ("device_compute_s", "device compute", "#1f77b4"),
    ("device_idle_s", "device idle", "#d62728"),
    ("host_s", "host", "#2ca02c"),
    ("input_wait_s", "input wait", "#ff7f0e"),
)
TOP_ROWS = 15
# the page's style for these bars is in services/report.py's CSS (.tbar, .tstep, .tkey)


def _e(value: object) -> str:
    return html.escape(printable(value, keep="\t\n"), quote=True)


def _pct(part: float, whole: float) -> float:
    return max(0.0, min(100.0, 100 * part / whole)) if whole > 0 else 0.0


def trace_section(summary: TraceSummary) -> str:
    """The summary as a block of the run's section: escaped text, HTML bars."""
    v = summary.verdict
    parts = ["<h4>Where the time goes</h4>",
             f"<p><b>{_e(v.text if v else 'no verdict (too little of the capture to judge)')}"
             "</b></p>"]
    facts = [f"{summary.steps_traced} traced steps after the timed ones, ops on "
             f"{summary.where_ops_run}"]
    if summary.ops_per_step is not None and summary.median_op_s is not None:
        facts.append(f"{summary.ops_per_step:,.0f} ops per step, median op "
                     f"{summary.median_op_s * 1e6:.1f} µs")
    if v is not None:
        facts.append(f"what may help: {v.advice}")
        if v.command:
            facts.append(f"measure it: {v.command}")
    if summary.tracing_overhead is not None:
        cost = summary.tracing_overhead - 1
        facts.append((f"tracing cost {100 * cost:.0f}% speed" if cost > 0 else
                      "tracing cost no measurable speed") + " (the timed figures are untraced)")
    facts.extend(f"note: {n}" for n in summary.notes)
    parts.append("<p class='muted'>" + "<br>".join(_e(f) for f in facts) + "</p>")
    rows = "".join(
        f"<tr><td>{_e(c.category)}</td><td class='num'>{_e(fmt_seconds(c.self_time_s))}</td>"
        f"<td class='num'>{100 * c.share:.1f}%</td><td class='num'>{c.count:,}</td>"
        f"<td><span class='tbar' style='width:{_pct(c.share, 1.0) * 2:.0f}px'></span></td></tr>"
        for c in summary.categories)
    parts.append("<table><thead><tr><th>op category</th><th>self time</th><th>share</th>"
                 f"<th>ops</th><th>share of op time</th></tr></thead><tbody>{rows}</tbody></table>")
    whole = summary.op_time_s
    rows = "".join(
        f"<tr><td>{_e(o.name)}</td><td>{_e(o.op_type)}</td><td>{_e(o.category)}</td>"
        f"<td>{_e(o.where)}</td><td class='num'>{_e(fmt_seconds(o.self_time_s))}</td>"
        f"<td class='num'>{_pct(o.self_time_s, whole):.1f}%</td>"
        f"<td class='num'>{o.count:,}</td></tr>" for o in summary.ops[:TOP_ROWS])
    parts.append(f"<table><thead><tr><th>top op ({min(TOP_ROWS, len(summary.ops))} of "
                 f"{len(summary.ops)} kept)</th><th>type</th><th>category</th><th>where</th>"
                 "<th>self time</th><th>share</th><th>count</th></tr></thead>"
                 f"<tbody>{rows}</tbody></table>")
    if summary.steps:
        key = "".join(f"<span style='background:{colour}'></span>{_e(label)}"
                      for _, label, colour in SPLIT_PARTS)
        rows = ""
        for s in summary.steps:
            segs = "".join(
                f"<span style='width:{_pct(getattr(s, k), s.step_s):.2f}%;background:{colour}' "
                f"title='{_e(label)} {_e(fmt_seconds(getattr(s, k)))}'></span>"
                for k, label, colour in SPLIT_PARTS)
            shares = " · ".join(f"{_pct(getattr(s, k), s.step_s):.0f}%" for k, _, _ in SPLIT_PARTS)
            rows += (f"<tr><td class='num'>{s.step_num}</td><td class='num'>"
                     f"{_e(fmt_seconds(s.step_s))}</td><td><div class='tstep'>{segs}</div></td>"
                     f"<td class='num'>{shares}</td><td class='num'>{s.ops:,}</td></tr>")
        parts.append(f"<p class='tkey muted'>each traced step:{key}</p>")
        parts.append("<table><thead><tr><th>step</th><th>time</th><th>split</th><th>compute · "
                     "idle · host · input</th><th>ops</th></tr></thead>"
                     f"<tbody>{rows}</tbody></table>")
    return "".join(parts)

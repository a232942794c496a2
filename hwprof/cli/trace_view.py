"""A traced run's summary as rich tables: top ops, categories, the step split and the verdict."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text

from hwprof.cli.console import plain
from hwprof.core.trace import TraceSummary
from hwprof.core.units import fmt_seconds

TOP_ROWS = 10


def _share(part: float, whole: float) -> str:
    return f"{100 * part / whole:.0f}%" if whole > 0 else "n/a"


def trace_view(summary: TraceSummary) -> Group:
    """The summary, as `hwprof run --trace` prints it (names from TensorFlow shown as text)."""
    parts: list[Table | Text] = []
    ops = Table(title=f"where the time goes: top ops ({summary.steps_traced} traced steps, ops "
                f"on {summary.where_ops_run})", title_justify="left")
    for col in ("op", "type", "category", "where"):
        ops.add_column(col, overflow="fold")
    for col in ("self time", "share", "count"):
        ops.add_column(col, justify="right")
    for op in summary.ops[:TOP_ROWS]:
        ops.add_row(plain(op.name), plain(op.op_type), op.category, op.where,
                    fmt_seconds(op.self_time_s), _share(op.self_time_s, summary.op_time_s),
                    str(op.count))
    parts.append(ops)
    cats = Table(title="op time by category", title_justify="left")
    cats.add_column("category")
    for col in ("self time", "share", "ops"):
        cats.add_column(col, justify="right")
    for cat in summary.categories:
        cats.add_row(cat.category, fmt_seconds(cat.self_time_s), f"{100 * cat.share:.0f}%",
                     str(cat.count))
    parts.append(cats)
    if summary.steps:
        totals = summary.step_split_totals()
        whole = totals["step_s"]
        split = Table(title="each step's time (all traced steps)", title_justify="left")
        for col in ("device compute", "device idle", "host", "input wait", "step median"):
            split.add_column(col, justify="right")
        median = sorted(s.step_s for s in summary.steps)[len(summary.steps) // 2]
        split.add_row(*(_share(totals[k], whole) for k in
                        ("device_compute_s", "device_idle_s", "host_s", "input_wait_s")),
                      fmt_seconds(median))
        parts.append(split)
    facts = []
    if summary.ops_per_step is not None and summary.median_op_s is not None:
        facts.append(f"{summary.ops_per_step:,.0f} ops per step, median op "
                     f"{summary.median_op_s * 1e6:.1f} us")
    if summary.tracing_overhead is not None:
        cost = summary.tracing_overhead - 1
        # under 1: the traced steps were no slower, within the steps' own spread
        said = f"tracing cost {100 * cost:.0f}% speed" if cost > 0 else \
            "tracing cost no measurable speed"
        facts.append(f"{said} (traced step median {fmt_seconds(summary.traced_step_median_s)} "
                     f"against {fmt_seconds(summary.untraced_step_median_s)} untraced; the "
                     "timed results above are untraced)")
    if summary.chrome_trace_dropped:
        facts.append(f"the kept trace dropped its {summary.chrome_trace_dropped:,} shortest "
                     "events to stay within its size cap")
    if summary.verdict is not None:
        facts.append(f"verdict: {summary.verdict.text}")
        facts.append(f"advice: {summary.verdict.advice}")
        if summary.verdict.command:
            facts.append(f"measure it: {summary.verdict.command}")
    facts.extend(f"note: {n}" for n in summary.notes)
    parts.extend(plain(fact) for fact in facts)
    return Group(*parts)

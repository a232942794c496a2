"""A snapshot as one self-contained HTML page, or as CSV files.

The page embeds its charts as inline SVG and its style in a <style> element: no script, no
network, no CDN, so it opens the same anywhere, offline, years later. Every value from the file is
HTML-escaped, with its control characters (escape sequences, bidirectional overrides) written as
visible escapes. The CSV export writes runs.csv (one row a run), steps.csv (every timed step) and
telemetry.csv (every reading, one column a metric, one block a run).
"""

from __future__ import annotations

import contextlib
import csv
import html
import io
import os
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from hwprof.core.compare import WINDOW_SECONDS, environment
from hwprof.core.snapshot import Snapshot, SnapshotRun
from hwprof.core.stats import window_series
from hwprof.core.text import printable
from hwprof.core.units import NA, fmt_bytes, fmt_count, fmt_flops, fmt_rate, fmt_seconds
from hwprof.services import charts
from hwprof.services.runs import tflite_rows

# Telemetry plotted for every run, when recorded (first match of each group).
TELEMETRY_PLOTS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("utilization", "%", ("cpu.util_percent", "proc.cpu_percent", "gpu{g}.util_percent")),
    ("memory", "GiB", ("host.memory_used_bytes", "proc.rss_bytes", "gpu{g}.memory_used_bytes")),
    ("power", "W", ("cpu.package_power_watts", "gpu{g}.power_watts")),
    ("temperature", "°C", ("cpu.temperature_c", "gpu{g}.temperature_c")),
    ("clocks", "MHz", ("cpu.freq_mhz", "gpu{g}.sm_clock_mhz")),
)

CSS = """
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:2em auto;max-width:1100px;
color:#1d1d1f;padding:0 1em}
h1{font-size:1.6em;margin-bottom:.2em}h2{margin-top:1.8em;border-bottom:1px solid #ddd}
h3{margin-bottom:.3em}.muted{color:#666}
table{border-collapse:collapse;margin:.6em 0;font-size:13px}
th,td{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f4f4f6}td.num{text-align:right;font-variant-numeric:tabular-nums}
.bad{color:#b00020}.ok{color:#1b7f3b}svg{max-width:100%;height:auto}
.run{border:1px solid #e3e3e8;border-radius:6px;padding:.4em 1em 1em;margin:1em 0}
.card{display:flex;flex-wrap:wrap;gap:1.2em;align-items:flex-end;border:1px solid #d0d0d8;
border-radius:8px;padding:1em 1.2em;margin:1em 0;background:#fafafc}
.card .big{font-size:2.6em;font-weight:600;line-height:1}.card .sub{font-size:1.3em}
.card .label{color:#666;font-size:.85em}
.tbar{display:inline-block;height:.9em;background:#1f77b4;vertical-align:middle}
.tstep{display:flex;height:1.1em;width:100%;min-width:12em;border:1px solid #ddd}
.tstep span{display:block;height:100%}.tkey span{display:inline-block;width:.8em;height:.8em;
margin:0 .3em 0 1em;vertical-align:middle}
"""


def _charts(make: Callable[[], Any]) -> list[str]:
    """The charts ``make`` draws, as inline SVG; a short note where the numbers cannot be drawn."""
    drawn = charts.svgs_or_none(make)
    if drawn is None:
        return ["<p class='muted'>(a chart is left out here: its numbers are out of the range a "
                "chart can show)</p>"]
    return drawn


def _e(value: object) -> str:
    # white space is only layout in a page; every other control character is shown escaped
    return html.escape(printable(value, keep="\t\n"), quote=True)


def _rate(run: SnapshotRun, value: float | None) -> str:
    if value is None:
        return NA
    if run.result.unit == "bytes":
        return fmt_rate(value, "B/s")
    return fmt_count(value, f"{run.spec.info.sample_label}/s")


def _table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], numeric: frozenset[int] = frozenset()
) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join(
        "<tr>"
        + "".join(
            f"<td class='num'>{_e(c)}</td>" if i in numeric else f"<td>{_e(c)}</td>"
            for i, c in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def run_row(i: int, run: SnapshotRun) -> list[str]:
    """One run as a row of the runs table."""
    r, rep = run.result, run.result.report
    s = r.step_throughput
    lat = r.latency_s or {}
    return [
        str(i + 1),
        run.spec.label(),
        r.status if r.ok else f"{r.status}: {r.reason}",
        _rate(run, r.throughput_per_second),
        f"{_rate(run, s.q1)} – {_rate(run, s.q3)}" if s else NA,
        _rate(run, s.jitter) if s else NA,
        fmt_flops(r.achieved_flops),
        r.peak_share().cell if r.unit != "bytes" else "–",
        f"{fmt_seconds(lat.get('p50'))} / {fmt_seconds(lat.get('p99'))}" if lat else "–",
        fmt_bytes(rep.peak_memory_bytes) if rep else NA,
        f"{r.energy_per_sample_joules:.3g} J" if r.energy_per_sample_joules is not None else NA,
        fmt_seconds(rep.time_to_first_step_s) if rep else NA,
    ]


RUN_HEADERS = (
    "#", "workload and settings", "status", "throughput", "per-step IQR", "jitter", "FLOP/s",
    "% of peak", "latency p50 / p99", "peak memory", "energy / sample", "first step",
)  # fmt: skip


def _study_sections(snapshot: Snapshot) -> list[str]:
    """Each comparison or sweep of the snapshot: its verdicts, crossovers, scaling and charts."""
    from hwprof.core.study import STUDY_KINDS, analyze, group_study, tag_value
    from hwprof.services.studies import study_figures

    out: list[str] = []
    for sid, groups in group_study(snapshot.runs).items():
        first = next(iter(groups.values()))[0]
        kind = next((k for k in STUDY_KINDS if k == tag_value(first, "kind")), None)
        if kind is None:  # a kind this version does not know
            continue
        a = analyze(kind, groups)
        title = f"{first.spec.workload} {first.spec.mode}"
        if not out:
            out.append("<h2>Comparisons and sweeps</h2>")
        out.append(f"<h3>{_e(title)}: {_e(a['axis'])} (study {_e(sid)})</h3>")
        lines = list(a.get("verdicts", [])) + [c["text"] for c in a.get("crossovers", [])]
        lines += a.get("notes", [])  # runs the analysis had to leave out, and why
        for k, sc in a.get("scaling", {}).items():
            effs = [f"{x:g}: {e * 100:.0f}%" for x, e in zip(a["x"], sc["efficiency"],
                                                             strict=True) if e is not None]
            lines.append(f"{k}: scaling efficiency {', '.join(effs)}")
        out.append("<ul>" + "".join(f"<li>{_e(x)}</li>" for x in lines) + "</ul>")
        out += _charts(partial(study_figures, title, first.spec.info.sample_label,
                               first.spec.mode, a, groups))
    return out


def _telemetry_charts(run: SnapshotRun) -> list[str]:
    tel = run.telemetry
    if tel is None or tel.sample_count < 2:
        return []
    t0 = tel.timestamps_s[0]
    xs = [t - t0 for t in tel.timestamps_s]
    rep = run.result.report
    marks: list[tuple[float, str]] = []
    if rep is not None and rep.steps.start_s:
        marks.append((rep.steps.start_s[0] - t0, "timed start"))
        marks.append((rep.steps.start_s[-1] + rep.steps.seconds[-1] - t0, "end"))
    gpu = run.spec.gpu_index if run.spec.gpu_index is not None else 0
    out = []
    for title, unit, templates in TELEMETRY_PLOTS:
        series = {}
        for template in templates:
            name = template.format(g=gpu)
            if name not in tel.values or all(v is None for v in tel.values[name]):
                continue
            ys = list(tel.values[name])
            if unit == "GiB":
                ys = [v / 2**30 if v is not None else None for v in ys]
            info = tel.metric(name)
            series[info.label if info else name] = (xs, ys)
        if series:
            out += _charts(partial(charts.line_chart, series, title=f"{title} ({unit})",
                                   xlabel="seconds", ylabel=unit, vlines=marks))
    return out


def _run_section(i: int, run: SnapshotRun) -> str:
    r = run.result
    parts = [f"<div class='run'><h3>{i + 1}. {_e(run.spec.label())}</h3>"]
    cls = "ok" if r.ok else "bad"
    parts.append(f"<p class='{cls}'>{_e(r.status)}{': ' + _e(r.reason) if r.reason else ''}"
                 f" <span class='muted'>· recorded {_e(run.recorded_at)} · "
                 f"{_e(run.spec.info.description)}</span></p>")
    rep = r.report
    if rep is not None and rep.steps.seconds:
        facts = [
            ("timed steps", f"{len(rep.steps)} ({rep.stop_reason or 'stopped early'})"),
            ("throughput", _rate(run, r.throughput_per_second)),
            ("std. error", _rate(run, r.step_throughput.stderr if r.step_throughput else None)),
            ("FLOP/s", f"{fmt_flops(r.achieved_flops)} of {fmt_flops(r.peak_flops)} "
                       f"({r.peak_source or 'no peak known'})"),
            ("TensorFlow", f"{rep.tensorflow_version} on {rep.tf_device}"),
        ]
        if r.latency_s:
            facts.append(("latency", "  ".join(f"{k} {fmt_seconds(v)}"
                                               for k, v in r.latency_s.items())))
        if rep.tflite is not None:  # the deployed model: runtime, size, accuracy
            facts += tflite_rows(rep.tflite)
        parts.append(_table(("fact", "value"), facts))
        per_step = rep.samples_per_step * ((rep.bytes_per_sample or 1.0) if r.unit == "bytes"
                                           else 1.0)
        ends, rates = window_series(rep.steps.seconds, per_step, WINDOW_SECONDS)
        if rates.size > 1:
            parts += _charts(lambda: charts.line_chart(
                {"throughput": (ends.tolist(), rates.tolist())},
                title="throughput over the timed phase (0.5 s windows)",
                xlabel="seconds of timed steps", ylabel="per second"))
        parts += _charts(lambda: charts.histogram([s * 1e3 for s in rep.steps.seconds],
                                                  title="step times", xlabel="milliseconds"))
        if rep.trace is not None:
            from hwprof.services.report_trace import trace_section

            parts.append(trace_section(rep.trace))
    elif r.stderr_tail:
        parts.append("<pre>" + "\n".join(_e(line) for line in r.stderr_tail[-15:]) + "</pre>")
    parts += _telemetry_charts(run)
    parts.append("</div>")
    return "".join(parts)


def html_report(snapshot: Snapshot, *, source: str = "",
                on_progress: Callable[[int, int], None] | None = None) -> str:
    """The whole page; ``on_progress(done, total)`` after each run's section (charts take time)."""
    # a snapshot's numbers may be anything a float holds: arithmetic that overflows gives inf,
    # which the page shows as such, without numpy's warnings on the user's terminal
    with np.errstate(all="ignore"):
        return _html_report(snapshot, source=source, on_progress=on_progress)


def _html_report(snapshot: Snapshot, *, source: str,
                 on_progress: Callable[[int, int], None] | None) -> str:
    title = snapshot.title or f"hwprof snapshot of {snapshot.hostname}"
    env = environment(snapshot)
    m = snapshot.machine
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{_e(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{_e(title)}</h1>",
        f"<p class='muted'>{_e(source)} · created {_e(snapshot.created_at)} · "
        f"{len(snapshot.runs)} runs · hwprof {_e(snapshot.app_version)}"
        + (f" · tags: {_e(', '.join(snapshot.tags))}" if snapshot.tags else "")
        + "</p>",
    ]
    if snapshot.note:
        parts.append(f"<p>{_e(snapshot.note)}</p>")
    if snapshot.kind == "profile":
        from hwprof.services.report_profile import profile_sections

        parts += profile_sections(snapshot)
    parts.append("<h2>Environment</h2>")
    parts.append(_table(("fact", "value"), list(env.items())))
    for cpu in m.cpus:
        if cpu.peak is not None:
            basis = f" FLOP/cycle from {cpu.peak.basis}." if cpu.peak.basis else ""
            parts.append(f"<p class='muted'>CPU peak estimate: {_e(cpu.peak.formula)}."
                         f"{_e(basis)} Clock: {_e(cpu.peak.clock_source or '?')}.</p>")
    if snapshot.cluster_nodes:
        parts.append("<h2>Every node of the cluster</h2>")
        chief = next((r.spec.cluster[0] for r in snapshot.runs if r.spec.cluster), "")
        node_rows = [["0 (chief)", chief, m.host.hostname, m.cpus[0].model_name if m.cpus else "",
                      str(len(m.gpus))]]
        node_rows += [[str(n.task_index), n.address, n.machine.host.hostname,
                       n.machine.cpus[0].model_name if n.machine.cpus else "",
                       str(len(n.machine.gpus))] for n in snapshot.cluster_nodes]
        parts.append(_table(("task", "address", "host", "CPU", "GPUs"),
                            [[x or "" for x in r] for r in node_rows]))
    parts.append("<h2>Runs</h2>")
    rows = [run_row(i, run) for i, run in enumerate(snapshot.runs)]
    parts.append(_table(RUN_HEADERS, rows, numeric=frozenset({0, 3, 5, 6, 7})))
    ok = [run for run in snapshot.runs if run.result.ok]
    if ok:
        labels = [f"{i + 1}. {run.spec.label()}" for i, run in enumerate(snapshot.runs)
                  if run.result.ok]
        def gflops(run: SnapshotRun, value: float | None) -> float | None:
            rep = run.result.report
            if value is None or rep is None or not rep.flops_per_sample:
                return None
            units = (rep.bytes_per_sample or 1.0) if run.result.unit == "bytes" else 1.0
            return value / units * rep.flops_per_sample / 1e9

        st = [run.result.step_throughput for run in ok]
        parts += _charts(lambda: charts.bar_chart(
            labels,
            [gflops(run, s.median if s else None) for run, s in zip(ok, st, strict=True)],
            lows=[gflops(run, s.q1 if s else None) for run, s in zip(ok, st, strict=True)],
            highs=[gflops(run, s.q3 if s else None) for run, s in zip(ok, st, strict=True)],
            title="compute throughput per step: median with IQR",
            ylabel="GFLOP/s",
        ))
        infer = [(i, run) for i, run in enumerate(snapshot.runs) if run.result.latency_s]
        if infer:
            first = list(infer[0][1].result.latency_s or {})
            # by name: a run from another tool or version may have other percentiles, or fewer
            lines = {f"{i + 1}. {run.spec.workload}": [
                v * 1e3 if (v := (run.result.latency_s or {}).get(k)) is not None else None
                for k in first] for i, run in infer}
            parts += _charts(lambda: charts.category_lines(
                first, lines, title="inference latency percentiles (per step = per batch)",
                ylabel="ms"))
    parts += _study_sections(snapshot)
    parts.append("<h2>Each run</h2>")
    total = len(snapshot.runs) + 1
    if on_progress is not None:
        on_progress(1, total)
    for i, run in enumerate(snapshot.runs):
        parts.append(_run_section(i, run))
        if on_progress is not None:
            on_progress(i + 2, total)
    parts.append("<p class='muted'>Made by hwprof. This page loads nothing from the network.</p>")
    parts.append("</body></html>")
    return "".join(parts)


CSV_NAMES = ("runs.csv", "steps.csv", "telemetry.csv")
# UTF-8 on every platform; a lone surrogate (a JSON "\udcff" escape) is written as that escape
CSV_ERRORS = "backslashreplace"


@contextlib.contextmanager
def _atomic_csv(path: Path) -> Iterator[io.StringIO]:
    """A text buffer for one CSV file, stored at ``path`` atomically when the block ends."""
    from hwprof.core.snapshot_io import atomic_write_bytes

    buf = io.StringIO(newline="")
    yield buf
    atomic_write_bytes(path, buf.getvalue().encode("utf-8", errors=CSV_ERRORS))



def deployment_cells(run: SnapshotRun) -> list[object]:
    """runs.csv's runtime columns: the runtime and delegate, and a TFLite run's model facts."""
    rep = run.result.report
    info = rep.tflite if rep is not None else None
    delegate = run.spec.delegate if run.spec.runtime == "tflite" else None
    if info is None:
        return [run.spec.runtime, delegate, *[None] * 8]
    acc = info.accuracy
    return [run.spec.runtime, delegate, info.runtime_name, info.runtime_version,
            info.model_bytes, info.conversion_seconds, info.cached,
            acc.top1_agreement if acc else None, acc.max_relative_error if acc else None,
            acc.mean_relative_error if acc else None]


def write_csv(snapshot: Snapshot, folder: Path) -> list[Path]:
    """runs.csv, steps.csv and telemetry.csv in ``folder`` (made if needed).

    Each file is written whole or not at all (a temporary file renamed into place): a full disk
    leaves the previous file as it was, never an empty or half one. UTF-8 on every platform.
    """
    folder.mkdir(parents=True, exist_ok=True)
    runs_path, steps_path, tel_path = (folder / n for n in CSV_NAMES)
    with _atomic_csv(runs_path) as fh:
        w = csv.writer(fh)
        w.writerow(["run", "run_id", "recorded_at", "workload", "mode", "device", "batch_size",
                    "size", "precision", "xla", "intra_op_threads", "inter_op_threads",
                    "scenario", "status", "reason", "unit", "throughput_per_second",
                    "median_per_second", "q1_per_second", "q3_per_second", "stderr_per_second",
                    "jitter_per_second", "achieved_flops", "peak_flops", "percent_of_peak",
                    "latency_p50_s", "latency_p99_s", "peak_memory_bytes",
                    "energy_per_sample_joules", "time_to_first_step_s", "timed_steps",
                    "ceiling_flops", "percent_basis", "runtime", "delegate", "tflite_runtime",
                    "tflite_runtime_version", "model_bytes", "conversion_seconds",
                    "conversion_cached", "top1_agreement", "max_relative_error",
                    "mean_relative_error"])
        for i, run in enumerate(snapshot.runs):
            s, r, rep = run.spec, run.result, run.result.report
            st, lat = r.step_throughput, r.latency_s or {}
            share = r.peak_share()
            w.writerow([i + 1, run.run_id, run.recorded_at, s.workload, s.mode, s.device,
                        s.effective_batch_size, s.effective_size, s.precision, s.xla,
                        s.intra_op_threads, s.inter_op_threads, s.scenario, r.status, r.reason,
                        r.unit, r.throughput_per_second, st.median if st else None,
                        st.q1 if st else None, st.q3 if st else None,
                        st.stderr if st else None, st.jitter if st else None, r.achieved_flops,
                        r.peak_flops, share.percent, lat.get("p50"), lat.get("p99"),
                        rep.peak_memory_bytes if rep else None, r.energy_per_sample_joules,
                        rep.time_to_first_step_s if rep else None,
                        len(rep.steps) if rep else 0, r.ceiling_flops, share.basis,
                        *deployment_cells(run)])
    with _atomic_csv(steps_path) as fh:
        w = csv.writer(fh)
        w.writerow(["run", "step", "start_monotonic_s", "seconds"])
        for i, run in enumerate(snapshot.runs):
            if run.result.report is None:
                continue
            steps = run.result.report.steps
            for k, (t, dt) in enumerate(zip(steps.start_s, steps.seconds, strict=True)):
                w.writerow([i + 1, k, repr(t), repr(dt)])
    with _atomic_csv(tel_path) as fh:
        w = csv.writer(fh)
        names: list[str] = []
        for run in snapshot.runs:
            if run.telemetry is not None:
                names += [n for n in run.telemetry.names if n not in names]
        w.writerow(["run", "time_monotonic_s", *names])
        for i, run in enumerate(snapshot.runs):
            tel = run.telemetry
            if tel is None:
                continue
            for k, t in enumerate(tel.timestamps_s):
                w.writerow([i + 1, repr(t),
                            *("" if n not in tel.values or tel.values[n][k] is None
                              else repr(tel.values[n][k]) for n in names)])
    return [runs_path, steps_path, tel_path]


def write_html(snapshot: Snapshot, path: Path, *, source: str = "",
               on_progress: Callable[[int, int], None] | None = None) -> Path:
    """Write the report page (atomically: a temporary file renamed into place)."""
    from hwprof.core.snapshot_io import atomic_write_bytes

    page = html_report(snapshot, source=source, on_progress=on_progress)
    atomic_write_bytes(path, page.encode("utf-8"))
    return Path(os.fspath(path))

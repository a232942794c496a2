"""Running studies (comparisons, sweeps) and measuring the roofline's ceilings.

The plan and the statistics are pure (:mod:`hwprof.core.study`, :mod:`hwprof.core.roofline`); this
module runs them: one worker process at a time through :func:`hwprof.services.runs.execute_run`.
The window drives the same :class:`~hwprof.core.study.Study` through its run queue instead.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hwprof.core.paths import data_dir
from hwprof.core.profile import ProfileRecord
from hwprof.core.roofline import Ceilings, RooflinePoint
from hwprof.core.snapshot import SnapshotRun
from hwprof.core.spec import RunSpec
from hwprof.core.study import PlannedRun, Study, tag_value
from hwprof.core.targets import SHORT_PRECISION
from hwprof.core.units import NA, fmt_bytes
from hwprof.services.runs import EventCallback, execute_run

CEILINGS_FILE = "roofline-ceilings.json"
CEILING_SECONDS = 6.0


def run_study(
    study: Study,
    *,
    on_start: Callable[[PlannedRun, int], None] | None = None,
    on_done: Callable[[PlannedRun, SnapshotRun], None] | None = None,
    on_event: EventCallback | None = None,
    cancel: threading.Event | None = None,
    env: dict[str, str] | None = None,
) -> Study:
    """Do the study's runs one after another; ``cancel`` ends the run in progress and the study."""
    cancel = cancel or threading.Event()
    k = 0
    while not cancel.is_set():
        planned = study.next_run()
        if planned is None:
            break
        k += 1
        if on_start is not None:
            on_start(planned, k)
        record = execute_run(planned.spec, on_event=on_event, cancel=cancel, env=env)
        tagged = study.record(planned, record)
        if on_done is not None:
            on_done(planned, tagged)
    return study


# -- roofline ceilings -----------------------------------------------------------------------------
def ceilings_path() -> Path:
    """The cache of measured ceilings, one entry per device, in the data folder."""
    return data_dir() / CEILINGS_FILE


def device_key(device: str, device_label: str, tensorflow_version: str | None) -> str:
    """What a cached ceiling is valid for: the device model and the TensorFlow that ran it."""
    return f"{device}|{device_label}|tf {tensorflow_version or '?'}"


def load_all_ceilings() -> dict[str, Ceilings]:
    """Every cached ceiling (an unreadable cache is treated as empty: it is only a cache)."""
    from hwprof.core.snapshot_io import SnapshotError, read_json

    try:  # read_json: plain files only, size capped (a pipe there must not hang the command)
        raw = read_json(ceilings_path())
        return {k: Ceilings(**v) for k, v in raw.items()}
    except (SnapshotError, ValueError, TypeError, AttributeError):
        return {}


def cached_ceilings(device: str) -> Ceilings | None:
    """The newest cached ceilings of ``device`` ("cpu", "gpu:0") on this machine, if measured."""
    found = [c for k, c in load_all_ceilings().items() if k.split("|", 1)[0] == device]
    return max(found, key=lambda c: c.measured_at) if found else None


def ceiling_of(c: Ceilings | None, precision: str) -> tuple[float | None, str | None]:
    """The compute ceiling measured in exactly ``precision``, and where it came from, if any."""
    flops = c.measured_flops(precision) if c is not None else None
    if c is None or flops is None:
        return None, None
    return flops, (f"{SHORT_PRECISION.get(precision, precision)} matmul on {c.device_label}, "
                   f"measured {c.measured_at}")


def _store(c: Ceilings) -> None:
    _update(c.device_key, lambda _old: c)


def _update(key: str, change: Callable[[Ceilings | None], Ceilings | None]) -> Ceilings | None:
    """Replace the cache entry ``key`` by ``change(old entry)`` (None: leave it), under the lock."""
    from hwprof.core.snapshot_io import atomic_write_bytes, write_lock

    with write_lock(ceilings_path()) as path:  # two roofline commands at once both land
        all_ = load_all_ceilings()
        new = change(all_.get(key))
        if new is None:
            return None
        all_[key] = new
        data = {k: vars(v) for k, v in all_.items()}
        atomic_write_bytes(path, json.dumps(data, indent=2).encode())
        return new


def ceiling_specs(device: str, seconds: float | None = None) -> list[RunSpec]:
    """The runs that measure a device's ceilings: big-N matmul (fp32, bf16), big-vector copy."""
    big = 4096 if device.startswith(("gpu", "tpu")) else 1024
    seconds = seconds or CEILING_SECONDS
    return [
        RunSpec(workload="matmul", mode="infer", device=device, size=big, precision=p,
                duration_seconds=seconds, steady_cv=None)
        for p in ("fp32", "mixed_bfloat16")
    ] + [RunSpec(workload="bandwidth", mode="infer", device=device, duration_seconds=seconds,
                 steady_cv=None)]


def ceilings_from_runs(device: str, device_label: str, runs: list[SnapshotRun]) -> Ceilings:
    """Ceilings from the measuring runs (fp32 matmul and bandwidth must have worked)."""
    by_kind = {(r.spec.workload, r.spec.precision): r for r in runs}
    compute = by_kind.get(("matmul", "fp32"))
    memory = by_kind.get(("bandwidth", "fp32"))
    for run in (compute, memory):
        if run is None or not run.result.ok:
            raise ValueError(f"{run.spec.workload if run else 'a measuring run'} failed: "
                             f"{run.result.reason if run else 'missing'}")
    assert compute is not None and memory is not None
    flops = compute.result.achieved_flops
    bandwidth = memory.result.throughput_per_second  # bandwidth's unit is bytes
    if not flops or not bandwidth:
        raise ValueError("the measuring runs gave no FLOP/s or no bandwidth")
    reduced: dict[str, float] = {str(p): r.result.achieved_flops for (w, p), r in by_kind.items()
               if w == "matmul" and p != "fp32" and r.result.ok and r.result.achieved_flops}
    tf_version = compute.result.report.tensorflow_version if compute.result.report else None
    c = Ceilings(
        device_key=device_key(device, device_label, tf_version),
        device_label=device_label,
        peak_flops=flops,
        bandwidth_bytes_per_second=bandwidth,
        measured_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        reduced_precision_flops=reduced,
    )
    _store(c)
    return c


def measure_ceilings(
    device: str,
    device_label: str,
    *,
    on_event: EventCallback | None = None,
    cancel: threading.Event | None = None,
    seconds: float | None = None,
) -> Ceilings:
    """Measure and cache ``device``'s ceilings (three runs of 6 s plus their start-up)."""
    runs = [execute_run(s, on_event=on_event, cancel=cancel)
            for s in ceiling_specs(device, seconds)]
    return ceilings_from_runs(device, device_label, runs)


def study_json(study: Study, analysis: dict[str, Any]) -> dict[str, Any]:
    """What `--json` prints: the study, its findings, and each run's headline numbers."""
    return {
        "study": study.id,
        "kind": study.kind,
        "base": study.base.model_dump(mode="json"),
        "targets": [t.label for t in study.targets],
        "trials": study.trials,
        "notes": study.notes,
        "analysis": analysis,
        "runs": [
            {"target": tag_value(r, "target"),
             "x": tag_value(r, "x"),
             "spec": r.spec.label(), "status": r.result.status,
             "throughput_per_second": r.result.throughput_per_second,
             "reason": r.result.reason}
            for r in study.runs
        ],
    }


def study_figures(title: str, sample_label: str, mode: str, a: dict[str, Any],
                  groups: dict[str, list[SnapshotRun]]) -> list[Any]:
    """A study's charts (matplotlib figures), for the CLI's PNGs and the HTML report.

    Comparisons: bars with CIs and, for inference, latency percentiles. Sweeps: lines with the
    crossovers marked and, for thread and replica sweeps, each point's scaling efficiency.
    """
    import numpy as np

    from hwprof.services import charts

    if a["kind"] in ("compare", "precision_xla"):
        rows = a["rows"]
        figs = [charts.bar_chart(
            [r["target"] for r in rows], [r["throughput_per_second"] for r in rows],
            lows=[r["ci95"][0] if r["ci95"] else None for r in rows],
            highs=[r["ci95"][1] if r["ci95"] else None for r in rows],
            title=f"{title}: mean of trials, 95% CI", ylabel=f"{sample_label}/s")]
        if mode == "infer":
            percentiles = (50.0, 90.0, 99.0, 99.9)
            lat: dict[str, list[float | None]] = {}
            for label, runs in groups.items():
                steps = [s for r in runs if r.result.ok and r.result.report is not None
                         for s in r.result.report.steps.seconds]
                if steps:
                    lat[label] = [float(np.percentile(steps, q)) * 1e3 for q in percentiles]
            if lat:
                figs.append(charts.category_lines([f"p{q:g}" for q in percentiles], lat,
                                                  title=f"{title}: step latency", ylabel="ms"))
        return figs
    series = {k: (a["x"], [m["mean"] if m else None for m in v]) for k, v in a["series"].items()}
    marks = [(x, f"{c['a']} / {c['b']}") for c in a["crossovers"] for x in c["at"]]
    notes: list[tuple[float, float, str]] = []
    for k, s in a.get("scaling", {}).items():
        for x, m, eff in zip(a["x"], a["series"][k], s["efficiency"], strict=True):
            if m and eff is not None:
                notes.append((x, m["mean"], f"{eff * 100:.0f}%"))
    return [charts.line_chart(
        series, title=f"{title} along {a['axis']}" + (" (labels: scaling efficiency)"
                                                       if notes else ""),
        xlabel=a["axis"], ylabel=f"{sample_label}/s", log_x=a["kind"] in ("batch", "size"),
        markers=True, vlines=marks, annotations=notes)]


# What one measuring run costs besides its timed seconds: starting the worker and importing
# TensorFlow (5-10 s on a laptop), building and compiling the step, and the warm-up.
CEILING_OVERHEAD_S = 10.0
BUSY_SHARE_PERCENT = 15.0  # other programs' share of the CPUs above which a ceiling is suspect


def ceiling_time_estimate(device: str, seconds: float | None = None) -> str:
    """How long measuring the ceilings takes, honestly: "about 50 s (3 runs of 6 s ...)"."""
    n = len(ceiling_specs(device, seconds))
    each = seconds or CEILING_SECONDS
    total = n * (each + CEILING_OVERHEAD_S)
    return (f"about {total:.0f} s: {n} runs of {each:g} s, each after ~{CEILING_OVERHEAD_S:g} s "
            "of TensorFlow start-up")


def ceiling_summary(c: Ceilings, device: str) -> str:
    """The ceilings in one line, as both front ends print them."""
    from hwprof.core.units import fmt_si

    reduced = "".join(f", {SHORT_PRECISION.get(p, p)} {fmt_si(v, 'FLOP/s')}"
                      for p, v in c.reduced_precision_flops.items())
    try:  # stored as ISO 8601 in UTC; said in the machine's own time
        when = dt.datetime.fromisoformat(c.measured_at).astimezone().strftime("%Y-%m-%d %H:%M")
    except ValueError:
        when = c.measured_at
    return (f"{c.device_label} ({device}): compute fp32 {fmt_si(c.peak_flops, 'FLOP/s')}{reduced} "
            f"(matmul); memory {fmt_si(c.bandwidth_bytes_per_second, 'B/s')} (bandwidth); "
            f"ridge at {c.ridge_intensity:.1f} FLOP/byte. Measured {when}.")


def _mean(values: tuple[float | None, ...] | None) -> float | None:
    got = [v for v in values or () if v is not None]
    return sum(got) / len(got) if got else None


def others_cpu_percent(run: SnapshotRun) -> float | None:
    """How much of the machine's CPU other programs used during ``run`` (0-100), if recorded.

    The machine's utilization minus the run's own process tree (which counts one core as 100%).
    """
    tel = run.telemetry
    if tel is None:
        return None
    machine = _mean(tel.values.get("cpu.util_percent"))
    mine = _mean(tel.values.get("proc.cpu_percent"))
    if machine is None or mine is None:
        return None
    cores = sum(1 for n in tel.values if n.startswith("cpu.core") and n.endswith(".util_percent"))
    cores = cores or (os.cpu_count() or 1)
    return max(0.0, machine - mine / cores)


def measuring_warnings(runs: list[SnapshotRun]) -> list[str]:
    """Why measured ceilings may be too low: other programs busy on the CPU while they ran."""
    out = []
    for run in runs:
        if run.spec.device != "cpu":
            continue
        busy = others_cpu_percent(run)
        if busy is not None and busy > BUSY_SHARE_PERCENT:
            out.append(f"other programs used about {busy:.0f}% of the CPU while "
                       f"{run.spec.workload} {run.spec.precision} measured: the ceilings may be "
                       "low; measure again when the machine is idle")
    return out


def roof_text(p: RooflinePoint) -> str:
    """A placed run's share of its roof, as both front ends show it; never a figure above 100%."""
    from hwprof.core.units import NA

    pct = p.percent_of_roof
    if pct is None:
        return NA
    if pct > 100:
        return "above the roof ⚠"
    return f"{pct:.0f}%"


def roof_warnings(points: list[RooflinePoint]) -> list[str]:
    """Runs above their roof: the ceiling is an underestimate (measured on a busy machine?)."""
    over = [p for p in points if p.percent_of_roof is not None and p.percent_of_roof > 100.0]
    if not over:
        return []
    worst = max(over, key=lambda p: p.percent_of_roof or 0.0)
    above = (worst.percent_of_roof or 100.0) - 100.0
    return [f"{len(over)} run{'s' if len(over) != 1 else ''} went above the measured roof "
            f"({worst.label} by {above:.0f}%): the ceilings are too low "
            "(measured while the machine was busy?). Measure them again on an idle machine."]


# -- the ceilings a profile measured ---------------------------------------------------------------
@dataclass(frozen=True)
class ProfileCeilings:
    """A profile with % of peak against the ceilings it measured, and what the cache now holds."""

    record: ProfileRecord
    runs: tuple[SnapshotRun, ...]
    measured: dict[str, float]  # precision -> FLOP/s, "bandwidth" -> B/s, as the profile measured
    stored: Ceilings | None  # the cache entry written (None: nothing stored)
    notes: tuple[str, ...] = ()


def profile_ceilings(record: ProfileRecord) -> dict[str, float]:
    """The ceilings a profile's tests measured: matmul per precision in FLOP/s, bandwidth in B/s.

    From the tests' values (:func:`hwprof.core.profile.measure`: GFLOP/s, GB/s); a failed test,
    or one whose numbers failed the numerics check, measured nothing.
    """
    from hwprof.core.profile import UNIT_SCALE
    from hwprof.core.suite import suite_test

    out: dict[str, float] = {}
    for t in record.tests:
        if not t.valid or t.value is None or t.unit not in UNIT_SCALE:
            continue
        try:
            workload = suite_test(t.test_id).workload
        except KeyError:  # a test of another suite version
            continue
        if workload == "matmul" and t.unit == "GFLOP/s":
            out[t.precision or "fp32"] = t.value * UNIT_SCALE[t.unit]
        elif workload == "bandwidth" and t.unit == "GB/s":
            out["bandwidth"] = t.value * UNIT_SCALE[t.unit]
    return out


def _merged(old: Ceilings | None, measured: dict[str, float], key: str, label: str,
            ) -> Ceilings | None:
    """The cache entry with the profile's ceilings in it; None when fp32 or bandwidth is unknown."""
    flops = measured.get("fp32", old.peak_flops if old else None)
    bandwidth = measured.get("bandwidth", old.bandwidth_bytes_per_second if old else None)
    if not flops or not bandwidth:
        return None
    reduced = dict(old.reduced_precision_flops) if old else {}
    reduced.update({p: v for p, v in measured.items() if p not in ("fp32", "bandwidth")})
    return Ceilings(device_key=key, device_label=label, peak_flops=flops,
                    bandwidth_bytes_per_second=bandwidth,
                    measured_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                    reduced_precision_flops=reduced)


def adopt_profile_ceilings(
    record: ProfileRecord, runs: Sequence[SnapshotRun]
) -> ProfileCeilings:
    """Store the ceilings a profile measured in the ceilings cache; hold its tests against them.

    The roofline tab and every later run then use them. Ceilings the profile did not measure are
    kept from the cache's entry for the same device and TensorFlow (a profile with only
    ``matmul.fp32`` updates that one); without an fp32 compute and a bandwidth ceiling at all,
    nothing is stored. Each run's % of peak becomes that of the measured ceiling of its precision
    (with the estimate beside it); a test that measured a ceiling is given as % of the estimate,
    since against itself it would be 100%.
    """
    measured = profile_ceilings(record)
    notes: list[str] = []
    stored: Ceilings | None = None
    tf_version = next((r.result.report.tensorflow_version for r in runs
                       if r.result.report is not None and r.result.report.tensorflow_version),
                      None)
    label = record.device_label or record.device
    key = device_key(record.device, label, tf_version)
    if measured:
        try:
            stored = _update(key, lambda old: _merged(old, measured, key, label))
        except OSError as err:  # the cache is only a cache: the profile stands without it
            notes.append(f"{ceilings_path()}: the measured ceilings could not be stored ({err})")
        if stored is None and not notes:
            notes.append("the profile measured no fp32 matmul or no bandwidth, and this device has "
                         "no earlier ceilings to complete them: none stored")
    cached = stored or cached_ceilings(record.device)
    by_run = {t.run_id: t for t in record.tests if t.run_id}
    new_runs: list[SnapshotRun] = []
    new_tests = {t.test_id: t for t in record.tests}
    for run in runs:
        result = run.result
        precision = run.spec.precision
        flops, source = ceiling_of(cached, precision)
        if precision in measured:
            flops = measured[precision]
            source = f"{SHORT_PRECISION.get(precision, precision)} matmul of this profile"
        if (not result.ok or result.achieved_flops is None or flops is None
                or result.unit == "bytes"):
            new_runs.append(run)
            continue
        result = result.model_copy(update={"ceiling_flops": flops, "ceiling_source": source})
        share = result.peak_share()
        result = result.model_copy(update={"percent_of_peak": share.percent})
        new_runs.append(run.model_copy(update={"result": result}))
        outcome = by_run.get(run.run_id)
        if outcome is None or outcome.status != "ok":
            continue
        measured_here = (run.spec.workload == "matmul" and precision in measured)
        if measured_here:  # its own ceiling: how far the measured ceiling is from the estimate
            pct = share.percent_of_estimate
            why = f"of the estimate ({result.peak_source})" if pct is not None else None
        else:
            pct = share.percent
            why = f"of measured {source}" if pct is not None else share.text
        new_tests[outcome.test_id] = outcome.model_copy(
            update={"percent_of_ceiling": pct, "ceiling_source": why})
    new_record = record.model_copy(
        update={"tests": tuple(new_tests[t.test_id] for t in record.tests)})
    return ProfileCeilings(new_record, tuple(new_runs), measured, stored, tuple(notes))


DEPLOYED_COLUMNS = ("model", "top-1 agreement", "max rel. error")


def deployed_cells(row: dict[str, Any]) -> tuple[str, str, str]:
    """A row's TFLite model size and accuracy (against fp32 TensorFlow); a TF row has none."""
    if not row.get("tflite"):
        return "—", "—", "—"
    agree, err = row.get("top1_agreement"), row.get("max_relative_error")
    return (fmt_bytes(row.get("model_bytes")),
            f"{agree:.1%}" if agree is not None else NA,
            f"{err * 100:.3g}%" if err is not None else NA)

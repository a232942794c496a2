"""`hwprof compare --workload W --target ...`, `hwprof sweep` and `hwprof roofline`.

A comparison runs one workload on several targets (``cpu threads=1``, ``gpu:0 bf16 xla``), each
repeated (3 trials by default, interleaved), and says which wins and by how much, with a 95%
confidence interval, or that the data shows no significant difference. A sweep runs along one axis
(batch size, thread count, precision x XLA, model size) and finds where the lines cross. The
roofline places runs against the device's measured compute and bandwidth ceilings.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from rich.table import Table

from hwprof.cli.args import duration_seconds, flag_of, positive_number
from hwprof.cli.console import make_console, plain, run_interruptibly, safe
from hwprof.core.catalog import get_workload
from hwprof.core.devices import DeviceIdError, parse_device_id
from hwprof.core.outputs import OutputPathError, check_output
from hwprof.core.roofline import Ceilings, place
from hwprof.core.snapshot import (
    SUFFIXES,
    SUFFIXES_TEXT,
    Snapshot,
    SnapshotRun,
    load_snapshot,
    new_snapshot,
    save_snapshot,
)
from hwprof.core.snapshot_io import SnapshotError
from hwprof.core.spec import DATA_SOURCES, RunSpec, validation_problems
from hwprof.core.study import (
    AXIS_LABEL,
    SCALING_KINDS,
    PlannedRun,
    Study,
    StudyKind,
    analyze,
    parse_values,
    study_targets,
)
from hwprof.core.targets import SHORT_PRECISION, TargetError, parse_target
from hwprof.core.units import NA, fmt_count, fmt_eng, fmt_flops, fmt_rate

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_CANCELLED = 0, 1, 2, 130
OVER = {"batch": "batch", "threads": "threads", "precision-xla": "precision_xla", "size": "size",
        "replicas": "replicas"}
STUDY_SECONDS = 5.0
MAX_TRIALS = 1000  # the plan is made up front: a billion trials would fill the memory first


# -- arguments -------------------------------------------------------------------------------------
def add_base_arguments(p: argparse.ArgumentParser, *, workload_flag: bool) -> None:
    """The study's base run: workload and the settings every target shares."""
    if workload_flag:
        p.add_argument("--workload", help="run this workload on every --target (see hwprof run "
                       "--list)")
    else:
        p.add_argument("workload", help="the workload (see hwprof run --list)")
    p.add_argument("--target", action="append", default=[], metavar="TARGET",
                   help='a device and its settings, e.g. "cpu threads=1", "gpu:0 bf16 xla=on" '
                   "(repeat the flag; settings: threads, inter, precision, xla, batch, size, "
                   "runtime=tflite, and for the image workloads' input data=pipeline|synthetic, "
                   "pipeline_threads=N|auto, source=PX)")
    p.add_argument("--mode", choices=("train", "infer"), default=None, help="default train")
    p.add_argument("--batch-size", type=int, default=None, help="default: the workload's")
    p.add_argument("--size", type=int, default=None, help="default: the workload's")
    p.add_argument("--data", choices=DATA_SOURCES, default="synthetic",
                   help="the image workloads' input (default synthetic): pipeline decodes and "
                   "augments JPEG images on the CPU every step, as hwprof run --data pipeline; "
                   "a target's pipeline/synthetic overrides it")
    p.add_argument("--pipeline-threads", type=int, default=None, metavar="N",
                   help="with --data pipeline: the pipeline's threads and batches prefetched "
                   "(default tf.data.AUTOTUNE; a target's pipeline_threads= overrides it)")
    p.add_argument("--pipeline-source-size", type=int, default=None, metavar="PX",
                   help="with --data pipeline: side of the JPEG images it decodes (default "
                   "twice --size; a target's source= overrides it)")
    p.add_argument("--duration", type=duration_seconds, default=STUDY_SECONDS, metavar="S",
                   help=f"timed seconds per run (default {STUDY_SECONDS:g})")
    p.add_argument("--warmup", type=int, default=None, help="untimed warm-up steps (default 3)")
    p.add_argument("--trials", type=int, default=None,
                   help="repeats of every run (default 3 for comparisons, 1 for sweeps)")
    p.add_argument("--baseline", default=None, metavar="TARGET",
                   help="the target the others are measured against (default the first)")
    p.add_argument("--json", action="store_true", help="print the findings as JSON")
    p.add_argument("--png", type=Path, metavar="FILE", help="also draw the chart to FILE")
    p.add_argument("--save", type=Path, metavar="FILE", nargs="?", const=Path("-auto-"),
                   help="save every run into a new snapshot (default: the data folder)")
    p.add_argument("--force", action="store_true",
                   help="let --png and --save overwrite existing files")


def register(sub: Any) -> None:
    """Add `sweep` and `roofline` (compare's study mode is added by hwprof.cli.compare)."""
    p = sub.add_parser(
        "sweep",
        help="run a workload along one axis and find where targets cross",
        description="Run one workload along an axis (batch size: powers of two until out of "
        "memory or --max-memory-gb; intra-op threads 1..N with scaling efficiency; the "
        "precision x XLA grid; model size for mlp and matmul; data-parallel replicas 1..N "
        "with tf.distribute.MirroredStrategy, with scaling efficiency), for each --target, "
        "and find "
        "where one target overtakes another.",
    )
    add_base_arguments(p, workload_flag=False)
    p.add_argument("--over", choices=tuple(OVER), required=True, help="the axis to sweep")
    p.add_argument("--values", default=None, metavar="X,Y,...",
                   help="the axis values (default: batch 1..4096, threads 1..cores, size per "
                   "workload)")
    p.add_argument("--max-memory-gb", type=positive_number("a number of GB above 0", "8"),
                   default=None, metavar="GB",
                   help="end a target's sweep once a run's peak memory goes over this")
    p.set_defaults(handler=run_sweep)

    r = sub.add_parser(
        "roofline",
        help="measure a device's ceilings and place runs on its roofline",
        description="Show the device's compute ceiling (matmul) and memory-bandwidth ceiling "
        "(bandwidth), measured once and cached in the data folder, and place the runs of the "
        "given snapshots on it by arithmetic intensity and achieved FLOP/s.",
    )
    r.add_argument("snapshots", nargs="*", type=Path, metavar="SNAPSHOT",
                   help="snapshots whose runs to place")
    r.add_argument("--device", default="cpu", help='"cpu", "gpu:N" or "tpu:N" (default cpu)')
    r.add_argument("--measure", action="store_true",
                   help="measure the ceilings again (else the cached ones are used)")
    r.add_argument("--duration", "--seconds", dest="seconds", type=duration_seconds,
                   default=None, metavar="S",
                   help="timed seconds of each measuring run (default 6; --seconds is the old "
                   "name)")
    r.add_argument("--json", action="store_true", help="print as JSON")
    r.add_argument("--png", type=Path, metavar="FILE", help="also draw the roofline to FILE")
    r.add_argument("--force", action="store_true", help="let --png overwrite an existing file")
    r.set_defaults(handler=run_roofline)


def _usage(cmd: str, message: str) -> int:
    print(f"hwprof {cmd}: {safe(message)}", file=sys.stderr)
    return EXIT_USAGE


def base_spec(args: argparse.Namespace) -> RunSpec:
    """The spec every target starts from (KeyError: unknown workload; ValidationError)."""
    info = get_workload(args.workload)
    fields: dict[str, Any] = {
        "workload": args.workload,
        "mode": args.mode or ("train" if "train" in info.modes else info.modes[0]),
        "batch_size": args.batch_size,
        "size": args.size,
        "duration_seconds": args.duration,
        "steady_cv": None,  # every run of a study measures the same length of time
    }
    if args.warmup is not None:
        fields["warmup_steps"] = args.warmup
    # the input, as hwprof run takes it (given only when set: the spec's defaults stay its own)
    for name in ("data", "pipeline_threads", "pipeline_source_size"):
        value = getattr(args, name, None)
        if value is not None and value != "synthetic":
            fields[name] = value
    return RunSpec(**fields)


def build_study(cmd: str, args: argparse.Namespace, kind: StudyKind) -> Study:
    """The study the flags describe; TargetError (a ValueError) with a message when they are bad."""
    try:
        base = base_spec(args)
    except KeyError as err:
        raise TargetError(str(err.args[0])) from None
    except ValidationError as err:
        raise TargetError("; ".join(f"{flag_of(w)}: {m}" if w else m
                                    for w, m in validation_problems(err))) from None
    for axis, flag, value in (("batch", "--batch-size", args.batch_size),
                              ("size", "--size", args.size)):
        if kind == axis and value is not None:
            raise TargetError(f"{flag} is what a {AXIS_LABEL[kind]} sweep varies: give its "
                              "values with --values instead")
    targets = study_targets(kind, [parse_target(t) for t in args.target])
    xs = parse_values(getattr(args, "values", None))
    limit = getattr(args, "max_memory_gb", None)
    if limit is not None and limit <= 0:
        raise TargetError("--max-memory-gb must be more than 0")
    if args.trials is not None and not 1 <= args.trials <= MAX_TRIALS:
        raise TargetError(f"--trials must be from 1 to {MAX_TRIALS}")
    study = Study(kind, base, targets, xs=xs, trials=args.trials,
                  max_memory_bytes=limit * 2**30 if limit else None)
    labels = [t.label for t in study.targets]
    if args.baseline is not None and args.baseline not in labels:
        wanted = parse_target(args.baseline).label  # "cpu threads=1" however it was written
        if wanted not in labels:
            raise TargetError(f"--baseline {args.baseline!r} is not one of the targets: "
                              f"{', '.join(labels)}")
        args.baseline = wanted
    return study


# -- running ---------------------------------------------------------------------------------------
def run_with_progress(cmd: str, study: Study) -> tuple[Study, bool]:
    """Run the study, a line per run on stderr; Ctrl-C ends it with what was measured."""
    from hwprof.services.studies import run_study

    cancel = threading.Event()
    total = study.planned

    def on_start(p: PlannedRun, k: int) -> None:
        where = f" at {AXIS_LABEL[study.kind]} {p.x:g}" if isinstance(p.x, float | int) else ""
        print(f"hwprof {cmd}: [{k}/{total}] {safe(p.target)}{where}, trial {p.trial + 1}…",
              file=sys.stderr, flush=True)

    def on_done(p: PlannedRun, run: SnapshotRun) -> None:
        r = run.result
        text = _rate(r.throughput_per_second, r.unit, run.spec.info.sample_label) if r.ok \
            else f"{r.status}: {r.reason}"
        print(f"    {safe(text)}", file=sys.stderr, flush=True)

    def on_interrupt() -> None:
        cancel.set()
        print(f"hwprof {cmd}: cancelling (ending the run in progress)…", file=sys.stderr,
              flush=True)

    interrupted = run_interruptibly(
        lambda: run_study(study, on_start=on_start, on_done=on_done, cancel=cancel),
        "hwprof-study", on_interrupt)
    return study, interrupted


def _rate(value: float | None, unit: str, label: str) -> str:
    if value is None:
        return NA
    return fmt_rate(value, "B/s") if unit == "bytes" else fmt_count(value, f"{label}/s")


def save_runs(cmd: str, runs: list[SnapshotRun], path: Path, name: str, *,
              force: bool = False) -> int:
    """Save the study's runs into a new snapshot (0, or EXIT_FAILED with a message)."""
    from hwprof.cli.run import auto_snapshot_path
    from hwprof.services.detect import detect_all

    if str(path) == "-auto-":
        auto = auto_snapshot_path(runs[0].spec)
        path = auto.with_name(f"{name}-{auto.name}")
    snap = new_snapshot(detect_all())
    for r in runs:
        snap = snap.with_run(r)
    try:
        save_snapshot(snap, path, overwrite=force)
    except SnapshotError as err:
        print(f"hwprof {cmd}: {safe(err)}", file=sys.stderr)
        return EXIT_FAILED
    print(f"hwprof {cmd}: saved {len(runs)} runs to {safe(path)}", file=sys.stderr)
    return 0


def study_command(cmd: str, args: argparse.Namespace, kind: StudyKind,
                  extra: list[tuple[str, Snapshot]] | None = None) -> int:
    """Validate, run, print, draw, save: the whole of `compare --workload` and `sweep`."""
    try:
        study = build_study(cmd, args, kind)
    except TargetError as err:
        return _usage(cmd, str(err))
    from hwprof.services.runs import DeviceError, check_device

    for t in study.targets:
        try:
            check_device(t.apply(study.base))
        except DeviceError as err:
            # the error names the device; say it once, as the target it is part of
            problem = str(err).removeprefix(f"{t.device}: ")
            return _usage(cmd, f"{t.label}: {problem}")
    problem = output_problem(args, study)  # checked before minutes of runs, not after them
    if problem:
        return _usage(cmd, problem)
    study, cancelled = run_with_progress(cmd, study)
    groups = study.groups(extra or ())  # runs from other machines join as more targets
    analysis = analyze(kind, groups, args.baseline)
    if args.json:
        from hwprof.services.studies import study_json

        print(json.dumps(study_json(study, analysis), indent=2, default=str))
    else:
        print_analysis(study, analysis)
    for note in study.notes:
        print(f"hwprof {cmd}: {safe(note)}", file=sys.stderr)
    failed = False
    if args.png is not None and groups:
        try:
            draw(study, analysis, groups, args.png)
            print(f"hwprof {cmd}: drew {safe(args.png)}", file=sys.stderr)
        except (OSError, ValueError, SnapshotError) as err:
            print(f"hwprof {cmd}: cannot draw {safe(args.png)}: {safe(err)}", file=sys.stderr)
            failed = True
    if args.save is not None and study.runs:
        failed |= bool(save_runs(cmd, study.runs, args.save, kind, force=args.force))
    if cancelled:
        return EXIT_CANCELLED
    return EXIT_OK if any(r.result.ok for r in study.runs) and not failed else EXIT_FAILED


def output_problem(args: argparse.Namespace, study: Study) -> str:
    """Why the study's --png or --save cannot be written, or "" (see hwprof.core.outputs)."""
    inputs = list(getattr(args, "snapshots", None) or ())  # compare's snapshots are inputs
    try:
        if args.png is not None:
            for path in png_paths(args.png, chart_count(study)):
                check_output(path, inputs=inputs, force=args.force, flag="--png")
        if args.save is not None and str(args.save) != "-auto-":
            if not str(args.save).endswith(SUFFIXES):
                return f"{safe(args.save)}: a snapshot file name ends in {SUFFIXES_TEXT}"
            check_output(args.save, inputs=inputs, force=args.force, flag="--save")
            if args.png is not None and any(args.save.resolve() == p.resolve()
                                            for p in png_paths(args.png, chart_count(study))):
                return f"--png and --save name the same file ({args.save})"
    except OutputPathError as err:
        return str(err)
    return ""


# -- output ----------------------------------------------------------------------------------------
def title(study: Study) -> str:
    """The base run's label, without the setting a sweep varies."""
    words = study.base.label().split()
    if study.kind == "batch":
        words = [w for w in words if not (w.startswith("b") and w[1:].isdigit())]
    elif study.kind == "size":
        words = [w for w in words if not w.startswith("size=")]
    elif study.kind == "precision_xla":
        words = [w for w in words if w not in ("fp32", "mixed_bfloat16", "mixed_float16", "xla",
                                               "fp16", "int8", "int8_dynamic")]
    return " ".join(words)


def print_analysis(study: Study, a: dict[str, Any]) -> None:
    """The findings as tables and sentences."""
    from hwprof.services.studies import DEPLOYED_COLUMNS, deployed_cells

    console = make_console()
    label = study.base.info.sample_label
    if a["kind"] in ("compare", "precision_xla"):
        t = Table(title=plain(f"{title(study)}: {study.trials} trial(s) per target, "
                              f"speedup against {a['baseline']} (95% CI)"), title_justify="left")
        deployed = any(row.get("tflite") for row in a["rows"])  # TFLite's columns, only then
        for col in ("target", "throughput (mean)", "95% CI", "speedup", "p50 / p99",
                    "% peak", "J/sample", "trials", *(DEPLOYED_COLUMNS if deployed else ())):
            t.add_column(col, overflow="fold")
        for row in a["rows"]:
            ci = row["ci95"]
            sp = row["speedup"]
            spci = row["speedup_ci95"]
            lat = (f"{row['latency_p50_s'] * 1e3:.2f} / {row['latency_p99_s'] * 1e3:.2f} ms"
                   if row["latency_p50_s"] is not None else NA)
            t.add_row(
                plain(row["target"]),
                _rate(row["throughput_per_second"], row["unit"], label),
                f"{fmt_eng(ci[0])} – {fmt_eng(ci[1])}" if ci else NA,
                ("baseline" if row["target"] == a["baseline"] else
                 f"{sp:.2f}x" + (f" ({spci[0]:.2f}–{spci[1]:.2f})" if spci else "")
                 if sp is not None else NA),
                lat,
                f"{row['percent_of_peak']:.0f}%" if row["percent_of_peak"] is not None else NA,
                f"{row['energy_per_sample_joules']:.3g}"
                if row["energy_per_sample_joules"] is not None else NA,
                f"{row['ok_trials']}/{row['trials']}",
                *(deployed_cells(row) if deployed else ()),
            )
        console.print(t)
        for v in a["verdicts"]:
            console.print(plain(f"- {v}"))
        return
    xs = a["x"]
    t = Table(title=f"{title(study)}: throughput along {a['axis']}", title_justify="left")
    t.add_column(a["axis"])
    for k in a["series"]:
        t.add_column(plain(k), overflow="fold")
        if a["kind"] in SCALING_KINDS:
            t.add_column("efficiency")
    for i, x in enumerate(xs):
        cells = [f"{x:g}"]
        for k, series in a["series"].items():
            m = series[i]
            cells.append(_rate(m["mean"], "samples", label) if m else "—")
            if a["kind"] in SCALING_KINDS:
                eff = a["scaling"][k]["efficiency"][i]
                cells.append(f"{eff * 100:.0f}%" if eff is not None else "—")
        t.add_row(*cells)
    console.print(t)
    for c in a["crossovers"]:
        console.print(plain(f"- {c['text']}"))
    for note in a.get("notes", []):
        console.print(plain(f"- {note}"))
    if a["kind"] in SCALING_KINDS:
        for k, s in a["scaling"].items():
            n = s["stops_paying_off_after"]
            what = "threads" if a["kind"] == "threads" else "replicas"
            console.print(plain(f"- {k}: " + (
                f"adding {what} stops paying off after {n} (the next adds less than 5%)" if n
                else f"every added {what[:-1]} still pays off in this range")))


def chart_count(study: Study) -> int:
    """How many charts :func:`draw` makes: inference comparisons add a latency chart."""
    return 2 if study.kind in ("compare", "precision_xla") and study.base.mode == "infer" else 1


def png_paths(path: Path, count: int) -> list[Path]:
    """Where :func:`draw` puts ``count`` charts: FILE, then FILE-latency beside it."""
    return [path, *(path.with_name(f"{path.stem}-{'latency' if k == 1 else k}{path.suffix}")
                    for k in range(1, count))]


def draw(study: Study, a: dict[str, Any], groups: dict[str, list[SnapshotRun]],
         path: Path) -> None:
    """The study's charts as PNG (and, for inference comparisons, a latency chart beside it)."""
    from hwprof.services import charts
    from hwprof.services.studies import study_figures

    figs = study_figures(title(study), study.base.info.sample_label, study.base.mode, a, groups)
    for fig, where in zip(figs, png_paths(path, len(figs)), strict=True):
        charts.to_png(fig, str(where))


# -- commands --------------------------------------------------------------------------------------
def run_sweep(args: argparse.Namespace) -> int:
    """`hwprof sweep`."""
    return study_command("sweep", args, OVER[args.over])  # type: ignore[arg-type]


def run_roofline(args: argparse.Namespace) -> int:
    """`hwprof roofline`: ceilings (cached or measured) and the snapshots' runs placed on them."""
    from hwprof.services import studies

    try:
        device = str(parse_device_id(args.device))
    except DeviceIdError as err:
        return _usage("roofline", str(err))
    runs: list[SnapshotRun] = []
    for path in args.snapshots:
        try:
            runs += load_snapshot(path).runs
        except SnapshotError as err:
            return _usage("roofline", str(err))
    if args.png is not None:  # before minutes of measuring
        try:
            check_output(args.png, inputs=args.snapshots, force=args.force, flag="--png")
        except OutputPathError as err:
            return _usage("roofline", str(err))
    ceilings: Ceilings | None = None if args.measure else studies.cached_ceilings(device)
    if ceilings is None:
        from hwprof.services.runs import DeviceError, check_device

        try:
            check_device(studies.ceiling_specs(device)[0])
        except DeviceError as err:
            return _usage("roofline", str(err))
        from hwprof.services.detect import detect_device_label

        print(f"hwprof roofline: measuring {device}'s ceilings (matmul fp32 and bf16, "
              f"bandwidth): {studies.ceiling_time_estimate(device, args.seconds)}…",
              file=sys.stderr, flush=True)
        try:
            ceilings = studies.measure_ceilings(device, detect_device_label(device),
                                                seconds=args.seconds)
        except (ValueError, OSError, SnapshotError) as err:
            print(f"hwprof roofline: could not measure the ceilings: {safe(err)}",
                  file=sys.stderr)
            return EXIT_FAILED
    points = [p for r in runs if r.spec.device == device and (p := place(r, ceilings))]
    doc = {
        "device": device,
        "ceilings": vars(ceilings),
        "ridge_flops_per_byte": ceilings.ridge_intensity,
        "runs": [vars(p) for p in points],
        "cache": str(studies.ceilings_path()),
    }
    if args.json:
        print(json.dumps(doc, indent=2))
    else:
        console = make_console()
        console.print(plain(f"{studies.ceiling_summary(ceilings, device)} "
                            "(hwprof roofline --measure measures again)"))
        for warning in studies.roof_warnings(points):
            console.print(plain(f"warning: {warning}", style="yellow"))
        if points:
            t = Table(title="runs on the roofline", title_justify="left")
            for col in ("run", "FLOP/byte", "achieved", "% of roof", "bound by"):
                t.add_column(col, overflow="fold")
            for p in points:
                t.add_row(plain(p.label), f"{p.intensity:.2f}" if p.intensity else "unknown",
                          fmt_flops(p.achieved_flops),
                          studies.roof_text(p),
                          p.bound or NA)
            console.print(t)
        elif args.snapshots:
            console.print(f"no run of these snapshots measured FLOP/s on {device}")
    if args.png is not None:
        from hwprof.services import charts

        roofs = [(f"{device} fp32", ceilings.peak_flops, ceilings.bandwidth_bytes_per_second)]
        roofs += [(f"{device} {SHORT_PRECISION.get(p, p)}", v,
                   ceilings.bandwidth_bytes_per_second)
                  for p, v in ceilings.reduced_precision_flops.items()]
        fig = charts.roofline_chart(
            roofs,
            [(p.label, p.intensity, p.achieved_flops) for p in points if p.intensity])
        try:
            charts.to_png(fig, str(args.png))
            print(f"hwprof roofline: drew {safe(args.png)}", file=sys.stderr)
        except (OSError, SnapshotError) as err:
            print(f"hwprof roofline: cannot draw {safe(args.png)}: {safe(err)}",
                  file=sys.stderr)
            return EXIT_FAILED
    return EXIT_OK


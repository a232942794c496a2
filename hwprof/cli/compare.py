"""`hwprof compare A.hwprof.json B.hwprof.json ...`: the same runs on several set-ups, side by side.

Runs are matched by workload and settings (device, batch, size, precision, XLA, threads, scenario).
Each row shows every snapshot's throughput with its spread, the speedup of each against the first
with a 95% confidence interval, and a verdict in words that says "no significant difference" when
the data cannot tell. An environment diff lists what differs between the set-ups, so a difference
in numbers can be traced to a difference in hardware or software.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from rich.table import Table
from rich.text import Text

from hwprof.cli.console import make_console, plain, safe
from hwprof.cli.study import add_base_arguments, study_command
from hwprof.core.compare import compare_results, environment_diff, match_runs, verdict
from hwprof.core.snapshot import Snapshot, load_snapshot
from hwprof.core.snapshot_io import SnapshotError
from hwprof.core.units import NA, fmt_count, fmt_rate


def register(sub: Any) -> None:
    """Add `compare` to the CLI."""
    p = sub.add_parser(
        "compare",
        help="run a workload on several targets, or compare snapshots, side by side",
        description="With --workload and two or more --target: run the workload on each target "
        "(3 trials each by default, interleaved) and say which wins and by how much, with a 95%% "
        "confidence interval. With snapshots only: match their runs by workload and settings and "
        "show their throughput side by side, the speedup of each against the first, and what "
        "differs between the machines and software.",
    )
    p.add_argument("snapshots", nargs="*", type=Path, metavar="SNAPSHOT",
                   help="snapshots (*.hwprof, *.hwprof.json[.gz]); the first is the baseline "
                   "(with --workload: their runs of that workload join the comparison)")
    add_base_arguments(p, workload_flag=True)
    p.set_defaults(handler=run_compare)


def _rate(value: float | None, unit: str, label: str) -> str:
    if value is None:
        return NA
    return fmt_rate(value, "B/s") if unit == "bytes" else fmt_count(value, f"{label}/s")


def comparison(paths: list[Path], snapshots: list[Snapshot]) -> dict[str, Any]:
    """The comparison as plain data (what --json prints and the table shows)."""
    names = [p.name for p in paths]
    rows = []
    for spec, runs in match_runs(snapshots):
        base = runs[0]
        cells = []
        for i, run in enumerate(runs):
            cell: dict[str, Any] = {"snapshot": names[i], "present": run is not None}
            if run is not None:
                r = run.result
                s = r.step_throughput
                cell.update(
                    status=r.status,
                    throughput_per_second=r.throughput_per_second,
                    q1=s.q1 if s else None,
                    q3=s.q3 if s else None,
                    unit=r.unit,
                )
                if i > 0 and base is not None and r.ok and base.result.ok:
                    est = compare_results(base.result, r)
                    cell["speedup"] = est.ratio if est else None
                    cell["ci95"] = [est.low, est.high] if est and est.low is not None else None
                    cell["verdict"] = verdict(names[0], names[i], est)
            cells.append(cell)
        rows.append({"settings": spec.label(), "spec": spec.model_dump(mode="json"),
                     "sample_label": spec.info.sample_label, "runs": cells})
    return {
        "snapshots": [str(p) for p in paths],
        "environment_diff": [{"fact": k, "values": v} for k, v in environment_diff(snapshots)],
        "runs": rows,
    }


def run_compare(args: argparse.Namespace) -> int:
    """Run a comparison (--workload), or load, match and print snapshots."""
    paths: list[Path] = args.snapshots
    # the settings of a comparison that runs; given without --workload, they would be ignored
    given = (("--target", args.target), ("--png", args.png), ("--save", args.save),
             ("--trials", args.trials is not None), ("--baseline", args.baseline),
             ("--data", args.data != "synthetic"),
             ("--pipeline-threads", args.pipeline_threads is not None),
             ("--pipeline-source-size", args.pipeline_source_size is not None))
    run_only = [flag for flag, value in given if value]
    if run_only and args.workload is None:
        print(f"hwprof compare: {', '.join(run_only)} go{'es' if len(run_only) == 1 else ''} "
              "with --workload W (a comparison that runs); comparing snapshots takes only "
              "SNAPSHOT ... and --json", file=sys.stderr)
        return 2
    snapshots = []
    for path in paths:
        try:
            snapshots.append(load_snapshot(path))
        except SnapshotError as err:
            print(f"hwprof compare: {safe(err)}", file=sys.stderr)
            return 2
    if args.workload is not None:
        if snapshots:
            _print_environment(make_console(), paths, snapshots)
        return study_command("compare", args, "compare",
                             [(p.name, s) for p, s in zip(paths, snapshots, strict=True)])
    if any(s.kind == "profile" for s in snapshots):
        # profiles compare test by test (and a profile with a session snapshot is refused)
        from hwprof.cli.profile import compare_profiles_command

        return compare_profiles_command(paths, snapshots, args.json, "hwprof compare")
    if not paths:
        print("hwprof compare: name snapshots to compare, or --workload W with two or more "
              "--target", file=sys.stderr)
        return 2
    doc = comparison(paths, snapshots)
    if args.json:
        print(json.dumps(doc, indent=2))
        return 0
    console = make_console()
    names = [p.name for p in paths]
    _print_environment(console, paths, snapshots)
    if not doc["runs"]:
        console.print("no runs in these snapshots")
        return 0
    t = Table(title=plain(f"runs (speedup against {names[0]}, 95% CI)"), title_justify="left",
              show_lines=True)
    t.add_column("workload and settings", overflow="fold")
    for n in names:
        t.add_column(plain(n), overflow="fold")
    verdicts: list[str] = []
    for row in doc["runs"]:
        cells: list[str | Text] = []
        for c in row["runs"]:
            if not c["present"]:
                cells.append("—")
                continue
            if c["status"] != "ok":
                cells.append(plain(c["status"]))
                continue
            label = row["sample_label"]
            text = _rate(c["throughput_per_second"], c["unit"], label)
            if c["q1"] is not None:
                q1, q3 = _rate(c["q1"], c["unit"], label), _rate(c["q3"], c["unit"], label)
                text += f"\nIQR {q1} – {q3}"
            if c.get("speedup") is not None:
                ci = c.get("ci95")
                text += f"\n{c['speedup']:.2f}x" + (f" ({ci[0]:.2f}–{ci[1]:.2f})" if ci else "")
            if c.get("verdict"):
                verdicts.append(f"{row['settings']}: {c['verdict']}")
            cells.append(text)  # numbers and units: ours
        t.add_row(plain(row["settings"]), *cells)
    console.print(t)
    for line in verdicts:
        console.print(plain(f"- {line}"))
    return 0


def _print_environment(console: Any, paths: list[Path], snapshots: list[Snapshot]) -> None:
    diff = environment_diff(snapshots)
    env = Table(title="environment: what differs", title_justify="left")
    env.add_column("fact", style="bold")
    for p in paths:
        env.add_column(plain(p.name), overflow="fold")
    for fact, values in diff:
        env.add_row(plain(fact), *(plain(v) for v in values))
    if diff:
        console.print(env)
    elif len(snapshots) > 1:
        console.print("environment: the same machine and software in every snapshot")
    console.print()

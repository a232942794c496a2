"""`hwprof report SNAPSHOT --html out.html | --csv DIR`: a snapshot as a page or as tables."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from hwprof.cli.console import safe
from hwprof.core.outputs import OutputPathError, check_output, check_output_folder
from hwprof.core.snapshot import load_snapshot
from hwprof.core.snapshot_io import SnapshotError


def register(sub: Any) -> None:
    """Add `report` to the CLI."""
    p = sub.add_parser(
        "report",
        help="write a snapshot as one self-contained HTML page, or as CSV files",
        description="Write a snapshot as one self-contained HTML page (environment, every run, "
        "throughput, latency and telemetry charts as inline SVG; no script, no network) and/or "
        "as CSV files (runs.csv, steps.csv, telemetry.csv).",
    )
    p.add_argument("snapshot", type=Path, help="a snapshot (*.hwprof, *.hwprof.json[.gz])")
    p.add_argument("--html", type=Path, metavar="FILE", help="write the HTML page here")
    p.add_argument("--csv", type=Path, metavar="DIR", help="write CSV files into this folder")
    p.add_argument("--trace-out", type=Path, metavar="FILE.json.gz",
                   help="write a traced run's Chrome trace here (Perfetto and TensorBoard open "
                   "it)")
    p.add_argument("--run", type=int, metavar="N", default=None,
                   help="with --trace-out: the traced run to export, numbered from 1 as in the "
                   "report (default: the snapshot's only traced run)")
    p.add_argument("--force", action="store_true",
                   help="overwrite existing files (never the snapshot itself)")
    p.set_defaults(handler=run_report)


def run_report(args: argparse.Namespace) -> int:
    """Load the snapshot, write what was asked for."""
    if args.html is None and args.csv is None and args.trace_out is None:
        print("hwprof report: say what to write: --html FILE, --csv DIR and/or --trace-out "
              "FILE.json.gz", file=sys.stderr)
        return 2
    if args.run is not None and args.trace_out is None:
        print("hwprof report: --run goes with --trace-out", file=sys.stderr)
        return 2
    from hwprof.services.report import CSV_NAMES, write_csv, write_html

    try:  # before the snapshot is read: a report never replaces its own input
        if args.html is not None:
            check_output(args.html, inputs=[args.snapshot], force=args.force, flag="--html")
        if args.csv is not None:
            check_output_folder(args.csv, CSV_NAMES, inputs=[args.snapshot], force=args.force,
                                flag="--csv")
            if args.html is not None and any(
                    args.html.resolve() == (args.csv / n).resolve() for n in CSV_NAMES):
                raise OutputPathError(f"--html {args.html} is one of the CSV files --csv writes")
        if args.trace_out is not None:
            from hwprof.services.traces import trace_name_problem

            problem = trace_name_problem(args.trace_out)
            if problem:
                raise OutputPathError(problem)
            check_output(args.trace_out, inputs=[args.snapshot], force=args.force,
                         flag="--trace-out")
            if args.html is not None and args.html.resolve() == args.trace_out.resolve():
                raise OutputPathError(f"--trace-out {args.trace_out} is the --html file")
    except OutputPathError as err:
        print(f"hwprof report: {safe(err)}", file=sys.stderr)
        return 2
    try:
        snapshot = load_snapshot(args.snapshot)
    except SnapshotError as err:
        print(f"hwprof report: {safe(err)}", file=sys.stderr)
        return 2

    run = None
    if args.trace_out is not None:
        traced = [i for i, r in enumerate(snapshot.runs, start=1)
                  if r.result.report is not None and r.result.report.trace is not None]
        if args.run is not None:
            if args.run not in traced:
                print(f"hwprof report: --run {args.run}: {safe(args.snapshot)} has no traced run "
                      f"{args.run} (traced runs: {', '.join(map(str, traced)) or 'none'})",
                      file=sys.stderr)
                return 2
            run = snapshot.runs[args.run - 1]
        elif len(traced) == 1:
            run = snapshot.runs[traced[0] - 1]
        else:
            why = ("has no traced run (hwprof run --trace makes one)" if not traced else
                   f"has {len(traced)} traced runs ({', '.join(map(str, traced))}): choose one "
                   "with --run N")
            print(f"hwprof report: {safe(args.snapshot)} {why}", file=sys.stderr)
            return 2
    try:
        if run is not None and args.trace_out is not None:
            from hwprof.core.trace import TraceError
            from hwprof.services.traces import write_trace

            try:
                write_trace(run.result, args.trace_out)
            except TraceError as err:
                print(f"hwprof report: --trace-out: {safe(err)}", file=sys.stderr)
                return 1
            print(f"hwprof report: wrote {safe(args.trace_out)}", file=sys.stderr)
        if args.html is not None:
            write_html(snapshot, args.html, source=args.snapshot.name)
            print(f"hwprof report: wrote {safe(args.html)}", file=sys.stderr)
        if args.csv is not None:
            for path in write_csv(snapshot, args.csv):
                print(f"hwprof report: wrote {safe(path)}", file=sys.stderr)
    except (OSError, SnapshotError) as err:
        print(f"hwprof report: could not write: {safe(err)}", file=sys.stderr)
        return 1
    return 0

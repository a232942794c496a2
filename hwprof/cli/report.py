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
    p.add_argument("--force", action="store_true",
                   help="overwrite existing files (never the snapshot itself)")
    p.set_defaults(handler=run_report)


def run_report(args: argparse.Namespace) -> int:
    """Load the snapshot, write what was asked for."""
    if args.html is None and args.csv is None:
        print("hwprof report: say what to write: --html FILE and/or --csv DIR", file=sys.stderr)
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
    except OutputPathError as err:
        print(f"hwprof report: {safe(err)}", file=sys.stderr)
        return 2
    try:
        snapshot = load_snapshot(args.snapshot)
    except SnapshotError as err:
        print(f"hwprof report: {safe(err)}", file=sys.stderr)
        return 2

    try:
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

"""`hwprof snapshots`: the snapshots in the data folder (or another folder)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from rich.table import Table

from hwprof.cli.console import make_console, plain, safe
from hwprof.core.paths import snapshots_dir
from hwprof.services.snapshots import list_snapshots


def register(sub: Any) -> None:
    """Add `snapshots` to the CLI."""
    p = sub.add_parser(
        "snapshots",
        help="list saved snapshots",
        description="List the snapshots in hwprof's data folder (or FOLDER): date, host, devices, "
        "number of runs and tags. Newest first.",
    )
    p.add_argument("folder", nargs="?", type=Path, help="folder to list (default: the data folder)")
    p.add_argument("--json", action="store_true", help="print the list as JSON")
    p.set_defaults(handler=run_snapshots)


def run_snapshots(args: argparse.Namespace) -> int:
    """List them."""
    folder = args.folder or snapshots_dir()
    if not folder.is_dir():
        print(f"hwprof snapshots: {safe(folder)} is not a folder (name a folder of snapshots, or "
              "none for the data folder)", file=sys.stderr)
        return 2
    rows = list_snapshots(folder)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    console = make_console()
    if not rows:
        console.print(plain(f"no snapshots in {folder} (save one with "
                            "`hwprof run ... --save FILE`)"))
        return 0
    t = Table(title=plain(f"snapshots in {folder}"), title_justify="left")
    for col in ("created (UTC)", "file", "host", "devices", "runs", "tags"):
        t.add_column(col, overflow="fold")
    for r in rows:
        name = plain(Path(r["path"]).name)
        if r["error"]:
            t.add_row("", name, plain(f"unreadable: {r['error']}", style="red"), "", "", "")
            continue
        t.add_row(
            plain(r["created_at"].replace("T", " ").replace("+00:00", "")),
            name,
            plain(r["host"]),
            plain(", ".join(r["devices"])),
            str(r["runs"]),
            plain(", ".join(r["tags"])),
        )
    console.print(t)
    return 0

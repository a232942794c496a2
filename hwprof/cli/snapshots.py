"""`hwprof snapshots`: the snapshots in the data folder (or another folder)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from rich.table import Table

from hwprof.cli.console import make_console, plain, safe
from hwprof.core.paths import profiles_dir, snapshots_dir
from hwprof.services.snapshots import list_snapshots


def register(sub: Any) -> None:
    """Add `snapshots` to the CLI."""
    p = sub.add_parser(
        "snapshots",
        help="list saved snapshots",
        description="List the snapshots and profiles in hwprof's data folder (or the snapshots "
        "in FOLDER): date, kind, host, devices, number of runs, tags, and a profile's device and "
        "score. Newest first.",
    )
    p.add_argument("folder", nargs="?", type=Path,
                   help="folder to list (default: the data folder's snapshots and profiles)")
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
    where = str(folder)
    if args.folder is None:  # the data folder keeps profiles (`hwprof profile`) apart
        profiles = profiles_dir()
        rows = sorted(rows + list_snapshots(profiles), key=lambda r: r["created_at"],
                      reverse=True)
        where = f"{folder} and {profiles}"
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    console = make_console()
    if not rows:
        console.print(plain(f"no snapshots in {where} (save one with "
                            "`hwprof run ... --save FILE`, or profile a device with "
                            "`hwprof profile`)"))
        return 0
    t = Table(title=plain(f"snapshots in {where}"), title_justify="left")
    for col in ("created (UTC)", "file", "kind", "host", "devices", "runs", "tags"):
        t.add_column(col, overflow="fold")
    for r in rows:
        name = plain(Path(r["path"]).name)
        if r["error"]:
            t.add_row("", name, "", plain(f"unreadable: {r['error']}", style="red"), "", "", "")
            continue
        t.add_row(
            plain(r["created_at"].replace("T", " ").replace("+00:00", "")),
            name,
            plain(_kind(r)),
            plain(r["host"]),
            plain(", ".join(r["devices"])),
            str(r["runs"]),
            plain(", ".join(r["tags"])),
        )
    console.print(t)
    return 0


def _kind(row: dict[str, Any]) -> str:
    """"session", or "profile of cpu, score 1,234 (95%: ...)" with its device and score."""
    summary = row.get("profile")
    if not summary:
        return str(row.get("kind") or "session")
    from hwprof.core.profile import Score
    from hwprof.core.profile_text import fmt_score

    s = summary["score"]
    score = (fmt_score(Score(s["value"], s["low"], s["high"], s["tests"]), labelled=True) if s
             else "no score")
    partial = ", partial" if summary["partial"] else ""
    return f"profile of {summary['device']} ({summary['length']}{partial}), {score}"

"""`hwprof snapshots`: the snapshots in the data folder (or another folder)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from rich.table import Table

from hwprof.cli.console import make_console
from hwprof.core.paths import snapshots_dir
from hwprof.core.snapshot import SUFFIXES, Snapshot, load_snapshot
from hwprof.core.snapshot_io import SnapshotError


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


def find_snapshots(folder: Path) -> list[Path]:
    """Snapshot files directly in ``folder``."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.name.endswith(SUFFIXES))


def describe(snapshot: Snapshot) -> dict[str, Any]:
    """The one-line summary a listing shows."""
    m = snapshot.machine
    devices = [c.model_name or "CPU" for c in m.cpus] + [g.name or f"GPU {g.index}" for g in m.gpus]
    return {
        "created_at": snapshot.created_at,
        "host": m.host.hostname,
        "devices": devices,
        "runs": len(snapshot.runs),
        "tags": list(snapshot.tags),
        "title": snapshot.title,
    }


def run_snapshots(args: argparse.Namespace) -> int:
    """List them."""
    folder = args.folder or snapshots_dir()
    if not folder.is_dir():
        print(f"hwprof snapshots: {folder} is not a folder")
        return 2
    rows: list[dict[str, Any]] = []
    for path in find_snapshots(folder):
        try:
            entry = describe(load_snapshot(path))
            entry["error"] = None
        except SnapshotError as err:
            entry = {"created_at": "", "error": err.problem}
        entry["path"] = str(path)
        rows.append(entry)
    rows.sort(key=lambda r: r["created_at"], reverse=True)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    console = make_console()
    if not rows:
        console.print(f"no snapshots in {folder} (save one with `hwprof run ... --save FILE`)")
        return 0
    t = Table(title=f"snapshots in {folder}", title_justify="left")
    for col in ("created (UTC)", "file", "host", "devices", "runs", "tags"):
        t.add_column(col, overflow="fold")
    for r in rows:
        name = Path(r["path"]).name
        if r["error"]:
            t.add_row("", name, f"[red]unreadable: {r['error']}[/red]", "", "", "")
            continue
        t.add_row(
            r["created_at"].replace("T", " ").replace("+00:00", ""),
            name,
            r["host"],
            ", ".join(r["devices"]),
            str(r["runs"]),
            ", ".join(r["tags"]),
        )
    console.print(t)
    return 0

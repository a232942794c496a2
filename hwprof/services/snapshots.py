"""The snapshots in a folder, as both front ends list them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hwprof.core.snapshot import SUFFIXES, Snapshot, load_snapshot
from hwprof.core.snapshot_io import SnapshotError


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


def list_snapshots(folder: Path) -> list[dict[str, Any]]:
    """Every snapshot in ``folder``, newest first: its summary, or the reason it is unreadable."""
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
    return rows

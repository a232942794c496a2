"""The snapshots in a folder, as both front ends list them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hwprof.core.snapshot import DEFAULT_SUFFIX, SUFFIXES, Snapshot, load_snapshot
from hwprof.core.snapshot_io import SnapshotError


def find_snapshots(folder: Path) -> list[Path]:
    """Snapshot files directly in ``folder``."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.name.endswith(SUFFIXES))


def describe(snapshot: Snapshot) -> dict[str, Any]:
    """The one-line summary a listing shows (``profile``: a profile's device and score)."""
    from hwprof.services.profile_view import profile_summary  # it imports this module

    m = snapshot.machine
    devices = [c.model_name or "CPU" for c in m.cpus] + [g.name or f"GPU {g.index}" for g in m.gpus]
    return {
        "created_at": snapshot.created_at,
        "host": m.host.hostname,
        "devices": devices,
        "runs": len(snapshot.runs),
        "tags": list(snapshot.tags),
        "title": snapshot.title,
        "kind": snapshot.kind,
        "profile": profile_summary(snapshot),
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


def safe_host_name() -> str:
    """The machine's name as it can stand in a file name ("my_host" for "my host")."""
    import socket

    return "".join(c if c.isalnum() or c in "-_" else "_" for c in socket.gethostname()) or "host"


def new_snapshot_path(what: str, folder: Path | None = None) -> Path:
    """A new snapshot file named by host, what it holds and the time, in the data folder.

    For example ``vm-session-20261124-134551.hwprof``; never the name of an existing file.
    """
    import datetime as dt

    from hwprof.core.paths import snapshots_dir

    base = folder if folder is not None else snapshots_dir()
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = base / f"{safe_host_name()}-{what}-{stamp}{DEFAULT_SUFFIX}"
    k = 2
    while path.exists():
        path = base / f"{safe_host_name()}-{what}-{stamp}-{k}{DEFAULT_SUFFIX}"
        k += 1
    return path


def parse_tags(text: str) -> tuple[str, ...]:
    """Tags typed by a person: "a, b ,,c" -> ("a", "b", "c"), duplicates dropped, order kept."""
    out: list[str] = []
    for tag in text.split(","):
        tag = " ".join(tag.split())
        if tag and tag not in out:
            out.append(tag)
    return tuple(out)


def set_snapshot_tags(path: Path, tags: tuple[str, ...]) -> Snapshot:
    """Give a snapshot file these tags (SnapshotError).

    The read-change-write holds the file's lock, so a run another process appends meanwhile is
    kept; the file is rewritten atomically.
    """
    from hwprof.core.snapshot import update_snapshot

    def change(on_disk: Snapshot | None) -> Snapshot:
        if on_disk is None:
            raise SnapshotError(path, "is gone: it was moved or deleted")
        return on_disk.model_copy(update={"tags": tuple(tags)})

    return update_snapshot(path, change)


def rename_snapshot(path: Path, new_name: str) -> Path:
    """Rename a snapshot file in its folder; never over another file (ValueError says why)."""
    name = new_name.strip()
    if not name or "/" in name or "\\" in name or name in (".", ".."):
        raise ValueError("a file name, without a folder, please")
    # the ending says how the file is stored (gzip or not): the longest suffix it ends in
    ending = max((sfx for sfx in SUFFIXES if path.name.endswith(sfx)), key=len,
                 default=DEFAULT_SUFFIX)
    if not name.endswith(SUFFIXES):
        name += ending
    if not name.endswith(ending):
        raise ValueError(f"{name}: keep the file's ending ({ending}): renaming does not "
                         "compress or decompress it")
    target = path.with_name(name)
    if target.exists():
        raise ValueError(f"{name} exists already; choose another name")
    path.rename(target)
    return target


def delete_snapshot(path: Path) -> None:
    """Delete a snapshot file (only files with a snapshot's name; ValueError otherwise)."""
    if not path.name.endswith(SUFFIXES) or not path.is_file():
        raise ValueError(f"{path.name} is not a snapshot file")
    path.unlink()

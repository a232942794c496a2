"""Reading and writing snapshot files: atomic, optionally gzip, strict and kind on load.

A write goes to a temporary file in the same folder, is flushed and fsync'd, then renamed over the
target, and the folder is fsync'd: a crash or a full disk at any moment leaves either the old file
or the new one, never half of one. A load reads bytes, decompresses if they start with gzip's magic
number, parses JSON and hands the dictionary to the caller's validator; every failure becomes one
:class:`SnapshotError` naming the file and the problem. Nothing in a file is ever executed: no
pickle, no eval.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import stat
import tempfile
import zlib
from pathlib import Path
from typing import Any

GZIP_MAGIC = b"\x1f\x8b"
# gzip level 3: most of level 9's ratio on numeric JSON at a fraction of its time.
GZIP_LEVEL = 3
MAX_FILE_BYTES = 2 * 1024**3  # refuse to read anything larger: no snapshot is near this


class SnapshotError(Exception):
    """A snapshot file could not be read or written. ``str()`` names the file and the problem."""

    def __init__(self, path: str | os.PathLike[str], problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


def is_gzip_path(path: str | os.PathLike[str]) -> bool:
    """Whether the file name asks for gzip (``*.gz``, or ``*.hwprof``: always compressed)."""
    return str(path).endswith((".gz", ".hwprof"))


def encode(data: bytes, path: str | os.PathLike[str]) -> bytes:
    """The bytes to store at ``path``: gzip-compressed when its name ends in .gz."""
    if is_gzip_path(path):
        # mtime=0 keeps the same snapshot byte-identical however often it is saved
        return gzip.compress(data, compresslevel=GZIP_LEVEL, mtime=0)
    return data


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically: the old file survives any failure intact."""
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise SnapshotError(target, f"the folder {folder} does not exist")
    fd = -1
    tmp_name = ""
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
        # mkstemp makes the file private (0600); a snapshot is meant to be shared, so it gets the
        # mode the file already had, or what the user's umask gives a new file
        os.chmod(tmp_name, _mode_for(target))
        with os.fdopen(fd, "wb") as fh:
            fd = -1
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        _replace(tmp_name, target)
        tmp_name = ""
        _fsync_dir(folder)
    except SnapshotError:
        raise
    except OSError as err:
        raise SnapshotError(target, f"could not be written ({err.strerror or err})") from err
    finally:
        if fd >= 0:
            os.close(fd)
        if tmp_name:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)


def _mode_for(target: Path) -> int:
    try:
        return stat.S_IMODE(target.stat().st_mode)
    except OSError:
        mask = os.umask(0)
        os.umask(mask)
        return 0o666 & ~mask


def _replace(tmp_name: str, target: Path) -> None:
    """The rename that makes a write visible; a separate function so tests can simulate a crash."""
    os.replace(tmp_name, target)


def _fsync_dir(folder: Path) -> None:
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def write_json(path: str | os.PathLike[str], text: str) -> None:
    """Store JSON text at ``path`` atomically, gzip when the name ends in .gz."""
    atomic_write_bytes(path, encode(text.encode("utf-8"), path))


def read_text(path: str | os.PathLike[str]) -> str:
    """A file's text (gunzipped when it starts with gzip's magic), with one clear error."""
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > MAX_FILE_BYTES:
            raise SnapshotError(p, f"is {size / 1e9:.1f} GB: far too large to be a snapshot")
        raw = p.read_bytes()
    except FileNotFoundError as err:
        raise SnapshotError(p, "no such file") from err
    except IsADirectoryError as err:
        raise SnapshotError(p, "is a folder, not a snapshot file") from err
    except PermissionError as err:
        raise SnapshotError(p, "permission denied") from err
    except OSError as err:
        raise SnapshotError(p, f"could not be read ({err.strerror or err})") from err
    if not raw:
        raise SnapshotError(p, "is empty (0 bytes)")
    if raw[:2] == GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (EOFError, OSError, zlib.error) as err:
            raise SnapshotError(p, f"is a damaged or truncated gzip file ({err})") from err
        if not raw:
            raise SnapshotError(p, "is empty (0 bytes once decompressed)")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise SnapshotError(p, "is not a snapshot (not text: a binary file?)") from err


def parse_json(text: str, path: str | os.PathLike[str]) -> Any:
    """Parse JSON text read from ``path``; a clear error that says truncated or invalid."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        if not text.strip():
            raise SnapshotError(path, "is empty (only white space)") from err
        truncated = looks_truncated(text)
        what = "is truncated (the JSON ends early)" if truncated else "is not valid JSON"
        raise SnapshotError(
            path, f"{what}: {err.msg} at line {err.lineno}, column {err.colno}"
        ) from err
    except RecursionError as err:
        raise SnapshotError(path, "is not a snapshot (JSON nested too deeply)") from err


def read_json(path: str | os.PathLike[str]) -> Any:
    """Read a JSON document (plain or gzip), with one clear error for whatever goes wrong."""
    return parse_json(read_text(path), path)


def looks_truncated(text: str) -> bool:
    """Whether JSON text ends inside a string or with brackets still open (cut off, not garbled)."""
    depth = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
    return in_string or depth > 0

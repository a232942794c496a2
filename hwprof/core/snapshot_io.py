"""Reading and writing snapshot files: atomic, locked, optionally gzip, strict and kind on load.

A write goes to a temporary file in the same folder, is flushed and fsync'd, then renamed over the
target, and the folder is fsync'd: a crash or a full disk at any moment leaves either the old file
or the new one, never half of one. A symbolic link is written through (its target is replaced, the
link stays); a dangling link or a loop of links is refused. Whoever reads, changes and writes a
file back holds :func:`write_lock` on it, a lock file beside it, so two processes appending at once
both land.

A load opens regular files only (a pipe or a device would block or never end), reads at most
:data:`MAX_TEXT_BYTES`, decompresses if the bytes start with gzip's magic number (again at most
:data:`MAX_TEXT_BYTES`, so a "gzip bomb" is refused, not inflated), parses JSON and hands the
dictionary to the caller's validator; every failure becomes one :class:`SnapshotError` naming the
file and the problem. Nothing in a file is ever executed: no pickle, no eval.
"""

from __future__ import annotations

import contextlib
import errno
import gzip
import json
import os
import re
import stat
import tempfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hwprof.core.outputs import OutputPathError, resolve_link

GZIP_MAGIC = b"\x1f\x8b"
# gzip level 3: most of level 9's ratio on numeric JSON at a fraction of its time.
GZIP_LEVEL = 3
# The most text a snapshot may hold, read from disk or once decompressed. The largest realistic
# snapshot is about this: benchmarks/snapshot_io.py's hour of 10 Hz telemetry (2 GPUs, 52 metrics,
# 50 runs, 100,000 steps) is 19 MB of JSON; a server with 8 GPUs and 64 cores records about five
# times the metrics, so ~100 MB an hour, and 512 MiB is five such hours in one file. Loading one
# that size already takes ~10 s and a few GB of memory; anything larger is not a snapshot but a
# mistake or a decompression bomb, and inflating it would exhaust the machine.
MAX_TEXT_BYTES = 512 * 1024**2
MAX_FILE_BYTES = MAX_TEXT_BYTES  # the cap on disk too: gzip never makes a text much larger
_READ_CHUNK = 4 * 1024**2
_COUNT_CHUNK = 64 * 1024
# How long a writer waits for another to finish with the same file before it gives up; a write
# takes well under a second, so 30 s means the other process is stuck (or a slow disk is).
LOCK_TIMEOUT_S = 30.0
LOCK_TIMEOUT_ENV = "HWPROF_LOCK_TIMEOUT_S"  # seconds; tests and impatient scripts set it lower


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


def write_target(path: str | os.PathLike[str]) -> Path:
    """The file a write to ``path`` replaces: a link's target, or ``path`` itself.

    Raises :class:`SnapshotError` for a dangling link or a loop of links (writing "through" either
    would make a new file somewhere the user did not name).
    """
    try:
        return resolve_link(Path(path))
    except OutputPathError as err:
        problem = str(err).removeprefix(str(path)).lstrip()
        raise SnapshotError(path, f"{problem} (nothing was written)") from err


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically: the old file survives any failure intact.

    A symbolic link is written through: its target gets the new bytes and the link stays a link.
    """
    target = write_target(path)
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise SnapshotError(target, f"the folder {folder} does not exist")
    with contextlib.suppress(OSError):
        mode = target.stat().st_mode
        if stat.S_ISDIR(mode):
            raise SnapshotError(target, "is a folder: it is not replaced by a file")
        if not stat.S_ISREG(mode):  # renaming over /dev/null or a pipe would replace it
            raise SnapshotError(target, f"is {_not_regular(mode)}, not a file: it is not "
                                "replaced")
    fd = -1
    tmp_name = ""
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
        # mkstemp makes the file private (0600); a snapshot is meant to be shared, so it gets the
        # mode the file already had, or what the user's umask gives a new file
        os.chmod(tmp_name, _mode_for(target))
        with os.fdopen(fd, "wb") as fh:
            fd = -1
            _write_all(fh, data)
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


def _write_all(fh: Any, data: bytes) -> None:
    """Write the bytes; a separate function so tests can simulate a full disk halfway."""
    fh.write(data)


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


# -- the lock --------------------------------------------------------------------------------------
def lock_timeout_s() -> float:
    """How long a writer waits for the lock: $HWPROF_LOCK_TIMEOUT_S, else :data:`LOCK_TIMEOUT_S`."""
    try:
        value = float(os.environ.get(LOCK_TIMEOUT_ENV, ""))
    except ValueError:
        return LOCK_TIMEOUT_S
    return value if value >= 0 and value != float("inf") else LOCK_TIMEOUT_S


def lock_path(target: str | os.PathLike[str]) -> Path:
    """The lock file of ``target``: beside it, hidden, and never named like a snapshot."""
    p = Path(target)
    return p.with_name(f".{p.name}.lock")


@contextlib.contextmanager
def write_lock(path: str | os.PathLike[str], *, timeout_s: float | None = None) -> Iterator[Path]:
    """Hold the cross-process lock of ``path`` (of a link's target) while the block runs.

    Yields the file to write (the link's target, or ``path``). Every read-modify-write of a
    snapshot, and every write of one, holds this lock, so two processes never interleave on the
    same file. The lock is an OS file lock (``flock`` on Linux and macOS, ``LockFileEx`` on
    Windows) on a hidden file beside the target: the OS drops it when its holder dies, so a crash
    never leaves the file locked. Waits at most ``timeout_s`` (default :func:`lock_timeout_s`),
    then raises :class:`SnapshotError` saying what to do.
    """
    from filelock import FileLock, Timeout  # only writers need it

    target = write_target(path)
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise SnapshotError(target, f"the folder {folder} does not exist")
    wait = lock_timeout_s() if timeout_s is None else timeout_s
    lock_file = lock_path(target)
    lock = FileLock(lock_file, timeout=wait)
    try:
        lock.acquire()
    except Timeout as err:  # a TimeoutError, so an OSError: before the clause below
        raise SnapshotError(
            target,
            f"another hwprof process has been writing this file for more than {wait:g} s (it "
            f"holds {lock_file.name} beside it). Let it finish and try again; if it is stuck, "
            "end it (if no hwprof process is running, delete the lock file)",
        ) from err
    except OSError as err:
        raise SnapshotError(target, f"could not be written: its lock file {lock_file} could "
                            f"not be made ({err.strerror or err})") from err
    try:
        yield target
    finally:
        lock.release()


# -- reading ---------------------------------------------------------------------------------------
def _not_regular(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a plain file"


def read_bytes(path: str | os.PathLike[str]) -> bytes:
    """A regular file's bytes, at most :data:`MAX_FILE_BYTES`, with one clear error.

    Only a regular file is read: a named pipe would block until someone writes to it (opened
    non-blocking, it is seen and refused at once), a device such as /dev/zero never ends.
    """
    p = Path(path)
    # O_NONBLOCK: opening a FIFO without a writer returns at once instead of waiting forever
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    fd = -1
    try:
        fd = os.open(p, flags)
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise SnapshotError(p, "is a folder, not a snapshot file")
        if not stat.S_ISREG(st.st_mode):
            raise SnapshotError(p, f"is {_not_regular(st.st_mode)}, not a snapshot file "
                                "(hwprof reads snapshots from plain files only)")
        if st.st_size > MAX_FILE_BYTES:
            raise SnapshotError(p, f"is {st.st_size / 2**20:,.0f} MiB: far too large to be a "
                                f"snapshot (at most {MAX_FILE_BYTES // 2**20} MiB)")
        with os.fdopen(fd, "rb") as fh:
            fd = -1
            parts = [fh.read(st.st_size)] if st.st_size else []
            total = len(parts[0]) if parts else 0
            while total <= MAX_FILE_BYTES:  # a file that grew, or one stat says nothing of
                more = fh.read(_READ_CHUNK)
                if not more:
                    break
                parts.append(more)
                total += len(more)
    except SnapshotError:
        raise
    except FileNotFoundError as err:
        if p.is_symlink():
            raise SnapshotError(p, f"is a symbolic link to {os.readlink(p)}, which does not "
                                "exist") from err
        raise SnapshotError(p, "no such file") from err
    except IsADirectoryError as err:
        raise SnapshotError(p, "is a folder, not a snapshot file") from err
    except PermissionError as err:
        if p.is_dir():  # Windows cannot open a folder
            raise SnapshotError(p, "is a folder, not a snapshot file") from err
        raise SnapshotError(p, "permission denied") from err
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise SnapshotError(p, "is a symbolic link in a loop of links") from err
        raise SnapshotError(p, f"could not be read ({err.strerror or err})") from err
    finally:
        if fd >= 0:
            os.close(fd)
    if total > MAX_FILE_BYTES:
        raise SnapshotError(p, f"is far too large to be a snapshot (more than "
                            f"{MAX_FILE_BYTES // 2**20} MiB)")
    return parts[0] if len(parts) == 1 else b"".join(parts)


def gunzip(raw: bytes, path: str | os.PathLike[str]) -> bytes:
    """Decompress gzip bytes read from ``path``, refusing more than :data:`MAX_TEXT_BYTES`.

    Decompresses a chunk at a time and stops as soon as the text would pass the cap, so a small
    file that inflates to gigabytes (a "gzip bomb") costs a fraction of a second, not the
    machine's memory. Several gzip members one after another are read as one text, as gzip does.
    """
    # First inflate without keeping anything: a bomb, one member or many, is refused in constant
    # memory, and only a text known to fit is inflated again and kept. The second pass costs
    # about 2 ms per MiB of text, far less than parsing it.
    _inflate(raw, path, keep=False)
    return _inflate(raw, path, keep=True)


def _inflate(raw: bytes, path: str | os.PathLike[str], *, keep: bool) -> bytes:
    limit = MAX_TEXT_BYTES
    out: list[bytes] = []
    total = 0
    data = raw
    try:
        while True:
            d = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
            while not d.eof:
                # counting: small pieces, so the allocator reuses one block instead of growing
                chunk = d.decompress(data, _READ_CHUNK if keep else _COUNT_CHUNK)
                data = d.unconsumed_tail
                if not chunk and not data:
                    raise SnapshotError(path, "is a damaged or truncated gzip file (it ends "
                                        "early)")
                total += len(chunk)
                if total > limit:
                    raise SnapshotError(path, f"decompresses to more than {limit // 2**20} MiB, "
                                        "more than any snapshot holds: not a snapshot (a "
                                        "decompression bomb?)")
                if keep:
                    out.append(chunk)
            data = d.unused_data
            if not data.strip(b"\0"):  # gzip ignores zero padding after the last member
                break
    except zlib.error as err:
        raise SnapshotError(path, f"is a damaged or truncated gzip file ({err})") from err
    return b"".join(out)


def read_text(path: str | os.PathLike[str]) -> str:
    """A file's text (gunzipped when it starts with gzip's magic), with one clear error."""
    p = Path(path)
    raw = read_bytes(p)
    if not raw:
        raise SnapshotError(p, "is empty (0 bytes)")
    if raw[:2] == GZIP_MAGIC:
        raw = gunzip(raw, p)
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
        if text.isspace():
            raise SnapshotError(path, "is empty (only white space)") from err
        truncated = looks_truncated(text, err)
        what = "is truncated (the JSON ends early)" if truncated else "is not valid JSON"
        raise SnapshotError(
            path, f"{what}: {err.msg} at line {err.lineno}, column {err.colno}"
        ) from err
    except RecursionError as err:
        raise SnapshotError(path, "is not a snapshot (JSON nested too deeply)") from err


def read_json(path: str | os.PathLike[str]) -> Any:
    """Read a JSON document (plain or gzip), with one clear error for whatever goes wrong."""
    return parse_json(read_text(path), path)


# What the parser stops at when JSON is cut inside a token: the start of a number's fraction or
# exponent, a lone minus, the start of true/false/null; inside a string, a \uXXXX escape's start.
_CUT_TOKEN = re.compile(r"-|\.|[eE][-+]?|t(?:ru?)?|f(?:a(?:ls?)?)?|n(?:ul?)?|")
_CUT_ESCAPE = re.compile(r"u[0-9a-fA-F]{0,4}")
_TAIL_CHARS = 64  # longer than any cut token, with room for white space after it


def looks_truncated(text: str, err: json.JSONDecodeError | None = None) -> bool:
    """Whether JSON text is cut off (ends inside a string, a token or an open bracket).

    ``err`` is the error :func:`json.loads` raised for ``text``, if the caller has it. The answer
    comes from where the parser stopped: at the very end of the text (nothing more to read), in
    a string that never ends, or in a token cut short at the end. Only the last characters are
    looked at, so a 500 MB text is judged in microseconds.
    """
    if err is None:
        try:
            json.loads(text)
        except json.JSONDecodeError as e:
            err = e
        except RecursionError:
            return False
        else:
            return False
    if err.msg.startswith("Unterminated string"):  # the end came inside a string
        return True
    if err.msg.startswith("Extra data"):  # a whole document, then more
        return False
    after = err.pos + _TAIL_CHARS
    if after < len(text) and not (text[after].isspace() and text[after:].isspace()):
        return False  # the parser stopped well before the end: garbled, not cut
    tail = text[err.pos:after].strip()
    if err.msg.startswith("Invalid \\uXXXX escape"):
        return _CUT_ESCAPE.fullmatch(tail) is not None
    return _CUT_TOKEN.fullmatch(tail) is not None

"""Live readings of one process tree: the workload child and whatever it starts.

The tree is re-listed at most every ``children_refresh_s``; what a tick needs of each process is
kept between ticks, so a tick creates nothing. On Linux a tick reads one file per process,
/proc/PID/stat, through a descriptor kept open (which also cannot be fooled by a reused pid: it
fails once its process has gone), and the tree is listed from the kernel's own child lists
(/proc/PID/task/TID/children: a few small reads per process of the tree, where psutil's
``children()`` reads the stat file of every process of the machine, milliseconds on a busy one,
taken from the workload it watches); elsewhere, or on a kernel without those lists, psutil reads
the same facts.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import psutil

from hwprof.core.telemetry import MetricInfo, metric_infos

PROCESS_METRICS: tuple[str, ...] = (
    "proc.cpu_percent",
    "proc.rss_bytes",
    "proc.threads",
    "proc.processes",
)


_LINUX = sys.platform.startswith("linux")
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if _LINUX else 100
_PAGE_BYTES = os.sysconf("SC_PAGE_SIZE") if _LINUX else 4096


@dataclass
class _Tracked:
    proc: psutil.Process
    cpu_s: float | None = None  # user + system seconds at the previous tick
    stat_fd: int | None = None  # /proc/PID/stat, kept open (Linux)

    def close(self) -> None:
        if self.stat_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self.stat_fd)
            self.stat_fd = None


def _open_stat(pid: int) -> int | None:
    if not _LINUX:
        return None
    try:
        return os.open(f"/proc/{pid}/stat", os.O_RDONLY)
    except OSError:
        return None


def _read_stat(fd: int) -> tuple[float, int, int]:
    """(user + system CPU seconds, RSS bytes, threads) from /proc/PID/stat.

    Raises ProcessLookupError once the process has ended.
    """
    text = os.pread(fd, 4096, 0)
    if not text:
        raise ProcessLookupError
    # The command name (field 2) may hold spaces and parentheses: count from the last ")".
    fields = text[text.rindex(b")") + 2 :].split()
    cpu_s = (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS  # utime, stime
    return cpu_s, int(fields[21]) * _PAGE_BYTES, int(fields[17])  # rss pages, num_threads


def has_child_lists(pid: int) -> bool:
    """Whether the kernel lists ``pid``'s children in /proc (Linux 3.5+, CONFIG_PROC_CHILDREN)."""
    return _LINUX and os.path.exists(f"/proc/{pid}/task/{pid}/children")


def linux_children(pid: int) -> list[int]:
    """The direct children of ``pid`` from the kernel's per-thread child lists (empty once gone).

    A child belongs to the thread that started it, so every thread's list is read.
    """
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []
    out: list[int] = []
    for tid in tids:
        try:
            fd = os.open(f"/proc/{pid}/task/{tid}/children", os.O_RDONLY)
        except OSError:  # the thread ended meanwhile
            continue
        try:
            data = os.read(fd, 1 << 16)
        except OSError:
            data = b""
        finally:
            os.close(fd)
        out.extend(int(x) for x in data.split())
    return out


def linux_tree(root: int) -> list[int]:
    """``root`` and all its descendants, parents before children."""
    tree = [root]
    seen = {root}
    for pid in tree:  # grows while it is walked: breadth first
        for child in linux_children(pid):
            if child not in seen:
                seen.add(child)
                tree.append(child)
    return tree


def _read_psutil(proc: psutil.Process) -> tuple[float, int, int]:
    with proc.oneshot():
        times = proc.cpu_times()
        return float(times.user + times.system), int(proc.memory_info().rss), proc.num_threads()


class ProcessTreeBackend:
    """CPU %, RSS and threads of a watched process and its descendants (None when none watched)."""

    name = "process"

    def __init__(
        self,
        *,
        children_refresh_s: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._children_refresh_s = children_refresh_s
        self._root: psutil.Process | None = None
        self._child_lists = False  # the tree is listed from /proc/PID/task/TID/children
        self._tracked: dict[int, _Tracked] = {}
        self._next_refresh = 0.0
        self._last_t: float | None = None
        self._last_unix: float | None = None
        self._pids: frozenset[int] = frozenset()

    # -- what to watch
    # ----------------------------------------------------------------------------------------
    def watch(self, pid: int) -> None:
        """Watch ``pid`` and its descendants from the next reading on.

        Raises ProcessLookupError when there is no such process.
        """
        try:
            root = psutil.Process(pid)
        except psutil.NoSuchProcess as err:
            raise ProcessLookupError(f"no process with id {pid}") from err
        child_lists = has_child_lists(pid)
        with self._lock:
            self._forget()
            self._root = root
            self._child_lists = child_lists
            self._next_refresh = 0.0

    def unwatch(self) -> None:
        """Stop watching; the process metrics read None from the next reading on."""
        with self._lock:
            self._forget()

    def _forget(self) -> None:
        for t in self._tracked.values():
            t.close()
        self._root = None
        self._tracked = {}
        self._last_t = None
        self._last_unix = None
        self._pids = frozenset()

    @property
    def watched_pid(self) -> int | None:
        """The root of the watched tree, if any."""
        root = self._root
        return root.pid if root is not None else None

    def pids(self) -> frozenset[int]:
        """The processes of the tree at the last reading (empty when none watched)."""
        return self._pids

    # -- the Backend protocol
    # -----------------------------------------------------------------------------------
    def available(self) -> bool:
        """Always: psutil can read our own children."""
        return True

    def unavailable_reason(self) -> str | None:
        """Never unavailable."""
        return None

    def devices(self) -> tuple[object, ...]:
        """A process tree is no device."""
        return ()

    def metrics(self) -> tuple[MetricInfo, ...]:
        """The metrics :meth:`sample` gives."""
        return metric_infos(PROCESS_METRICS)

    def sample(self) -> dict[str, float | None]:
        """One reading of the tree; all None when nothing is watched or the tree has ended."""
        with self._lock:
            return self._sample()

    def _sample(self) -> dict[str, float | None]:
        empty: dict[str, float | None] = dict.fromkeys(PROCESS_METRICS)
        root = self._root
        if root is None:
            return empty
        now = self._clock()
        unix_now = time.time()
        if now >= self._next_refresh:
            self._refresh_tree(root)
            self._next_refresh = now + self._children_refresh_s
        cpu_delta = 0.0
        rss = 0
        threads = 0
        alive: dict[int, _Tracked] = {}
        for pid, t in self._tracked.items():
            try:
                if t.stat_fd is not None:
                    cpu_s, rss_bytes, n_threads = _read_stat(t.stat_fd)
                else:
                    cpu_s, rss_bytes, n_threads = _read_psutil(t.proc)
            except (psutil.NoSuchProcess, psutil.ZombieProcess, ProcessLookupError):
                t.close()
                continue
            except (psutil.AccessDenied, OSError, ValueError, IndexError):
                alive[pid] = t
                continue
            if t.cpu_s is not None:
                cpu_delta += max(0.0, cpu_s - t.cpu_s)
            elif self._last_unix is not None and _created_after(t.proc, self._last_unix):
                cpu_delta += cpu_s  # started since the previous tick: all its time is new
            t.cpu_s = cpu_s
            rss += rss_bytes
            threads += n_threads
            alive[pid] = t
        self._tracked = alive
        self._pids = frozenset(alive)
        if not alive:
            self._last_t = None
            return empty
        cpu_percent: float | None = None
        if self._last_t is not None and now > self._last_t:
            cpu_percent = 100.0 * cpu_delta / (now - self._last_t)
        self._last_t, self._last_unix = now, unix_now
        return {
            "proc.cpu_percent": cpu_percent,
            "proc.rss_bytes": float(rss),
            "proc.threads": float(threads),
            "proc.processes": float(len(alive)),
        }

    def _refresh_tree(self, root: psutil.Process) -> None:
        if self._child_lists:
            self._refresh_from_child_lists(root)
            return
        try:
            procs = [root, *root.children(recursive=True)] if root.is_running() else []
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            procs = []
        except psutil.AccessDenied:
            procs = [root]
        tracked: dict[int, _Tracked] = {}
        for p in procs:
            old = self._tracked.pop(p.pid, None)
            # The same pid with a different start time is a new process (pids get reused).
            if old is not None and old.proc == p:
                tracked[p.pid] = old
            else:
                if old is not None:
                    old.close()
                tracked[p.pid] = _Tracked(p, stat_fd=_open_stat(p.pid))
        for gone in self._tracked.values():
            gone.close()
        self._tracked = tracked

    def _refresh_from_child_lists(self, root: psutil.Process) -> None:
        """Linux: the tree from the kernel's child lists; a pid already tracked is kept as is.

        A kept pid cannot be a reused one unnoticed: its stat descriptor fails once its process
        has gone, the tick drops it, and the next refresh takes the new process afresh.
        """
        pids = linux_tree(root.pid) if root.is_running() else []
        tracked: dict[int, _Tracked] = {}
        for pid in pids:
            old = self._tracked.pop(pid, None)
            if old is not None:
                tracked[pid] = old
                continue
            try:
                proc = root if pid == root.pid else psutil.Process(pid)
            except psutil.Error:  # ended since it was listed
                continue
            tracked[pid] = _Tracked(proc, stat_fd=_open_stat(pid))
        for gone in self._tracked.values():
            gone.close()
        self._tracked = tracked

    def close(self) -> None:
        """Forget the watched tree."""
        self.unwatch()


def _created_after(proc: psutil.Process, unix_s: float) -> bool:
    try:
        return proc.create_time() > unix_s
    except psutil.Error:
        return False

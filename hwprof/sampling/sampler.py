"""The live telemetry engine: one plain thread reading every source on a fixed schedule."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType, TracebackType
from typing import Protocol, TypeVar

import numpy as np

from hwprof.backends.amd import AmdBackend
from hwprof.backends.apple import AppleBackend
from hwprof.backends.host import HostBackend
from hwprof.backends.intel import IntelBackend
from hwprof.backends.nvml import NvmlBackend
from hwprof.backends.process import ProcessTreeBackend
from hwprof.core.devices import vendor_gpu_state, vendor_gpu_summary
from hwprof.core.telemetry import MetricInfo, TelemetryRecord
from hwprof.sampling.ring import RingBuffer, TelemetryWindow
from hwprof.sampling.subscriber import Subscriber, Subscription, TelemetrySample

log = logging.getLogger(__name__)

DEFAULT_INTERVAL_S = 0.5
MIN_INTERVAL_S = 0.1
DEFAULT_CAPACITY = 7200  # ticks kept per metric: one hour at the default interval
_NAN = float("nan")
S = TypeVar("S")


class MetricSource(Protocol):
    """Anything that can join a sampler: a fixed list of metrics and one reading of them."""

    def metrics(self) -> Sequence[MetricInfo]:
        """The metrics :meth:`sample` gives (fixed)."""
        ...

    def sample(self) -> Mapping[str, float | None]:
        """One reading."""
        ...


class Sampler:
    """Reads the CPU, the host, the GPUs (NVIDIA, AMD, Intel) and a watched process tree, each tick.

    Schedule: tick k is due at ``t0 + k * interval_s`` (t0 = when it starts), so a slow tick delays
    the next one but the schedule does not drift; when it falls a whole interval behind, the missed
    ticks are skipped (their slots stay empty) rather than run in a burst. Tick 0 only primes the
    counters (utilization, power and CPU time need two readings), so the first sample is tick 1.

    Timestamps are ``time.monotonic()`` (CLOCK_MONOTONIC on Linux: system-wide, so a worker
    process's own ``time.monotonic()`` step timings share the axis).

    Memory: each metric keeps the last ``capacity`` ticks in a preallocated ring buffer, by default
    7200 ticks (one hour at 0.5 s, 12 minutes at 0.1 s). The buffer holds
    ``capacity * (metrics + 1) * 8`` bytes, fixed when the sampler is made and never growing: e.g.
    18 metrics (a 2-core machine, no GPU) is 1.1 MB; a 64-core machine with 8 GPUs (about 265
    metrics) is 15 MB. See :attr:`memory_bytes`.

    Sources: ``host``, ``process`` and ``gpus`` are made here when True (and closed by
    :meth:`stop`), left out when False, or used as given (and then left open). The metric list is
    fixed when the sampler is made; a GPU that is lost later reads as gaps (None / NaN).

    Use it as a context manager (``with Sampler() as s:`` starts and stops the thread), or call
    :meth:`start` and :meth:`stop`. A sampler runs once. Subscribers (:meth:`subscribe`) are called
    on the sampler thread with each :class:`TelemetrySample`; readers on other threads use
    :meth:`window`, :meth:`latest` and :meth:`record`.
    """

    def __init__(
        self,
        interval_s: float = DEFAULT_INTERVAL_S,
        *,
        capacity: int = DEFAULT_CAPACITY,
        host: HostBackend | bool = True,
        process: ProcessTreeBackend | bool = True,
        gpus: NvmlBackend | bool = True,
        amd: AmdBackend | bool = True,
        intel: IntelBackend | bool = True,
        apple: AppleBackend | bool = True,
        extra_sources: Sequence[MetricSource] = (),
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], object] | None = None,
        thread_name: str = "hwprof-sampler",
    ) -> None:
        if not (isinstance(interval_s, (int, float)) and math.isfinite(interval_s)):
            raise ValueError("the interval must be a number of seconds")
        if interval_s < MIN_INTERVAL_S:
            raise ValueError(f"the interval must be at least {MIN_INTERVAL_S} s (got {interval_s})")
        if not thread_name.startswith("hwprof"):
            raise ValueError('sampler thread names start with "hwprof"')
        self.interval_s = float(interval_s)
        self._clock = clock
        self._stop = threading.Event()
        self._sleep = sleep
        self._thread_name = thread_name
        self._owned: list[object] = []

        self.host: HostBackend | None = _pick(host, HostBackend, self._owned)
        self.process: ProcessTreeBackend | None = _pick(process, ProcessTreeBackend, self._owned)
        self.gpus: NvmlBackend | None = _pick(gpus, NvmlBackend, self._owned)
        self.amd: AmdBackend | None = _pick(amd, AmdBackend, self._owned)
        self.intel: IntelBackend | None = _pick(intel, IntelBackend, self._owned)
        self.apple: AppleBackend | None = _pick(apple, AppleBackend, self._owned)
        self._extra = tuple(extra_sources)

        self.gpu_unavailable_reason: str | None = None
        metrics: list[MetricInfo] = []
        if self.host is not None:
            metrics += self.host.metrics()
        if self.process is not None:
            metrics += self.process.metrics()
        if self.gpus is not None:
            if self.gpus.available():
                metrics += self.gpus.metrics()
            else:
                self.gpu_unavailable_reason = self.gpus.unavailable_reason()
        if self.amd is not None:
            if self.amd.available():
                # AMD GPUs are numbered after the NVIDIA ones, as detection numbers them
                nvidia = self.gpus.live_gpu_indexes() if self.gpus is not None else ()
                self.amd.index_offset = len(nvidia) if self.gpu_unavailable_reason is None else 0
                metrics += self.amd.metrics()
            else:
                self.amd = None  # no amdgpu driver: nothing to say on an NVIDIA or CPU machine
        if self.intel is not None:
            if self.intel.available():
                # Intel GPUs are numbered after the NVIDIA and AMD ones, as detection numbers them
                nvidia = (self.gpus.live_gpu_indexes()
                          if self.gpus is not None and self.gpu_unavailable_reason is None else ())
                amd_gpus = self.amd.live_gpu_indexes() if self.amd is not None else ()
                self.intel.index_offset = len(nvidia) + len(amd_gpus)
                # power comes from the hwmon energy counter: the first tick reads none
                metrics += self.intel.metrics()
            else:
                self.intel = None  # no i915/xe driver: nothing to say
        if self.apple is not None:
            if self.apple.available():
                # the Apple GPU follows every other vendor's, as detection numbers it; power
                # needs root (powermetrics) and reads None
                self.apple.index_offset = self.gpu_count - len(self.apple.live_gpu_indexes())
                metrics += self.apple.metrics()
            else:
                self.apple = None  # not an Apple silicon Mac: nothing to say
        for src in self._extra:
            metrics += src.metrics()
        unique: dict[str, MetricInfo] = {}
        for m in metrics:
            unique.setdefault(m.name, m)  # a name two sources give is read from the first
        self.metrics: tuple[MetricInfo, ...] = tuple(unique.values())
        self.names: tuple[str, ...] = tuple(m.name for m in self.metrics)
        self._ring = RingBuffer(self.names, capacity)
        self._row = np.full(len(self.names), _NAN)

        self._subscribers: tuple[Subscriber, ...] = ()
        self._sub_lock = threading.Lock()
        self._latest: TelemetrySample | None = None
        self._failed_sources: set[int] = set()
        self._thread: threading.Thread | None = None
        self._ran = False
        self._closed = False
        self.ticks = 0  # samples taken
        self.skipped_ticks = 0  # slots left empty because a tick overran
        self.t0: float | None = None
        self.unix_offset_s = time.time() - time.monotonic()

    # -- facts
    # --------------------------------------------------------------------------------------------
    @property
    def capacity(self) -> int:
        """Ticks kept per metric."""
        return self._ring.capacity

    @property
    def memory_bytes(self) -> int:
        """Bytes the history holds (fixed)."""
        return self._ring.nbytes

    @property
    def notes(self) -> tuple[str, ...]:
        """What is not monitored here and why, one line each (for a status line)."""
        out: list[str] = []
        if self.gpu_unavailable_reason:
            out.append(vendor_gpu_state("nvidia", 0, self.gpu_unavailable_reason))
        if self.host is not None:
            out += self.host.notes()
        return tuple(out)

    def gpu_summary(self, verb: str = "monitored") -> str | None:
        """Per vendor, what happens to the GPUs, when a vendor's back end did not answer.

        E.g. "NVIDIA: no driver (NVML library not found); AMD: 1 GPU monitored". None when every
        GPU back end the machine has answered (nothing to say), or when GPUs were left out.
        """
        if not self.gpu_unavailable_reason:
            return None
        states: list[tuple[str, int, str | None]] = [("nvidia", 0, self.gpu_unavailable_reason)]
        if self.amd is not None:  # kept only when the amdgpu driver answered
            states.append(("amd", len(self.amd.live_gpu_indexes()), None))
        if self.intel is not None:  # kept only when i915 or xe answered
            states.append(("intel", len(self.intel.live_gpu_indexes()), None))
        if self.apple is not None:  # kept only on an Apple silicon Mac
            states.append(("apple", len(self.apple.live_gpu_indexes()), None))
        return vendor_gpu_summary(states, verb)

    @property
    def gpu_count(self) -> int:
        """How many GPUs (of any vendor) this sampler reads."""
        nvidia = self.gpus.live_gpu_indexes() if self.gpus is not None else ()  # () if no driver
        amd = self.amd.live_gpu_indexes() if self.amd is not None else ()
        intel = self.intel.live_gpu_indexes() if self.intel is not None else ()
        apple = self.apple.live_gpu_indexes() if self.apple is not None else ()
        return len(nvidia) + len(amd) + len(intel) + len(apple)

    @property
    def running(self) -> bool:
        """Whether the sampler thread is running."""
        return self._thread is not None and self._thread.is_alive()

    # -- process tree
    # -------------------------------------------------------------------------------------
    def watch_process(self, pid: int) -> None:
        """Read ``pid`` and its descendants from the next tick on (ProcessLookupError if none)."""
        if self.process is None:
            raise RuntimeError("this sampler was made without process metrics")
        self.process.watch(pid)

    def unwatch_process(self) -> None:
        """Stop reading the process tree (its metrics read None from the next tick)."""
        if self.process is not None:
            self.process.unwatch()

    @property
    def watched_pid(self) -> int | None:
        """The root of the watched process tree."""
        return self.process.watched_pid if self.process is not None else None

    # -- subscribers
    # --------------------------------------------------------------------------------------
    def subscribe(self, callback: Subscriber) -> Subscription:
        """Call ``callback(sample)`` on the sampler thread after every tick, until cancelled."""
        with self._sub_lock:
            self._subscribers = (*self._subscribers, callback)
        return Subscription(lambda: self.unsubscribe(callback), callback)

    def unsubscribe(self, callback: Subscriber) -> None:
        """Stop calling ``callback`` (no error if it is not subscribed)."""
        with self._sub_lock:
            subs = list(self._subscribers)
            if callback in subs:
                subs.remove(callback)
            self._subscribers = tuple(subs)

    def _notify(self, sample: TelemetrySample) -> None:
        for callback in self._subscribers:
            try:
                callback(sample)
            except Exception:
                log.exception("telemetry subscriber %r raised; it is dropped", callback)
                self.unsubscribe(callback)

    # -- reading history
    # ----------------------------------------------------------------------------------
    def latest(self) -> TelemetrySample | None:
        """The last sample taken."""
        return self._latest

    def window(
        self,
        seconds: float | None = None,
        *,
        since: float | None = None,
        until: float | None = None,
        names: Sequence[str] | None = None,
    ) -> TelemetryWindow:
        """History as numpy arrays (copies, NaN = gap), oldest first.

        The last ``seconds`` (counted back from the newest sample), or ``since``/``until``
        (monotonic seconds); every metric unless ``names`` says which.
        """
        if seconds is not None:
            newest = self._ring.latest()
            if newest is None:
                return self._ring.window(last=0, names=names)
            since = newest[0] - seconds
        return self._ring.window(since=since, until=until, names=names)

    def record(
        self,
        since: float | None = None,
        until: float | None = None,
        names: Sequence[str] | None = None,
    ) -> TelemetryRecord:
        """The history between ``since`` and ``until`` (monotonic seconds) as a snapshot block.

        Only what the ring buffer still holds; for runs longer than its capacity use a
        :class:`~hwprof.sampling.recorder.TelemetryRecorder`.
        """
        w = self._ring.window(since=since, until=until, names=names)
        wanted = self.names if names is None else tuple(names)
        by_name = {m.name: m for m in self.metrics}
        return TelemetryRecord(
            interval_seconds=self.interval_s,
            unix_offset_s=self.unix_offset_s,
            metrics=tuple(by_name[n] for n in wanted),
            timestamps_s=tuple(w.timestamps.tolist()),
            values={n: tuple(_none_for_nan(w.values[n])) for n in wanted},
        )

    # -- running
    # ------------------------------------------------------------------------------------------
    def start(self) -> Sampler:
        """Start the sampler thread (a daemon named ``hwprof-sampler``)."""
        if self._ran or self._closed:
            raise RuntimeError("a Sampler runs once; make a new one")
        self._ran = True
        self._thread = threading.Thread(
            target=self._thread_main, name=self._thread_name, daemon=True
        )
        self._thread.start()
        return self

    def _thread_main(self) -> None:
        try:
            self._loop(max_ticks=None)
        except Exception:  # the loop guards every source and subscriber; this is a last resort
            log.exception("the sampler stopped on an unexpected error")

    def run(self, max_ticks: int | None = None) -> None:
        """Sample on the calling thread until :meth:`stop` (from elsewhere) or ``max_ticks``."""
        if self._ran or self._closed:
            raise RuntimeError("a Sampler runs once; make a new one")
        self._ran = True
        self._loop(max_ticks)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread (waiting up to ``timeout`` s) and release the sources made here."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
            if thread.is_alive():
                log.warning("the sampler thread did not stop within %.1f s", timeout)
                return  # do not close sources under a running reader
        self._close_sources()

    close = stop

    def __enter__(self) -> Sampler:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _close_sources(self) -> None:
        if self._closed:
            return
        self._closed = True
        for src in self._owned:
            try:
                if isinstance(src, (NvmlBackend, AmdBackend, IntelBackend, AppleBackend)):
                    src.shutdown()
                elif isinstance(src, (HostBackend, ProcessTreeBackend)):
                    src.close()
            except Exception:  # releasing must never raise
                log.exception("closing %r failed", src)

    def _wait_until(self, deadline: float) -> bool:
        """Sleep until ``deadline``; True when asked to stop."""
        delay = deadline - self._clock()
        if delay > 0:
            if self._sleep is None:
                return self._stop.wait(delay)
            self._sleep(delay)
        return self._stop.is_set()

    def _loop(self, max_ticks: int | None) -> None:
        interval = self.interval_s
        t0 = self._clock()
        self.t0 = t0
        self._read()  # tick 0: prime the counters that need two readings
        k = 1
        while not self._stop.is_set():
            scheduled = t0 + k * interval
            if self._wait_until(scheduled):
                break
            self.sample_once(tick=k, scheduled_s=scheduled)
            if max_ticks is not None and self.ticks >= max_ticks:
                break
            k += 1
            behind = self._clock() - (t0 + k * interval)
            if behind >= interval:
                # More than a whole interval late: leave the missed slots empty and go on from the
                # next one, rather than firing a burst of ticks with nothing between them.
                skip = int(behind // interval)
                k += skip
                self.skipped_ticks += skip

    def sample_once(
        self, *, tick: int | None = None, scheduled_s: float | None = None
    ) -> TelemetrySample:
        """Take one sample now: read, store, notify subscribers. The loop calls this each tick."""
        t = self._clock()
        values = self._read()
        unix = time.time()
        row = self._row
        clean: dict[str, float | None] = {}
        for i, name in enumerate(self.names):
            v = values.get(name)
            if v is not None and v != v:  # NaN from a source is a gap like None
                v = None
            clean[name] = v
            row[i] = _NAN if v is None else v
        self._ring.append(t, row)
        sample = TelemetrySample(
            tick=self.ticks + 1 if tick is None else tick,
            monotonic_s=t,
            scheduled_s=t if scheduled_s is None else scheduled_s,
            unix_s=unix,
            values=MappingProxyType(clean),  # shared by every subscriber: read-only
        )
        self.ticks += 1
        self._latest = sample
        self._notify(sample)
        return sample

    def _read(self) -> dict[str, float | None]:
        values: dict[str, float | None] = {}
        if self.host is not None:
            self._guarded(self.host, self.host.sample, values)
        pids: frozenset[int] = frozenset()
        if self.process is not None:
            self._guarded(self.process, self.process.sample, values)
            pids = self.process.pids()
        if self.gpus is not None and self.gpu_unavailable_reason is None:
            gpus = self.gpus
            self._guarded(gpus, lambda: gpus.sample(pids), values)
        if self.amd is not None:
            amd = self.amd
            self._guarded(amd, lambda: amd.sample(pids), values)
        if self.intel is not None:
            intel = self.intel
            self._guarded(intel, lambda: intel.sample(pids), values)
        if self.apple is not None:
            apple = self.apple
            self._guarded(apple, lambda: apple.sample(pids), values)
        for src in self._extra:
            self._guarded(src, src.sample, values)
        return values

    def _guarded(
        self,
        source: object,
        read: Callable[[], Mapping[str, float | None]],
        into: dict[str, float | None],
    ) -> None:
        try:
            into.update(read())
        except Exception:  # a source that fails gives gaps this tick; the sampler goes on
            if id(source) not in self._failed_sources:
                self._failed_sources.add(id(source))
                log.exception("telemetry source %r failed (its metrics read None)", source)


def _pick(given: S | bool, factory: Callable[[], S], owned: list[object]) -> S | None:
    """A source as the constructor was told: True = make one (and own it), False = none."""
    if isinstance(given, bool):
        if not given:
            return None
        made = factory()
        owned.append(made)
        return made
    return given


def _none_for_nan(values: np.ndarray) -> list[float | None]:
    return [None if v != v else float(v) for v in values.tolist()]

"""Keeps the telemetry of one run, however long, for its snapshot."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from types import TracebackType

import numpy as np

from hwprof.core.telemetry import TelemetryRecord
from hwprof.sampling.sampler import Sampler
from hwprof.sampling.subscriber import Subscription, TelemetrySample

DEFAULT_MAX_SAMPLES = 14400  # 2 h at 0.5 s before thinning starts


class TelemetryRecorder:
    """Subscribes to a sampler between :meth:`start` and :meth:`stop` and keeps every tick.

    Memory stays bounded: when ``max_samples`` are held, every other one is dropped and from then on
    only every second tick is kept (``decimation`` doubles), so a run of any length fits in
    ``max_samples * (metrics + 1) * 8`` bytes. Use it as a context manager around a run.
    """

    def __init__(
        self,
        sampler: Sampler,
        *,
        names: Sequence[str] | None = None,
        max_samples: int = DEFAULT_MAX_SAMPLES,
    ) -> None:
        if max_samples < 2:
            raise ValueError("max_samples must be at least 2")
        self._sampler = sampler
        self.names: tuple[str, ...] = sampler.names if names is None else tuple(names)
        unknown = [n for n in self.names if n not in sampler.names]
        if unknown:
            raise KeyError(f"the sampler has no metric {unknown[0]!r}")
        self.max_samples = max_samples
        self.decimation = 1
        self._lock = threading.Lock()
        self._t = np.empty(0)
        self._v = np.empty((0, len(self.names)))
        self._n = 0
        self._seen = 0
        self._subscription: Subscription | None = None

    def start(self) -> TelemetryRecorder:
        """Begin keeping samples."""
        if self._subscription is None:
            self._subscription = self._sampler.subscribe(self._on_sample)
        return self

    def stop(self) -> TelemetryRecord:
        """Stop keeping samples; the record so far."""
        if self._subscription is not None:
            self._subscription.cancel()
            self._subscription = None
        return self.record()

    def __enter__(self) -> TelemetryRecorder:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __len__(self) -> int:
        return self._n

    def _on_sample(self, sample: TelemetrySample) -> None:
        with self._lock:
            seen = self._seen
            self._seen += 1
            if seen % self.decimation:
                return
            if self._n == self.max_samples:
                keep = self._n // 2
                self._t[:keep] = self._t[0 : self._n : 2][:keep]
                self._v[:keep] = self._v[0 : self._n : 2][:keep]
                self._n = keep
                self.decimation *= 2
                if seen % self.decimation:
                    return
            if self._n == len(self._t):  # grow by doubling, up to max_samples
                size = min(self.max_samples, max(64, 2 * len(self._t)))
                t = np.empty(size)
                v = np.empty((size, len(self.names)))
                t[: self._n] = self._t[: self._n]
                v[: self._n] = self._v[: self._n]
                self._t, self._v = t, v
            self._t[self._n] = sample.monotonic_s
            row = self._v[self._n]
            for j, name in enumerate(self.names):
                value = sample.values.get(name)
                row[j] = np.nan if value is None else value
            self._n += 1

    def record(self) -> TelemetryRecord:
        """What was kept, as a snapshot block."""
        by_name = {m.name: m for m in self._sampler.metrics}
        with self._lock:
            n = self._n
            times = self._t[:n].tolist()
            columns = {name: self._v[:n, j].tolist() for j, name in enumerate(self.names)}
            decimation = self.decimation
        return TelemetryRecord(
            interval_seconds=self._sampler.interval_s,
            decimation=decimation,
            unix_offset_s=self._sampler.unix_offset_s,
            metrics=tuple(by_name[n] for n in self.names),
            timestamps_s=tuple(times),
            values={k: tuple(None if x != x else x for x in v) for k, v in columns.items()},
        )

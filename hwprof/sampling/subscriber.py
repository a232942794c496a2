"""What a sampler hands its subscribers, and ready-made subscribers.

Callbacks run on the sampler's thread, once per tick, so they must be quick: a GUI re-emits the
sample as a Qt signal, the CLI puts it on a queue (:class:`QueueSubscriber`), a recorder copies it.
A callback that raises is logged and dropped; it never stops the sampler.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType


@dataclass(frozen=True)
class TelemetrySample:
    """One tick: when it was read and every metric's value (None = not available this tick)."""

    tick: int  # k in t0 + k * interval; ticks that were skipped (the sampler fell behind) are gaps
    monotonic_s: float  # when the reading started, time.monotonic() seconds
    scheduled_s: float  # t0 + k * interval: when it was due
    unix_s: float  # time.time() at the reading, for people and CSV files
    values: Mapping[str, float | None]

    def get(self, name: str) -> float | None:
        """One metric's value (None when missing or not available)."""
        return self.values.get(name)


Subscriber = Callable[[TelemetrySample], object]


class Subscription:
    """A handle on one subscriber: ``cancel()`` (or leaving a ``with`` block) unsubscribes."""

    def __init__(self, cancel: Callable[[], None], callback: Subscriber) -> None:
        self._cancel = cancel
        self.callback = callback

    def cancel(self) -> None:
        """Stop receiving samples (safe to call twice)."""
        self._cancel()

    def __enter__(self) -> Subscription:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.cancel()


class QueueSubscriber:
    """Hands samples to another thread through a bounded queue; when full, the oldest is dropped.

    Use it as the callback: ``sampler.subscribe(q)``; then ``q.get(timeout)`` on the consumer.
    """

    def __init__(self, maxsize: int = 1024) -> None:
        self.queue: queue.Queue[TelemetrySample] = queue.Queue(maxsize=maxsize)
        self.dropped = 0
        self._lock = threading.Lock()

    def __call__(self, sample: TelemetrySample) -> None:
        """Queue one sample (called on the sampler thread)."""
        with self._lock:
            while True:
                try:
                    self.queue.put_nowait(sample)
                    return
                except queue.Full:
                    try:
                        self.queue.get_nowait()
                        self.dropped += 1
                    except queue.Empty:
                        pass

    def get(self, timeout: float | None = None) -> TelemetrySample | None:
        """The next sample, or None after ``timeout`` seconds without one."""
        try:
            return self.queue.get(timeout=timeout)
        except queue.Empty:
            return None

    def drain(self) -> list[TelemetrySample]:
        """Every sample waiting now, oldest first."""
        out = []
        while True:
            try:
                out.append(self.queue.get_nowait())
            except queue.Empty:
                return out

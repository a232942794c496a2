"""Live telemetry: a sampler thread, its ring-buffer history, subscribers and a run recorder."""

from __future__ import annotations

from hwprof.sampling.recorder import TelemetryRecorder
from hwprof.sampling.ring import RingBuffer, TelemetryWindow
from hwprof.sampling.sampler import (
    DEFAULT_CAPACITY,
    DEFAULT_INTERVAL_S,
    MIN_INTERVAL_S,
    MetricSource,
    Sampler,
)
from hwprof.sampling.subscriber import QueueSubscriber, Subscription, TelemetrySample

__all__ = [
    "DEFAULT_CAPACITY",
    "DEFAULT_INTERVAL_S",
    "MIN_INTERVAL_S",
    "MetricSource",
    "QueueSubscriber",
    "RingBuffer",
    "Sampler",
    "Subscription",
    "TelemetryRecorder",
    "TelemetrySample",
    "TelemetryWindow",
]

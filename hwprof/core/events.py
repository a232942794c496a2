"""The JSON-lines protocol between a run worker and its parent.

Each line the worker writes on its stdout is one JSON object with an ``event`` key:

- ``started``: the process is up (``pid``, ``t`` monotonic seconds), before TensorFlow is imported;
- ``ready``: TensorFlow imported and the device set up (``tensorflow_version``, ``tf_device``);
- ``compiled``: the first step ran (``time_to_first_step_s``, ``samples_per_step``, FLOPs, bytes);
- ``warmup``: a warm-up step ended (``done``, ``total``);
- ``steps``: timed steps since the last such event (``start_s``, ``seconds``), a few per second;
- ``result``: the run finished; ``report`` is a :class:`~hwprof.core.results.WorkerReport`;
- ``error``: the run failed inside TensorFlow or Python (``kind``, ``message``).

Nothing else is ever written to that stream: the worker sends stray prints to stderr.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

STARTED, READY, COMPILED, WARMUP, STEPS, RESULT, ERROR = (
    "started",
    "ready",
    "compiled",
    "warmup",
    "steps",
    "result",
    "error",
)
EVENTS = (STARTED, READY, COMPILED, WARMUP, STEPS, RESULT, ERROR)


def encode(event: str, **data: Any) -> str:
    """One protocol line (without the newline)."""
    return json.dumps({"event": event, **data}, separators=(",", ":"), allow_nan=False)


def decode(line: str) -> dict[str, Any] | None:
    """The event on ``line``, or None when the line is not a protocol event."""
    line = line.strip()
    if not line.startswith("{"):
        return None
    try:
        data = json.loads(line)
    except json.JSONDecodeError:
        return None
    if not isinstance(data, dict) or data.get("event") not in EVENTS:
        return None
    return data


# -- typed events ---------------------------------------------------------------------------------
# The parent reads the protocol once, here, into these types; every front end and the session model
# take them instead of dicts, so a field's name and type are spelt in one place.
def _float(value: Any, default: float | None = None) -> float | None:
    try:
        return float(value) if value is not None else default
    except (TypeError, ValueError):
        return default


def _floats(value: Any) -> tuple[float, ...]:
    if not isinstance(value, list | tuple):
        return ()
    out = []
    for v in value:
        f = _float(v)
        if f is None:
            return ()  # a malformed batch is dropped whole: half a batch would skew the rate
        out.append(f)
    return tuple(out)


@dataclass(frozen=True)
class Started:
    """The worker process is up (before TensorFlow is imported)."""

    pid: int | None
    t: float | None


@dataclass(frozen=True)
class Ready:
    """TensorFlow is imported and the device set up."""

    tensorflow_version: str | None
    tf_device: str | None


@dataclass(frozen=True)
class Compiled:
    """The first (tracing, compiling) step ran."""

    time_to_first_step_s: float | None
    samples_per_step: float
    flops_per_sample: float | None
    bytes_per_sample: float | None


@dataclass(frozen=True)
class Warmup:
    """A warm-up step ended."""

    done: int
    total: int


@dataclass(frozen=True)
class Steps:
    """Timed steps since the last such event: when each began and how long it took (seconds)."""

    start_s: tuple[float, ...]
    seconds: tuple[float, ...]


@dataclass(frozen=True)
class Result:
    """The run finished; ``report`` is the worker's report as JSON (the runner validates it)."""

    report: dict[str, Any]


@dataclass(frozen=True)
class Error:
    """The run failed inside TensorFlow or Python."""

    kind: str
    message: str


WorkerEvent = Started | Ready | Compiled | Warmup | Steps | Result | Error


def parse(data: dict[str, Any]) -> WorkerEvent | None:
    """The typed event of a decoded protocol line (None for an unknown or malformed one)."""
    kind = data.get("event")
    if kind == STARTED:
        pid = data.get("pid")
        return Started(pid if isinstance(pid, int) else None, _float(data.get("t")))
    if kind == READY:
        version, device = data.get("tensorflow_version"), data.get("tf_device")
        return Ready(str(version) if version is not None else None,
                     str(device) if device is not None else None)
    if kind == COMPILED:
        per_step = _float(data.get("samples_per_step"), 1.0) or 1.0
        return Compiled(_float(data.get("time_to_first_step_s")), per_step,
                        _float(data.get("flops_per_sample")), _float(data.get("bytes_per_sample")))
    if kind == WARMUP:
        done, total = data.get("done"), data.get("total")
        if isinstance(done, int) and isinstance(total, int):
            return Warmup(done, total)
        return None
    if kind == STEPS:
        start, seconds = _floats(data.get("start_s")), _floats(data.get("seconds"))
        if len(start) != len(seconds):
            return None
        return Steps(start, seconds)
    if kind == RESULT:
        report = data.get("report")
        return Result(report) if isinstance(report, dict) else None
    if kind == ERROR:
        return Error(str(data.get("kind") or "exception"), str(data.get("message") or ""))
    return None

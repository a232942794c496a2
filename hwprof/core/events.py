"""The JSON-lines protocol between a run worker and its parent.

Each line the worker writes on its stdout is one JSON object with an ``event`` key:

- ``started``: the process is up (``pid``, ``t`` monotonic seconds), before TensorFlow is imported;
- ``ready``: TensorFlow imported and the device set up (``tensorflow_version``, ``tf_device``);
- ``compiled``: the first step ran (``time_to_first_step_s``, ``samples_per_step``, FLOPs, bytes);
- ``warmup``: a warm-up step ended (``done``, ``total``);
- ``steps``: timed steps since the last such event (``start_s``, ``seconds``), a few per second;
- ``result``: the run finished; ``report`` is a :class:`~hwprof.core.results.WorkerReport`;
- ``error``: the run failed inside TensorFlow or Python (``kind``, ``message``);
- ``numerics``: (suite worker only, just before ``result``) the model's output checked against
  the CPU's fp32 output (``check``: a :class:`~hwprof.core.profile.NumericsCheck` as JSON,
  ``seconds``: how long the check took).

Nothing else is ever written to that stream: the worker sends stray prints to stderr.

The suite worker (``hwprof _child suite``) runs many tests in one process: it reads one
:class:`SuiteRequest` per line on its stdin and answers each with the events above, each tagged
with the request's number (``request``) and test id (``test_id``), starting with ``started``;
end of input ends it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from hwprof.core.spec import RunSpec

STARTED, READY, COMPILED, WARMUP, STEPS, RESULT, ERROR, NUMERICS = (
    "started",
    "ready",
    "compiled",
    "warmup",
    "steps",
    "result",
    "error",
    "numerics",
)
EVENTS = (STARTED, READY, COMPILED, WARMUP, STEPS, RESULT, ERROR, NUMERICS)


class SuiteRequest(BaseModel):
    """One test for the suite worker: a line of JSON on its stdin."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    request: int = Field(ge=0, description="numbers the test's events")
    test_id: str = Field(description="the suite test (also selects an injected fault)")
    spec: RunSpec
    numerics: bool = Field(default=False, description="check the model's output after timing")


ProcessSettings = tuple[str, int | None, int | None]


def process_settings(spec: RunSpec) -> ProcessSettings:
    """What a worker process sets once, before TensorFlow's first op: device and thread pools.

    Specs that agree on these can share a suite worker.
    """
    return (spec.device, spec.intra_op_threads, spec.inter_op_threads)


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


@dataclass(frozen=True)
class Numerics:
    """The numerics check of a suite test (``check``: a NumericsCheck as JSON)."""

    check: dict[str, Any]
    seconds: float | None


WorkerEvent = Started | Ready | Compiled | Warmup | Steps | Result | Error | Numerics


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
    if kind == NUMERICS:
        check = data.get("check")
        return Numerics(check, _float(data.get("seconds"))) if isinstance(check, dict) else None
    return None

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

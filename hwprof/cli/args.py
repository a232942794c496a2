"""Argument types and names the commands share: numbers that must be finite, one spelling per flag.

``float("nan")`` and ``float("inf")`` parse, and NaN then slips through every ``<= 0`` check: a
``--timeout nan`` would switch the limit off. The types here refuse them while the arguments are
parsed, so argparse says which flag is wrong and the command exits with 2.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

# RunSpec fields and the flags that set them, so every command's messages name a flag that exists.
FLAG_OF_FIELD = {
    "workload": "WORKLOAD", "mode": "--mode", "device": "--device", "batch_size": "--batch-size",
    "size": "--size", "precision": "--precision", "xla": "--xla",
    "intra_op_threads": "--intra-threads", "inter_op_threads": "--inter-threads",
    "duration_seconds": "--duration", "steps": "--steps", "warmup_steps": "--warmup",
    "scenario": "--scenario", "replicas": "--replicas", "cluster": "--cluster",
    "task_index": "--task-index", "trace_steps": "--trace", "data": "--data",
    "pipeline_threads": "--pipeline-threads", "pipeline_source_size": "--pipeline-source-size",
}  # fmt: skip


def flag_of(field: str) -> str:
    """The flag that sets a RunSpec field (the field's name when no flag sets it)."""
    return FLAG_OF_FIELD.get(field, field)


def _number(text: str, what: str, example: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number; give {what}, e.g. "
                                         f"{example}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number; give {what}, e.g. "
                                         f"{example}")
    return value


def positive_number(what: str, example: str, *, most: float | None = None,
                    unit: str = "") -> Callable[[str], float]:
    """An argparse type: a finite number above 0 (and at most ``most``), else a clear error."""

    def parse(text: str) -> float:
        value = _number(text, what, example)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"{text} must be more than 0; give {what}, e.g. "
                                             f"{example}")
        if most is not None and value > most:
            raise argparse.ArgumentTypeError(f"{text} is more than the most allowed, "
                                             f"{most:g}{unit}")
        return value

    parse.__name__ = what  # argparse names the type in some of its own messages
    return parse


#: seconds above 0; one day at most, as a run's duration (RunSpec's limit)
duration_seconds = positive_number("a number of seconds above 0", "10", most=86_400, unit=" s")
#: seconds above 0, for time limits (a timeout may be long, but never NaN or infinite)
limit_seconds = positive_number("a number of seconds above 0", "60", most=10_000_000, unit=" s")

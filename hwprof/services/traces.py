"""A traced run's Chrome trace, written where a person asked (both front ends use this)."""

from __future__ import annotations

import os
from pathlib import Path

from hwprof.core.results import RunResult
from hwprof.core.snapshot_io import atomic_write_bytes
from hwprof.core.trace import TraceError, decode_trace

TRACE_SUFFIX = ".json.gz"  # gzip-compressed Chrome trace JSON: Perfetto and TensorBoard open it


def trace_name_problem(path: Path, flag: str = "--trace-out") -> str:
    """Why ``path`` is not a trace file name, or ""."""
    if not str(path).endswith(TRACE_SUFFIX):
        return f"{flag} {path}: a trace file name ends in {TRACE_SUFFIX} (gzip-compressed JSON)"
    return ""


def write_trace(result: RunResult, path: str | os.PathLike[str]) -> Path:
    """Write the run's kept Chrome trace (atomically); :class:`TraceError` if it has none.

    The caller has checked ``path`` (core.outputs.check_output): this replaces what is there.
    """
    summary = result.report.trace if result.report is not None else None
    if summary is None or not summary.chrome_trace_gzip_base64:
        raise TraceError("this run was not traced (run it with --trace)")
    atomic_write_bytes(path, decode_trace(summary.chrome_trace_gzip_base64))
    return Path(os.fspath(path))

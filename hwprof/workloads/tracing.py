"""A few steps traced with TensorFlow's profiler, after the timed loop, in the worker.

The timed steps are never traced ones: tracing slows every op down, so the capture comes after
the measurement, and the traced steps are timed too, to say what tracing cost. The capture is
written to a temporary folder, read back as an ``XSpace`` message, summarized by
:mod:`hwprof.core.trace` and the folder removed.
"""

from __future__ import annotations

import glob
import os
import statistics
import tempfile
import time
from typing import Any

from hwprof.core import trace
from hwprof.core.spec import RunSpec


def capture(tf: Any, spec: RunSpec, built: Any, untraced_s: list[float]) -> tuple[
        trace.TraceSummary | None, str | None]:
    """Trace ``spec.trace_steps`` steps; the summary, or None and a note saying why not.

    ``untraced_s``: the timed steps' durations, for the tracing overhead. A capture that cannot
    be made or read gives a note, never an exception: the timed results stand without it.
    """
    steps = spec.trace_steps or 0
    if steps <= 0:
        return None, None
    options = tf.profiler.experimental.ProfilerOptions(
        host_tracer_level=2, device_tracer_level=1, python_tracer_level=0)
    traced: list[float] = []
    starts: list[float] = []
    with tempfile.TemporaryDirectory(prefix="hwprof-trace-") as logdir:
        try:
            tf.profiler.experimental.start(logdir, options=options)
        except Exception as err:  # another profiler running, a build without one
            return None, f"no trace: TensorFlow's profiler did not start ({_short(err)})"
        try:
            for i in range(steps):
                t0 = time.monotonic()
                with tf.profiler.experimental.Trace(spec.mode, step_num=i, _r=1):
                    built.step().numpy()
                traced.append(time.monotonic() - t0)
                starts.append(t0)
        finally:
            try:
                tf.profiler.experimental.stop()
            except Exception as err:
                return None, f"no trace: TensorFlow's profiler did not stop ({_short(err)})"
        files = glob.glob(os.path.join(logdir, "plugins", "profile", "*", "*.xplane.pb"))
        if not files:
            return None, "no trace: TensorFlow's profiler wrote no capture"
        with open(files[0], "rb") as fh:
            data = fh.read()
    return summarize_bytes(data, spec, traced, untraced_s, starts)


def summarize_bytes(data: bytes, spec: RunSpec, traced_s: list[float], untraced_s: list[float],
                    starts_s: list[float] | None = None,
                    ) -> tuple[trace.TraceSummary | None, str | None]:
    """A capture's bytes as a summary with its verdict, export and overhead, or None and why.

    ``starts_s``: each traced step's monotonic start, by step number (the profiler's clock is
    not the telemetry's, so the worker's own reading places the steps on the Live time axis).
    """
    try:
        from tensorflow.tsl.profiler.protobuf import xplane_pb2

        space = xplane_pb2.XSpace.FromString(data)
    except Exception as err:
        return None, f"no trace: the capture could not be read ({_short(err)})"
    try:
        summary = trace.summarize_capture(space)
        gz, kept, dropped = trace.chrome_trace(space)
    except trace.TraceError as err:
        return None, f"no trace: {err}"
    starts = starts_s or []
    summary = summary.model_copy(update={
        "steps": tuple(s.model_copy(update={"start_s": starts[s.step_num]})
                       if 0 <= s.step_num < len(starts) else s for s in summary.steps),
        "traced_step_median_s": _median(traced_s),
        "untraced_step_median_s": _median(untraced_s),
        "tracing_overhead": trace.tracing_overhead(traced_s, untraced_s),
        "capture_bytes": len(data),
        "chrome_trace_gzip_base64": trace.encode_trace(gz),
        "chrome_trace_events": kept,
        "chrome_trace_dropped": dropped,
    })
    return summary.model_copy(update={"verdict": trace.verdict(
        summary, workload=spec.workload, device=spec.device, mode=spec.mode, xla=spec.xla,
        batch_size=spec.effective_batch_size, size=spec.effective_size, data=spec.data,
        pipeline_threads=spec.pipeline_threads,
        source_size=spec.effective_source_size if spec.data == "pipeline" else None)}), None


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _short(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0][:200]}" if text else type(err).__name__

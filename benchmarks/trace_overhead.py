"""What tracing costs: the traced steps' speed against the untraced ones, and the capture's size.

Each case is one real `hwprof run --trace` on this machine: its timed (untraced) steps and, right
after them in the same worker, its traced steps, so the two medians share a process, a model and
a machine state. Prints, per case: both step medians and their ratio (the tracing overhead the
run reports), the raw capture's size (the profiler's XSpace protobuf), the gzipped Chrome trace a
snapshot keeps (and how many events it holds or dropped for the cap) and the summary's JSON size
without that trace.

    .venv/bin/python benchmarks/trace_overhead.py [--steps 20] [--trace-steps 10]

Goal: tracing overhead reported, never mixed into the timed results; the Chrome trace under
``TRACE_MAX_GZIP_BYTES`` (4 MiB) and the summary a few tens of kB.
"""

from __future__ import annotations

import argparse
import base64

from hwprof.core.spec import RunSpec
from hwprof.core.trace import TRACE_MAX_GZIP_BYTES
from hwprof.services.runs import execute_run

# (workload, mode, size, batch): cifar10_cnn training, MobileNet-V2 serving, a small ResNet-50
CASES: tuple[tuple[str, str, int | None, int | None], ...] = (
    ("cifar10_cnn", "train", None, None),
    ("mobilenet_v2", "infer", None, None),
    ("resnet50", "train", 64, 8),
)


def _size(n: float) -> str:
    for unit in ("B", "kB", "MB"):
        if n < 1000 or unit == "MB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1000
    return f"{n:,.1f} MB"


def measure(workload: str, mode: str, size: int | None, batch: int | None, steps: int,
            trace_steps: int) -> list[str]:
    """One traced run's row: medians, overhead and sizes (or why there is none)."""
    spec = RunSpec(workload=workload, mode=mode, size=size, batch_size=batch, steps=steps,
                   duration_seconds=None, steady_cv=None, trace_steps=trace_steps)
    label = f"{workload} {mode} b{spec.effective_batch_size} {spec.effective_size}px"
    result = execute_run(spec).result
    rep = result.report
    if not result.ok or rep is None or rep.trace is None:
        why = result.reason if not result.ok else "no trace: " + "; ".join(
            rep.notes if rep is not None else ())
        return [label, why]
    t = rep.trace
    gz = len(base64.b64decode(t.chrome_trace_gzip_base64)) if t.chrome_trace_gzip_base64 else 0
    summary_json = len(t.model_copy(update={"chrome_trace_gzip_base64": None})
                       .model_dump_json().encode())
    untraced = t.untraced_step_median_s or 0.0
    traced = t.traced_step_median_s or 0.0
    overhead = f"{t.tracing_overhead:.2f}x" if t.tracing_overhead is not None else "?"
    return [label, f"{untraced * 1e3:,.1f} ms", f"{traced * 1e3:,.1f} ms", overhead,
            _size(t.capture_bytes or 0), _size(gz),
            f"{t.chrome_trace_events:,} / {t.chrome_trace_dropped:,}", _size(summary_json)]


def main() -> None:
    """Run every case and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20, help="timed (untraced) steps per case")
    parser.add_argument("--trace-steps", type=int, default=10, help="traced steps per case")
    args = parser.parse_args()
    head = ["case", "untraced step", "traced step", "overhead", "raw capture",
            "chrome trace .gz", "events kept / dropped", "summary JSON"]
    rows = [head]
    for case in CASES:
        rows.append(measure(*case, steps=args.steps, trace_steps=args.trace_steps))
        print(" | ".join(rows[-1]), flush=True)
    print()
    widths = [max(len(r[i]) for r in rows if i < len(r)) for i in range(len(head))]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)).rstrip())
    cap_mib = TRACE_MAX_GZIP_BYTES / 2**20
    print(f"\ngoal: the Chrome trace at most {cap_mib:.0f} MiB gzipped (the cap); tracing "
          "overhead reported apart from the timed results")


if __name__ == "__main__":
    main()

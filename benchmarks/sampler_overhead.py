"""The sampler's own cost: CPU seconds per wall second at 10 Hz and at 1 Hz, every metric on.

Both rates run in this one process, one after the other, with the same sources: the host (CPU,
per-core utilization and clocks, temperature and RAPL where the OS has them, load, memory), a
watched process tree (a child process with a few threads) and every NVIDIA GPU when NVML is there.

The sampler thread's CPU time is read on that thread itself (time.thread_time(), nanosecond
resolution) by a subscriber at the first and the last tick of the window; the whole process's CPU
time (time.process_time()) over the same wall time is printed beside it, with the idle process's as
the floor. Goal: at most 1% of one core at 10 Hz.

    .venv/bin/python benchmarks/sampler_overhead.py [--seconds 10]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import threading
import time

from hwprof.sampling import Sampler, TelemetrySample

GOAL_CORE_FRACTION_AT_10HZ = 0.01

CHILD = """
import threading, time
def idle():
    while True:
        time.sleep(0.05)
for _ in range(4):
    threading.Thread(target=idle, daemon=True).start()
time.sleep(3600)
"""


def measure(interval: float, seconds: float, child_pid: int) -> dict[str, float]:
    """Run one sampler for ``seconds``; its thread's and the process's CPU per wall second."""
    marks: list[tuple[float, float, int]] = []  # (thread CPU s, monotonic s, tick)
    done = threading.Event()
    ticks_wanted = max(2, round(seconds / interval))

    def on_tick(sample: TelemetrySample) -> None:
        if sample.tick == 2 or sample.tick >= ticks_wanted + 2:  # tick 1 may include warm-up
            marks.append((time.thread_time(), sample.monotonic_s, sample.tick))
            if len(marks) == 2:
                done.set()

    sampler = Sampler(interval)
    sampler.watch_process(child_pid)
    sampler.subscribe(on_tick)
    p0 = w0 = 0.0
    with sampler:
        while not marks:
            time.sleep(interval / 4)
        p0, w0 = time.process_time(), time.monotonic()
        done.wait(seconds * 3 + 10)
        p1, w1 = time.process_time(), time.monotonic()
    (c0, t0, k0), (c1, t1, k1) = marks
    thread_cpu = c1 - c0
    wall = t1 - t0
    return {
        "metrics": float(len(sampler.names)),
        "ticks": float(k1 - k0),
        "wall_s": wall,
        "thread_cpu_per_s": thread_cpu / wall,
        "thread_cpu_per_tick_us": thread_cpu / (k1 - k0) * 1e6,
        "process_cpu_per_s": (p1 - p0) / (w1 - w0),
        "skipped": float(sampler.skipped_ticks),
    }


def idle_floor(seconds: float) -> float:
    """CPU per wall second of this process doing nothing (the measurement floor)."""
    p0, w0 = time.process_time(), time.monotonic()
    time.sleep(seconds)
    return (time.process_time() - p0) / (time.monotonic() - w0)


def main() -> int:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="window per rate (default 10)")
    args = parser.parse_args()

    child = subprocess.Popen([sys.executable, "-c", CHILD])
    try:
        time.sleep(0.5)
        probe = Sampler(1.0)
        notes = probe.notes
        probe.stop()
        floor = idle_floor(min(args.seconds, 3.0))
        fast = measure(0.1, args.seconds, child.pid)
        slow = measure(1.0, args.seconds, child.pid)
    finally:
        child.kill()
        child.wait()

    print(f"sampler overhead, {int(fast['metrics'])} metrics per tick (host, process tree, GPUs)")
    for note in notes:
        print(f"  not on this machine: {note}")
    print(f"{'rate':>6} {'ticks':>6} {'thread CPU/s':>13} {'per tick':>10} {'process CPU/s':>14}")
    for label, r in (("10 Hz", fast), ("1 Hz", slow)):
        print(
            f"{label:>6} {int(r['ticks']):>6} {r['thread_cpu_per_s'] * 100:>12.3f}% "
            f"{r['thread_cpu_per_tick_us']:>8.0f}µs {r['process_cpu_per_s'] * 100:>13.3f}%"
        )
    print(f"idle process floor: {floor * 100:.3f}% of one core")
    ratio = fast["thread_cpu_per_s"] / slow["thread_cpu_per_s"] if slow["thread_cpu_per_s"] else 0
    print(f"10 Hz / 1 Hz thread CPU ratio: {ratio:.1f} (10 would mean a cost purely per tick)")
    met = fast["thread_cpu_per_s"] <= GOAL_CORE_FRACTION_AT_10HZ
    print(
        f"goal: at most {GOAL_CORE_FRACTION_AT_10HZ * 100:.0f}% of one core at 10 Hz -> "
        f"{fast['thread_cpu_per_s'] * 100:.3f}%: {'MET' if met else 'NOT MET'}"
    )
    if fast["skipped"] or slow["skipped"]:
        print(f"note: ticks skipped (fell behind): {int(fast['skipped'])} at 10 Hz")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())

"""Fidelity: the CPU utilization the sampler reports while a known load runs, against /proc/stat.

A busy-loop child keeps one core busy (pinned to the last CPU where the OS allows). Over the same
window, from the tick that opens it to the tick that closes it, this compares:

- total CPU utilization: the sampler's ticks averaged over time, and the same figure computed here
  from /proc/stat read at the two ends of the window (read on the sampler thread right after each
  of those ticks, so both cover the same interval to within microseconds);
- the busy core's utilization, the same way;
- the child's CPU % (``proc.cpu_percent``) against its own CPU time from /proc/PID/stat.

Expected: total about 100/N % plus whatever else runs (50% on a 2-core machine), the busy core and
the child about 100%. Goal: every pair within 1 percentage point.

    .venv/bin/python benchmarks/sampler_fidelity.py [--seconds 10] [--interval 0.5]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading

from hwprof.sampling import Sampler, TelemetrySample

GOAL_POINTS = 1.0
BUSY = "while True:\n    pass\n"


def proc_stat() -> dict[str, tuple[int, int]]:
    """{"cpu": (busy, total), "cpu0": ...} in clock ticks, read here independently."""
    out = {}
    with open("/proc/stat") as f:
        for line in f:
            if not line.startswith("cpu"):
                break
            name, *fields = line.split()
            user, nice, system, idle, iowait, irq, softirq, steal = (int(x) for x in fields[:8])
            total = user + nice + system + idle + iowait + irq + softirq + steal
            out[name] = (total - idle - iowait, total)
    return out


def process_cpu_s(pid: int) -> float:
    """The process's user + system seconds from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        fields = f.read().rsplit(b")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> int:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--interval", type=float, default=0.5)
    args = parser.parse_args()
    if not os.path.exists("/proc/stat"):
        print("this benchmark needs Linux (/proc/stat)")
        return 2

    child = subprocess.Popen([sys.executable, "-c", BUSY])
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    busy_cpu = cpus[-1] if cpus else None
    if busy_cpu is not None:
        os.sched_setaffinity(child.pid, {busy_cpu})
    first_tick = 3  # let the child reach full speed first
    last_tick = first_tick + max(2, round(args.seconds / args.interval))
    ends: dict[int, tuple[float, dict[str, tuple[int, int]], float]] = {}
    samples: list[TelemetrySample] = []
    done = threading.Event()

    def on_tick(sample: TelemetrySample) -> None:
        if sample.tick in (first_tick, last_tick):
            ends[sample.tick] = (sample.monotonic_s, proc_stat(), process_cpu_s(child.pid))
        if first_tick < sample.tick <= last_tick:
            samples.append(sample)
        if sample.tick >= last_tick:
            done.set()

    try:
        with Sampler(args.interval, gpus=False) as sampler:
            sampler.watch_process(child.pid)
            sampler.subscribe(on_tick)
            done.wait(args.seconds * 3 + 10)
    finally:
        child.kill()
        child.wait()
    if first_tick not in ends or last_tick not in ends:
        print("the window did not complete")
        return 1

    (t_a, stat_a, child_a), (t_b, stat_b, child_b) = ends[first_tick], ends[last_tick]

    def weighted(name: str) -> float:
        """The sampler's figure over the window: each tick weighted by the time it covers."""
        acc = covered = 0.0
        last = t_a
        for s in samples:
            value = s.get(name)
            if value is not None:
                acc += value * (s.monotonic_s - last)
                covered += s.monotonic_s - last
            last = s.monotonic_s
        return acc / covered if covered else float("nan")

    def truth(name: str) -> float:
        busy = stat_b[name][0] - stat_a[name][0]
        total = stat_b[name][1] - stat_a[name][1]
        return 100.0 * busy / total

    rows = [
        ("total CPU", weighted("cpu.util_percent"), truth("cpu")),
    ]
    if busy_cpu is not None:
        rows.append(
            (f"CPU {busy_cpu} (busy)", weighted(f"cpu.core{busy_cpu}.util_percent"),
             truth(f"cpu{busy_cpu}"))
        )
    child_truth = 100 * (child_b - child_a) / (t_b - t_a)
    rows.append(("child process", weighted("proc.cpu_percent"), child_truth))

    print(
        f"sampler fidelity: {len(samples)} ticks of {args.interval:g} s, window {t_b - t_a:.2f} s,"
        f" one busy-loop child on {len(cpus) or '?'} CPUs"
    )
    print(f"{'figure':<16} {'sampler':>9} {'/proc':>9} {'diff':>8} {'ratio':>7}")
    worst = 0.0
    for label, reported, expected in rows:
        diff = reported - expected
        worst = max(worst, abs(diff))
        ratio = reported / expected
        print(f"{label:<16} {reported:>8.2f}% {expected:>8.2f}% {diff:>+7.2f} {ratio:>7.4f}")
    met = worst <= GOAL_POINTS
    print(f"goal: every figure within {GOAL_POINTS:g} point of /proc -> worst {worst:.2f}: "
          f"{'MET' if met else 'NOT MET'}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())

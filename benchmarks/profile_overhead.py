"""Where a real profile's time goes: the persistent suite worker against one process per test.

Goal: the time outside the tests' first steps, warm-up and timed phases is at most 20% of the
profile's wall time. Runs a real profile of this machine's CPU (the quick suite, or ``--only``
some tests) the way ``hwprof profile`` does, then (unless ``--no-old``) the same tests the old way,
each in a fresh worker process, and prints both splits side by side: start (a new worker's process
and TensorFlow import), build, first step, warm-up, timed, numerics, other.

    .venv/bin/python benchmarks/profile_overhead.py [--full] [--only a,b] [--timed-seconds S]
                                                    [--no-old]
"""

from __future__ import annotations

import argparse
import os
import time

from hwprof.core.profile import PhaseTimes, ProfileRecord
from hwprof.services.detect import detect_all
from hwprof.services.profile import ProfileEvent, TestFinished, run_profile

GOAL_OUTSIDE = 0.20
PHASES = ("start", "build", "first_step", "warmup", "timed", "numerics", "other")


def profile(args: argparse.Namespace, one_process_per_test: bool) -> ProfileRecord:
    """One profile, with a line per test as it ends."""
    machine = detect_all(with_tensorflow=False)
    t0 = time.monotonic()

    def show(event: ProfileEvent) -> None:
        if isinstance(event, TestFinished):
            o = event.outcome
            print(f"  {time.monotonic() - t0:6.1f} s  {o.test_id:26s} {o.status:8s} "
                  f"{o.phases.total:5.1f} s  eta {event.eta_seconds:5.0f} s", flush=True)

    snap = run_profile("cpu", machine=machine, length="full" if args.full else "quick",
                       only=args.only, timed_seconds=args.timed_seconds, on_event=show,
                       one_process_per_test=one_process_per_test)
    assert snap.profile is not None
    return snap.profile


def split_lines(name: str, record: ProfileRecord) -> list[str]:
    """The split of one profile, a line per phase, and the share outside measuring."""
    assert record.overhead is not None
    wall, phases = record.overhead.wall_seconds, record.overhead.phases
    lines = [f"{name}: wall {wall:.1f} s over {len(record.tests)} tests"]
    for phase in PHASES:
        seconds = getattr(phases, phase)
        lines.append(f"  {phase:10s} {seconds:7.1f} s  {100 * seconds / wall:5.1f}%")
    unaccounted = wall - phases.total
    lines.append(f"  {'(between)':10s} {unaccounted:7.1f} s  {100 * unaccounted / wall:5.1f}%"
                 "  (the parent between tests)")
    outside = record.overhead.outside_fraction
    verdict = "met" if outside <= GOAL_OUTSIDE else "MISSED"
    lines.append(f"  outside first step, warm-up and timed: {100 * outside:.1f}% "
                 f"(goal <= {100 * GOAL_OUTSIDE:.0f}%: {verdict})")
    return lines


def per_test(record: ProfileRecord) -> list[str]:
    """A table of every test's phases."""
    head = f"  {'test':26s}" + "".join(f"{p[:8]:>9s}" for p in PHASES)
    rows = [head]
    for t in record.tests:
        p: PhaseTimes = t.phases
        rows.append(f"  {t.test_id:26s}" + "".join(f"{getattr(p, n):9.2f}" for n in PHASES))
    return rows


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--full", action="store_true", help="the full profile (default quick)")
    parser.add_argument("--only", type=lambda s: s.split(","), default=None)
    parser.add_argument("--timed-seconds", type=float, default=None)
    parser.add_argument("--no-old", action="store_true",
                        help="skip the one-process-per-test comparison")
    args = parser.parse_args()
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print("persistent suite worker:")
    new = profile(args, one_process_per_test=False)
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    old = None
    if not args.no_old:
        print("one worker process per test (the old way):")
        old = profile(args, one_process_per_test=True)
        print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print()
    print("\n".join(per_test(new)))
    print()
    print("\n".join(split_lines("persistent suite worker", new)))
    if old is not None:
        print("\n".join(split_lines("one process per test", old)))
        assert new.overhead is not None and old.overhead is not None
        print(f"wall time: {new.overhead.wall_seconds:.1f} s against "
              f"{old.overhead.wall_seconds:.1f} s "
              f"({new.overhead.wall_seconds / old.overhead.wall_seconds:.2f}x)")


if __name__ == "__main__":
    main()

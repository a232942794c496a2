"""How long `python -m hwprof` takes to put its window on screen: median of 5 launches.

Goal: <= 1.5 s from process start to the first paint. Detection (py-cpuinfo, the TensorFlow probe
child) must not delay it. Runs under Xvfb when it is installed (a real X server, as a user has),
else on Qt's offscreen platform.

    .venv/bin/python benchmarks/gui_startup.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
GOAL_SECONDS = 1.5
MARKER = "hwprof: window shown"  # printed by hwprof.gui.app when HWPROF_REPORT_SHOWN is set


def start_xvfb() -> tuple[subprocess.Popen[bytes], str]:
    """A fresh X server on a free display."""
    read_fd, write_fd = os.pipe()
    server = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1600x1000x24", "-nolisten", "tcp"],
        pass_fds=(write_fd,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    with os.fdopen(read_fd) as fh:
        return server, ":" + fh.readline().strip()


SOURCE = [sys.executable, "-m", "hwprof"]


def launch_once(env: dict[str, str], command: list[str] = SOURCE) -> float:
    """Seconds from starting the app (`python -m hwprof`, or a bundle) to its first paint."""
    t0 = time.perf_counter()
    app = subprocess.Popen(
        command,
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert app.stderr is not None
    try:
        for line in app.stderr:
            if line.startswith(MARKER):
                return time.perf_counter() - t0
        raise SystemExit(f"gui_startup: the app exited (code {app.wait()}) without a window")
    finally:
        app.send_signal(signal.SIGTERM)
        try:
            app.wait(15)
        except subprocess.TimeoutExpired:
            app.kill()
            app.wait()


def main() -> int:
    """Measure and print the median start-up time and its ratio to the goal."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--frozen", default=None, metavar="EXE",
                        help="also time this frozen app (e.g. build/dist/hwprof/hwprof), "
                        "alternating with the source one")
    args = parser.parse_args()
    env = dict(os.environ, HWPROF_REPORT_SHOWN="1")
    # An installed app runs from compiled bytecode (pip compiles a wheel's modules; Python writes
    # __pycache__ on the first launch from source). With PYTHONDONTWRITEBYTECODE set, as in some
    # sandboxes, every launch would compile hwprof's ~110 modules again (about 0.4 s here).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    server = None
    if shutil.which("Xvfb"):
        server, display = start_xvfb()
        env.update(DISPLAY=display, QT_QPA_PLATFORM="xcb")
        platform = f"Xvfb {display}"
    else:
        env["QT_QPA_PLATFORM"] = "offscreen"
        platform = "offscreen"
    frozen_times: list[float] = []
    try:
        launch_once(env)  # warm the file cache and the .pyc files; not counted
        if args.frozen:
            launch_once(env, [args.frozen])
        times = []
        for _ in range(args.runs):
            times.append(launch_once(env))
            if args.frozen:
                frozen_times.append(launch_once(env, [args.frozen]))
    finally:
        if server is not None:
            server.terminate()
            server.wait(10)
    median = statistics.median(times)
    print(f"platform: {platform}; runs: {', '.join(f'{t:.3f}' for t in times)} s")
    verdict = "ok" if median <= GOAL_SECONDS else "SLOWER than goal"
    print(
        f"gui start-up to first paint: median {median:.3f} s; goal {GOAL_SECONDS:.1f} s; "
        f"ratio {median / GOAL_SECONDS:.2f} ({verdict})"
    )
    if frozen_times:
        fm = statistics.median(frozen_times)
        print(f"frozen app ({args.frozen}): runs {', '.join(f'{t:.3f}' for t in frozen_times)} "
              f"s; median {fm:.3f} s; frozen / source {fm / median:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The window under load: event-loop lag, chart redraw time, and a run's throughput in the window.

Three measurements, each printed with its goal:

1. Event-loop lag: a 10 ms QTimer records its actual intervals while the window runs a CPU
   workload that saturates both cores (matmul, N=512) with the Live tab showing. Goal: p99 lag at
   most 50 ms.
2. Chart redraw: the Live charts with 20 series holding one hour of readings at 10 Hz (36,000
   points each), redrawn live and painted: as the window does it, and all repainted every time
   (the worst case). Goal: median at most 16 ms.
3. Throughput: the same run started from the window (Live tab showing, charts drawing) and
   headless (`execute_run`, what `hwprof run` calls), alternated A/B. Goal: window / headless at
   least 0.90.

Runs under Xvfb when it is installed (real X drawing, as a user has), else offscreen.

    .venv/bin/python benchmarks/gui_responsiveness.py [--seconds 15] [--rounds 3]
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import statistics
import subprocess
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from hwprof.core.spec import RunSpec
from hwprof.core.telemetry import MetricInfo

LAG_GOAL_MS, REDRAW_GOAL_MS, THROUGHPUT_GOAL = 50.0, 16.0, 0.90


def ensure_display() -> subprocess.Popen[bytes] | None:
    if os.environ.get("DISPLAY") or not shutil.which("Xvfb"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen" if not os.environ.get("DISPLAY")
                              else "xcb")
        return None
    read_fd, write_fd = os.pipe()
    server = subprocess.Popen(["Xvfb", "-displayfd", str(write_fd), "-screen", "0",
                               "1600x1000x24", "-nolisten", "tcp"], pass_fds=(write_fd,),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_fd)
    with os.fdopen(read_fd) as fh:
        os.environ["DISPLAY"] = ":" + fh.readline().strip()
    os.environ["QT_QPA_PLATFORM"] = "xcb"
    return server


class FakeSource:
    """20 extra metrics so the sampler (and its ring buffer) has 20 series to chart."""

    def __init__(self, names: Sequence[str]) -> None:
        self.names = list(names)

    def metrics(self) -> list[MetricInfo]:
        return [MetricInfo(name=n, unit="%", label=n, kind="gauge") for n in self.names]

    def sample(self) -> dict[str, float | None]:
        return {n: 50.0 for n in self.names}


def spec(seconds: float) -> RunSpec:
    return RunSpec(workload="matmul", mode="infer", size=512, duration_seconds=seconds,
                   steady_cv=None, warmup_steps=3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--rounds", type=int, default=3,
                        help="A/B rounds of the run in the window against headless (0: skip them)")
    args = parser.parse_args()
    server = ensure_display()
    try:
        if args.rounds:
            run(args.seconds, args.rounds)
        else:  # the redraw alone: no window, no workload
            from hwprof.gui.app import make_application

            redraw(make_application([]))
    finally:
        if server is not None:
            server.terminate()


def run(seconds: float, rounds: int) -> None:
    from PySide6.QtCore import QElapsedTimer, QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from hwprof.gui.app import make_application
    from hwprof.gui.main_window import QtMainWindow
    from hwprof.services.runs import execute_run

    app = make_application([])
    assert isinstance(app, QApplication)
    print(f"platform: {app.platformName()}")

    # -- 1 and 3: a window running a real workload -------------------------------------------
    window = QtMainWindow()
    window.confirm_close = lambda: True
    window.show()
    window.start_detection()
    deadline = time.monotonic() + 60
    while not window.report.complete and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.02)

    def window_run() -> tuple[float, list[float]]:
        intervals: list[float] = []
        clock = QElapsedTimer()
        clock.start()
        last = [clock.nsecsElapsed()]

        def tick() -> None:
            now = clock.nsecsElapsed()
            intervals.append((now - last[0]) / 1e6)
            last[0] = now

        timer = QTimer()
        timer.setInterval(10)
        timer.timeout.connect(tick)
        out: dict[str, float] = {}
        loop = QEventLoop()  # the window's own event loop, as a user has it (no polling)

        def finished(rec: Any) -> None:
            out.update(t=rec.result.throughput_per_second)
            loop.quit()

        window.run_finished.connect(finished)
        window.session.enqueue([spec(seconds)])
        window.show_tab("live")
        timer.start()
        loop.exec()
        timer.stop()
        window.run_finished.disconnect()
        return out["t"], intervals

    ratios, lags = [], []
    for i in range(rounds):
        in_window, intervals = window_run()
        headless = execute_run(spec(seconds)).result.throughput_per_second or float("nan")
        ratios.append(in_window / headless)
        lag = np.maximum(np.asarray(intervals[5:]) - 10.0, 0.0)
        lags.append(lag)
        print(f"round {i + 1}: window {in_window:8.1f}/s  headless {headless:8.1f}/s  "
              f"ratio {in_window / headless:.3f}  lag p50 {np.percentile(lag, 50):5.1f} ms  "
              f"p99 {np.percentile(lag, 99):5.1f} ms  max {lag.max():5.1f} ms  "
              f"redraws {window.live_panel.redraws}", flush=True)
    if lags:
        all_lag = np.concatenate(lags)
        p99 = float(np.percentile(all_lag, 99))
        ratio = statistics.median(ratios)
        print(f"event-loop lag under a 2-core workload: p99 {p99:.1f} ms "
              f"(goal {LAG_GOAL_MS:g} ms): {'met' if p99 <= LAG_GOAL_MS else 'MISSED'}")
        print(f"throughput, window / headless: median {ratio:.3f} (goal {THROUGHPUT_GOAL}): "
              f"{'met' if ratio >= THROUGHPUT_GOAL else 'MISSED'}")
    window.close()

    # -- 2: redraw with 20 series x 1 h at 10 Hz --------------------------------------------
    redraw(app)


def redraw(app: Any) -> None:
    """The Live charts holding an hour of 20 series, redrawn live: new readings every redraw.

    The panel's clock is simulated: each redraw comes 0.5 s after the last (the panel's cadence)
    with the 5 readings the sampler took meanwhile, so the hour's view steps by a pixel every few
    redraws, as it does on screen. Two figures: the redraw as the window does it (the data, then
    Qt paints what changed), and the whole charts repainted after every redraw (``repaint``: the
    worst case, what a step of the time axis costs). CPU time is the GUI thread's own.
    """
    from hwprof.gui.live_panel import QtLivePanel
    from hwprof.sampling.sampler import Sampler

    names = [f"cpu.core{k}.util_percent" for k in range(20)]
    sampler = Sampler(0.1, capacity=36_000, host=False, process=False, gpus=False,
                      extra_sources=[FakeSource(names)])
    now = time.monotonic()
    rng = np.random.default_rng(0)
    for k in range(36_000):
        sampler._ring.append(now - 3600 + k * 0.1, rng.uniform(0, 100, len(names)))
    clock = [now]
    panel = QtLivePanel(sampler)
    panel.clock = lambda: clock[0]  # ignored by a panel that reads time.monotonic() itself
    for i, n in enumerate(names):  # chart every series on the utilization plot
        panel.add_curve("util", n, n, i)
    panel.window_box.setCurrentIndex(2)  # 1 h
    panel.resize(1100, 900)
    panel.show()
    app.processEvents()
    first = next(iter(panel.plots.values()))

    def frames(full: bool, count: int = 60) -> tuple[list[float], list[float], list[bool]]:
        walls, cpus, stepped = [], [], []
        for k in range(count + 5):
            for j in range(5):  # the readings of the last 0.5 s
                sampler._ring.append(clock[0] + 0.1 * (j + 1), rng.uniform(0, 100, len(names)))
            clock[0] += 0.5
            before = first.vb.viewRange()[0]
            t0, c0 = time.perf_counter(), time.thread_time()
            panel.redraw(force=True)
            if full:
                panel.graphics.viewport().repaint()
            else:
                for _ in range(2):  # the scene's changes, then the viewport's paint
                    app.processEvents()
            if k < 5:  # the first redraws bin the whole hour: left out
                continue
            walls.append((time.perf_counter() - t0) * 1e3)
            cpus.append((time.thread_time() - c0) * 1e3)
            stepped.append(first.vb.viewRange()[0] != before)
        return walls, cpus, stepped

    for full, what in ((False, "as the window redraws"), (True, "all repainted every time")):
        walls, cpus, stepped = frames(full)
        med = statistics.median(walls)
        steps = [w for w, s in zip(walls, stepped, strict=True) if s]
        step_cpus = [c for c, s in zip(cpus, stepped, strict=True) if s]
        print(f"redraw, 20 series x 36,000 points, {what}: median {med:.1f} ms (CPU "
              f"{statistics.median(cpus):.1f} ms), max {max(walls):.1f} ms; the "
              f"{len(steps)} that step the time axis: median "
              f"{statistics.median(steps) if steps else math.nan:.1f} ms (CPU "
              f"{statistics.median(step_cpus) if steps else math.nan:.1f} ms) "
              f"(goal median {REDRAW_GOAL_MS:g} ms): "
              f"{'met' if med <= REDRAW_GOAL_MS else 'MISSED'}", flush=True)
    panel.timer.stop()
    panel.close()


if __name__ == "__main__":
    main()

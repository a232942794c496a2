"""Helpers for the GUI tests: detection steps that skip the slow TensorFlow probe."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hwprof.backends.cpu import detect_cpu, detect_host
from hwprof.core.devices import TensorFlowInfo, TfDevice
from hwprof.services.detect import (
    DetectFunctions,
    detect_amd_gpus,
    detect_apple_gpus,
    detect_gpus,
    detect_intel_gpus,
)

FAKE_TF_VERSION = "2.99.0-fake"


def fake_tensorflow(*, cuda: bool = False) -> TensorFlowInfo:
    """What the probe says on a machine with a CPU-only (or a CUDA) TensorFlow build and no GPU."""
    return TensorFlowInfo(
        status="ok",
        version=FAKE_TF_VERSION,
        built_with_cuda=cuda,
        cuda_version="12.5.1" if cuda else None,
        cudnn_version="9" if cuda else None,
        devices=(TfDevice(name="/physical_device:CPU:0", device_type="CPU", index=0),),
        probe_seconds=0.01,
    )


def quick_functions(
    tf: TensorFlowInfo | None = None, release: threading.Event | None = None
) -> Callable[[], DetectFunctions]:
    """The real host, NVML, AMD and Intel (scenarios) and CPU steps with a fake, instant probe.

    ``release``: the fake probe waits for it (or for the window's cancel), to hold detection open.
    """

    def tensorflow(cancel: threading.Event) -> TensorFlowInfo:
        if release is not None:
            while not release.wait(0.02):
                if cancel.is_set():
                    return TensorFlowInfo(status="error", message="probe cancelled")
        return tf or fake_tensorflow()

    def make() -> DetectFunctions:
        return DetectFunctions(
            host=detect_host, gpus=detect_gpus, cpu=detect_cpu, tensorflow=tensorflow,
            amd=lambda offset: detect_amd_gpus(None, offset),  # the amd_scenario's tree, if any
            intel=lambda offset: detect_intel_gpus(None, offset),  # the intel_scenario's, if any
            apple=lambda offset: detect_apple_gpus(None, offset),  # the apple_scenario's, if any
        )

    return make


def cpu_model_name() -> str | None:
    """The model name as /proc/cpuinfo writes it (None where there is no such file)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("model name"):
            return line.partition(":")[2].strip()
    return None


# -- runs without TensorFlow -----------------------------------------------------------------------
def make_record(spec: Any, *, status: str = "ok", throughput: float = 8e9, steps: int = 200,
                flops: float | None = None, peak: float | None = None,
                stderr: tuple[str, ...] = ()) -> Any:
    """A finished run as the runner would return it, with timed steps and their spread."""
    import numpy as np

    from hwprof.core.results import RunResult, StepTimings, WorkerReport
    from hwprof.core.snapshot import SnapshotRun
    from hwprof.core.stats import spread

    rng = np.random.default_rng(0)
    seconds = list(rng.normal(0.010, 0.0004, steps).clip(0.005))
    starts = list(np.cumsum([0.0, *seconds[:-1]]))
    unit = "bytes" if spec.info.throughput_unit == "bytes" else "samples"
    rate = [throughput * 0.01 / s for s in seconds]
    report = WorkerReport(tensorflow_version=FAKE_TF_VERSION, tf_device="/CPU:0", batch_size=1,
                          samples_per_step=1,
                          flops_per_sample=flops / throughput if flops else None,
                          steps=StepTimings(start_s=tuple(starts),
                                                                seconds=tuple(seconds)),
                          stop_reason="duration" if status == "ok" else None)
    result = RunResult(status=status, reason=None if status == "ok" else f"{status} by you",
                       error_kind="cancelled" if status == "cancelled" else None,
                       stderr_tail=stderr, report=report, unit=unit,
                       throughput_per_second=throughput, step_throughput=spread(rate),
                       achieved_flops=flops, peak_flops=peak,
                       peak_source="CPU fp32 peak estimate" if peak else None,
                       percent_of_peak=100 * flops / peak if flops and peak else None)
    return SnapshotRun(spec=spec, result=result)


class FakeRuns:
    """A run function with ``execute_run``'s signature and no TensorFlow: the worker's events,
    timed steps every 20 ms until ``steps`` are done (or, with ``hold``, until it is set), then a
    result; a cancel ends it at once with a cancelled result."""

    def __init__(self, steps: int = 3, hold: threading.Event | None = None,
                 flops: float | None = None) -> None:
        self.steps = steps
        self.hold = hold
        self.flops = flops
        self.ran: list[Any] = []

    def __call__(self, spec: Any, *, on_event: Callable[[dict[str, Any]], None],
                 cancel: threading.Event, sampler: object = None, env: object = None) -> Any:
        import time

        self.ran.append(spec)
        on_event({"event": "started", "pid": 1, "t": time.monotonic()})
        on_event({"event": "ready", "tensorflow_version": FAKE_TF_VERSION,
                  "tf_device": "/CPU:0"})
        on_event({"event": "compiled", "time_to_first_step_s": 0.2, "samples_per_step": 4,
                  "bytes_per_sample": 1e6})
        on_event({"event": "warmup", "done": spec.warmup_steps, "total": spec.warmup_steps})
        k = 0
        while not cancel.is_set() and (k < self.steps or (self.hold is not None
                                                          and not self.hold.is_set())):
            now = time.monotonic()
            on_event({"event": "steps", "start_s": [now - 0.01], "seconds": [0.01]})
            k += 1
            cancel.wait(0.02)
        if cancel.is_set():
            return make_record(spec, status="cancelled", stderr=(
                "E external/xla/stream_executor/cuda/cuda_driver.cc:152] failed call to cuInit: "
                "UNKNOWN ERROR (303)",))
        flops = self.flops if spec.workload == "matmul" else None
        return make_record(spec, flops=flops)


def dispose(window: Any) -> None:
    """Close a window and delete it now, on this (the GUI) thread.

    A closed window that is only dropped is freed by Python's cyclic garbage collector, which
    runs in whichever thread happens to allocate next: a run's or an export's QThread. Deleting
    a widget there while the GUI thread deletes others deadlocks (each holds what the other
    needs: the GIL, a Qt mutex). So every test deletes its windows here, deterministically.
    """
    import gc

    import shiboken6
    from PySide6.QtCore import QCoreApplication, QEvent

    if shiboken6.isValid(window):
        window.close()
        window.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    gc.collect()


def detected_window(qtbot: Any) -> Any:
    """The window, shown, with detection done (the fast fake probe), closing without asking."""
    from hwprof.gui.main_window import QtMainWindow

    w = QtMainWindow(quick_functions())
    w.confirm_close = lambda: True
    qtbot.addWidget(w)
    w.show()
    w.start_detection()
    qtbot.waitUntil(lambda: w.report.complete and not w.detecting, timeout=30_000)
    return w

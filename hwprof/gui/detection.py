"""Hardware detection off the GUI thread, delivered piece by piece.

A :class:`DetectWorker` lives in a QThread (moved there, not a QThread subclass) and emits a
:class:`PartialReport` each time it learns something: host and NVIDIA GPUs within milliseconds,
the CPU after py-cpuinfo (about 1 s), TensorFlow's view when the probe child answers (seconds).
The probe runs beside the CPU detection, so the whole takes about as long as the probe alone.
Slots connected to the worker's signals run on the GUI thread.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal, Slot

if TYPE_CHECKING:
    from hwprof.core.devices import (
        CpuInfo,
        DetectReport,
        GpuInfo,
        HostInfo,
        NvmlStatus,
        TensorFlowInfo,
    )


@dataclass(frozen=True)
class PartialReport:
    """What detection has found so far; a part not known yet is None."""

    host: HostInfo | None = None
    cpus: tuple[CpuInfo, ...] | None = None
    nvml: NvmlStatus | None = None
    gpus: tuple[GpuInfo, ...] | None = None
    tensorflow: TensorFlowInfo | None = None
    errors: tuple[str, ...] = ()
    detect_seconds: float | None = None

    @property
    def complete(self) -> bool:
        """Whether every part is known."""
        return None not in (self.host, self.cpus, self.nvml, self.gpus, self.tensorflow)

    def replace(self, **changes: object) -> PartialReport:
        """A copy with some parts changed."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    def to_report(self) -> DetectReport | None:
        """The full DetectReport (as `hwprof detect --json` gives it), once complete."""
        if not self.complete:
            return None
        import datetime as dt

        import hwprof
        from hwprof.core.devices import DetectReport

        assert self.host and self.cpus is not None and self.nvml and self.tensorflow
        return DetectReport(
            hwprof_version=hwprof.__version__,
            created_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            host=self.host,
            cpus=self.cpus,
            nvml=self.nvml,
            gpus=self.gpus or (),
            tensorflow=self.tensorflow,
            detect_seconds=self.detect_seconds,
        )


@dataclass(frozen=True)
class DetectFunctions:
    """The detection steps; tests swap in fast or slow ones (the real probe takes seconds)."""

    host: Callable[[], HostInfo]
    gpus: Callable[[], tuple[NvmlStatus, tuple[GpuInfo, ...]]]
    cpu: Callable[[], CpuInfo]
    tensorflow: Callable[[threading.Event], TensorFlowInfo]


def default_detect_functions() -> DetectFunctions:
    """The real steps: OS and psutil, NVML, py-cpuinfo, the TensorFlow probe child.

    Imported here, in the worker thread, so the window's start-up does not pay for them.
    """
    from hwprof.backends.cpu import detect_cpu, detect_host
    from hwprof.runner.probe import DEFAULT_TIMEOUT_SECONDS, probe_tensorflow
    from hwprof.services.detect import detect_gpus

    def tensorflow(cancel: threading.Event) -> TensorFlowInfo:
        return probe_tensorflow(DEFAULT_TIMEOUT_SECONDS, None, cancel)

    return DetectFunctions(
        host=detect_host, gpus=detect_gpus, cpu=detect_cpu, tensorflow=tensorflow
    )


class DetectWorker(QObject):
    """Runs the detection steps in its thread; cooperative cancel through :attr:`cancel`.

    Signals: ``progress(str)`` a line for the status bar; ``yielded(PartialReport)`` after each
    step; ``returned(PartialReport)`` the complete result (not sent when cancelled);
    ``finished()`` always, last.
    """

    progress = Signal(str)
    yielded = Signal(object)
    returned = Signal(object)
    finished = Signal()

    def __init__(self, functions: Callable[[], DetectFunctions] = default_detect_functions) -> None:
        super().__init__()
        self.cancel = threading.Event()
        self._functions = functions
        self.owner_thread: QObject | None = None  # the QThread it runs in, set by its owner

    @Slot()
    def run(self) -> None:
        """Detect everything, emitting what is known as it becomes known."""
        try:
            self._run()
        finally:
            self.finished.emit()

    def _run(self) -> None:
        t0 = time.monotonic()
        self.progress.emit("Detecting host and NVIDIA GPUs…")
        try:
            f = self._functions()
        except Exception as err:  # a broken install must still leave a usable window
            self.returned.emit(PartialReport(errors=(f"detection could not start: {err!r}",)))
            return
        state = PartialReport()
        errors: list[str] = []

        def step(name: str, fn: Callable[[], object]) -> object | None:
            try:
                return fn()
            except Exception as err:  # one failing source must not hide the others
                errors.append(f"{name}: {err!r}")
                return None

        # The probe child starts first: it is the slowest part, and runs while py-cpuinfo works.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="hwprof-tf-probe") as pool:
            tf_future = pool.submit(f.tensorflow, self.cancel)
            host = step("host", f.host)
            gpus = step("NVIDIA GPUs", f.gpus)
            nvml, gpu_list = gpus if isinstance(gpus, tuple) else (None, ())
            state = state.replace(host=host, nvml=nvml, gpus=gpu_list, errors=tuple(errors))
            self.yielded.emit(state)
            if self.cancel.is_set():
                return
            self.progress.emit("Detecting CPU…")
            cpu = step("CPU", f.cpu)
            state = state.replace(cpus=(cpu,) if cpu is not None else (), errors=tuple(errors))
            self.yielded.emit(state)
            if self.cancel.is_set():
                return
            self.progress.emit("Probing TensorFlow… (a short child process)")
            try:
                tf = tf_future.result()
            except Exception as err:
                errors.append(f"TensorFlow probe: {err!r}")
                tf = None
        if self.cancel.is_set():
            return
        if tf is None:
            from hwprof.core.devices import TensorFlowInfo

            tf = TensorFlowInfo(status="error", message=errors[-1])
        if state.gpus is not None:
            from hwprof.core.devices import match_tensorflow_gpus

            tf, matched = match_tensorflow_gpus(
                tf, state.gpus, os.environ.get("CUDA_VISIBLE_DEVICES")
            )
            state = state.replace(gpus=matched)
        if state.host is None or state.nvml is None:
            # keep the report whole so the panels and snapshots can rely on it
            state = state.replace(nvml=state.nvml or _nvml_unknown())
        state = state.replace(
            tensorflow=tf, errors=tuple(errors), detect_seconds=round(time.monotonic() - t0, 3)
        )
        self.yielded.emit(state)
        self.returned.emit(state)


def _nvml_unknown() -> NvmlStatus:
    from hwprof.core.devices import NvmlStatus

    return NvmlStatus(available=False, message="NVML could not be asked (see errors)")

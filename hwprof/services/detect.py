"""Detect everything: host, CPU, GPUs (NVIDIA, AMD, Intel, Apple), TensorFlow's view, with progress.

py-cpuinfo (about 1 s) and the TensorFlow probe (a child process, several seconds) dominate; they
run side by side with the rest, so detection takes about as long as the slower of them. Each part
is reported as soon as it is known (:func:`detect_progressively`): `hwprof detect` waits for the
whole, the window fills its Devices panel in as the parts arrive.
"""

from __future__ import annotations

import functools
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from hwprof.backends.amd import AmdBackend
from hwprof.backends.apple import AppleBackend
from hwprof.backends.cpu import detect_cpu, detect_host
from hwprof.backends.intel import IntelBackend
from hwprof.backends.nvml import NvmlBackend
from hwprof.backends.tflite_delegates import tflite_delegates
from hwprof.backends.tpu import TpuBackend
from hwprof.core.devices import (
    AmdStatus,
    AppleStatus,
    CpuInfo,
    DetectReport,
    GpuInfo,
    HostInfo,
    IntelStatus,
    NvmlStatus,
    PartialReport,
    TensorFlowInfo,
    TpuInfo,
    TpuStatus,
    match_tensorflow_gpus,
    match_tensorflow_tpus,
)
from hwprof.runner.probe import DEFAULT_TIMEOUT_SECONDS, probe_tensorflow

# (what is known so far, a line for a status bar)
DetectProgress = Callable[[PartialReport, str], None]
NOT_PROBED = "not probed (--no-tensorflow)"


def detect_gpus(nvml: NvmlBackend | None = None) -> tuple[NvmlStatus, tuple[GpuInfo, ...]]:
    """NVML's status and GPUs; never raises."""
    backend = nvml or NvmlBackend()
    try:
        status = backend.status()
        gpus = backend.devices() if status.available else ()
    except Exception as err:  # a back end must never take detection down
        return NvmlStatus(available=False, message=f"NVML failed: {err!r}"), ()
    return status, gpus


def detect_amd_gpus(
    amd: AmdBackend | None = None, index_offset: int = 0
) -> tuple[AmdStatus, tuple[GpuInfo, ...]]:
    """AMD's status and GPUs, numbered from ``index_offset`` (after NVIDIA's); never raises."""
    backend = amd or AmdBackend()
    backend.index_offset = index_offset
    try:
        status = backend.status()
        gpus = backend.devices() if status.available else ()
    except Exception as err:  # a back end must never take detection down
        return AmdStatus(available=False, message=f"reading AMD GPUs failed: {err!r}"), ()
    return status, gpus


def detect_intel_gpus(
    intel: IntelBackend | None = None, index_offset: int = 0
) -> tuple[IntelStatus, tuple[GpuInfo, ...]]:
    """Intel's status and GPUs, numbered from ``index_offset`` (after NVIDIA's and AMD's).

    Never raises.
    """
    backend = intel or IntelBackend()
    backend.index_offset = index_offset
    try:
        status = backend.status()
        gpus = backend.devices() if status.available else ()
    except Exception as err:  # a back end must never take detection down
        return IntelStatus(available=False, message=f"reading Intel GPUs failed: {err!r}"), ()
    return status, gpus


def detect_apple_gpus(
    apple: AppleBackend | None = None, index_offset: int = 0
) -> tuple[AppleStatus, tuple[GpuInfo, ...]]:
    """The Apple silicon GPU's status and GPU, numbered after every other vendor's; never raises.

    Off macOS nothing is asked (no command runs).
    """
    backend = apple or AppleBackend()
    backend.index_offset = index_offset
    try:
        status = backend.status()
        gpus = backend.devices() if status.available else ()
    except Exception as err:  # a back end must never take detection down
        return AppleStatus(available=False, message=f"reading the Apple GPU failed: {err!r}"), ()
    return status, gpus
def detect_tpus(tpu: TpuBackend | None = None) -> tuple[TpuStatus, tuple[TpuInfo, ...]]:
    """The TPU chips of this host (``tpu:N``) and whether they can be watched; never raises."""
    backend = tpu or TpuBackend()
    try:
        status = backend.status()
        chips = backend.devices() if status.available else ()
    except Exception as err:  # a back end must never take detection down
        return TpuStatus(available=False, message=f"reading TPU chips failed: {err!r}"), ()
    return status, chips


@dataclass(frozen=True)
class DetectFunctions:
    """The detection steps; tests swap in fast or slow ones (the real probe takes seconds).

    ``amd`` takes the number of NVIDIA GPUs (AMD GPUs are numbered after them); None skips AMD.
    ``intel`` takes the number of NVIDIA and AMD GPUs together; None skips Intel.
    ``apple`` takes the number of all those GPUs; None skips Apple.
    """

    host: Callable[[], HostInfo]
    gpus: Callable[[], tuple[NvmlStatus, tuple[GpuInfo, ...]]]
    cpu: Callable[[], CpuInfo]
    tensorflow: Callable[[threading.Event], TensorFlowInfo]
    amd: Callable[[int], tuple[AmdStatus, tuple[GpuInfo, ...]]] | None = None
    intel: Callable[[int], tuple[IntelStatus, tuple[GpuInfo, ...]]] | None = None
    apple: Callable[[int], tuple[AppleStatus, tuple[GpuInfo, ...]]] | None = None
    tpu: Callable[[], tuple[TpuStatus, tuple[TpuInfo, ...]]] | None = None  # None skips TPUs


def default_detect_functions(
    *,
    with_tensorflow: bool = True,
    nvml: NvmlBackend | None = None,
    amd: AmdBackend | None = None,
    intel: IntelBackend | None = None,
    apple: AppleBackend | None = None,
    probe_timeout_seconds: float | None = None,
    tpu: TpuBackend | None = None,
) -> DetectFunctions:
    """The real steps: the OS and psutil, NVML, AMD, Intel, py-cpuinfo, the TensorFlow probe."""
    timeout = DEFAULT_TIMEOUT_SECONDS if probe_timeout_seconds is None else probe_timeout_seconds

    def tensorflow(cancel: threading.Event) -> TensorFlowInfo:
        if not with_tensorflow:
            return TensorFlowInfo(status="error", message=NOT_PROBED)
        return probe_tensorflow(timeout, None, cancel)

    return DetectFunctions(host=detect_host, gpus=lambda: detect_gpus(nvml), cpu=detect_cpu,
                           tensorflow=tensorflow, amd=lambda offset: detect_amd_gpus(amd, offset),
                           intel=lambda offset: detect_intel_gpus(intel, offset),
                           apple=lambda offset: detect_apple_gpus(apple, offset),
                           tpu=lambda: detect_tpus(tpu))


def detect_progressively(
    functions: DetectFunctions | None = None,
    *,
    on_progress: DetectProgress | None = None,
    cancel: threading.Event | None = None,
) -> PartialReport:
    """Detect everything, reporting each part as it arrives; never raises.

    Order of the reports: host and GPUs (NVIDIA, then AMD, Intel, Apple), then the CPU, then
    TensorFlow's view (the probe and py-cpuinfo run in the background from the start). A step
    that fails is left out and named in ``errors``; the result is complete (every part known)
    unless ``cancel`` was set.
    """
    f = functions or default_detect_functions()
    cancel = cancel or threading.Event()
    say = on_progress or (lambda _r, _m: None)
    t0 = time.monotonic()
    errors: list[str] = []

    def step(name: str, fn: Callable[[], object]) -> object | None:
        try:
            return fn()
        except Exception as err:  # one failing source must not hide the others
            errors.append(f"{name}: {err!r}")
            return None

    state = PartialReport()
    say(state, "Detecting host and GPUs…")
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="hwprof-detect") as pool:
        # the probe child is the slowest part: it starts first and runs while the rest work
        tf_future = pool.submit(f.tensorflow, cancel)
        cpu_future = pool.submit(step, "CPU", f.cpu)
        host = step("host", f.host)
        gpus = step("NVIDIA GPUs", f.gpus)
        nvml, gpu_list = gpus if isinstance(gpus, tuple) else (None, ())
        # the other vendors' GPUs, each numbered after those found before it
        vendors: dict[str, Any] = {}  # vendor -> its status
        steps = (("amd", "AMD GPUs", f.amd), ("intel", "Intel GPUs", f.intel),
                 ("apple", "Apple GPU", f.apple))
        for vendor, what, vendor_fn in steps:
            if vendor_fn is None:
                continue
            found = step(what, functools.partial(vendor_fn, len(gpu_list)))
            if isinstance(found, tuple):
                vendors[vendor], more = found
                gpu_list = (*gpu_list, *more)
        tpu_status: TpuStatus | None = None
        tpu_chips: tuple[TpuInfo, ...] = ()
        if f.tpu is not None:
            tpus = step("TPU chips", f.tpu)
            if isinstance(tpus, tuple):
                tpu_status, tpu_chips = tpus
        state = state.replace(host=host, nvml=nvml, amd=vendors.get("amd"),
                              intel=vendors.get("intel"), apple=vendors.get("apple"),
                              gpus=gpu_list, tpu=tpu_status, tpus=tpu_chips,
                              errors=tuple(errors))
        say(state, "Detecting CPU…")
        cpu = cpu_future.result()
        if cancel.is_set():
            return state
        state = state.replace(cpus=(cpu,) if isinstance(cpu, CpuInfo) else (),
                              errors=tuple(errors))
        say(state, "Probing TensorFlow… (a short child process)")
        try:
            tf: TensorFlowInfo | None = tf_future.result()
        except Exception as err:
            errors.append(f"TensorFlow probe: {err!r}")
            tf = None
    if cancel.is_set():
        return state
    if tf is None:
        tf = TensorFlowInfo(status="error", message=errors[-1])
    tf, matched = match_tensorflow_gpus(
        tf, state.gpus or (), os.environ.get("CUDA_VISIBLE_DEVICES"),
        hip_visible_devices=os.environ.get("HIP_VISIBLE_DEVICES"),
        rocm_version=state.amd.rocm_version if state.amd else None,
        intel_extension=_intel_extension_installed() if state.intel is not None else None,
        metal_plugin=_metal_plugin_installed() if _has_apple(state) else None,
    )
    if state.nvml is None:
        # keep the report whole so the panels and snapshots can rely on it
        state = state.replace(nvml=NvmlStatus(available=False,
                                              message="NVML could not be asked (see errors)"))
    state = state.replace(gpus=matched, tpus=match_tensorflow_tpus(tf, state.tpus),
                          tensorflow=tf, errors=tuple(errors),
                          detect_seconds=round(time.monotonic() - t0, 3))
    say(state, "Detection complete")
    return state


def detect_all(
    *,
    with_tensorflow: bool = True,
    nvml: NvmlBackend | None = None,
    amd: AmdBackend | None = None,
    intel: IntelBackend | None = None,
    apple: AppleBackend | None = None,
    probe_timeout_seconds: float | None = None,
    cancel: threading.Event | None = None,
    on_progress: DetectProgress | None = None,
    tpu: TpuBackend | None = None,
) -> DetectReport:
    """Everything `hwprof detect` reports."""
    functions = default_detect_functions(with_tensorflow=with_tensorflow, nvml=nvml, amd=amd,
                                         intel=intel, apple=apple,
                                         probe_timeout_seconds=probe_timeout_seconds, tpu=tpu)
    state = detect_progressively(functions, on_progress=on_progress, cancel=cancel)
    if state.host is None:  # the OS itself could not be read: that is an error worth raising
        raise RuntimeError("; ".join(state.errors) or "detection was cancelled")
    if state.cpus is None:
        state = state.replace(cpus=())
    if state.tensorflow is None:
        state = state.replace(tensorflow=TensorFlowInfo(status="error", message="cancelled"))
    report = state.to_report()
    assert report is not None
    # the delegates' libraries are looked for, never loaded: nothing here can fail the report
    return report.model_copy(update={"tflite_delegates": tflite_delegates()})


def device_label(report: PartialReport | DetectReport | None, device: str) -> str:
    """The model of ``device`` ("cpu", "gpu:0") as detection found it, else the device itself."""
    if report is None:
        return "CPU" if device == "cpu" else device
    if device == "cpu":
        cpus = report.cpus or ()
        return (cpus[0].model_name if cpus else None) or "CPU"
    try:
        index = int(device.split(":")[1])
    except (IndexError, ValueError):
        return device
    if device.startswith("tpu:"):
        chip = next((t for t in report.tpus or () if t.index == index), None)
        return (chip.name if chip else None) or device
    gpu = next((g for g in report.gpus or () if g.index == index), None)
    return (gpu.name if gpu else None) or device


def detect_device_label(device: str) -> str:
    """:func:`device_label` for a front end that has detected nothing: asks only the CPU or GPUs."""
    if device == "cpu":
        return device_label(PartialReport(cpus=(detect_cpu(),)), device)
    if device.startswith("tpu:"):
        return device_label(PartialReport(tpus=detect_tpus()[1]), device)
    gpus = detect_gpus()[1]
    gpus += detect_amd_gpus(None, len(gpus))[1]
    gpus += detect_intel_gpus(None, len(gpus))[1]
    gpus += detect_apple_gpus(None, len(gpus))[1]
    return device_label(PartialReport(gpus=gpus), device)


def _intel_extension_installed() -> bool:
    """Whether the Intel Extension for TensorFlow is installed (found, not imported)."""
    from hwprof.services import runs  # runs imports this module; looked up late, as tests patch it

    return runs.intel_extension_installed()


def _has_apple(state: PartialReport) -> bool:
    return any(g.vendor == "apple" for g in state.gpus or ())


def _metal_plugin_installed() -> bool:
    """Whether the tensorflow-metal plug-in is installed (found, not imported)."""
    from hwprof.services import runs  # runs imports this module; looked up late, as tests patch it

    return runs.metal_plugin_installed()

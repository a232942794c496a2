"""Detect everything at once: CPU, NVIDIA GPUs and TensorFlow's view, concurrently.

py-cpuinfo (about 1 s) and the TensorFlow probe (a child process, several seconds) dominate; they
run side by side so `hwprof detect` takes about as long as the slower of them.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import hwprof
from hwprof.backends.cpu import detect_cpu, detect_host
from hwprof.backends.nvml import NvmlBackend
from hwprof.core.devices import (
    CpuInfo,
    DetectReport,
    GpuInfo,
    NvmlStatus,
    TensorFlowInfo,
    match_tensorflow_gpus,
)
from hwprof.runner.probe import DEFAULT_TIMEOUT_SECONDS, probe_tensorflow


def detect_gpus(nvml: NvmlBackend | None = None) -> tuple[NvmlStatus, tuple[GpuInfo, ...]]:
    """NVML's status and GPUs; never raises."""
    backend = nvml or NvmlBackend()
    try:
        status = backend.status()
        gpus = backend.devices() if status.available else ()
    except Exception as err:  # a back end must never take detection down
        return NvmlStatus(available=False, message=f"NVML failed: {err!r}"), ()
    return status, gpus


def detect_all(
    *,
    with_tensorflow: bool = True,
    nvml: NvmlBackend | None = None,
    probe_timeout_seconds: float | None = None,
    cancel: threading.Event | None = None,
) -> DetectReport:
    """Everything `hwprof detect` reports."""
    t0 = time.monotonic()
    with ThreadPoolExecutor(max_workers=3, thread_name_prefix="hwprof-detect") as pool:
        timeout = (
            DEFAULT_TIMEOUT_SECONDS if probe_timeout_seconds is None else probe_timeout_seconds
        )
        tf_future = (
            pool.submit(probe_tensorflow, timeout, None, cancel) if with_tensorflow else None
        )
        cpu_future = pool.submit(detect_cpu)
        gpu_future = pool.submit(detect_gpus, nvml)
        host = detect_host()
        cpu: CpuInfo = cpu_future.result()
        nvml_status, gpus = gpu_future.result()
        tf = (
            tf_future.result()
            if tf_future is not None
            else TensorFlowInfo(status="error", message="not probed (--no-tensorflow)")
        )
    tf, gpus = match_tensorflow_gpus(tf, gpus, os.environ.get("CUDA_VISIBLE_DEVICES"))
    return DetectReport(
        hwprof_version=hwprof.__version__,
        created_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        host=host,
        cpus=(cpu,),
        nvml=nvml_status,
        gpus=gpus,
        tensorflow=tf,
        detect_seconds=round(time.monotonic() - t0, 3),
    )

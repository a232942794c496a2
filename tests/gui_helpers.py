"""Helpers for the GUI tests: detection steps that skip the slow TensorFlow probe."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from hwprof.backends.cpu import detect_cpu, detect_host
from hwprof.core.devices import TensorFlowInfo, TfDevice
from hwprof.services.detect import DetectFunctions, detect_gpus

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
    """The real host, NVML (stubbed by a scenario) and CPU steps with a fake, instant probe.

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
            host=detect_host, gpus=detect_gpus, cpu=detect_cpu, tensorflow=tensorflow
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

"""TensorFlow Lite delegates this machine could load, found without importing TensorFlow.

XNNPACK is built into every TFLite interpreter (its default CPU delegate). The Edge TPU delegate is
a shared library from Coral's Edge TPU runtime (``libedgetpu.so.1`` on Linux,
``libedgetpu.1.dylib`` on macOS, ``edgetpu.dll`` on Windows), and a model runs on the Edge TPU only
after ``edgetpu_compiler`` has compiled it. A GPU delegate ships with Android's and macOS' TFLite
builds, not with TensorFlow's pip package. Libraries are looked for, never loaded, so nothing here
can crash the caller.
"""

from __future__ import annotations

import ctypes.util
from collections.abc import Sequence
from pathlib import Path

from hwprof.core.devices import TfliteDelegate
from hwprof.core.edgetpu import (
    EDGETPU_DIRS,
    EDGETPU_NAMES,
    edgetpu_library_name,
    find_edgetpu_compiler,
    find_edgetpu_library,
)

__all__ = ["EDGETPU_DIRS", "EDGETPU_NAMES", "edgetpu_problem", "find_edgetpu_compiler",
           "find_edgetpu_library", "find_gpu_delegate", "tflite_delegates"]

EDGETPU_INSTALL = ("install the Edge TPU runtime: on Debian/Ubuntu, add Coral's apt repository "
                   "(https://coral.ai/software/) and apt install libedgetpu1-std; on macOS or "
                   "Windows, Coral's edgetpu_runtime package")
COMPILER_INSTALL = ("apt install edgetpu-compiler from Coral's apt repository (x86-64 Linux "
                    "only): a model runs on the Edge TPU only once it has compiled it")
GPU_DELEGATE_NAMES = ("tensorflowlite_gpu_delegate", "tensorflowlite_gpu_gl")


def find_gpu_delegate() -> str | None:
    """A TFLite GPU delegate library the loader can find, else None."""
    for name in GPU_DELEGATE_NAMES:
        found = ctypes.util.find_library(name)
        if found:
            return found
    return None


def edgetpu_problem(search_dirs: Sequence[str | Path] | None = None) -> str:
    """Why a run cannot use the Edge TPU delegate here, in words; "" when nothing is missing."""
    library = find_edgetpu_library(search_dirs)
    if library is None:
        return (f"the Edge TPU delegate needs {edgetpu_library_name()}, which is not on this "
                f"machine: {EDGETPU_INSTALL}")
    if find_edgetpu_compiler() is None:
        return (f"the Edge TPU runtime is here ({library}) but edgetpu_compiler is not on PATH: "
                + COMPILER_INSTALL)
    return ""


def tflite_delegates(search_dirs: Sequence[str | Path] | None = None) -> tuple[TfliteDelegate, ...]:
    """Every TFLite delegate hwprof knows, whether it is here, and where or what to install."""
    library = find_edgetpu_library(search_dirs)
    compiler = find_edgetpu_compiler()
    gpu = find_gpu_delegate()
    return (
        TfliteDelegate(name="XNNPACK", available=True,
                       detail="CPU; built into the interpreter (its default delegate)"),
        TfliteDelegate(name="Edge TPU", available=library is not None,
                       detail=f"runtime {library}" if library else EDGETPU_INSTALL),
        TfliteDelegate(name="edgetpu_compiler", available=compiler is not None,
                       detail=compiler or COMPILER_INSTALL),
        TfliteDelegate(name="GPU", available=gpu is not None,
                       detail=gpu or "not in TensorFlow's pip package (Android and macOS builds "
                       "have one; on Linux, build libtensorflowlite_gpu_delegate.so from "
                       "TensorFlow's source)"),
    )

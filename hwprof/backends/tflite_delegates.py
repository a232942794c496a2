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
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from hwprof.core.devices import TfliteDelegate

EDGETPU_NAMES = {"linux": "libedgetpu.so.1", "darwin": "libedgetpu.1.dylib", "win32": "edgetpu.dll"}
# where Coral's packages put the library (apt, the macOS installer, Homebrew, the Windows zip)
EDGETPU_DIRS = ("/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu",
                "/usr/lib/arm-linux-gnueabihf", "/usr/lib", "/usr/local/lib", "/opt/homebrew/lib",
                "C:/Windows/System32")
EDGETPU_INSTALL = ("install the Edge TPU runtime: on Debian/Ubuntu, add Coral's apt repository "
                   "(https://coral.ai/software/) and apt install libedgetpu1-std; on macOS or "
                   "Windows, Coral's edgetpu_runtime package")
COMPILER_INSTALL = ("apt install edgetpu-compiler from Coral's apt repository (x86-64 Linux "
                    "only): a model runs on the Edge TPU only once it has compiled it")
GPU_DELEGATE_NAMES = ("tensorflowlite_gpu_delegate", "tensorflowlite_gpu_gl")


def _platform() -> str:
    return "linux" if sys.platform.startswith("linux") else sys.platform


def find_edgetpu_library(search_dirs: Sequence[str | Path] | None = None) -> str | None:
    """The Edge TPU runtime library's path (or the name the loader knows it by), else None.

    ``search_dirs`` replaces the usual folders and skips the system loader's search (tests).
    """
    name = EDGETPU_NAMES.get(_platform(), EDGETPU_NAMES["linux"])
    if search_dirs is None:
        found = ctypes.util.find_library("edgetpu")
        if found:
            return found
    for folder in EDGETPU_DIRS if search_dirs is None else search_dirs:
        path = Path(folder) / name
        if path.is_file():
            return str(path)
    return None


def find_edgetpu_compiler() -> str | None:
    """``edgetpu_compiler`` on PATH, else None."""
    return shutil.which("edgetpu_compiler")


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
        name = EDGETPU_NAMES.get(_platform(), EDGETPU_NAMES["linux"])
        return f"the Edge TPU delegate needs {name}, which is not on this machine: " + (
            EDGETPU_INSTALL)
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

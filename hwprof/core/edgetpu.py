"""The Edge TPU's files: where its runtime library and compiler are, and what the compiler said.

Pure look-ups and text, shared by the back end that lists delegates (``hwprof detect``, the
device check) and the TFLite worker that compiles and loads a model (which may import only core):
nothing here loads a library or runs a program.
"""

from __future__ import annotations

import ctypes.util
import re
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

EDGETPU_NAMES = {"linux": "libedgetpu.so.1", "darwin": "libedgetpu.1.dylib", "win32": "edgetpu.dll"}
# where Coral's packages put the library (apt, the macOS installer, Homebrew, the Windows zip)
EDGETPU_DIRS = ("/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu",
                "/usr/lib/arm-linux-gnueabihf", "/usr/lib", "/usr/local/lib", "/opt/homebrew/lib",
                "C:/Windows/System32")
COMPILER = "edgetpu_compiler"


def _platform() -> str:
    return "linux" if sys.platform.startswith("linux") else sys.platform


def edgetpu_library_name() -> str:
    """The Edge TPU runtime library's file name on this platform."""
    return EDGETPU_NAMES.get(_platform(), EDGETPU_NAMES["linux"])


def find_edgetpu_library(search_dirs: Sequence[str | Path] | None = None) -> str | None:
    """The Edge TPU runtime library's path (or the name the loader knows it by), else None.

    ``search_dirs`` replaces the usual folders and skips the system loader's search (tests).
    """
    name = edgetpu_library_name()
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
    """``edgetpu_compiler``'s absolute path when it is on PATH, else None."""
    found = shutil.which(COMPILER)
    return str(Path(found).absolute()) if found else None


@dataclass(frozen=True)
class CompilerLog:
    """What edgetpu_compiler's log says of a model: operations on the Edge TPU and on the CPU."""

    on_edgetpu: int | None  # None: the log does not say
    on_cpu: int | None


_NUMBER_ON = re.compile(
    r"number\s+of\s+operations\s+that\s+will\s+run\s+on\s+(edge\s*tpu|cpu)\s*:\s*(\d+)", re.I)
# the per-operator table that -s prints: "CONV_2D   12   Mapped to Edge TPU"
_TABLE_ROW = re.compile(r"^\s*[A-Z][A-Z0-9_]*\s+(\d+)\s+(\S.*?)\s*$")


def parse_compiler_log(text: str) -> CompilerLog:
    """The operation counts in edgetpu_compiler's output.

    The summary lines ("Number of operations that will run on Edge TPU: N", "... on CPU: M") win;
    without them, the per-operator table's counts are summed by their status ("Mapped to Edge
    TPU" or anything else, which runs on the CPU). Neither: both None.
    """
    on: dict[str, int] = {}
    for where, count in _NUMBER_ON.findall(text):
        on["cpu" if where.lower() == "cpu" else "tpu"] = int(count)
    if on:
        return CompilerLog(on.get("tpu"), on.get("cpu"))
    mapped = elsewhere = 0
    rows = 0
    for line in text.splitlines():
        row = _TABLE_ROW.match(line)
        if row is None:
            continue
        rows += 1
        if row.group(2).lower().startswith("mapped to edge tpu"):
            mapped += int(row.group(1))
        else:
            elsewhere += int(row.group(1))
    if rows == 0:
        return CompilerLog(None, None)
    return CompilerLog(mapped, elsewhere)

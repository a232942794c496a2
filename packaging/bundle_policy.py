"""What goes into the bundle: applied by the PyInstaller spec to the lists it collects.

Pruning here, before PyInstaller copies anything, reaches every target (the one-folder bundle, the
macOS ``.app`` and the Windows installer alike); pruning the output folder afterwards missed the
``.app``. Two kinds of file are left out:

- **never used by hwprof** (:data:`PRUNE`): Keras' other back ends, TensorFlow's headers and test
  suites, Qt's translations, QML, designer and SQL plugins, Qt platform plugins for embedded
  devices (eglfs, linuxfb, vnc, Vulkan displays), the GTK theme plugin and the network-information
  plugins. Each Qt plugin left out would otherwise need a system library of its own (GTK 3, libdrm,
  libgio) on every machine that installs hwprof;
- **on Linux, the build host's system libraries** (:func:`elf_check.is_system_library`): the
  target system has its own, built for its glibc; the package declares them in ``Depends``.
"""

from __future__ import annotations

import fnmatch
import sys
from collections.abc import Iterable
from pathlib import PurePosixPath

import elf_check

# Destination paths in the bundle (relative to its _internal folder), as fnmatch patterns whose
# `*` also matches `/`. Windows wheels of PySide6 have no Qt/ level: both layouts are listed.
PRUNE = (
    "tensorflow/include/*",
    "tensorflow/*/tests/*",
    "keras/src/backend/torch/*",
    "keras/src/backend/jax/*",
    "keras/src/backend/openvino/*",
    "PySide6/include/*",
    "PySide6/typesystems/*",
    "PySide6/glue/*",
    *(f"PySide6/{qt}{part}" for qt in ("Qt/", "") for part in (
        "translations/*",
        "qml/*",
        "plugins/sqldrivers/*",
        "plugins/multimedia/*",
        "plugins/designer/*",
        "plugins/qmltooling/*",
        "plugins/egldeviceintegrations/*",
        "plugins/generic/*",
        "plugins/networkinformation/*",
        "plugins/platformthemes/libqgtk3.so",
        "plugins/platforms/libqeglfs.so",
        "plugins/platforms/libqminimalegl.so",
        "plugins/platforms/libqlinuxfb.so",
        "plugins/platforms/libqvkkhrdisplay.so",
        "plugins/platforms/libqvnc.so",
        "lib/libQt6EglFSDeviceIntegration.so.6",
        "lib/libQt6EglFsKmsSupport.so.6",
    )),
    # PyInstaller also links Qt's libraries at the top of _internal
    "libQt6EglFSDeviceIntegration.so.6",
    "libQt6EglFsKmsSupport.so.6",
)


def pruned(dest: str) -> bool:
    """Whether a file bound for ``dest`` (relative to the bundle's _internal) is left out."""
    posix = PurePosixPath(dest.replace("\\", "/")).as_posix()
    return any(fnmatch.fnmatchcase(posix, pattern) for pattern in PRUNE)


def keep_binary(dest: str, src: str, platform: str = sys.platform) -> bool:
    """Whether a binary PyInstaller collected goes into the bundle."""
    if pruned(dest):
        return False
    return not (platform.startswith("linux") and elf_check.is_system_library(src))


Entry = tuple[str, str, str]  # PyInstaller's TOC entry: (destination, source, type code)


def filter_binaries(toc: Iterable[Entry], platform: str = sys.platform
                    ) -> tuple[list[Entry], list[Entry]]:
    """(kept, dropped) binaries of a TOC."""
    kept: list[Entry] = []
    dropped: list[Entry] = []
    for entry in toc:
        (kept if keep_binary(entry[0], entry[1], platform) else dropped).append(entry)
    return kept, dropped


def filter_datas(toc: Iterable[Entry]) -> tuple[list[Entry], list[Entry]]:
    """(kept, dropped) data files of a TOC."""
    kept: list[Entry] = []
    dropped: list[Entry] = []
    for entry in toc:
        (dropped if pruned(entry[0]) else kept).append(entry)
    return kept, dropped


def leftovers(bundle_internal: Iterable[str]) -> list[str]:
    """Paths (relative to _internal) that :data:`PRUNE` should have kept out: checks the output."""
    return [p for p in bundle_internal if pruned(p)]

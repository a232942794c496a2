"""Where hwprof keeps the user's data, as the platform expects (platformdirs).

``HWPROF_DATA_DIR`` overrides the folder (tests point it at a temporary one; a user can point it at
a shared drive). Folders are created when first asked for.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from platformdirs import user_data_path

APP_NAME = "hwprof"


def data_dir() -> Path:
    """The user data folder: snapshots, the roofline cache, Keras' files of hwprof's runs."""
    override = os.environ.get("HWPROF_DATA_DIR")
    path = Path(override).expanduser() if override else user_data_path(APP_NAME, appauthor=False)
    path.mkdir(parents=True, exist_ok=True)
    return path


def snapshots_dir() -> Path:
    """Where snapshots are saved by default and listed by `hwprof snapshots`."""
    path = data_dir() / "snapshots"
    path.mkdir(parents=True, exist_ok=True)
    return path


def keras_home() -> Path:
    """KERAS_HOME for worker processes, so Keras never writes into the user's ~/.keras."""
    override = os.environ.get("KERAS_HOME")
    path = Path(override) if override else data_dir() / "keras"
    path.mkdir(parents=True, exist_ok=True)
    return path


def profiles_dir() -> Path:
    """Where profiles (``hwprof profile``) are saved by default and listed."""
    path = data_dir() / "profiles"
    path.mkdir(parents=True, exist_ok=True)
    return path


def resources_dir() -> Path:
    """The resources folder: sys._MEIPASS/resources in a frozen bundle, else the repository's."""
    frozen = getattr(sys, "_MEIPASS", None)
    if frozen:
        return Path(frozen) / "resources"
    return Path(__file__).resolve().parent.parent.parent / "resources"

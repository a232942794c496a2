"""The window's settings file (QSettings in INI format under the user's configuration folder)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, QStandardPaths


def settings_path() -> Path:
    """$XDG_CONFIG_HOME/hwprof/hwprof.ini on Linux (and the platform's equivalent elsewhere).

    Computed on every call rather than left to QSettings, which fixes its folders at first use:
    tests point XDG_CONFIG_HOME at a new folder for each test.
    """
    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.GenericConfigLocation)
    return Path(base) / "hwprof" / "hwprof.ini"


def open_settings() -> QSettings:
    """The application's settings."""
    return QSettings(str(settings_path()), QSettings.Format.IniFormat)


def last_folder() -> Path:
    """The folder the person last saved or opened a file in (their home folder at first)."""
    value = open_settings().value("files/last_folder", "")
    folder = Path(str(value)) if value else Path.home()
    return folder if folder.is_dir() else Path.home()


def remember_folder(folder: Path) -> None:
    """Start the next file dialog in ``folder``."""
    open_settings().setValue("files/last_folder", str(folder))

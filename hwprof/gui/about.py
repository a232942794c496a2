"""The About dialog: hwprof and every version that matters when reporting a number or a bug."""

from __future__ import annotations

import html
import platform
import sys
from importlib import metadata
from pathlib import Path

import PySide6
from PySide6.QtCore import Qt, qVersion
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

import hwprof
from hwprof.core.devices import PartialReport
from hwprof.core.units import NA
from hwprof.gui.resources import app_icon


def _dist_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return NA


def version_rows(report: PartialReport) -> list[tuple[str, str]]:
    """(what, version) pairs. TensorFlow's come from the probe child: never imported here."""
    tf = report.tensorflow
    if tf is None:
        tf_version = cuda = cudnn = "waiting for the TensorFlow probe…"
    elif tf.status == "ok":
        tf_version = tf.version or NA
        cuda = tf.cuda_version or ("none (CPU-only build)" if not tf.built_with_cuda else NA)
        cudnn = tf.cudnn_version or ("none (CPU-only build)" if not tf.built_with_cuda else NA)
    else:
        tf_version = f"{tf.status.replace('_', ' ')}" + (f" ({tf.message})" if tf.message else "")
        cuda = cudnn = NA
    if report.nvml is None:
        driver = "detecting…"
    elif report.nvml.available:
        driver = report.nvml.driver_version or NA
        if report.nvml.cuda_driver_version:
            driver += f" (supports CUDA {report.nvml.cuda_driver_version})"
    else:
        driver = report.nvml.message or "no NVIDIA driver"
    return [
        ("hwprof", hwprof.__version__),
        ("Python", f"{platform.python_version()} ({platform.python_implementation()})"),
        ("Qt", qVersion()),
        ("PySide6", PySide6.__version__),
        ("pyqtgraph", _dist_version("pyqtgraph")),
        ("TensorFlow", tf_version),
        ("CUDA (TensorFlow build)", cuda),
        ("cuDNN (TensorFlow build)", cudnn),
        ("NVIDIA driver", driver),
        ("OS", f"{platform.system()} {platform.release()} ({platform.machine()})"),
    ]


def about_text(report: PartialReport) -> str:
    """The versions as plain text (what "Copy" puts on the clipboard)."""
    return "\n".join(f"{k}: {v}" for k, v in version_rows(report))


class QtAboutDialog(QDialog):
    """hwprof's About box, with a button copying the versions for a bug report."""

    def __init__(self, report: PartialReport, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("About hwprof")
        self._text = about_text(report)
        icon = QLabel()
        icon.setPixmap(app_icon().pixmap(96, 96))
        icon.setAlignment(Qt.AlignmentFlag.AlignTop)
        rows = "".join(
            f"<tr><td style='padding-right:14px'><b>{html.escape(k)}</b></td>"
            f"<td>{html.escape(v)}</td></tr>"
            for k, v in version_rows(report)
        )
        self.label = QLabel(
            "<h2>hwprof</h2><p>A hardware profiler for deep learning: every CPU and GPU of this "
            "machine, what TensorFlow makes of them, and how fast they really are.</p>"
            f"<table>{rows}</table><p>Nothing is uploaded anywhere.</p>"
        )
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.label.setWordWrap(True)
        self.label.setMinimumWidth(460)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok)
        copy = buttons.addButton("Copy versions", QDialogButtonBox.ButtonRole.ActionRole)
        copy.setToolTip("Copy these versions to the clipboard, e.g. for a bug report")
        copy.clicked.connect(self._copy)
        licences = buttons.addButton("Licences…", QDialogButtonBox.ButtonRole.HelpRole)
        licences.setToolTip("hwprof's licence and those of the components it contains")
        licences.clicked.connect(self._show_licences)
        buttons.accepted.connect(self.accept)
        top = QHBoxLayout()
        top.addWidget(icon)
        top.addWidget(self.label, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(buttons)

    def text(self) -> str:
        """The versions shown, as plain text."""
        return self._text

    def _copy(self) -> None:
        QApplication.clipboard().setText(self._text)

    def _show_licences(self) -> None:
        QtLicencesDialog(self).open()


NOTICES_FILE = "THIRD-PARTY-NOTICES.txt"


def licence_files() -> tuple[Path | None, Path | None]:
    """The paths of hwprof's licence and of the third-party notices (None: not there).

    In the frozen app both are in its ``licenses`` folder; from source, the repository's LICENSE
    and, once the installers were built, build/notices/.
    The build generates the notices from the bundled packages' metadata (packaging/notices.py).
    """
    frozen = getattr(sys, "_MEIPASS", None)
    if frozen:
        folder = Path(frozen) / "licenses"
        candidates = (folder / "LICENSE.txt", folder / NOTICES_FILE)
    else:
        repo = Path(hwprof.__file__).resolve().parent.parent
        candidates = (repo / "LICENSE", repo / "build" / "notices" / NOTICES_FILE)
    lic, notices = (p if p.is_file() else None for p in candidates)
    return lic, notices


def licences_text() -> str:
    """The text the Licences dialog shows: the third-party notices, then hwprof's licence."""
    lic, notices = licence_files()
    if notices is not None:  # it begins with hwprof's own licence, then every component's
        parts = [notices.read_text(encoding="utf-8", errors="replace")]
    else:
        parts = ["hwprof is licensed under the Apache License, Version 2.0. The third-party "
                 "notices are made when the installers are built. Run from source, hwprof uses "
                 "the packages installed beside it; each one's licence is in its own metadata."]
    if lic is not None:
        parts.append("hwprof's licence\n================\n\n"
                     + lic.read_text(encoding="utf-8", errors="replace"))
    return "\n\n".join(parts)


class QtLicencesDialog(QDialog):
    """hwprof's licence and the third-party notices, as plain text."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("hwprof — licences")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.text = QPlainTextEdit()
        self.text.setReadOnly(True)
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.text.setPlainText(licences_text())  # plain text: nothing in a file is markup
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text)
        layout.addWidget(buttons)
        self.resize(820, 600)

"""The About dialog: hwprof and every version that matters when reporting a number or a bug."""

from __future__ import annotations

import html
import platform
from importlib import metadata

import PySide6
from PySide6.QtCore import Qt, qVersion
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
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

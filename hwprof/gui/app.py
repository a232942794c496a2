"""The desktop window's entry point.

The window appears at once; hardware detection (py-cpuinfo, NVML, the TensorFlow probe child) runs
on a worker object in a QThread and fills the window in when it is done. The GUI process never
imports TensorFlow.
"""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path

from PySide6.QtCore import QObject, QThread, QTimer, Signal, Slot
from PySide6.QtGui import QFont, QFontDatabase, QIcon
from PySide6.QtWidgets import (
    QApplication,
    QLabel,
    QMainWindow,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

import hwprof
from hwprof.core.devices import DetectReport
from hwprof.core.units import NA, fmt_bytes, fmt_flops, fmt_hz, fmt_num


def resources_dir() -> Path:
    """The resources folder: inside a frozen bundle, or the repository's top-level resources/."""
    frozen = getattr(sys, "_MEIPASS", None)
    if frozen:
        return Path(frozen) / "resources"
    return Path(hwprof.__file__).resolve().parent.parent / "resources"


def report_text(report: DetectReport) -> str:
    """A plain-text summary of what detection found (the devices panel replaces this)."""
    h = report.host
    lines = [
        f"Host      {h.hostname} — {h.os_release or h.os}, Python {h.python_version}",
        f"Memory    {fmt_bytes(h.memory_total_bytes)}",
        "",
    ]
    for i, cpu in enumerate(report.cpus):
        lines += [
            f"CPU {i}     {cpu.model_name or NA}",
            f"          {fmt_num(cpu.physical_cores)} cores, {cpu.logical_cpus} logical CPUs, "
            f"base {fmt_hz(cpu.frequency_base_hz)}, max {fmt_hz(cpu.frequency_max_hz)}",
            "          caches "
            + ", ".join(f"{c.label} {fmt_bytes(c.size_bytes)} × {c.instances}" for c in cpu.caches),
            f"          DL extensions: {' '.join(cpu.dl_extensions) or 'none'}",
        ]
        if cpu.peak:
            lines.append(
                f"          peak (estimate): fp32 {fmt_flops(cpu.peak.fp32_flops)}, "
                f"bf16 {fmt_flops(cpu.peak.bf16_flops)}"
            )
    lines.append("")
    if not report.nvml.available:
        lines.append(f"GPUs      {report.nvml.message}")
    for g in report.gpus:
        tf = g.tensorflow_device or f"not visible to TensorFlow: {g.tensorflow_missing_reason}"
        lines.append(
            f"GPU {g.index}     {g.error or g.name} — {fmt_bytes(g.memory_total_bytes)} — {tf}"
        )
    tf_info = report.tensorflow
    lines += [
        "",
        f"TensorFlow {tf_info.version or tf_info.status}"
        + (
            f" (CUDA {tf_info.cuda_version}, cuDNN {tf_info.cudnn_version})"
            if tf_info.built_with_cuda
            else ""
        )
        + (f": {tf_info.message}" if tf_info.message else ""),
    ]
    lines += [f"          {d.name}" for d in tf_info.devices]
    return "\n".join(lines)


class DetectWorker(QObject):
    """Runs detection off the GUI thread."""

    finished = Signal(object)  # DetectReport
    failed = Signal(str)

    def __init__(self) -> None:
        super().__init__()
        self.cancel = threading.Event()

    @Slot()
    def run(self) -> None:
        """Detect everything (seconds: py-cpuinfo and the TensorFlow probe)."""
        from hwprof.services.detect import detect_all

        try:
            self.finished.emit(detect_all(cancel=self.cancel))
        except Exception as err:  # the window must survive anything detection does
            self.failed.emit(f"detection failed: {err!r}")


class QtMainWindow(QMainWindow):
    """The main window (a first version: the devices report)."""

    def __init__(self) -> None:
        super().__init__()
        import socket

        self.setWindowTitle(f"hwprof — {socket.gethostname()}")
        self.resize(1100, 760)
        body = QWidget()
        layout = QVBoxLayout(body)
        self.status_label = QLabel("Detecting hardware (CPU, NVIDIA GPUs, TensorFlow)…")
        self.report_view = QPlainTextEdit()
        self.report_view.setReadOnly(True)
        font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        font.setStyleHint(QFont.StyleHint.Monospace)
        self.report_view.setFont(font)
        layout.addWidget(self.status_label)
        layout.addWidget(self.report_view)
        self.setCentralWidget(body)
        self.report: DetectReport | None = None
        self._thread = QThread(self)
        self._worker = DetectWorker()
        self._worker.moveToThread(self._thread)
        self._thread.started.connect(self._worker.run)
        self._worker.finished.connect(self._on_detected)
        self._worker.failed.connect(self._on_detect_failed)
        self._worker.finished.connect(self._thread.quit)
        self._worker.failed.connect(self._thread.quit)

    def start_detection(self) -> None:
        """Start detecting in the background."""
        self._thread.start()

    @Slot(object)
    def _on_detected(self, report: DetectReport) -> None:
        self.report = report
        self.report_view.setPlainText(report_text(report))
        gpus = len(report.gpus)
        nvml = "" if report.nvml.available else f" ({report.nvml.message})"
        self.status_label.setText(f"Ready: {len(report.cpus)} CPU, {gpus} GPUs{nvml}")

    @Slot(str)
    def _on_detect_failed(self, message: str) -> None:
        self.status_label.setText(message)

    def closeEvent(self, event: object) -> None:
        """Wait for detection to end before the window goes (it ends within the probe's limit)."""
        self._worker.cancel.set()
        self._thread.quit()
        self._thread.wait(10_000)
        super().closeEvent(event)  # type: ignore[arg-type]


def main(argv: list[str]) -> int:
    """Open the window and run the event loop."""
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(["hwprof", *argv])
    app.setApplicationName("hwprof")
    app.setOrganizationName("hwprof")
    icon = resources_dir() / "icons" / "hwprof.svg"
    if icon.exists():
        app.setWindowIcon(QIcon(str(icon)))
    window = QtMainWindow()
    # SIGTERM and Ctrl-C close the window cleanly (ending the probe child) instead of killing
    # Python; the timer lets the interpreter run its signal handlers while Qt's loop is waiting.
    signal.signal(signal.SIGTERM, lambda *_: window.close())
    signal.signal(signal.SIGINT, lambda *_: window.close())
    ticker = QTimer(window)
    ticker.timeout.connect(lambda: None)
    ticker.start(200)
    window.show()
    window.start_detection()
    return int(app.exec())

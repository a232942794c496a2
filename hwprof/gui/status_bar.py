"""The window's status bar: what detection and the run in progress are doing, whichever tab shows.

A view of the session model: a line of text (plain: reasons come from the system), the run's
progress bar while a run goes, and a "working" bar while detection runs.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QProgressBar, QStatusBar, QWidget

from hwprof.core.devices import PartialReport, vendor_gpu_summary
from hwprof.core.session import (
    Autosaved,
    DetectionFinished,
    DetectionProgressed,
    RunFinished,
    RunProgressed,
    RunStarted,
)
from hwprof.gui.session_adapter import QtSessionEvents


def ready_message(report: PartialReport) -> str:
    """The status line once detection is done: "Ready: 1 CPU, 0 GPUs; NVIDIA: no driver (...)"."""
    cpus, gpus = len(report.cpus or ()), len(report.gpus or ())
    text = f"Ready: {cpus} CPU{'s' if cpus != 1 else ''}, {gpus} GPU{'s' if gpus != 1 else ''}"
    if report.nvml is not None and not report.nvml.available:
        # per vendor: on an AMD machine the GPUs counted above are AMD's, not missing NVIDIA ones
        states: list[tuple[str, int, str | None]] = [
            ("nvidia", 0, report.nvml.message or "no NVIDIA driver")]
        if report.amd is not None and report.amd.available:
            states.append(("amd", sum(1 for g in report.gpus or () if g.vendor == "amd"), None))
        if report.intel is not None and report.intel.available:
            states.append(("intel", sum(1 for g in report.gpus or () if g.vendor == "intel"),
                           None))
        if report.apple is not None and report.apple.available:
            states.append(("apple", sum(1 for g in report.gpus or () if g.vendor == "apple"),
                           None))
        text += f"; {vendor_gpu_summary(states)}"
    elif report.gpus and report.tensorflow and report.tensorflow.status == "ok":
        text += f", {sum(1 for g in report.gpus if g.tensorflow_device)} usable by TensorFlow"
    if report.errors:
        text += f"; problems: {'; '.join(report.errors)}"
    return text


def _bar(name: str, width: int) -> QProgressBar:
    bar = QProgressBar()
    bar.setObjectName(name)
    bar.setMaximumWidth(width)
    bar.setMaximumHeight(14)
    bar.hide()
    return bar


class QtStatusBar(QStatusBar):
    """Status line, the run's progress and detection's "working" bar."""

    def __init__(self, events: QtSessionEvents, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = QLabel("Starting…")
        self.label.setObjectName("status_label")
        self.label.setTextFormat(Qt.TextFormat.PlainText)
        self.run_progress = _bar("status_run_progress", 160)
        self.busy = _bar("status_busy", 120)
        self.busy.setRange(0, 0)  # an indeterminate "working" bar
        self.busy.setTextVisible(False)
        self.busy.setToolTip("Detecting hardware")
        self.addWidget(self.label, 1)
        self.addPermanentWidget(self.run_progress)
        self.addPermanentWidget(self.busy)
        events.on(DetectionProgressed, lambda e: self.label.setText(e.message), self)
        events.on(DetectionFinished, self._on_detection_finished, self)
        events.on(RunStarted, self._on_run_started, self)
        events.on(RunProgressed, self._on_run_progressed, self)
        events.on(RunFinished, self._on_run_finished, self)
        events.on(Autosaved, lambda e: self.showMessage(f"Saved in {e.path}", 4000), self)

    def _on_detection_finished(self, e: DetectionFinished) -> None:
        self.label.setText(ready_message(e.report))
        self.busy.hide()

    def _on_run_started(self, e: RunStarted) -> None:
        self.label.setText(e.progress.status())
        self.run_progress.setRange(0, 0)
        self.run_progress.show()

    def _on_run_progressed(self, e: RunProgressed) -> None:
        self.label.setText(e.progress.status())
        fraction = e.progress.fraction
        if fraction is not None:
            self.run_progress.setRange(0, 100)
            self.run_progress.setValue(int(100 * fraction))

    def _on_run_finished(self, e: RunFinished) -> None:
        r = e.record.result
        self.run_progress.hide()
        label = e.item.spec.label()
        self.label.setText(f"Finished {label}" if r.ok else f"{label}: {r.status}: {r.reason}")

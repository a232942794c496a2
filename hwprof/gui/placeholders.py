"""Stand-ins for the panels that arrive later (workload runner, live charts, results).

Each says what the tab will do, so the window reads as a plan rather than as something broken.
The main window swaps a real panel in with ``QtMainWindow.set_panel(key, widget)``.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

PLACEHOLDER_TEXT: dict[str, tuple[str, str]] = {
    "run": (
        "Run a workload",
        "Choose a TensorFlow workload (matrix multiply, CNN training, inference), the device to "
        "run it on and its settings (batch size, precision, threads), then start it. Each run is "
        "a separate process, so a crash or an out-of-memory error cannot take the window down.",
    ),
    "live": (
        "Live charts",
        "Utilization, memory, power, clocks and temperature of every device, with the run's "
        "throughput on the same time axis, while a workload runs.",
    ),
    "results": (
        "Results",
        "Every run's throughput, step-time spread and % of the device's estimated peak, side by "
        "side, to compare devices and settings; saved as a snapshot to open and compare later.",
    ),
}


class QtPlaceholderPanel(QWidget):
    """A tab that says what will be here."""

    def __init__(self, key: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        title, text = PLACEHOLDER_TEXT[key]
        self.setObjectName(f"placeholder_{key}")
        heading = QLabel(f"<h2>{title}</h2>")
        heading.setAlignment(Qt.AlignmentFlag.AlignCenter)
        body = QLabel(text)
        body.setWordWrap(True)
        body.setAlignment(Qt.AlignmentFlag.AlignCenter)
        # a fixed width lets the wrapped label compute its height (a maximum width clips it)
        body.setFixedWidth(520)
        body.setMinimumHeight(body.heightForWidth(520))
        soon = QLabel("<i>This panel arrives in a coming version.</i>")
        soon.setAlignment(Qt.AlignmentFlag.AlignCenter)
        soon.setEnabled(False)  # drawn in the palette's muted colour
        layout = QVBoxLayout(self)
        layout.addStretch(2)
        layout.addWidget(heading)
        layout.addWidget(body, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addSpacing(8)
        layout.addWidget(soon)
        layout.addStretch(3)

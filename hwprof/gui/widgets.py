"""Small widget factories the panels share: a read-only table, a chart that does not pan."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from hwprof.gui.chart_style import QtChart


def readonly_table(name: str, headers: list[str] | tuple[str, ...] = (), *, rows: int = 0,
                   select_rows: bool = False, stretch_last: bool = False) -> QTableWidget:
    """A table of numbers to read (not edit), columns sized to their contents."""
    table = QTableWidget(rows, len(headers))
    table.setObjectName(name)
    if headers:
        table.setHorizontalHeaderLabels(list(headers))
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    if select_rows:
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.verticalHeader().setVisible(False)
    header = table.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    header.setStretchLastSection(stretch_last)
    return table


def fill_table(table: QTableWidget, headers: Sequence[str],
               rows: Sequence[Sequence[object]]) -> None:
    """Replace a table's columns and rows; every cell is plain text (never markup)."""
    table.clear()
    table.setColumnCount(len(headers))
    table.setHorizontalHeaderLabels(list(headers))
    table.setRowCount(len(rows))
    for i, row in enumerate(rows):
        for j, text in enumerate(row):
            table.setItem(i, j, QTableWidgetItem(str(text)))


def static_plot(name: str = "", *, grid: bool = True, **kwargs: Any) -> QtChart:
    """A chart for results: no mouse panning or zooming, a light grid, the theme's colours."""
    return QtChart(name, grid=grid, **kwargs)


def plain_label(text: str = "", parent: QWidget | None = None, *, wrap: bool = True,
                name: str = "") -> QLabel:
    """A label that shows its text as text, never as markup.

    A hostname or a file name with ``<b>`` in it shows the ``<b>``.
    """
    label = QLabel(parent)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setWordWrap(wrap)
    if name:
        label.setObjectName(name)
    label.setText(text)
    return label


class EmptyState(QLabel):
    """What an empty tab says instead of a bare grid: what it will show, and how to get there."""

    def __init__(self, text: str, parent: QWidget | None = None) -> None:
        super().__init__(text, parent)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setWordWrap(True)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setObjectName("empty_state")
        self.setMargin(24)
        font = self.font()
        font.setPointSizeF(font.pointSizeF() * 1.1)
        self.setFont(font)

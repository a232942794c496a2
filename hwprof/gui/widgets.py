"""Small widget factories the panels share: a read-only table, a chart that does not pan."""

from __future__ import annotations

from typing import Any

import pyqtgraph as pg
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget

GRID_ALPHA = 0.25


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


def static_plot(name: str = "", *, grid: bool = True, **kwargs: Any) -> pg.PlotWidget:
    """A chart for results: no mouse panning or zooming, no auto-range button, a light grid."""
    plot = pg.PlotWidget(**kwargs)
    if name:
        plot.setObjectName(name)
    if grid:
        plot.showGrid(x=True, y=True, alpha=GRID_ALPHA)
    plot.setMouseEnabled(x=False, y=False)
    plot.hideButtons()
    return plot

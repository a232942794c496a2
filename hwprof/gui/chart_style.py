"""Charts that follow the theme: every colour a chart draws with comes from the window's palette.

pyqtgraph draws with its own global foreground (near-black) unless told otherwise, which vanishes
on a dark background; hwprof never changes pyqtgraph's global options. Instead each chart is
styled from the palette here (axes, tick labels, titles, legends, grid), restyled when the palette
changes, and the series colours have a light and a dark set with enough contrast on each.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any, Literal

import pyqtgraph as pg
from PySide6.QtCore import QEvent
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication, QWidget

# tab10 on light; brighter tones of the same hues on dark (each >= 4.5:1 on the dark base colour)
LIGHT_SERIES = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
                "#17becf")
DARK_SERIES = ("#5aa9f0", "#ff6b6b", "#5fd17a", "#ffab4a", "#c39bf0", "#d9a88f", "#f29ad6",
               "#4fd8e8")
GRID_ALPHA = 0.25
AxisKind = Literal["plain", "percent", "si", "cores"]
TITLE_SIZE = "9pt"


class ValueAxis(pg.AxisItem):
    """An axis whose labels never use scientific notation: SI prefixes ("9.1G") or plain."""

    def __init__(self, kind: AxisKind, orientation: str = "left") -> None:
        super().__init__(orientation=orientation)
        self.kind = kind
        # the labels carry their own prefix ("2G"): pyqtgraph's "(x1e+09)" after the axis title
        # would multiply them once more
        self.enableAutoSIPrefix(False)

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:
        """Compact labels: 0, 25, 50; 1.5G; 0.25."""
        if self.kind == "si":
            from hwprof.core.units import fmt_si

            return [fmt_si(v) if v else "0" for v in values]
        if self.kind in ("percent", "cores"):
            return [f"{v:g}" for v in values]
        return list(super().tickStrings(values, scale, spacing))


@dataclass(frozen=True)
class ChartColors:
    """The colours of one theme, for charts."""

    dark: bool
    text: QColor
    muted: QColor  # axes, marker lines: readable but secondary
    background: QColor
    warning: QColor
    series: tuple[str, ...]

    def series_color(self, i: int) -> str:
        """The colour of the i-th series."""
        return self.series[i % len(self.series)]

    def css(self, colour: QColor | None = None) -> str:
        """A colour as ``#rrggbb`` for rich text."""
        return (colour or self.text).name()


def chart_colors(palette: QPalette | None = None) -> ChartColors:
    """The chart colours for ``palette`` (the application's when None)."""
    if palette is None:
        app = QApplication.instance()
        palette = app.palette() if isinstance(app, QApplication) else QPalette()
    base = palette.color(QPalette.ColorRole.Base)
    text = palette.color(QPalette.ColorRole.Text)
    dark = base.lightness() < 128
    muted = QColor(
        (text.red() * 3 + base.red() * 2) // 5,
        (text.green() * 3 + base.green() * 2) // 5,
        (text.blue() * 3 + base.blue() * 2) // 5,
    )
    warning = QColor("#ff6b6b") if dark else QColor("#c62828")
    return ChartColors(dark, text, muted, base, warning, DARK_SERIES if dark else LIGHT_SERIES)


def style_axes(plot: pg.PlotItem, colors: ChartColors) -> None:
    """Axes lines, ticks and tick labels in the theme's colours."""
    for name in ("left", "bottom", "right", "top"):
        axis = plot.getAxis(name)
        axis.setPen(pg.mkPen(colors.muted))
        axis.setTextPen(pg.mkPen(colors.text))


def set_title(plot: pg.PlotItem, title: str, colors: ChartColors) -> None:
    """A chart's title, left-aligned, in the theme's text colour (plain text, escaped)."""
    plot.setTitle(html.escape(title), color=colors.css(), size=TITLE_SIZE, justify="left")


def style_legend(legend: Any, colors: ChartColors) -> None:
    """A legend's labels in the theme's text colour."""
    if legend is None:
        return
    legend.setLabelTextColor(colors.text)
    for _sample, label in legend.items:
        label.setText(label.text, color=colors.css())


def style_plot(plot: pg.PlotItem, colors: ChartColors, title: str | None = None) -> None:
    """Axes, title and legend of one chart in the theme's colours."""
    style_axes(plot, colors)
    if title is not None:
        set_title(plot, title, colors)
    style_legend(plot.legend, colors)


class QtChart(pg.PlotWidget):
    """A results chart: no panning or zooming, a light grid, colours that follow the theme.

    ``redraw`` (when given) is called after a theme change, so the chart's own items (bars,
    whiskers, labels) are drawn again in the new colours.
    """

    def __init__(self, name: str = "", *, grid: bool = True, parent: QWidget | None = None,
                 **kwargs: Any) -> None:
        super().__init__(parent=parent, background=None, **kwargs)
        if name:
            self.setObjectName(name)
        if grid:
            self.showGrid(x=True, y=True, alpha=GRID_ALPHA)
        self.setMouseEnabled(x=False, y=False)
        self.hideButtons()
        self.redraw: Any = None
        self.colors = chart_colors(self.palette())
        style_plot(self.getPlotItem(), self.colors)

    def changeEvent(self, event: QEvent) -> None:
        """Restyle when the palette changes (the theme was switched)."""
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange and getattr(self, "plotItem", None):
            self.colors = chart_colors(self.palette())
            style_plot(self.getPlotItem(), self.colors)
            if self.redraw is not None:
                self.redraw()

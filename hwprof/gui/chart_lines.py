"""Every line of one chart drawn by two items: the Live charts' series, cheap to redraw.

A pyqtgraph PlotCurveItem per series costs a Python paint call, a bounds computation and a path
per frame each; with twenty series that overhead is most of a redraw. Here one item paints the
settled part of every line of its chart (the readings of the window but the newest), keeping
their paths from frame to frame, and a second, small item paints the tails: the newest readings,
which change at every reading. A new reading then repaints only the tails' few pixels (Qt repaints
a scaled item whole, so the tails are an item of their own), and the settled lines draw only
their stretch inside those pixels.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF
from PySide6.QtGui import QPainter, QPainterPath, QPaintEvent, QPen, QRegion
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

_EMPTY = np.empty(0)
Bounds = tuple[float, float, float, float]  # x min, x max, y min, y max


class Line:
    """One series of a :class:`ChartLines`: its pen, its settled part and its tail."""

    def __init__(self, owner: ChartLines, name: str, color_index: int) -> None:
        self.owner = owner
        self.name = name
        self.color_index = color_index
        self.label = name  # what the chart's legend calls it
        self.pen = QPen()
        self.x, self.y = _EMPTY, _EMPTY
        self.tail_x, self.tail_y = _EMPTY, _EMPTY
        self.path: QPainterPath | None = None
        self.tail_path: QPainterPath | None = None
        self.settled_bounds: Bounds | None = None  # of x and y, NaN ignored
        self.tail_bounds: Bounds | None = None

    def setPen(self, pen: QPen) -> None:
        """Draw the line with ``pen``."""
        self.pen = pen
        self.owner.update()
        self.owner.tails.update()

    def getData(self) -> tuple[np.ndarray, np.ndarray]:
        """The whole line, left to right: the settled part, then the tail."""
        if not self.x.size:
            return self.tail_x, self.tail_y
        # a tail starts where the settled part ends (the line is unbroken): that point once
        skip = 1 if self.tail_x.size and self.tail_x[0] == self.x[-1] else 0
        return (np.concatenate([self.x, self.tail_x[skip:]]),
                np.concatenate([self.y, self.tail_y[skip:]]))


def _bounds(x: np.ndarray, y: np.ndarray) -> Bounds | None:
    finite = np.isfinite(x) & np.isfinite(y)
    if not finite.any():
        return None
    xs, ys = x[finite], y[finite]
    return float(xs.min()), float(xs.max()), float(ys.min()), float(ys.max())


def _union(*bounds: Bounds | None) -> Bounds | None:
    got = [b for b in bounds if b is not None]
    if not got:
        return None
    return (min(b[0] for b in got), max(b[1] for b in got), min(b[2] for b in got),
            max(b[3] for b in got))


def _rect(b: Bounds, pad_x: float = 0.0, pad_y: float = 0.0) -> QRectF:
    return QRectF(b[0] - pad_x, b[2] - pad_y, b[1] - b[0] + 2 * pad_x, b[3] - b[2] + 2 * pad_y)


def _path(x: np.ndarray, y: np.ndarray) -> QPainterPath:
    if x.size < 2:
        return QPainterPath()
    return pg.arrayToQPath(x, y, connect="finite")  # a NaN breaks the line: a gap


class _Extent(pg.GraphicsObject):
    """An item in data coordinates whose extent is that of some lines (see :meth:`_extent`)."""

    def __init__(self) -> None:
        super().__init__()
        self._bounds: Bounds | None = None
        self._rect: QRectF | None = None

    def _extent(self) -> Bounds | None:
        raise NotImplementedError

    def changed(self) -> None:
        """Its lines changed: repaint where they were and where they are."""
        self._bounds = None
        self._rect = None
        self.prepareGeometryChange()
        self.informViewBoundsChanged()  # a chart whose axis fits its data fits it again
        self.update()

    def viewTransformChanged(self) -> None:
        """The pixel padding of the bounds depends on the zoom: work it out again.

        A chart that only moved (a step of the time axis) keeps its padding, and its rect: then
        nothing is to be done (a geometry change would repaint the chart a second time).
        """
        if self._rect is None:
            return
        rect = _padded(self, self._bounds)
        if rect != self._rect:
            self.prepareGeometryChange()
            self._rect = rect

    def dataBounds(self, ax: int, frac: float = 1.0,
                   orthoRange: tuple[float, float] | None = None,
                   ) -> tuple[float | None, float | None]:
        """The lines' extent along ``ax`` (0: x, 1: y), for the chart's automatic range."""
        if self._bounds is None:
            self._bounds = self._extent()
        return _along(self._bounds, ax)

    def boundingRect(self) -> QRectF:
        """The lines' extent and two pixels around it."""
        if self._rect is None:
            self.dataBounds(0)
            self._rect = _padded(self, self._bounds)
        return self._rect


class ChartLines(_Extent):
    """The settled part of the lines of one chart; :attr:`tails` draws their newest readings.

    ``line(name)`` adds a line, ``set_data`` gives it new readings; add both this item and
    :attr:`tails` to the chart.
    """

    def __init__(self) -> None:
        super().__init__()
        self.lines: dict[str, Line] = {}
        self.tails = Tails(self)
        # paint() is told which part is to be repainted (see there)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemUsesExtendedStyleOption)

    def line(self, name: str, color_index: int) -> Line:
        """The line of ``name``, made on first use."""
        if name not in self.lines:
            self.lines[name] = Line(self, name, color_index)
        return self.lines[name]

    def set_data(self, line: Line, x: np.ndarray, y: np.ndarray, tail_x: np.ndarray = _EMPTY,
                 tail_y: np.ndarray = _EMPTY) -> None:
        """New readings for ``line``: its settled part and its tail (unchanged ones are kept)."""
        if not (x.shape == line.x.shape and np.array_equal(x, line.x)
                and np.array_equal(y, line.y, equal_nan=True)):
            line.x, line.y, line.path = x, y, None
            line.settled_bounds = _bounds(x, y)
            self.changed()
        if not (tail_x.shape == line.tail_x.shape and np.array_equal(tail_x, line.tail_x)
                and np.array_equal(tail_y, line.tail_y, equal_nan=True)):
            line.tail_x, line.tail_y, line.tail_path = tail_x, tail_y, None
            line.tail_bounds = _bounds(tail_x, tail_y)
            self.tails.changed()

    def _extent(self) -> Bounds | None:
        return _union(*(ln.settled_bounds for ln in self.lines.values()))

    def paint(self, p: QPainter, option: QStyleOptionGraphicsItem,
              widget: QWidget | None = None) -> None:
        """Every line's settled part: its kept path, or only its stretches inside strips.

        When only strips are to be repainted (the tails moved: the newest pixels), the stretch
        of each line inside each strip is drawn, not the paths of the whole window.
        """
        p.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        strips = self._strips(p, option, widget)
        for line in self.lines.values():
            p.setPen(line.pen)
            if strips is not None:
                for left, right in strips:
                    # a point more on each side: the segments that cross into the strip
                    lo = max(0, int(np.searchsorted(line.x, left)) - 1)
                    hi = int(np.searchsorted(line.x, right, side="right")) + 1
                    p.drawPath(_path(line.x[lo:hi], line.y[lo:hi]))
                continue
            if line.path is None:
                line.path = _path(line.x, line.y)
            p.drawPath(line.path)

    def _strips(self, p: QPainter, option: QStyleOptionGraphicsItem,
                widget: QWidget | None) -> list[tuple[float, float]] | None:
        """The x ranges to repaint when they are narrow (a quarter of the item at most), or None.

        From the paint event's own region where the view says it (:class:`PaintedView`): Qt's
        ``exposedRect`` is the bounding rect of everything repainted in the window, so a chart
        repainted elsewhere would make every chart's strip its whole width.
        """
        whole = self.boundingRect()
        region = getattr(widget.parent(), "painting", None) if widget is not None else None
        if region is None:
            exposed = option.exposedRect
            if exposed.isNull() or exposed.width() >= 0.25 * whole.width():
                return None
            return [(exposed.left(), exposed.right())]
        to_item, invertible = p.combinedTransform().inverted()
        if not invertible:
            return None
        strips = []
        for rect in region:
            mine = to_item.mapRect(QRectF(rect)) & whole
            if not mine.isEmpty():
                strips.append((mine.left(), mine.right()))
        if sum(right - left for left, right in strips) >= 0.25 * whole.width():
            return None
        return strips


class PaintedView(pg.GraphicsLayoutWidget):
    """A chart view that tells its items which region it is repainting (see ChartLines)."""

    def __init__(self) -> None:
        super().__init__()
        self.painting: QRegion | None = None

    def paintEvent(self, ev: QPaintEvent) -> None:
        """Paint, saying the region to the items meanwhile."""
        self.painting = ev.region()
        try:
            super().paintEvent(ev)
        finally:
            self.painting = None


class Tails(_Extent):
    """The newest readings of every line of a :class:`ChartLines`: a small item, redrawn often.

    Its own item because Qt repaints a scaled item whole: as a small one, a new reading repaints
    only the newest pixels.
    """

    def __init__(self, owner: ChartLines) -> None:
        super().__init__()
        self.owner = owner

    def _extent(self) -> Bounds | None:
        return _union(*(ln.tail_bounds for ln in self.owner.lines.values()))

    def paint(self, p: QPainter, *args: object) -> None:
        """Every line's tail."""
        p.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        for line in self.owner.lines.values():
            if line.tail_path is None:
                line.tail_path = _path(line.tail_x, line.tail_y)
            p.setPen(line.pen)
            p.drawPath(line.tail_path)


def _along(b: Bounds | None, ax: int) -> tuple[float | None, float | None]:
    if b is None:
        return None, None
    return (b[0], b[1]) if ax == 0 else (b[2], b[3])


def _padded(item: pg.GraphicsObject, b: Bounds | None) -> QRectF:
    """``b`` and two pixels around it (a line's width; a flat line is never an empty rect)."""
    if b is None:
        return QRectF()
    px, py = item.pixelVectors()
    pad_x = 2 * px.length() if px is not None else 0.0
    pad_y = 2 * py.length() if py is not None else 0.0
    return _rect(b, pad_x if math.isfinite(pad_x) else 0.0, pad_y if math.isfinite(pad_y) else 0.0)

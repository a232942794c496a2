"""SVG export of pyqtgraph charts, with a fix for closed paths that pyqtgraph 0.14.0 cannot parse.

Qt 6 writes a ViewBox's background rectangle as a closed path (``"M0,0 L10,0 … Z"``); pyqtgraph
0.14.0's ``correctCoordinates`` splits every token at a comma and fails on the lone ``Z``
(pyqtgraph issues 3485 and 3495, fixed upstream after 0.14.0). While an export runs, the ``Z``
tokens are taken out of each path before pyqtgraph transforms the coordinates and put back at
the same places after: pyqtgraph writes one token for each token it reads.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

CLOSE = {"Z", "z"}


def _tolerant(original: Callable[..., Any]) -> Callable[..., Any]:
    def correct(node: Any, defs: Any, item: Any, options: Any) -> Any:
        closed: list[tuple[Any, list[int]]] = []
        for path in node.getElementsByTagName("path"):
            tokens = path.getAttribute("d").split()
            where = [i for i, t in enumerate(tokens) if t in CLOSE]
            if where:
                path.setAttribute("d", " ".join(t for t in tokens if t not in CLOSE))
                closed.append((path, where))
        result = original(node, defs, item, options)
        for path, where in closed:
            tokens = path.getAttribute("d").split()
            for i in where:
                tokens.insert(i, "Z")
            path.setAttribute("d", " ".join(tokens))
        return result

    return correct


@contextmanager
def _closed_paths_fixed() -> Iterator[None]:
    module = importlib.import_module("pyqtgraph.exporters.SVGExporter")
    original = getattr(module, "correctCoordinates", None)
    if original is None:  # a pyqtgraph that changed its insides: use it as it is
        yield
        return
    setattr(module, "correctCoordinates", _tolerant(original))  # noqa: B010
    try:
        yield
    finally:
        setattr(module, "correctCoordinates", original)  # noqa: B010


def export_svg(scene: Any, path: str, background: Any = None) -> None:
    """Write ``scene`` (a pyqtgraph GraphicsScene) to ``path`` as SVG; OSError when it cannot."""
    import pyqtgraph.exporters as exporters

    exporter = exporters.SVGExporter(scene)
    if background is not None:
        exporter.parameters()["background"] = background
    with _closed_paths_fixed():
        exporter.export(path)

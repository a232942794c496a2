"""Render resources/icons/hwprof.svg to the PNG sizes desktops expect (hicolor theme layout).

Run from the repository root with the project's Python: ``python packaging/render_icons.py``.
Writes resources/icons/hicolor/<N>x<N>/apps/hwprof.png for N in 16, 32, 48, 64, 128, 256 (and
an .ico for Windows installers). Qt renders the SVG, so no other image tool is needed.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

SIZES = (16, 32, 48, 64, 128, 256)
ICONS = Path(__file__).resolve().parent.parent / "resources" / "icons"


def render(svg: Path, out_dir: Path, sizes: tuple[int, ...] = SIZES) -> list[Path]:
    """Render ``svg`` at each size into ``out_dir``/hicolor/<N>x<N>/apps/<name>.png."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    _app = QGuiApplication.instance() or QGuiApplication([])  # QPainter on images needs one
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"render_icons: {svg} is not a valid SVG")
    written = []
    for size in sizes:
        image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        renderer.render(painter)
        painter.end()
        path = out_dir / "hicolor" / f"{size}x{size}" / "apps" / f"{svg.stem}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        if not image.save(str(path)):
            raise SystemExit(f"render_icons: could not write {path}")
        written.append(path)
    # Windows installers want one .ico holding several sizes; Qt's ico writer takes the largest
    # image it is given, so 256 px (Windows scales it down well).
    ico = out_dir / f"{svg.stem}.ico"
    big = QImage(str(written[-1]))
    if not big.save(str(ico)):
        print(f"render_icons: no ICO writer here, skipped {ico}", file=sys.stderr)
    else:
        written.append(ico)
    return written


def main() -> int:
    """Render the application icon."""
    for path in render(ICONS / "hwprof.svg", ICONS):
        print(path.relative_to(ICONS.parent.parent))
    return 0


if __name__ == "__main__":
    sys.exit(main())

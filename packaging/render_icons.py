"""Render resources/icons/hwprof.svg to every icon format the three desktops want.

Run from the repository root with the project's Python: ``python packaging/render_icons.py``.
Writes resources/icons/hicolor/<N>x<N>/apps/hwprof.png for N in 16, 32, 48, 64, 128, 256 (the
Linux icon theme layout, committed) and resources/icons/hwprof.ico. The build
(``packaging/build.py``) calls :func:`platform_icons` to make build/icons/hwprof.ico and
build/icons/hwprof.icns from the SVG each time, so the macOS icon needs no Mac to be made.

Qt renders the SVG (each size from the vector, so small sizes stay crisp); Pillow, a dependency
of matplotlib, writes the multi-size .ico and .icns containers.
"""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

SIZES = (16, 32, 48, 64, 128, 256)
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
ICNS_SIZES = (32, 64, 128, 256, 512, 1024)  # Pillow makes 16 from 32 itself
ICONS = Path(__file__).resolve().parent.parent / "resources" / "icons"


def render_png(svg: Path, size: int) -> bytes:
    """The SVG rendered at ``size`` x ``size`` pixels, as PNG bytes."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice, Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    _app = QGuiApplication.instance() or QGuiApplication([])  # QPainter on images needs one
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"render_icons: {svg} is not a valid SVG")
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    renderer.render(painter)
    painter.end()
    data = QByteArray()
    buf = QBuffer(data)
    buf.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buf, "PNG")
    buf.close()
    return bytes(data.data())


def write_ico(svg: Path, out: Path, sizes: tuple[int, ...] = ICO_SIZES) -> Path:
    """A Windows .ico holding every size in ``sizes``, each rendered from the SVG."""
    from PIL import Image

    images = [Image.open(io.BytesIO(render_png(svg, n))).convert("RGBA") for n in sizes]
    out.parent.mkdir(parents=True, exist_ok=True)
    images[-1].save(out, format="ICO", sizes=[(n, n) for n in sizes], append_images=images[:-1])
    return out


def write_icns(svg: Path, out: Path, sizes: tuple[int, ...] = ICNS_SIZES) -> Path:
    """A macOS .icns (16 to 1024 px, the Retina sizes included), each rendered from the SVG."""
    from PIL import Image

    images = [Image.open(io.BytesIO(render_png(svg, n))).convert("RGBA") for n in sizes]
    out.parent.mkdir(parents=True, exist_ok=True)
    images[-1].save(out, format="ICNS", append_images=images[:-1])
    return out


def render(svg: Path, out_dir: Path, sizes: tuple[int, ...] = SIZES) -> list[Path]:
    """Render ``svg`` at each size into ``out_dir``/hicolor/<N>x<N>/apps/<name>.png, and an .ico."""
    written = []
    for size in sizes:
        path = out_dir / "hicolor" / f"{size}x{size}" / "apps" / f"{svg.stem}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(render_png(svg, size))
        written.append(path)
    written.append(write_ico(svg, out_dir / f"{svg.stem}.ico"))
    return written


def platform_icons(out_dir: Path, svg: Path = ICONS / "hwprof.svg") -> dict[str, Path]:
    """build/icons/hwprof.ico and hwprof.icns, made from the SVG (the build calls this)."""
    return {"ico": write_ico(svg, out_dir / f"{svg.stem}.ico"),
            "icns": write_icns(svg, out_dir / f"{svg.stem}.icns")}


def main() -> int:
    """Render the application icon."""
    for path in render(ICONS / "hwprof.svg", ICONS):
        print(path.relative_to(ICONS.parent.parent))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Where the application's files (icons) are, from source and from a frozen bundle."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QIcon

from hwprof.core.paths import resources_dir

ICON_SIZES = (16, 32, 48, 64, 128, 256)


def app_icon(root: Path | None = None) -> QIcon:
    """The hwprof icon at every size there is; an empty icon (never an error) if files are missing.

    The PNGs are rendered per size (packaging/render_icons.py) so small sizes stay crisp; the SVG
    covers any size in between and high-DPI screens.
    """
    icons = (root or resources_dir()) / "icons"
    icon = QIcon()
    for size in ICON_SIZES:
        png = icons / "hicolor" / f"{size}x{size}" / "apps" / "hwprof.png"
        if png.is_file():
            icon.addFile(str(png))
    svg = icons / "hwprof.svg"
    if svg.is_file():
        icon.addFile(str(svg))
    return icon

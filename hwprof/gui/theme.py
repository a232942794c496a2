"""Light and dark themes: Qt's Fusion style with an explicit palette for each.

"system" follows the desktop's colour scheme (QStyleHints.colorScheme, Qt >= 6.5) and changes
with it; "light" and "dark" are fixed. Fusion draws the same on every platform, so both themes
look as designed everywhere.
"""

from __future__ import annotations

from typing import Literal

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication, QStyleFactory

ThemeMode = Literal["system", "light", "dark"]
THEME_MODES: tuple[ThemeMode, ...] = ("system", "light", "dark")


def system_is_dark() -> bool:
    """Whether the desktop asks for dark colours (unknown counts as light)."""
    hints = QGuiApplication.styleHints()
    scheme = getattr(hints, "colorScheme", None)
    return scheme is not None and scheme() == Qt.ColorScheme.Dark


def effective_theme(mode: str) -> Literal["light", "dark"]:
    """The theme a mode gives now: "system" resolves to the desktop's scheme."""
    if mode == "dark" or (mode == "system" and system_is_dark()):
        return "dark"
    return "light"


def light_palette() -> QPalette:
    """Fusion's own light palette."""
    style = QStyleFactory.create("Fusion")
    return style.standardPalette()


def dark_palette() -> QPalette:
    """A dark palette with enough contrast for dense tables (text ~ 13:1 on the base colour)."""
    p = QPalette()
    window, base, alt = QColor(0x2B, 0x2D, 0x31), QColor(0x1E, 0x1F, 0x22), QColor(0x26, 0x28, 0x2B)
    text, dim = QColor(0xE6, 0xE6, 0xE6), QColor(0x8A, 0x8D, 0x93)
    accent = QColor(0x3D, 0x8B, 0xFD)
    roles = {
        QPalette.ColorRole.Window: window,
        QPalette.ColorRole.WindowText: text,
        QPalette.ColorRole.Base: base,
        QPalette.ColorRole.AlternateBase: alt,
        QPalette.ColorRole.ToolTipBase: QColor(0x32, 0x34, 0x39),
        QPalette.ColorRole.ToolTipText: text,
        QPalette.ColorRole.PlaceholderText: dim,
        QPalette.ColorRole.Text: text,
        QPalette.ColorRole.Button: window,
        QPalette.ColorRole.ButtonText: text,
        QPalette.ColorRole.BrightText: QColor(0xFF, 0x6B, 0x6B),
        QPalette.ColorRole.Light: QColor(0x3A, 0x3D, 0x42),
        QPalette.ColorRole.Midlight: QColor(0x33, 0x36, 0x3A),
        QPalette.ColorRole.Mid: QColor(0x24, 0x26, 0x29),
        QPalette.ColorRole.Dark: QColor(0x18, 0x19, 0x1B),
        QPalette.ColorRole.Shadow: QColor(0x0C, 0x0C, 0x0D),
        QPalette.ColorRole.Highlight: accent,
        QPalette.ColorRole.HighlightedText: QColor(0xFF, 0xFF, 0xFF),
        QPalette.ColorRole.Link: QColor(0x6C, 0xA8, 0xFF),
        QPalette.ColorRole.LinkVisited: QColor(0xB0, 0x8C, 0xFF),
    }
    for role, colour in roles.items():
        p.setColor(QPalette.ColorGroup.All, role, colour)
    for role in (
        QPalette.ColorRole.WindowText,
        QPalette.ColorRole.Text,
        QPalette.ColorRole.ButtonText,
    ):
        p.setColor(QPalette.ColorGroup.Disabled, role, dim)
    p.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Highlight, QColor(0x4A, 0x4D, 0x52))
    return p


def apply_theme(app: QApplication, mode: str) -> Literal["light", "dark"]:
    """Give the whole application the Fusion style and the palette ``mode`` asks for."""
    if app.style().name().lower() != "fusion":
        app.setStyle("Fusion")
    theme = effective_theme(mode)
    app.setPalette(dark_palette() if theme == "dark" else light_palette())
    return theme

"""What the window remembers between launches.

Geometry, splitters, the tab, the theme and the live charts' time window (the Run form remembers
itself).
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

import shiboken6
from PySide6.QtCore import QByteArray, QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QGuiApplication, QResizeEvent
from PySide6.QtWidgets import QSplitter, QWidget

from hwprof.gui.settings import open_settings
from hwprof.gui.window_actions import TABS

if TYPE_CHECKING:
    from hwprof.gui.main_window import QtMainWindow


def main_splitter(devices: QWidget, tabs: QWidget) -> QSplitter:
    """Devices on the left (they give way on a small window), the tabs on the right."""
    splitter = QSplitter(Qt.Orientation.Horizontal)
    splitter.setObjectName("main_splitter")
    splitter.addWidget(devices)
    splitter.addWidget(tabs)
    splitter.setStretchFactor(0, 0)
    splitter.setStretchFactor(1, 1)
    splitter.setChildrenCollapsible(False)
    DevicesCap(splitter, devices)
    return splitter


class DevicesCap(QObject):
    """On a smaller window the devices give way: they never keep more than 35% of its width.

    Checked after the splitter has laid itself out, once per width, so that capping never feeds
    back into another resize (and another cap).
    """

    SHARE = 0.35

    def __init__(self, splitter: QSplitter, devices: QWidget) -> None:
        super().__init__(splitter)
        self.splitter, self.devices = splitter, devices
        self._width = -1
        splitter.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Schedule a check when the splitter's width changes."""
        if (watched is self.splitter and isinstance(event, QResizeEvent)
                and event.size().width() != event.oldSize().width()):
            QTimer.singleShot(0, self.cap)
        return False

    def cap(self) -> None:
        """Give the devices at most their share (never below what they need)."""
        width = self.splitter.width()
        if width == self._width:
            return
        self._width = width
        sizes = self.splitter.sizes()
        most = max(int(width * self.SHARE), self.devices.minimumSizeHint().width())
        if len(sizes) == 2 and sizes[0] > most:
            self.splitter.setSizes([most, sum(sizes) - most])


def restore_shell(w: QtMainWindow) -> None:
    """Put the window back as it was (or at a size that fits the screen, the first time).

    Geometry, splitters and theme, before the first paint; the tab and the panels' own settings
    follow in :func:`restore_panels` once the panels are built.
    """
    s = open_settings()
    geometry = s.value("window/geometry")
    if not (isinstance(geometry, QByteArray) and w.restoreGeometry(geometry)):
        default_geometry(w)
    state = s.value("window/state")
    if isinstance(state, QByteArray):
        w.restoreState(state)
    for key, splitter in (("window/main_splitter", w.splitter),
                          ("window/devices_splitter", w.devices_panel.splitter)):
        value = s.value(key)
        if not (isinstance(value, QByteArray) and splitter.restoreState(value)):
            default_splitter(w, splitter)
    w.set_theme(str(s.value("view/theme", "system")))
    hints = QGuiApplication.styleHints()
    if hasattr(hints, "colorSchemeChanged"):
        hints.colorSchemeChanged.connect(w._on_color_scheme_changed)


def restore_panels(w: QtMainWindow) -> None:
    """The tab last shown and the live charts' time window, once the panels exist."""
    s = open_settings()
    tab = s.value("window/tab", "home")
    w.tabs.setCurrentIndex(next((i for i, (k, _t) in enumerate(TABS) if k == tab), 0))
    with contextlib.suppress(ValueError):
        w.live_panel.set_window_seconds(float(str(s.value("live/window_s", 60))))


def default_geometry(w: QtMainWindow) -> None:
    """1440x900 on a 1600x1000 screen; 90% of a smaller one (1152x720 on 1280x800)."""
    screen = w.screen() or QGuiApplication.primaryScreen()
    avail = screen.availableGeometry() if screen else None
    if avail is None:
        w.resize(1280, 800)
        return
    width, height = min(1440, int(avail.width() * 0.9)), min(900, int(avail.height() * 0.9))
    w.resize(width, height)
    w.move(avail.x() + (avail.width() - width) // 2, avail.y() + (avail.height() - height) // 2)


def default_splitter(w: QtMainWindow, splitter: QSplitter) -> None:
    """The devices keep about 30% of a wide window and give way on a small one."""
    if splitter is w.splitter:
        width = w.width()
        left = max(260, min(520, int(width * 0.3)))
        splitter.setSizes([left, max(300, width - left)])
    else:
        splitter.setSizes([int(w.height() * 0.3), int(w.height() * 0.7)])


def save(w: QtMainWindow) -> None:
    """Remember geometry, window state, splitters, tab, theme, the live window and the Run form."""
    s = open_settings()
    s.setValue("window/geometry", w.saveGeometry())
    s.setValue("window/state", w.saveState())
    s.setValue("window/main_splitter", w.splitter.saveState())
    s.setValue("window/devices_splitter", w.devices_panel.splitter.saveState())
    index = w.tabs.currentIndex()
    if 0 <= index < len(TABS):
        s.setValue("window/tab", TABS[index][0])
    s.setValue("view/theme", w.theme_mode)
    if w.panels_built:  # else the panels' settings stay as they were saved last time
        if shiboken6.isValid(w.live_panel):  # a test may have put another panel in its place
            s.setValue("live/window_s", w.live_panel.window_seconds)
        w.run_panel.save_form()
    s.sync()

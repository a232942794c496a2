"""The main window's tabs behind Home: made after the first paint, put in their placeholders' place.

Importing these panels and building their charts takes about a third of a second, which the app
spends after the window is on screen (see :meth:`QtMainWindow.build_panels`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import QScrollArea, QWidget

if TYPE_CHECKING:
    from hwprof.gui.main_window import QtMainWindow


def scroll(widget: QWidget) -> QScrollArea:
    """A form scrolls on a small screen instead of growing the window."""
    area = QScrollArea()
    area.setWidget(widget)
    area.setWidgetResizable(True)
    area.setFrameShape(QScrollArea.Shape.NoFrame)
    return area


def replace_tab(w: QtMainWindow, key: str, widget: QWidget) -> QWidget:
    """Put ``widget`` in the place of tab ``key`` (same title and tooltip); the old widget."""
    old = w.panels[key]
    index = w.tabs.indexOf(old)
    title, tip = w.tabs.tabText(index), w.tabs.tabToolTip(index)
    w.tabs.removeTab(index)
    w.tabs.insertTab(index, widget, title)
    w.tabs.setTabToolTip(index, tip)
    w.panels[key] = widget
    return old


def build_panels(w: QtMainWindow) -> None:
    """Make Profiles, Run, Live, Results, Compare and Roofline, in their placeholders' tabs."""
    from hwprof.gui.live_panel import QtLivePanel
    from hwprof.gui.profiles_page import QtProfilesPage
    from hwprof.gui.results_panel import QtResultsPanel
    from hwprof.gui.roofline_panel import QtRooflinePanel
    from hwprof.gui.run_panel import QtRunPanel
    from hwprof.gui.study_panel import QtStudyPanel

    session, events = w.session, w.events
    w.profiles_page = QtProfilesPage(session, events)
    w.run_panel = QtRunPanel(session, events)
    w.live_panel = QtLivePanel(w.sampler, events)
    w.results_panel = QtResultsPanel(session, events)
    w.study_panel = QtStudyPanel(session, events, w.run_panel.base_spec)
    w.roofline_panel = QtRooflinePanel(session, events)
    current = w.tabs.currentIndex()
    w.tabs.blockSignals(True)  # the tab shown stays the same: no tab-changed signal for this
    for key, widget in (("profiles", scroll(w.profiles_page)), ("run", scroll(w.run_panel)),
                        ("live", w.live_panel), ("results", w.results_panel),
                        ("compare", scroll(w.study_panel)), ("roofline", w.roofline_panel)):
        replace_tab(w, key, widget).deleteLater()
    w.tabs.setCurrentIndex(current)
    w.tabs.blockSignals(False)


def connect_panels(w: QtMainWindow) -> None:
    """The panels' requests to the window, and the actions that wait for them."""
    w.run_panel.stop_requested.connect(w.request_stop)
    w.profiles_page.open_requested.connect(w.open_snapshot)
    w.live_panel.stop_requested.connect(w.request_stop)
    w.results_panel.compare_requested.connect(w.on_compare_requested)
    w.results_panel.trace_view.message.connect(
        lambda text, ms: w.statusBar().showMessage(text, ms))
    w.results_panel.trace_view.compare_requested.connect(w.on_trace_compare)
    for action in (w.run_action, w.export_charts_action):
        action.setEnabled(True)

"""The thin Qt adapter between the session model and the panels that show it.

The model (:class:`hwprof.services.session.Session`) knows nothing of Qt; this adapter subscribes
to it and re-emits each typed event as one Qt signal, so a view's handler always runs on the GUI
thread (an event published from another thread arrives queued). A view registers a handler per
event type with :meth:`QtSessionEvents.on`, naming itself as the owner: a deleted panel stops
receiving events instead of raising.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import shiboken6
from PySide6.QtCore import QObject, Signal, Slot

from hwprof.services.session import AnyEvent, Session

E = TypeVar("E")


class QtSessionEvents(QObject):
    """Signal ``published(object)`` for every model event; :meth:`on` dispatches them by type."""

    published = Signal(object)

    def __init__(self, session: Session, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self._handlers: dict[type, list[tuple[QObject | None, Callable[[Any], None]]]] = {}
        self.published.connect(self._dispatch)
        session.subscribe(self._publish)

    def _publish(self, event: AnyEvent) -> None:
        self.published.emit(event)

    def on(self, kind: type[E], handler: Callable[[E], None], owner: QObject | None = None) -> None:
        """Call ``handler(event)`` for each event of type ``kind`` while ``owner`` exists."""
        self._handlers.setdefault(kind, []).append((owner, handler))

    @Slot(object)
    def _dispatch(self, event: object) -> None:
        handlers = self._handlers.get(type(event), [])
        for owner, handler in list(handlers):
            if owner is not None and not shiboken6.isValid(owner):
                handlers.remove((owner, handler))  # a replaced panel: forget it
                continue
            handler(event)

    def detach(self) -> None:
        """Stop listening to the model (the window is closing)."""
        self.session.unsubscribe(self._publish)
        self._handlers.clear()

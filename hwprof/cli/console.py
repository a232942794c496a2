"""The rich console the CLI prints with: plain when not a terminal, and never narrower than 100."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable

from rich.console import Console


def make_console(*, stderr: bool = False) -> Console:
    """A console for stdout (results) or stderr (progress and messages)."""
    stream = sys.stderr if stderr else sys.stdout
    is_tty = stream.isatty()
    return Console(
        file=stream,
        width=None if is_tty else 110,
        no_color=not is_tty,
        highlight=False,
        soft_wrap=False,
    )


def run_interruptibly(work: Callable[[], object], name: str,
                      on_interrupt: Callable[[], None]) -> bool:
    """Run ``work`` on a thread until it returns; whether Ctrl-C or SIGTERM came meanwhile.

    The first signal calls ``on_interrupt`` (which should make ``work`` end soon, keeping what it
    measured); the main thread only waits, so Python can run the handler at once.
    """
    interrupted = threading.Event()

    def on_signal(_signum: int, _frame: object) -> None:
        if not interrupted.is_set():
            interrupted.set()
            on_interrupt()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    thread = threading.Thread(target=work, name=name, daemon=True)
    try:
        thread.start()
        while thread.is_alive():
            thread.join(0.2)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return interrupted.is_set()

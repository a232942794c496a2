"""The rich console the CLI prints with: plain when not a terminal, and never narrower than 100.

Every string that came from a file or the system (hostnames, device names, paths, tags, titles,
messages that quote them) is shown as text: :func:`plain` (a rich ``Text``) or :func:`safe` (for
``print``), both built on :func:`hwprof.core.text.printable`. The console itself reads no markup.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.style import Style
from rich.text import Text

from hwprof.core.text import printable


def plain(value: object, style: str | Style = "") -> Text:
    r"""Text from a file or the system, shown as it is: never markup, never a control code.

    ``[/bogus]`` stays ``[/bogus]`` and an escape character shows as ``\x1b``. Use it for every
    hostname, device name, path, tag, title and message that quotes one.
    """
    return Text(printable(value), style=style)


def safe(value: object) -> str:
    """The string form of :func:`plain`, for messages written with ``print``."""
    return printable(value)


class SafeConsole(Console):
    """A console that never reads markup or emoji codes and escapes control codes in strings.

    The commands wrap untrusted strings with :func:`plain`; this is the net under them, so a
    string that slipped through still cannot crash the output (``[/x]`` is a MarkupError when
    parsed) or reach the terminal as an escape sequence. Our own line breaks are kept.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(markup=False, emoji=False, highlight=False, **kwargs)

    def render_str(self, text: str, **kwargs: Any) -> Text:
        """A string as Text, without markup, with control codes made visible."""
        kwargs["markup"] = False
        kwargs["emoji"] = False
        return super().render_str(printable(text, keep="\n"), **kwargs)


def make_console(*, stderr: bool = False) -> Console:
    """A console for stdout (results) or stderr (progress and messages).

    Not in a terminal, tables are 110 columns wide, or ``$COLUMNS`` wide when that is set (to
    100 or more): ``COLUMNS=200 hwprof compare ... > table.txt``.
    """
    stream = sys.stderr if stderr else sys.stdout
    is_tty = stream.isatty()
    columns = os.environ.get("COLUMNS", "")
    width = max(100, min(int(columns), 10_000)) if columns.isdigit() else 110
    return SafeConsole(
        file=stream,
        width=None if is_tty else width,
        no_color=not is_tty,
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

"""The rich console the CLI prints with: plain when not a terminal, and never narrower than 100."""

from __future__ import annotations

import sys

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

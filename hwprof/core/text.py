"""Strings from files and the system, made safe to show: control codes become visible escapes.

A hostname, a tag, a GPU name, a file name or an error message that quotes one can hold anything:
an escape sequence that recolours or retitles a terminal, a bidirectional override (U+202E) that
makes text read backwards, a lone surrogate from a file name that is not UTF-8 (which cannot even
be encoded for output). :func:`printable` writes each such character as a visible escape, so the
reader sees exactly what the string holds and the terminal, page or window sees only text.
Both front ends and the report use it; the CLI wraps it in a rich ``Text`` (no markup parsing).
"""

from __future__ import annotations

import re

# C0 controls, DEL, C1 controls (0x9b is a one-byte CSI on some terminals), the bidirectional
# marks, embeddings, overrides and isolates, the line and paragraph separators, and lone
# surrogates (os.fsdecode's stand-ins for undecodable bytes).
_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069"
    "\ud800-\udfff]"
)


def _escape(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(value: object, *, keep: str = "") -> str:
    r"""``str(value)`` with every control character written as a visible escape such as ``\x1b``.

    ``keep`` names characters to leave as they are, for callers whose output treats them as plain
    layout (``"\n"`` between the lines of a message, or in an HTML page).
    """
    text = str(value)
    if not _UNSAFE.search(text):
        return text
    if keep:
        return _UNSAFE.sub(lambda m: m.group() if m.group() in keep else _escape(m.group()), text)
    return _UNSAFE.sub(lambda m: _escape(m.group()), text)

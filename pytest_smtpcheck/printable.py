"""Text from a server made safe to show on a terminal: control and bidi characters become visible escapes.

A hostile server can put ESC sequences (clear the screen, set the window title,
hyperlinks, move the cursor up and rewrite a line to read "PASSED"), BEL, NUL,
backspace or a right-to-left override (U+202E) into its replies. Shown raw, they
act on the engineer's terminal instead of being read. Every display of server
text passes through :func:`printable`, which writes them as Python escapes
(``\\x1b``, ``\\x07``, ``\\u202e``) and leaves newlines and tabs alone.
"""

from __future__ import annotations

import re

__all__ = ["printable", "unprintable"]

# C0 and C1 controls (but tab and newline), DEL, and the format characters that reorder or hide text:
# soft hyphen, Arabic letter mark, Mongolian vowel separator, zero-width and directional marks,
# line/paragraph separators, embeddings and overrides, word joiner and invisible operators, isolates,
# BOM, interlinear annotations, tag characters; lone surrogates cannot be written to a terminal at all.
_UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2069"
    "\ufeff\ufff9-\ufffb\ud800-\udfff\U000e0000-\U000e007f]"
)


def printable(text: str) -> str:
    """*text* with every control and bidi character written as its Python escape (``\\x1b``, ``\\u202e``)."""
    if _UNSAFE.search(text) is None:
        return text
    return _UNSAFE.sub(lambda match: ascii(match.group())[1:-1], text)


def unprintable(text: str) -> bool:
    """Whether *text* holds a character :func:`printable` would escape."""
    return _UNSAFE.search(text) is not None

"""SMTP replies (RFC 5321 4.2) with their enhanced status codes (RFC 3463).

A reply remembers the command it answers, so that a failed assertion on it
tells the engineer what was sent as well as what came back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..printable import printable
from .expect import Expectation

__all__ = ["Reply"]

_ENHANCED = re.compile(r"([245])\.(\d{1,3})\.(\d{1,3})(?=\s|$)")


@dataclass(frozen=True)
class Reply:
    """One complete server reply: a code and one or more text lines."""

    code: int
    lines: tuple[str, ...]
    command: str | None = field(default=None, compare=False)
    # Whether the session's last EHLO reply advertised ENHANCEDSTATUSCODES when this reply came (None: not known,
    # a reply made outside a session): a conditional enhanced code, `550 (5.1.1)`, is checked only then.
    enhanced_advertised: bool | None = field(default=None, compare=False)

    @property
    def text(self) -> str:
        """The reply's text lines joined by newlines, codes stripped."""
        return "\n".join(self.lines)

    @property
    def enhanced(self) -> str | None:
        """The RFC 3463 status code, when the first line carries one whose class matches the code."""
        match = _ENHANCED.match(self.lines[0]) if self.lines else None
        if match and match.group(1) == str(self.code)[0]:
            return match.group(0)
        return None

    @property
    def is_positive(self) -> bool:
        return 200 <= self.code < 400

    @property
    def is_intermediate(self) -> bool:
        return 300 <= self.code < 400

    @property
    def is_transient(self) -> bool:
        return 400 <= self.code < 500

    @property
    def is_permanent(self) -> bool:
        return 500 <= self.code < 600

    def wire_lines(self) -> list[str]:
        """The reply as it appeared on the wire (continuation dashes restored), safe to print: control and bidi
        characters are shown as escapes, so a hostile reply cannot act on the terminal that shows it."""
        last = len(self.lines) - 1
        return [printable(f"{self.code}{' ' if i == last else '-'}{line}".rstrip())
                for i, line in enumerate(self.lines)]

    def matches(self, expectation: str) -> bool:
        """True when the reply satisfies an expectation written as in `.smtp` files, e.g. ``"550|554 5.7.1
        /relay/i"``."""
        return Expectation.parse(expectation).match(self) is None

    def expect(self, expectation: str) -> Reply:
        """Assert that the reply satisfies *expectation*; the failure names the command, the expectation and
        the reply."""
        __tracebackhide__ = True  # the failure is reported at the test's line
        problem = Expectation.parse(expectation).match(self)
        if problem is not None:
            raise AssertionError(self.describe_mismatch(expectation, problem))
        return self

    def describe_mismatch(self, expected: str, problem: str) -> str:
        sent = self.command if self.command is not None else "(greeting)"
        got = "\n".join(f"    {line}" for line in self.wire_lines())
        return f"sent:     {sent}\nexpected: {expected}\ngot:      {problem}\n{got}"

    def __str__(self) -> str:
        return "\n".join(self.wire_lines())

    def __repr__(self) -> str:
        to = f" to {self.command!r}" if self.command is not None else " (greeting)"
        return f"<Reply{to}: {' | '.join(self.wire_lines())}>"

"""Reply expectations as written after `<` in `.smtp` files, e.g. ``550|554 5.7.1 /relay/i``.

An expectation is one or more reply codes (``x`` for any digit), optionally an
RFC 3463 enhanced status code, optionally a text match. It is parsed once and
checked against each reply; a mismatch comes back as a short reason so the
report says *what* differed, not just that something did.

An enhanced code in parentheses, ``550 (5.1.1)``, is conditional: RFC 2034
lets a server send enhanced codes only once it has advertised
ENHANCEDSTATUSCODES, so the code is required when the session's last EHLO
reply advertised the extension and not checked when it did not (Exim, a
session after HELO). A reply that knows neither (one made outside a session)
is checked only if it carries a code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from re import Pattern
from typing import Protocol

__all__ = ["Expectation", "ExpectationError"]


class _Reply(Protocol):
    """What matching reads of a reply (smtp.reply.Reply has it; this module needs nothing else of it)."""

    @property
    def code(self) -> int: ...
    @property
    def enhanced(self) -> str | None: ...
    @property
    def text(self) -> str: ...
    @property
    def enhanced_advertised(self) -> bool | None: ...

_CODE = re.compile(r"[2-5x][0-9x]{2}")
_ENHANCED = re.compile(r"([245x])\.(\d{1,3}|x)\.(\d{1,3}|x)")
_FLAGS = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL}
_HOW = "write e.g. `250`, `2xx`, `550|554 5.7.1`, `550 (5.1.1)`, `250 /PIPELINING/m` or `550 \"relay\"`"


class ExpectationError(ValueError):
    """An expectation that cannot be parsed; the message says what is wrong and how to write it."""


@dataclass(frozen=True)
class Expectation:
    """What a reply must look like: any of *codes*, then *enhanced* and *text* when given.

    *enhanced_conditional*: the enhanced code was written in parentheses, checked only where the server
    advertised ENHANCEDSTATUSCODES (RFC 2034 3)."""

    source: str
    codes: tuple[str, ...]
    enhanced: str | None = None
    text: Pattern[str] | None = None
    text_source: str | None = None  # the text match as written, for mismatch reasons
    enhanced_conditional: bool = False

    @classmethod
    def parse(cls, source: str) -> Expectation:
        """Parse ``CODES [ENHANCED|(ENHANCED)] [/regex/flags | "substring"]``; raise ExpectationError when
        malformed."""
        written = source.strip()
        if not written:
            raise ExpectationError(f"empty expectation: {_HOW}")
        first, rest = [*written.split(None, 1), ""][:2]
        codes = _parse_codes(first)
        enhanced, conditional = None, False
        head = rest.split(None, 1)[0] if rest else ""
        if head and head[0] not in "/\"'":
            conditional = head.startswith("(")
            enhanced = _parse_enhanced(head, codes)
            rest = rest[len(head):].lstrip()
        text = _parse_text(rest) if rest else None
        return cls(written, codes, enhanced, text, rest or None, conditional)

    def admits_code(self, code: int) -> bool:
        """True when *code* satisfies one of the code alternatives (a code outside 200..599 never does)."""
        if not 200 <= code <= 599:
            return False
        digits = str(code)
        return any(all(want in ("x", got) for want, got in zip(pattern, digits, strict=True)) for pattern in self.codes)

    def match(self, reply: _Reply) -> str | None:
        """None when *reply* satisfies the expectation, else the first difference, e.g. ``code 250, expected
        550|554``."""
        if not self.admits_code(reply.code):
            return f"code {reply.code}, expected {'|'.join(self.codes)}"
        if self.enhanced is not None and self._enhanced_applies(reply):
            advertised = self.enhanced_conditional and reply.enhanced_advertised
            because = " (the server advertised ENHANCEDSTATUSCODES)" if advertised else ""
            if reply.enhanced is None:
                return f"no enhanced code, expected {self.enhanced}{because}"
            if not _enhanced_matches(self.enhanced, reply.enhanced):
                return f"enhanced code {reply.enhanced}, expected {self.enhanced}{because}"
        if self.text is not None and self.text.search(reply.text) is None:
            return f"text did not match {self.text_source}"
        return None


    def _enhanced_applies(self, reply: _Reply) -> bool:
        """Whether the enhanced code is checked: always, unless conditional and the server did not advertise it."""
        if not self.enhanced_conditional:
            return True
        advertised = reply.enhanced_advertised
        return advertised if advertised is not None else reply.enhanced is not None


def _parse_codes(token: str) -> tuple[str, ...]:
    codes = tuple(code.lower() for code in token.split("|"))
    for code in codes:
        if not code:
            raise ExpectationError(f"empty alternative in `{token}`: join codes with single `|`, e.g. `550|554`")
        if not _CODE.fullmatch(code):
            raise ExpectationError(
                f"`{code}` is not a reply code: write 3 characters, each a digit or `x`, "
                f"the first 2, 3, 4, 5 or x, e.g. `250`, `2xx`, `45x`"
            )
    return codes


def _parse_enhanced(token: str, codes: tuple[str, ...]) -> str:
    """``5.7.1`` or, conditional on ENHANCEDSTATUSCODES, ``(5.7.1)``; returns the code without parentheses."""
    bare = token[1:-1] if token.startswith("(") and token.endswith(")") else token
    match = _ENHANCED.fullmatch(bare.lower())
    if match is None:
        raise ExpectationError(
            f"`{token}` is neither an enhanced status code nor a text match: an enhanced code is "
            f"CLASS.SUBJECT.DETAIL with class 2, 4 or 5 and each part up to 3 digits or `x` (e.g. `5.7.1`, `4.x.x`), "
            f"in parentheses where only a server that advertises ENHANCEDSTATUSCODES must send it (`(5.7.1)`); "
            f"text goes in /slashes/ or \"quotes\""
        )
    enhanced_class = match.group(1)
    if enhanced_class != "x" and not any(code[0] in ("x", enhanced_class) for code in codes):
        raise ExpectationError(
            f"enhanced code {token} is class {enhanced_class} but no reply code `{'|'.join(codes)}` starts with "
            f"{enhanced_class}: a server sends {enhanced_class}.x.x only with {enhanced_class}xx replies"
        )
    return match.group(0)


def _parse_text(text: str) -> Pattern[str]:
    if text[0] == "/":
        return _parse_regex(text)
    if text[0] in "\"'":
        if len(text) < 3 or text[-1] != text[0]:
            raise ExpectationError(
                f"unterminated or empty quoted text {text}: the substring runs from the opening quote "
                f"to a matching quote that ends the line, e.g. \"relay\""
            )
        return re.compile(re.escape(text[1:-1]))
    raise ExpectationError(f"unexpected `{text}`: after the code(s) and enhanced code, {_HOW}")


def _parse_regex(text: str) -> Pattern[str]:
    """``/pattern/flags``: the pattern runs to the last `/`, so slashes inside it need no escaping."""
    end = text.rfind("/")
    pattern, flag_letters = text[1:end], text[end + 1:]
    if end == 0:
        raise ExpectationError(f"unterminated regex {text}: close it with `/`, e.g. /relay/i")
    if not pattern:
        raise ExpectationError("empty regex //: it would match any text; leave the text match out instead")
    flags = 0
    for letter in flag_letters:
        if letter not in _FLAGS:
            raise ExpectationError(
                f"`{flag_letters}` after {text[:end + 1]} is not a regex flag: the flags are i (ignore case), "
                f"m (^ and $ at each line) and s (. matches newline), and nothing may follow them"
            )
        flags |= _FLAGS[letter]
    try:
        return re.compile(pattern, flags)
    except re.error as error:
        raise ExpectationError(f"bad regex /{pattern}/: {error}") from None
    except (OverflowError, RecursionError) as error:
        raise ExpectationError(f"bad regex /{pattern}/: too large or too deeply nested ({error})") from None


def _enhanced_matches(wanted: str, got: str) -> bool:
    return all(w == "x" or int(w) == int(g) for w, g in zip(wanted.split("."), got.split("."), strict=True))

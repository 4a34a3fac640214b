"""Sans-IO SMTP reply reader: bytes in, replies out (RFC 5321 4.2).

The only place that parses replies and enforces what a server may send; the
connection feeds it whatever the socket gave and asks for complete replies. It
never touches a socket, so every hostile input is tested without one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .reply import Reply

__all__ = ["Limits", "ReplyReader", "ReplySyntaxError", "show_bytes"]

_REPLY_LINE = re.compile(rb"([2-5][0-9][0-9])(?:([ -])(.*))?", re.S)
_REPLY_START = re.compile(rb"[2-5](?:[0-9](?:[0-9][ \r\n-]?)?)?")  # what the first bytes of a reply line may be
_FOREIGN = ((b"HTTP/", "an HTTP server?"), (b"SSH-", "an SSH server?"), (b"+OK", "a POP3 server?"),
            (b"* OK", "an IMAP server?"))


@dataclass(frozen=True)
class Limits:
    """What a server may send before the client calls it hostile (see docs/robustness.md)."""

    line_bytes: int = 8192  # RFC 5321 allows 512; generous for real servers' long texts
    reply_lines: int = 500  # a reply with more lines is endless for our purposes
    reply_bytes: int = 256 * 1024


class ReplySyntaxError(ValueError):
    """The server sent something that is not an SMTP reply; the message says what, for the report."""


class ReplyReader:
    """Accumulates received bytes and hands out complete replies.

    `lines` collects every line read (decoded, for the transcript) until the
    caller takes them with :meth:`take_lines`, so the record shows what came in
    even when the reply turns out malformed.
    """

    def __init__(self, limits: Limits = Limits()) -> None:
        self.limits = limits
        self._buffer = bytearray()
        self._code: bytes | None = None
        self._texts: list[str] = []
        self._size = 0
        self._seen: list[str] = []

    def feed(self, data: bytes) -> None:
        self._buffer += data

    @property
    def pending(self) -> bytes:
        """Bytes received but not yet part of a complete reply."""
        return bytes(self._buffer)

    @property
    def idle(self) -> bool:
        """Nothing buffered and no reply half read."""
        return not self._buffer and self._code is None

    def take_lines(self) -> list[str]:
        """The lines read since the last call, for the transcript."""
        seen, self._seen = self._seen, []
        return seen

    def next_reply(self, command: str | None, what: str) -> Reply | None:
        """The next complete reply (answering *command*), or None until more bytes arrive.

        *what* names what the reply answers in error messages ("EHLO", "the greeting").
        """
        while True:
            raw = self._next_line(what)
            if raw is None:
                return None
            self._size += len(raw)
            self._seen.append(raw.decode("utf-8", "backslashreplace"))
            match = _REPLY_LINE.fullmatch(raw)
            if match is None:
                raise ReplySyntaxError(f"not an SMTP reply to {what}: {show_bytes(raw)}{_foreign(raw)}")
            if self._code is not None and match.group(1) != self._code:
                raise ReplySyntaxError(
                    f"multi-line reply to {what} changed its code from {self._code.decode()} "
                    f"to {match.group(1).decode()}"
                )
            self._code = match.group(1)
            self._texts.append((match.group(3) or b"").decode("utf-8", "backslashreplace"))
            if match.group(2) != b"-":
                reply = Reply(int(self._code), tuple(self._texts), command)
                self._code, self._texts, self._size = None, [], 0
                return reply
            if len(self._texts) >= self.limits.reply_lines or self._size >= self.limits.reply_bytes:
                raise ReplySyntaxError(
                    f"reply to {what} did not end after {len(self._texts)} lines / {self._size} bytes (limit "
                    f"{self.limits.reply_lines} lines, {self.limits.reply_bytes} bytes)"
                )

    def progress(self) -> str:
        """What arrived of the reply being waited for: the end of a timeout message."""
        got = []
        if self._texts:
            got.append(f"{len(self._texts)} line{'s' if len(self._texts) > 1 else ''} of a multi-line reply")
        if self._buffer:
            got.append(show_bytes(bytes(self._buffer)))
        return f"(received so far: {' and '.join(got)})" if got else "(nothing received)"

    def _next_line(self, what: str) -> bytes | None:
        end = self._buffer.find(b"\n")
        if end >= 0:
            raw = bytes(self._buffer[: end + 1])
            del self._buffer[: end + 1]
            if not raw.endswith(b"\r\n"):
                self._seen.append(raw.decode("utf-8", "backslashreplace"))
                raise ReplySyntaxError(f"reply to {what} ended a line with a bare LF, not CRLF (RFC 5321 2.3.8)")
            if end - 1 > self.limits.line_bytes:
                raise ReplySyntaxError(f"reply line to {what} is {end - 1} bytes long (limit {self.limits.line_bytes})")
            return raw[:-2]
        if self._buffer and not _REPLY_START.fullmatch(self._buffer[:4]):
            start = bytes(self._buffer[:200])  # no need to wait for the end of a line that cannot be a reply
            self._seen.append(start.decode("utf-8", "backslashreplace") + ("…" if len(self._buffer) > 200 else ""))
            raise ReplySyntaxError(f"not an SMTP reply to {what}: {show_bytes(start)}{_foreign(start)}")
        if len(self._buffer) > self.limits.line_bytes:
            raise ReplySyntaxError(
                f"reply line to {what} is longer than {self.limits.line_bytes} bytes and still has no end: "
                f"{show_bytes(bytes(self._buffer[:60]))}…"
            )
        return None


def show_bytes(raw: bytes, limit: int = 80) -> str:
    """Bytes as an engineer reads them in a message: repr, cut at *limit*."""
    shown = repr(raw[:limit])
    return shown + ("…" if len(raw) > limit else "")


def _foreign(raw: bytes) -> str:
    """A guess at what else answered, for the end of a protocol-violation message."""
    return next((f" ({guess})" for prefix, guess in _FOREIGN if raw.startswith(prefix)), "")

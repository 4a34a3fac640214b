"""Message bodies as streams of wire-ready chunks: generated, from text, or from a file.

A 50 MB test message must not cost 50 MB: bodies are produced chunk by chunk,
with CRLF line ends and dot-stuffing (RFC 5321 4.5.2) done on the fly, so
memory stays flat whatever the size.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

__all__ = ["Body", "Chunks", "DotStuffer", "MessageSource", "bdat_chunks", "body_from", "generated_message"]

CHUNK = 64 * 1024
PREVIEW_LINES = 20  # lines of a body shown in the transcript; the rest is counted


@dataclass(frozen=True)
class Chunks:
    """Raw message bytes already cut in pieces (not lines): what a generator of message data yields."""

    parts: Iterable[bytes]


MessageSource = str | bytes | Path | BinaryIO | Chunks | Iterable[str] | Iterable[bytes]


class DotStuffer:
    """Sans-IO: raw message bytes in, wire bytes out (CRLF line ends, leading dots doubled).

    CRLF, a bare LF and a bare CR all end a line and go out as CRLF: RFC 5321 2.3.8
    forbids sending a bare CR or LF, and `<CR>.<CR><LF>` passed on as data would be
    an end of data to some servers and not to others (SMTP smuggling). A CR that
    ends one chunk has already ended its line; an LF opening the next is its pair.
    """

    def __init__(self, *, stuff: bool = True) -> None:
        self._stuff = stuff  # BDAT sends lines as they are: only line ends are made CRLF
        self._line_start = True
        self._cr = False  # the last chunk ended in CR: an LF opening the next chunk belongs to it

    def feed(self, data: bytes) -> bytes:
        if self._cr and data:
            self._cr = False
            data = data.removeprefix(b"\n")
        if not data:
            return b""
        self._cr = data.endswith(b"\r")
        out = _LINE_END.sub(b"\r\n", data)
        if self._stuff:
            out = out.replace(b"\r\n.", b"\r\n..")
            if self._line_start and out.startswith(b"."):
                out = b"." + out
        self._line_start = out.endswith(b"\r\n")
        return out

    def end(self) -> bytes:
        """The terminating `.`, after a CRLF if the body did not end with one."""
        return b".\r\n" if self._line_start else b"\r\n.\r\n"


_LINE_END = re.compile(rb"\r\n|\r|\n")


@dataclass
class Body:
    """A message on its way: wire chunks to send, and what the transcript shows of it."""

    chunks: Iterator[bytes]
    sent_bytes: int = 0  # bytes on the wire, dot-stuffing and terminator included
    sent_lines: int = 0
    _head: bytearray = field(default_factory=bytearray, repr=False)

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.chunks:
            self.sent_bytes += len(chunk)
            self.sent_lines += chunk.count(b"\n")
            if self._head.count(b"\n") <= PREVIEW_LINES:
                self._head += chunk[: PREVIEW_LINES * 1000]
            yield chunk

    def preview(self) -> list[str]:
        """The first lines sent, as the transcript shows them (the terminating `.` excluded)."""
        lines = self._head.split(b"\r\n")[: min(PREVIEW_LINES, self.sent_lines - 1)]
        return [line.decode("utf-8", "backslashreplace") for line in lines]


def body_from(message: MessageSource) -> Body:
    """Wrap any message source into a :class:`Body`, terminator included."""
    return Body(_stuffed(_raw_chunks(message)))


def generated_message(size: int, name: str) -> Chunks:
    """A clearly labelled test message, padded with filler lines to exactly *size* bytes, produced as it is sent.

    Exact, because `! bdat 20kB` announces its chunk sizes and a SIZE= limit test needs the byte it claims;
    a size below the header's few hundred bytes gives the header alone (and 1 byte over it, one more).
    """
    return Chunks(_generate(size, name))


def bdat_chunks(message: MessageSource, size: int) -> Iterator[tuple[bytes, bool]]:
    """(chunk, is_last) pairs of at most *size* bytes of *message* with CRLF line ends, streamed.

    One chunk is held back so the last one can be marked; a message of nothing is one empty LAST chunk.
    """
    if size < 1:
        raise ValueError(f"a BDAT chunk must be at least 1 byte, not {size}")
    ends = DotStuffer(stuff=False)
    pending = bytearray()
    held: bytes | None = None
    for raw in _raw_chunks(message):
        pending += ends.feed(raw)
        while len(pending) >= size:
            if held is not None:
                yield held, False
            held, pending = bytes(pending[:size]), pending[size:]
    tail = ends.end()[:-3]  # the line end a last unterminated line needs, without DATA's "."
    pending += tail
    if held is not None and pending:
        yield held, False
        held = None
    yield (held if held is not None else bytes(pending)), True


def _stuffed(raw: Iterable[bytes]) -> Iterator[bytes]:
    stuffer = DotStuffer()
    for chunk in raw:
        out = stuffer.feed(chunk)
        if out:
            yield out
    yield stuffer.end()


def _raw_chunks(message: MessageSource) -> Iterator[bytes]:
    if isinstance(message, str):
        yield message.encode("utf-8")
    elif isinstance(message, bytes):
        yield message
    elif isinstance(message, Chunks):
        yield from message.parts
    elif isinstance(message, (Path, os.PathLike)):
        with open(message, "rb") as file:
            yield from iter(lambda: file.read(CHUNK), b"")
    elif hasattr(message, "read"):
        stream: BinaryIO = message  # type: ignore[assignment]
        yield from iter(lambda: stream.read(CHUNK), b"")
    else:
        for line in message:
            text = line.encode("utf-8") if isinstance(line, str) else line
            yield text + b"\n"


def _generate(size: int, name: str) -> Iterator[bytes]:
    date = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime())
    head = (
        "From: pytest-smtpcheck <probe@smtpcheck.invalid>\r\n"
        "To: undisclosed-recipients:;\r\n"
        f"Subject: pytest-smtpcheck test message ({name})\r\n"
        f"Date: {date}\r\n"
        f"Message-ID: <{time.time_ns()}@smtpcheck.invalid>\r\n"
        "\r\n"
        "This message was sent by an automated SMTP acceptance test.\r\n"
    ).encode("ascii")
    yield head
    filler = b"x" * 76 + b"\r\n"
    lines, rest = divmod(max(size - len(head), 0), len(filler))
    if rest == 1 and lines:  # no line is 1 byte long: the last whole line takes the extra byte
        lines, rest = lines - 1, rest + len(filler)
    lines_per_chunk = CHUNK // len(filler)
    while lines > 0:
        count = min(lines_per_chunk, lines)
        yield filler * count
        lines -= count
    if rest:
        yield b"x" * max(rest - 2, 0) + b"\r\n"

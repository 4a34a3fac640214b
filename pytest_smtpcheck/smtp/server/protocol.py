"""Sans-IO SMTP server protocol: bytes in, events out; replies in, bytes out (RFC 5321, 3030, 3207, 4954).

The counterpart of smtp/reader.py for the server side. The driver feeds it what the
socket gave (`receive`), takes events (`next_event`) until it returns None, answers
each one (`send` returns the bytes to write) and does the TLS handshake when `phase`
says so. The protocol frames lines, message data and BDAT chunks, parses commands,
refuses what is out of sequence, and follows the replies it is given: a 354 starts
the message, a 334 makes the next line an AUTH response, a 220 to STARTTLS hands
over to TLS, a 221 or 421 ends the session. What to answer is the driver's policy.

Line rules, here once:
- a line ends at LF; a CR before it is dropped, a CR anywhere else in a command
  line is refused (RFC 5321 §2.3.8); message lines ending in a bare LF are taken
  as if they ended in CRLF, but only CRLF.CRLF ends the message (the SMTP
  smuggling defence Postfix calls smtpd_forbid_bare_newline=normalize);
- command lines up to Limits.command_line octets, AUTH responses up to
  Limits.sasl_line; a longer line gets one 500 and the rest of it is dropped;
- message lines of any length (counted, never buffered whole); dot-unstuffed
  (RFC 5321 §4.5.2);
- replies this server sends: no CR or LF inside a line, at most
  Limits.reply_line octets a line (RFC 5321 §4.5.3.1.5).
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Collection
from dataclasses import dataclass, replace

from ..reply import Reply
from .envelope import Envelope
from .events import (
    Auth,
    AuthCancelled,
    AuthResponse,
    Bdat,
    Command,
    Data,
    Event,
    Hello,
    Invalid,
    Mail,
    Message,
    Rcpt,
    Rset,
    StartTLS,
    TooLong,
    reply,
)
from .syntax import parse_command

__all__ = ["Limits", "Phase", "ServerProtocol"]


class Phase(enum.Enum):
    """What the next bytes from the client are."""

    COMMAND = "command"
    DATA = "data"  # message lines after a 354, up to CRLF.CRLF
    CHUNK = "chunk"  # the bytes a BDAT command announced
    AUTH = "auth"  # one line answering a 334
    TLS = "tls"  # nothing: the driver does the TLS handshake, then calls tls_established()
    CLOSED = "closed"


@dataclass(frozen=True)
class Limits:
    """What the server takes and sends; RFC 5321 §4.5.3.1 gives the minimums a server must accept."""

    command_line: int = 4096  # octets with CRLF; §4.5.3.1.4 asks 512, extensions make lines longer
    sasl_line: int = 12288  # RFC 4954 §4: the longest response an IETF mechanism makes
    reply_line: int = 512  # §4.5.3.1.5, for the replies this server sends
    message_bytes: int = 10 * 1024 * 1024  # content kept per message or chunk; past it only counted


_NESTED = reply(503, "5.5.1 Error: nested MAIL command")
_NEED_MAIL = reply(503, "5.5.1 Error: need MAIL command")
_NEED_RCPT = reply(503, "5.5.1 Error: need RCPT command")
_NO_RECIPIENTS = reply(554, "5.5.1 Error: no valid recipients")
_DATA_AFTER_BDAT = reply(503, "5.5.1 Error: DATA after BDAT in one transaction")  # RFC 3030 §2
_AUTHENTICATED = reply(503, "5.5.1 Error: already authenticated")  # RFC 4954 §4
_AUTH_IN_TRANSACTION = reply(503, "5.5.1 Error: MAIL transaction in progress")  # RFC 4954 §4
_TLS_ACTIVE = reply(554, "5.5.1 Error: TLS already active")


class ServerProtocol:
    """One client's session as the server sees it; `envelope`, `tls` and `authenticated` are its state."""

    def __init__(self, *, extensions: Collection[str] = (), limits: Limits = Limits(), tls: bool = False) -> None:
        self.extensions = extensions  # the EHLO keywords offered, which MAIL/RCPT parameters need
        self.limits = limits
        self.tls = tls  # True from the start for implicit TLS (port 465)
        self.authenticated = False
        self.envelope = Envelope()
        self.phase = Phase.COMMAND
        self._buffer = bytearray()
        self._pos = 0  # bytes before it are consumed
        self._awaiting: Event | None = None  # the event the next reply answers
        self._skipping = False  # dropping the rest of a line that was too long
        self._chunk: Bdat | None = None  # the BDAT command whose bytes are being read
        self._left = 0  # bytes of it still to come
        self._content: list[bytes] | None = []  # the message or chunk so far; None once past message_bytes
        self._size = 0
        self._line_start = True  # in DATA: the next byte starts a line
        self._crlf = True  # in DATA: the last line ended in CRLF (for CRLF.CRLF)

    # -- bytes in, events out --------------------------------------------------------------

    def receive(self, data: bytes) -> None:
        """Bytes from the client, as the socket gave them."""
        if self.phase in (Phase.TLS, Phase.CLOSED):
            return  # plain text after STARTTLS's 220 is never read as commands (RFC 3207 §4.2)
        if self._pos:
            del self._buffer[: self._pos]
            self._pos = 0
        self._buffer += data

    @property
    def buffered(self) -> int:
        """Bytes received and not yet consumed (a long message line is consumed in pieces, never held whole)."""
        return len(self._buffer) - self._pos

    def next_event(self) -> Event | None:
        """The next event to answer, or None until more bytes arrive (or while TLS starts, or after the end)."""
        if self._awaiting is not None:
            raise RuntimeError(f"answer {type(self._awaiting).__name__} with send() before asking for the next event")
        if self.phase is Phase.COMMAND:
            event = self._command()
        elif self.phase is Phase.AUTH:
            event = self._auth_response()
        elif self.phase is Phase.DATA:
            event = self._message()
        elif self.phase is Phase.CHUNK:
            event = self._chunk_end()
        else:
            event = None
        self._awaiting = event
        return event

    def _line(self, limit: int) -> bytes | TooLong | None:
        """The next line without its line end, TooLong once for a line past *limit*, or None for more bytes."""
        buffer = self._buffer
        end = buffer.find(b"\n", self._pos)
        if self._skipping:
            if end < 0:
                self._pos = len(buffer)
                return None
            self._pos, self._skipping = end + 1, False
            end = buffer.find(b"\n", self._pos)
        if end < 0:
            if len(buffer) - self._pos >= limit:
                self._pos, self._skipping = len(buffer), True
                return TooLong(limit)
            return None
        start, self._pos = self._pos, end + 1
        if end + 1 - start > limit:
            return TooLong(limit)
        return bytes(buffer[start:end - 1 if end > start and buffer[end - 1] == 0x0D else end])

    def _command(self) -> Event | None:
        line = self._line(self.limits.command_line)
        if line is None or isinstance(line, TooLong):
            return line
        command = parse_command(line.decode("utf-8", "replace"), self.extensions)
        if isinstance(command, Bdat):
            self._chunk, self._left, self._content, self._size = command, command.size, [], 0
            self.phase = Phase.CHUNK
            return self._chunk_end()
        return self._in_sequence(command)

    def _in_sequence(self, command: Command) -> Command:
        """The command, or Invalid when the session's state does not allow it now."""
        if type(command) not in _SEQUENCED:
            return command
        envelope = self.envelope
        refusal = None
        if isinstance(command, Mail) and envelope.mail_from is not None:
            refusal = _NESTED
        elif isinstance(command, Rcpt) and envelope.mail_from is None:
            refusal = _NEED_MAIL
        elif isinstance(command, Data) and envelope.chunks:
            refusal = _DATA_AFTER_BDAT
        elif isinstance(command, Data) and not envelope.rcpt_tos:
            refusal = _NO_RECIPIENTS
        elif isinstance(command, Bdat) and not envelope.rcpt_tos:
            refusal = _NEED_RCPT
        elif isinstance(command, Auth) and self.authenticated:
            refusal = _AUTHENTICATED
        elif isinstance(command, Auth) and envelope.mail_from is not None:
            refusal = _AUTH_IN_TRANSACTION
        elif isinstance(command, StartTLS) and self.tls:
            refusal = _TLS_ACTIVE
        return command if refusal is None else Invalid(type(command), refusal, line=command.line)

    def _auth_response(self) -> Event | None:
        line = self._line(self.limits.sasl_line)
        if line is None or isinstance(line, TooLong):
            return line
        text = line.decode("utf-8", "replace")
        return AuthCancelled() if text == "*" else AuthResponse(text)

    def _message(self) -> Message | None:
        """Message lines up to CRLF.CRLF, dot-unstuffed, bare LF taken as CRLF; a Message at the end."""
        buffer = self._buffer
        while True:
            end = buffer.find(b"\n", self._pos)
            if end < 0:
                if len(buffer) - self._pos > self.limits.command_line:  # a long line: take it in pieces
                    piece = bytes(buffer[self._pos:-1])  # the last byte may be the CR of a CRLF
                    self._pos = len(buffer) - 1
                    self._add(piece[1:] if self._line_start and piece[:1] == b"." else piece)
                    self._line_start = False
                return None
            line = bytes(buffer[self._pos:end + 1])
            self._pos = end + 1
            crlf = line.endswith(b"\r\n")
            if self._line_start and line == b".\r\n" and self._crlf:
                return self._finish_message()
            if self._line_start and line[:1] == b".":
                line = line[1:]
            self._add(line if crlf else line[:-1] + b"\r\n")
            self._line_start, self._crlf = True, crlf

    def _finish_message(self) -> Message:
        content = None if self._content is None else b"".join(self._content)
        self.envelope.size = self._size
        return Message(self._size, content)

    def _chunk_end(self) -> Event | None:
        """The BDAT command once all of its bytes are in (RFC 3030 §2: read whatever the reply will be)."""
        take = min(self._left, len(self._buffer) - self._pos)
        if self._content is None:
            self._size += take  # past the limit: counted, not copied
        elif take:
            self._add(bytes(self._buffer[self._pos:self._pos + take]))
        self._pos += take
        self._left -= take
        if self._left or self._chunk is None:
            return None
        chunk = self._chunk
        self._chunk, self.phase = None, Phase.COMMAND
        command = self._in_sequence(chunk)
        if isinstance(command, Bdat):
            self.envelope.size += chunk.size
            self.envelope.chunks += 1
            content = None if self._content is None else b"".join(self._content)
            return replace(chunk, content=content)
        return command

    def _add(self, data: bytes) -> None:
        self._size += len(data)
        if self._content is not None:
            if self._size > self.limits.message_bytes:
                self._content = None
            else:
                self._content.append(data)

    # -- replies in, bytes out -------------------------------------------------------------

    def send(self, answer: Reply) -> bytes:
        """The bytes of *answer*, which answers the last event (or greets, or closes, when none is waiting)."""
        data = self._wire(answer)
        event, self._awaiting = self._awaiting, None
        if event is not None:
            self._follow(event, answer.code)
        if answer.code in (221, 421):  # closing the transmission channel (RFC 5321 §3.8)
            self.phase = Phase.CLOSED
        return data

    def tls_established(self) -> None:
        """The driver finished the TLS handshake: a fresh session in TLS (RFC 3207 §4.2)."""
        if self.phase is not Phase.TLS:
            raise RuntimeError("tls_established() without a 220 reply to STARTTLS")
        self.phase, self.tls, self.authenticated, self.envelope = Phase.COMMAND, True, False, Envelope()

    def _follow(self, event: Event, code: int) -> None:
        """The state after *code* answered *event*."""
        if self.phase is Phase.AUTH and code != 334:
            self.phase = Phase.COMMAND  # any other reply ends the exchange
        if type(event) not in _FOLLOWED:
            return
        positive = 200 <= code < 300
        if isinstance(event, (Hello, Rset)) and positive:
            self.envelope = Envelope()
        elif isinstance(event, Mail) and positive:
            self.envelope = Envelope(event.address, dict(event.params))
        elif isinstance(event, Rcpt) and positive:
            self.envelope.rcpt_tos.append(event.address)
        elif isinstance(event, Data) and code == 354:
            self.phase, self._content, self._size = Phase.DATA, [], 0
            self._line_start = self._crlf = True
        elif isinstance(event, Message):
            self.phase, self.envelope = Phase.COMMAND, Envelope()  # the transaction ends whatever the reply
        elif isinstance(event, Bdat) and (event.last or not positive):
            self.envelope = Envelope()
        elif isinstance(event, (Auth, AuthResponse)):
            self.phase = Phase.AUTH if code == 334 else Phase.COMMAND
            self.authenticated = self.authenticated or code == 235
        elif isinstance(event, StartTLS) and code == 220:
            self.phase = Phase.TLS
            del self._buffer[:]
            self._pos = 0

    def _wire(self, answer: Reply) -> bytes:
        return _wire(answer, self.limits.reply_line)


_SEQUENCED = frozenset((Mail, Rcpt, Data, Bdat, Auth, StartTLS))  # what the session's state may refuse
_FOLLOWED = frozenset((Hello, Rset, Mail, Rcpt, Data, Message, Bdat, Auth, AuthResponse, StartTLS))  # what moves it


@functools.lru_cache(maxsize=256)  # most replies are the same few
def _wire(answer: Reply, limit: int) -> bytes:
    """The reply's bytes (Reply.wire_lines is for showing: it escapes control characters)."""
    if not 200 <= answer.code <= 599:
        raise ValueError(f"an SMTP reply code is 200-599, not {answer.code}")
    last = len(answer.lines) - 1
    lines = [f"{answer.code}{' ' if i == last else '-'}{text}".encode() for i, text in enumerate(answer.lines)]
    for line in lines:
        if b"\r" in line or b"\n" in line or len(line) + 2 > limit:
            raise ValueError(f"a reply line must have no CR or LF and at most {limit} octets "
                             f"with its CRLF (RFC 5321 §4.5.3.1.5): {line!r}")
    return b"\r\n".join(lines) + b"\r\n"

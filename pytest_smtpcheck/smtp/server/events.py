"""What a client said, as the server-side protocol hands it over: one type per command, plus the protocol's verdicts.

Each command carries the line it came from (``line``), for a server that records
what it was sent. Verdicts the protocol reaches on its own (an unknown verb, bad
syntax, a command out of sequence, a line too long) come with the reply RFC 5321
prescribes; a server may still answer them differently, e.g. refuse everything
before STARTTLS first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from ..reply import Reply

__all__ = [
    "Auth", "AuthCancelled", "AuthResponse", "Bdat", "Command", "Data", "Event", "Hello", "Invalid", "Mail",
    "Message", "Noop", "Quit", "Rcpt", "Rset", "StartTLS", "TooLong", "Unknown", "Vrfy", "reply",
]


def reply(code: int, *lines: str) -> Reply:
    """A reply to send: ``reply(250, "2.0.0 Ok")``; several lines make a multi-line reply."""
    return Reply(code, lines or ("",))


class Event:
    """Anything ServerProtocol.next_event() returns; each one gets exactly one reply."""


@dataclass(frozen=True)
class Command(Event):
    """A command line, parsed."""

    line: str = field(default="", kw_only=True, compare=False)


@dataclass(frozen=True)
class Hello(Command):
    """EHLO or HELO with the client's name (RFC 5321 §4.1.1.1)."""

    extended: bool
    domain: str


@dataclass(frozen=True)
class Mail(Command):
    """MAIL FROM:<address> with its ESMTP parameters (names upper-case; a flag's value is "")."""

    address: str
    params: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Rcpt(Command):
    """RCPT TO:<address> with its ESMTP parameters."""

    address: str
    params: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Data(Command):
    """DATA: a 354 reply makes the protocol read the message (then a Message event)."""


@dataclass(frozen=True)
class Message(Event):
    """The message after DATA, dot-unstuffed, lines ending in CRLF; ``content`` is None past Limits.message_bytes."""

    size: int
    content: bytes | None


@dataclass(frozen=True)
class Bdat(Command):
    """One RFC 3030 chunk, handed over when all of its bytes have arrived (whatever the reply will be)."""

    size: int
    last: bool
    content: bytes | None = None


@dataclass(frozen=True)
class Auth(Command):
    """AUTH mechanism [initial-response]: the response as sent (base64, ``=`` for empty), None when there is none."""

    mechanism: str
    initial: str | None = None


@dataclass(frozen=True)
class AuthResponse(Event):
    """A line answering a 334 challenge, as sent (base64; smtp/sasl.py decodes it)."""

    text: str


@dataclass(frozen=True)
class AuthCancelled(Event):
    """``*`` in answer to a 334: the client gives up the exchange (RFC 4954 §4)."""


@dataclass(frozen=True)
class StartTLS(Command):
    """STARTTLS: a 220 reply hands the socket to the driver for the TLS handshake (RFC 3207)."""


@dataclass(frozen=True)
class Rset(Command):
    """RSET: a 250 reply ends the mail transaction (RFC 5321 §4.1.1.5)."""


@dataclass(frozen=True)
class Noop(Command):
    """NOOP, with or without an argument."""


@dataclass(frozen=True)
class Quit(Command):
    """QUIT: a 221 reply closes the session."""


@dataclass(frozen=True)
class Vrfy(Command):
    """VRFY string (RFC 5321 §3.5.1)."""

    argument: str


@dataclass(frozen=True)
class Invalid(Command):
    """A known command the protocol refuses: bad syntax or out of sequence; ``reply`` is what the RFCs call for."""

    command: type[Command]
    reply: Reply


@dataclass(frozen=True)
class Unknown(Command):
    """A verb this protocol does not implement (502, RFC 5321 §4.2.4)."""

    name: str
    reply: ClassVar[Reply] = Reply(502, ("5.5.2 Error: command not recognized",))


@dataclass(frozen=True)
class TooLong(Event):
    """A line past its limit (RFC 5321 §4.5.3.1.4, RFC 4954 §4); the protocol drops the rest of it."""

    limit: int
    reply: ClassVar[Reply] = Reply(500, ("5.5.0 Error: line too long",))


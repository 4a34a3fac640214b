"""The server side of SMTP, without any I/O: the protocol the sandbox drives (see protocol.py)."""

from __future__ import annotations

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
    Noop,
    Quit,
    Rcpt,
    Rset,
    StartTLS,
    TooLong,
    Unknown,
    Vrfy,
    reply,
)
from .protocol import Limits, Phase, ServerProtocol

__all__ = [
    "Auth", "AuthCancelled", "AuthResponse", "Bdat", "Command", "Data", "Envelope", "Event", "Hello", "Invalid",
    "Limits", "Mail", "Message", "Noop", "Phase", "Quit", "Rcpt", "Rset", "ServerProtocol", "StartTLS", "TooLong",
    "Unknown", "Vrfy", "reply",
]

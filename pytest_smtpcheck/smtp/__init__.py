"""The session library: a wire-level SMTP client usable without pytest.

    from pytest_smtpcheck.smtp import SMTPSession

    with SMTPSession("mx.example.com", 25, helo="probe.example.net") as session:
        session.ehlo()
        session.mail("probe@example.net")
        assert session.rcpt("victim@elsewhere.example").code in (550, 554)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import (
    ConnectFailed,
    ConnectionLost,
    ProtocolViolation,
    ReplyTimeout,
    SessionClosed,
    SessionMisuse,
    SMTPCheckError,
    TLSFailed,
)

if TYPE_CHECKING:
    from .reply import Reply
    from .session import SMTPSession
    from .transcript import Transcript

__all__ = [
    "ConnectFailed", "ConnectionLost", "ProtocolViolation", "Reply", "ReplyTimeout", "SMTPCheckError",
    "SMTPSession", "SessionClosed", "SessionMisuse", "TLSFailed", "Transcript",
]
_LAZY = {"Reply": "reply", "SMTPSession": "session", "Transcript": "transcript"}


def __getattr__(name: str) -> Any:
    """The session and its parts load on first use: the plugin imports this package in every pytest run."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

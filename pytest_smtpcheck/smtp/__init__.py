"""The session library: a wire-level SMTP client usable without pytest.

    from pytest_smtpcheck.smtp import SMTPSession

    with SMTPSession("mx.example.com", 25, helo="probe.example.net") as session:
        session.ehlo()
        session.mail("probe@example.net")
        assert session.rcpt("victim@elsewhere.example").code in (550, 554)
"""

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
from .reply import Reply
from .session import SMTPSession
from .transcript import Transcript

__all__ = [
    "ConnectFailed", "ConnectionLost", "ProtocolViolation", "Reply", "ReplyTimeout", "SMTPCheckError",
    "SMTPSession", "SessionClosed", "SessionMisuse", "TLSFailed", "Transcript",
]

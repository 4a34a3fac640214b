"""Failures of an SMTP session, worded for the engineer who reads the test report.

Each one means the server did not give a reply a test could judge: the test fails
with this message, and the session's transcript shows what happened before.
"""

from __future__ import annotations

from typing import Protocol

__all__ = [
    "ConnectFailed", "ConnectionLost", "ProtocolViolation", "ReplyTimeout", "SMTPCheckError", "SessionClosed",
    "SessionMisuse", "TLSFailed", "hide_for_server_faults",
]


class _ExceptionInfo(Protocol):
    def errisinstance(self, exc: type[BaseException]) -> bool: ...


def hide_for_server_faults(excinfo: _ExceptionInfo) -> bool:
    """Set as a module's ``__tracebackhide__``: pytest then reports a server fault at the test's own line.

    A server that misbehaves is not a bug in the plugin, so its frames are noise; any
    other exception keeps the full traceback.
    """
    return excinfo.errisinstance(SMTPCheckError)


class SMTPCheckError(Exception):
    """Base class: the session could not go on."""


class ConnectFailed(SMTPCheckError):
    """No TCP connection: refused, unreachable, name not resolved, or connect timeout."""


class ConnectionLost(SMTPCheckError):
    """The server closed or reset the connection while the client waited for a reply."""


class ReplyTimeout(SMTPCheckError):
    """No complete reply within the reply timeout, or the session's overall deadline passed."""


class ProtocolViolation(SMTPCheckError):
    """The server sent something that is not an SMTP reply (HTTP, binary, bare LF, oversize lines)."""


class TLSFailed(SMTPCheckError):
    """The TLS handshake failed or the certificate did not verify."""


class SessionClosed(SMTPCheckError):
    """The test tried to use a session that is already closed."""


class SessionMisuse(SMTPCheckError, ValueError):
    """The test asked for something that cannot be sent as asked: a line with CR/LF, a parameter the server
    did not advertise, TLS details before TLS."""

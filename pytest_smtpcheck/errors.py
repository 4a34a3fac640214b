"""Failures of an SMTP session, worded for the engineer who reads the test report.

Each one means the server did not give a reply a test could judge: the test fails
with this message, and the session's transcript shows what happened before.
"""

from __future__ import annotations


def hide_for_server_faults(excinfo) -> bool:
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

"""Errors in two families, as h11 splits its Local and Remote protocol errors, worded for the engineer.

- :class:`ServerFault`: the server did not give a reply a test could judge (refused, timed out,
  hung up, spoke something else, failed TLS). The test fails with this message, and the
  session's transcript shows what happened before.
- :class:`Misuse`: the test (or its settings) asked for something that cannot be done as asked:
  a bad setting, a line with CR/LF, a parameter the server did not advertise, a closed session.
  The fix is in the test, so the message names the test's line or the door of the setting.

Both are :class:`SMTPCheckError`, so ``except SMTPCheckError`` still catches either.
:class:`Unavailable` is neither: the run lacks something the test needs (a variable, a listener,
DNS), so the test cannot say anything; the pytest face turns it into a skip with its reason.
"""

from __future__ import annotations

from typing import Protocol

__all__ = [
    "ConnectFailed", "ConnectionLost", "Misuse", "ProtocolViolation", "ReplyTimeout", "SMTPCheckError", "ServerFault",
    "SessionClosed", "SessionMisuse", "SettingsError", "TLSFailed", "Unavailable", "hide_for_server_faults",
]


class _ExceptionInfo(Protocol):
    def errisinstance(self, exc: type[BaseException]) -> bool: ...


def hide_for_server_faults(excinfo: _ExceptionInfo) -> bool:
    """Set as a module's ``__tracebackhide__``: pytest then reports a server fault or a misuse at the test's line.

    A server that misbehaves, or a test that asks for the impossible, is not a bug in the
    plugin, so its frames are noise; any other exception keeps the full traceback.
    """
    return excinfo.errisinstance(SMTPCheckError)


class SMTPCheckError(Exception):
    """Base class of both families: the session could not go on."""


class ServerFault(SMTPCheckError):
    """The server's fault: the test fails, and its transcript shows what the server did."""


class Misuse(SMTPCheckError):
    """The test's misuse (or a bad setting): the message names the test's line or the setting's door."""


class ConnectFailed(ServerFault):
    """No TCP connection: refused, unreachable, name not resolved, or connect timeout."""


class ConnectionLost(ServerFault):
    """The server closed or reset the connection while the client waited for a reply."""


class ReplyTimeout(ServerFault):
    """No complete reply within the reply timeout, or the session's overall deadline passed."""


class ProtocolViolation(ServerFault):
    """The server sent something that is not an SMTP reply (HTTP, binary, bare LF, oversize lines)."""


class TLSFailed(ServerFault):
    """The TLS handshake failed or the certificate did not verify."""


class SessionClosed(Misuse):
    """The test tried to use a session that is already closed."""


class SessionMisuse(Misuse, ValueError):
    """The test asked for something that cannot be sent as asked: a line with CR/LF, a parameter the server
    did not advertise, TLS details before TLS."""


class SettingsError(Misuse, ValueError):
    """A value a door refuses; ``str()`` is ``where: problem``, *where* naming the door as the user wrote it.

    The rules that raise it are in :mod:`pytest_smtpcheck.settings`; it is defined here so that finding a
    profile file and turning a refusal into a usage error need not load them."""

    def __init__(self, where: str, problem: str, *, joined: str = ": ") -> None:
        super().__init__(f"{where}{joined}{problem}")
        self.where = where
        self.problem = problem


class Unavailable(Exception):
    """The run does not give what the test needs; ``str()`` is the reason, naming the option that gives it.

    The library raises it, never pytest.skip: only the pytest face decides that it is a skip.
    *variable* names the variable that was missing, for the run summary's list.
    """

    def __init__(self, reason: str, variable: str | None = None) -> None:
        super().__init__(reason)
        self.variable = variable

"""What the sandbox remembers: each connection and each accepted message, for the plugin's own tests."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["AcceptedMessage", "SessionRecord"]


@dataclass
class SessionRecord:
    """One connection: the command lines it sent (AUTH payloads masked), TLS, the user it authenticated as."""

    listener: str
    peer: tuple[str, int]
    commands: list[str] = field(default_factory=list)
    tls: bool = False
    authenticated_as: str | None = None
    closed: bool = False


@dataclass
class AcceptedMessage:
    """A message the sandbox said 250 to; counted and dropped, never kept or relayed."""

    listener: str
    mail_from: str
    rcpt_tos: list[str]
    size: int

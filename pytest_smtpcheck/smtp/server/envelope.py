"""One mail transaction as a server has accepted it so far (RFC 5321 §3.3)."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Envelope"]


@dataclass
class Envelope:
    """The sender and recipients the server said 250 to, and the message bytes received.

    ServerProtocol keeps it: it starts with an accepted MAIL and is emptied by RSET,
    HELO/EHLO, STARTTLS and the end of each message, whatever the reply to the message.
    """

    mail_from: str | None = None
    mail_params: dict[str, str] = field(default_factory=dict)
    rcpt_tos: list[str] = field(default_factory=list)
    size: int = 0  # message bytes received so far, the message or chunk being answered included
    chunks: int = 0  # BDAT chunks received (RFC 3030: no DATA in the same transaction)

    @property
    def smtputf8(self) -> bool:
        """MAIL declared SMTPUTF8 (RFC 6531 §3.4): UTF-8 addresses are allowed in this transaction."""
        return "SMTPUTF8" in self.mail_params

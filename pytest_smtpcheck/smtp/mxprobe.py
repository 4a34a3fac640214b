"""One plain-text session that answers every envelope-level question an MX acceptance battery asks.

Greeting, EHLO (STARTTLS, AUTH, SIZE offered?), VRFY and EXPN, the null sender,
postmaster@DOMAIN and a recipient at an outside domain, then RSET and QUIT: the
envelope goes no further than RCPT, so no message is ever sent. The session is
shared: every check reads its reply from one result and one transcript, and the
server sees one connection. No pytest here.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

from ..errors import SMTPCheckError

if TYPE_CHECKING:
    from .reply import Reply
    from .session import SMTPSession
    from .transcript import Transcript

__all__ = ["MXProbeResult", "outside_domain", "probe_mx"]

OUTSIDE_DOMAINS = ("example.net", "example.org")  # RFC 2606: never anyone's mail domain


@dataclass
class MXProbeResult:
    """The replies of one session; a command the session did not reach (or that it skipped) has None.

    `failure` says why the session stopped early (refused, timed out, hung up): checks
    whose reply is missing fail with it.
    """

    domain: str
    outside: str  # the recipient used to ask for relay
    transcript: Transcript
    address: str = ""
    greeting: Reply | None = None
    ehlo: Reply | None = None
    capabilities: dict[str, str] = field(default_factory=dict)
    vrfy_known: Reply | None = None
    vrfy_unknown: Reply | None = None
    expn: Reply | None = None
    null_sender: Reply | None = None
    postmaster: Reply | None = None
    relay: Reply | None = None
    failure: str | None = None

    def offers(self, extension: str) -> bool:
        return extension.upper() in self.capabilities

    def to_json(self) -> dict[str, Any]:
        """The result as JSON, for the xdist run directory: the other workers judge the same replies."""
        data: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self)}
        data["transcript"] = self.transcript.to_json()
        for name in _REPLIES:
            data[name] = reply_json(data[name])
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> MXProbeResult:
        from .transcript import Transcript

        return cls(**{**data, "transcript": Transcript.from_json(data["transcript"]),
                      **{name: reply_from_json(data[name]) for name in _REPLIES}})


_REPLIES = ("greeting", "ehlo", "vrfy_known", "vrfy_unknown", "expn", "null_sender", "postmaster", "relay")


def reply_json(reply: Reply | None) -> dict[str, Any] | None:
    if reply is None:
        return None
    return {"code": reply.code, "lines": list(reply.lines), "command": reply.command,
            "enhanced_advertised": reply.enhanced_advertised}


def reply_from_json(data: dict[str, Any] | None) -> Reply | None:
    from .reply import Reply

    return None if data is None else Reply(data["code"], tuple(data["lines"]), data["command"],
                                           data["enhanced_advertised"])


def outside_domain(domain: str) -> str:
    """A domain that is not DOMAIN's, for the relay question."""
    domain = domain.rstrip(".").lower()
    return next(d for d in OUTSIDE_DOMAINS if domain != d and not domain.endswith("." + d))


def probe_mx(session: SMTPSession, domain: str) -> MXProbeResult:
    """Run the probe on SESSION (unconnected, plain text); the session is closed afterwards."""
    outside = outside_domain(domain)
    made_up = f"smtpcheck-{secrets.token_hex(4)}"  # a user no one has, to compare VRFY's answers
    result = MXProbeResult(domain, f"smtpcheck-relay-test@{outside}", session.transcript)
    try:
        result.greeting = session.connect()
        result.address = session.transcript.address
        if result.greeting.code != 220:
            result.failure = f"the server refused the session in its greeting: {result.greeting.wire_lines()[0]}"
            return result
        result.ehlo = session.ehlo()
        result.capabilities = dict(session.capabilities)
        result.vrfy_known = session.vrfy(f"postmaster@{domain}")
        result.vrfy_unknown = session.vrfy(f"{made_up}@{domain}")
        result.expn = session.command("EXPN postmaster")
        result.null_sender = sender = session.mail("<>")
        if sender.code // 100 != 2:  # the recipients' questions still need a transaction
            session.rset()
            sender = session.mail(f"smtpcheck-probe@{outside}")
        if sender.code // 100 == 2:
            result.postmaster = session.rcpt(f"postmaster@{domain}")
            result.relay = session.rcpt(result.outside)
            session.rset()
    except SMTPCheckError as error:
        result.failure = str(error)
    finally:
        session.quit_quietly()
    return result

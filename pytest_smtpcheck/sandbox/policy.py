"""The sandbox's answers: the mail domain it serves, its two policies, and the handler that decides every reply.

The protocol (smtp/server) has already framed, parsed and sequenced each event;
what is left is the policy of docs/sandbox.md, row by row. The two policies
differ in four switches, each read in one place below.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass

from ..smtp.reply import Reply
from ..smtp.sasl import Account, SASLError, SASLServer, UnknownMechanism, Verdict, decode_response
from ..smtp.server import (
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
    ServerProtocol,
    StartTLS,
    TooLong,
    Unknown,
    Vrfy,
    reply,
)
from ..vocabulary import AUTH_MECHANISMS
from .records import AcceptedMessage, SessionRecord

__all__ = ["ACCOUNT", "DOMAIN", "EXTENSIONS", "HOSTNAME", "POLICIES", "SIZE_LIMIT", "Handler", "Policy"]

HOSTNAME = "mx.sandbox.test"
DOMAIN = "sandbox.test"
USERS = ("postmaster", "alice", "bob", "jörg")  # jörg: a UTF-8 mailbox, for SMTPUTF8 tests
GREYLISTED = "greylisted"
ACCOUNT = Account("submit@sandbox.test", "sandbox-Pa55word", "sandbox-oauth-t0ken")  # the token: XOAUTH2, OAUTHBEARER
OAUTH_SCOPE = "https://mx.sandbox.test/smtp.send"
SIZE_LIMIT = 1048576
EXTENSIONS = ("PIPELINING", f"SIZE {SIZE_LIMIT}", "ENHANCEDSTATUSCODES", "8BITMIME", "DSN", "SMTPUTF8", "CHUNKING")


@dataclass(frozen=True)
class Policy:
    """What the sandbox demands; `misconfigured` drops all four, as the server an audit should catch."""

    name: str
    starttls_first_on_submission: bool  # 530 for all but EHLO, HELO, NOOP, RSET, STARTTLS, QUIT before TLS on 587
    auth_needs_tls: bool  # AUTH advertised and accepted only after STARTTLS
    submission_needs_auth: bool  # 530 to MAIL on submission(s) before AUTH
    relay_needs_auth: bool  # 554 to RCPT outside DOMAIN before AUTH


POLICIES = {policy.name: policy for policy in (Policy("secure", True, True, True, True),
                                               Policy("misconfigured", False, False, False, False))}

_OK = reply(250, "2.0.0 Ok")
_STARTTLS_FIRST = reply(530, "5.7.0 Must issue a STARTTLS command first")
_TOO_BIG = reply(552, "5.3.4 Message size exceeds fixed limit")
_UNICODE_ADDRESS = reply(553, "5.6.7 Must declare SMTPUTF8 to send unicode address")  # Postfix, strict_smtputf8
_CANNOT_DECODE = reply(501, "5.5.2 Cannot decode response")
_BEFORE_TLS = (Hello, Noop, Rset, StartTLS, Quit)  # what submission takes before STARTTLS


class Handler:
    """One client's replies: the protocol's state (TLS, AUTH, envelope) read, the policy applied."""

    def __init__(self, policy: Policy, listener: str, protocol: ServerProtocol, record: SessionRecord,
                 deliver: Callable[[AcceptedMessage], None]) -> None:
        self.policy = policy
        self.listener = listener
        self.protocol = protocol
        self.record = record
        self.deliver = deliver
        self.sasl: SASLServer | None = None

    def greeting(self) -> Reply:
        return reply(220, f"{HOSTNAME} ESMTP pytest-smtpcheck sandbox")

    def reply_to(self, event: Event) -> Reply:
        """The answer to one event from the protocol."""
        if isinstance(event, (Unknown, TooLong)):
            return event.reply
        if self._starttls_first(event):
            return _STARTTLS_FIRST
        match event:
            case Invalid():
                return event.reply
            case Hello(extended=True):
                return self._ehlo()
            case Hello():
                return reply(250, HOSTNAME)
            case Mail():
                return self._mail(event)
            case Rcpt():
                return self._rcpt(event)
            case Data():
                return reply(354, "End data with <CR><LF>.<CR><LF>")
            case Message():
                return self._message(event)
            case Bdat():
                return self._chunk(event)
            case Auth():
                return self._auth(event)
            case AuthResponse():
                text = event.text
                return self._sasl_step(lambda sasl: sasl.respond(decode_response(text)))
            case AuthCancelled():
                return reply(501, "5.7.0 Authentication aborted")
            case StartTLS():
                return reply(220, "2.0.0 Ready to start TLS")
            case Vrfy():
                return reply(252, "2.0.0 Cannot VRFY user, but will accept message and attempt delivery")
            case Noop() | Rset():
                return _OK
            case Quit():
                return reply(221, "2.0.0 Bye")
        raise TypeError(f"the sandbox has no reply to {event!r}")

    def _starttls_first(self, event: Event) -> bool:
        if self.listener != "submission" or self.protocol.tls or not self.policy.starttls_first_on_submission:
            return False
        kind = event.command if isinstance(event, Invalid) else type(event)
        return isinstance(event, Command) and not issubclass(kind, _BEFORE_TLS)

    @property
    def _offers_auth(self) -> bool:
        return self.protocol.tls or not self.policy.auth_needs_tls

    def _ehlo(self) -> Reply:
        capabilities = list(EXTENSIONS)
        if not self.protocol.tls:
            capabilities.append("STARTTLS")
        if self._offers_auth:
            capabilities.append(f"AUTH {' '.join(AUTH_MECHANISMS)}")
        return reply(250, HOSTNAME, *capabilities)

    def _mail(self, event: Mail) -> Reply:
        if int(event.params.get("SIZE", "0")) > SIZE_LIMIT:  # the protocol let only digits through
            return _TOO_BIG
        if not event.address.isascii() and "SMTPUTF8" not in event.params:
            return _UNICODE_ADDRESS
        if self.listener != "smtp" and self.policy.submission_needs_auth and not self.protocol.authenticated:
            return reply(530, "5.7.0 Authentication required")
        return reply(250, "2.1.0 Ok")

    def _rcpt(self, event: Rcpt) -> Reply:
        address = event.address
        if not address.isascii() and not self.protocol.envelope.smtputf8:
            return _UNICODE_ADDRESS
        local, _, domain = address.rpartition("@")
        if domain.lower() != DOMAIN:
            if self.policy.relay_needs_auth and not self.protocol.authenticated:
                return reply(554, f"5.7.1 <{address}>: Relay access denied")
        elif local.lower() == GREYLISTED:
            return reply(450, f"4.2.0 <{address}>: Recipient address rejected: Greylisted, try again later")
        elif local.lower() not in USERS:
            return reply(550, f"5.1.1 <{address}>: Recipient address rejected: User unknown")
        return reply(250, "2.1.5 Ok")

    def _message(self, event: Message) -> Reply:
        if event.size > SIZE_LIMIT:
            return _TOO_BIG
        self._keep(event.size)
        return reply(250, "2.0.0 Ok: queued")

    def _chunk(self, event: Bdat) -> Reply:
        size = self.protocol.envelope.size  # the whole message so far
        if size > SIZE_LIMIT:
            return _TOO_BIG
        if not event.last:
            return reply(250, f"2.0.0 Ok: {event.size} bytes")
        self._keep(size)
        return reply(250, f"2.0.0 Ok: {size} bytes queued")

    def _keep(self, size: int) -> None:
        envelope = self.protocol.envelope
        self.deliver(AcceptedMessage(self.listener, envelope.mail_from or "", list(envelope.rcpt_tos), size))

    def _auth(self, event: Auth) -> Reply:
        if not self._offers_auth:
            return _STARTTLS_FIRST
        try:
            self.sasl = SASLServer(event.mechanism, ACCOUNT, hostname=HOSTNAME, scope=OAUTH_SCOPE)
        except UnknownMechanism:
            return reply(504, "5.5.4 Unrecognized authentication type")
        text = event.initial
        return self._sasl_step(lambda sasl: sasl.start(None if text is None else decode_response(text, initial=True)))

    def _sasl_step(self, advance: Callable[[SASLServer], bytes | Verdict]) -> Reply:
        """One step of the exchange: a 334 challenge, or its end (235, 535, or 501 for what does not parse)."""
        assert self.sasl is not None, "a response only follows a 334, which only an AUTH sends"
        try:
            step = advance(self.sasl)
        except SASLError:
            return _CANNOT_DECODE
        if not isinstance(step, Verdict):
            return reply(334, base64.b64encode(step).decode())
        if step.user is None:
            return reply(535, "5.7.8 Error: authentication failed")
        self.record.authenticated_as = step.user
        return reply(235, "2.7.0 Authentication successful")

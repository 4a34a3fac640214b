"""The SMTP session: one command, one reply, exactly as a test asked for them.

smtplib hides the wire, retries and cannot pipeline; an acceptance test needs the
opposite: exactly the lines the test asked for, each reply as the server sent it,
and a bounded wait for every one of them. This module knows commands and the
state they leave (greeting, capabilities, TLS); bytes and waits are the
connection's, reply parsing the reader's, SASL and message bodies their own modules'.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..errors import ProtocolViolation, SessionMisuse, TLSFailed, hide_for_server_faults
from ..settings import SessionOptions, parse_choice
from ..vocabulary import MASK, TLS_MODES, mask_auth_line
from .connection import Connection, Deadline
from .message import Body, MessageSource, body_from
from .reader import Limits
from .reply import Reply
from .transcript import EVENT, SENT, Transcript

if TYPE_CHECKING:
    from ..dns import DaneResult, DNSChecks
    from .cap import Slot
    from .tls import TLSInfo

__all__ = ["SMTPSession"]
__tracebackhide__ = hide_for_server_faults  # server faults are reported at the test's line


class SMTPSession:
    """One SMTP connection driven line by line.

    Replies are returned whatever their code, so tests can assert on refusals;
    only failures that leave no reply to judge (timeouts, resets, garbage, TLS
    errors) raise an :class:`~pytest_smtpcheck.errors.SMTPCheckError`.
    With ``auto_connect`` the session connects on first use, so a dead server
    fails the test that uses it, never the fixture that made it.
    """

    def __init__(
        self,
        host: str,
        port: int,
        options: SessionOptions = SessionOptions(),  # noqa: B008 - frozen, safely shared
        *,
        limits: Limits = Limits(),  # noqa: B008 - frozen, safely shared
        transcript: Transcript | None = None,
        slot: Callable[[], Slot] | None = None,
        auto_connect: bool = False,
        dns: Callable[[], DNSChecks] | None = None,
        tls_only_secrets: Collection[str] = (),
        allow_plaintext_auth: bool = False,
        **changes: Any,
    ) -> None:
        """*options* are the resolved settings (helo, timeouts, TLS, presented address); *changes* replace some of
        them by name, for scripts and tests: ``SMTPSession(host, 25, timeout=5)``."""
        options = replace(options, **changes) if changes else options
        parse_choice(options.tls_mode, "SMTPSession(tls_mode=...)", TLS_MODES)  # a script may pass any string
        self.host = host
        self.port = port
        self.options = options
        self.transcript = transcript if transcript is not None else Transcript()
        self.auto_connect = auto_connect
        self._slot = slot
        self._dns = dns  # the run's DNS checks, made on first use, for dane()
        self.tls_only_secrets = frozenset(tls_only_secrets)  # the run's real password and token: AUTH under TLS only
        self.allow_plaintext_auth = allow_plaintext_auth
        self._conn = Connection(host, port, self.transcript, limits)
        self.transcript.target = self._conn.address
        self._greeting: Reply | None = None
        self.capabilities: dict[str, str] = {}
        self.replies: list[Reply] = []
        self._session_end: float | None = None

    # -- state ------------------------------------------------------------------------

    @property
    def address(self) -> str:
        return self._conn.address

    @property
    def connected(self) -> bool:
        return self._conn.is_open

    @property
    def greeting(self) -> Reply | None:
        """The server's greeting (connecting first, with ``auto_connect``)."""
        self._ensure_connected()
        return self._greeting

    @property
    def tls_info(self) -> TLSInfo | None:
        self._ensure_connected()
        return self._conn.tls_info

    @property
    def last_reply(self) -> Reply | None:
        return self.replies[-1] if self.replies else None

    def supports(self, extension: str) -> bool:
        """Whether the last EHLO advertised *extension* (e.g. ``"STARTTLS"``)."""
        return extension.upper() in self.capabilities

    # -- connection ---------------------------------------------------------------------

    def connect(self) -> Reply:
        """Open the connection, read the greeting, present another client address, upgrade to TLS.

        With ``present_as`` the session says "I speak for this client" before anything
        else: a PROXY header at connect, or XCLIENT after the greeting, whose 220 then
        stands for the greeting. In ``starttls`` mode the session is handed over after the
        handshake: the test sends EHLO again, as RFC 3207 requires.
        """
        options = self.options
        connect_timeout = options.timeout if options.connect_timeout is None else options.connect_timeout
        if options.deadline is not None:
            self._session_end = time.monotonic() + options.deadline
            connect_timeout = min(connect_timeout, options.deadline)
        slot = self._slot() if self._slot is not None and not self._conn.is_closed else None
        proxied = self.options.present_as is not None and self.options.present_via.startswith("proxy")
        self._conn.open(connect_timeout, slot=slot, preamble=self._proxy_header if proxied else None)
        if self.options.tls_mode == "implicit":
            self._conn.start_tls(self.options.tls, self._deadline())
        greeting = self._greeting = self._read(None, "the greeting")
        if self.options.present_as is not None and self.options.present_via == "xclient" and greeting.code == 220:
            greeting = self._greeting = self.xclient(ADDR=self.options.present_as)
            if greeting.code != 220:
                door = f" ({self.options.present_as_door})" if self.options.present_as_door else ""
                message = (f"cannot test as client {self.options.present_as}{door}: {self.address} refused "
                           f"XCLIENT ADDR={self.options.present_as} with {greeting.wire_lines()[0]}; allow this test "
                           "machine's address in Postfix's smtpd_authorized_xclient_hosts, or use "
                           "--smtp-as-via=proxy-v1/proxy-v2 on a listener that expects a PROXY header")
                raise self._conn.fail(SessionMisuse, message)
        if self.options.tls_mode == "starttls" and greeting.code == 220:
            self.ehlo()
            reply = self.starttls()
            if self.tls_info is None:  # the connection is still good for a QUIT
                message = f"--smtp-tls=starttls, but the server answered STARTTLS with: {reply.wire_lines()[0]}"
                self.transcript.record(EVENT, message, tls=False)
                raise TLSFailed(message)
        return greeting

    def close(self) -> None:
        """Drop the connection without QUIT (QUIT is :meth:`quit`)."""
        self._conn.close()

    def __enter__(self) -> SMTPSession:
        self.connect()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.quit_quietly()

    def quit_quietly(self) -> None:
        """QUIT if the connection is still usable, then close; for teardown, where nothing may raise."""
        if not self.connected:
            return
        try:
            self.options = replace(self.options, timeout=min(self.options.timeout, 5.0))
            last = self.last_reply
            said_quit = last is not None and (last.command or "").upper().startswith("QUIT")
            if not said_quit and (last is None or not last.is_intermediate):  # in DATA or AUTH it would be data
                self.quit()
        except Exception:  # noqa: BLE001 - teardown must close whatever state the server left us in
            pass
        finally:
            self.close()

    # -- commands -------------------------------------------------------------------------

    def command(self, line: str) -> Reply:
        """Send one command line and read its reply."""
        return self._exchange(line, line)

    def send_line(self, line: str) -> None:
        """Send a raw line without reading a reply; pair with :meth:`read_reply`."""
        self.send_lines([line])

    def send_lines(self, lines: Sequence[str]) -> None:
        """Send several lines in one write (pipelining), without reading replies."""
        self._ensure_connected()
        self._conn.send_lines([(line, self._shown(line)) for line in lines], self._deadline())

    def read_reply(self, command: str | None = None) -> Reply:
        """Read one reply; *command* names what it answers in the reply and in error messages."""
        self._ensure_connected()
        shown = self._shown(command) if command else None
        return self._read(shown, shown or "the greeting")

    def pipeline(self, lines: Sequence[str]) -> list[Reply]:
        """Send several commands in one write (RFC 2920), then read their replies in order."""
        self.send_lines(lines)
        return [self._read(shown, shown) for shown in map(self._shown, lines)]

    def ehlo(self, name: str | None = None) -> Reply:
        """EHLO; a 250 reply's keywords become :attr:`capabilities` (as they do for EHLO sent any other way)."""
        return self.command(f"EHLO {name or self.options.helo}")

    def helo(self, name: str | None = None) -> Reply:
        return self.command(f"HELO {name or self.options.helo}")

    def mail(self, sender: str, *params: str, **esmtp: object) -> Reply:
        """MAIL FROM; ESMTP parameters as keywords (``size=``, ``body=``, ``smtputf8=``, ``ret=``, ``envid=``,
        ``requiretls=``), checked against what the server advertised."""
        return self.command(" ".join([f"MAIL FROM:{_angle(sender)}", *params, *self._esmtp("MAIL", esmtp)]))

    def rcpt(self, recipient: str, *params: str, **esmtp: object) -> Reply:
        """RCPT TO; ESMTP parameters as keywords (``notify=``, ``orcpt=``), checked against what was advertised."""
        return self.command(" ".join([f"RCPT TO:{_angle(recipient)}", *params, *self._esmtp("RCPT", esmtp)]))

    def data(self, message: MessageSource) -> Reply:
        """DATA, then the message only if the server answered 354; returns the reply that ends the transaction.

        *message* is text, bytes, an iterable of lines, a path or a binary file: it is
        streamed, so its size costs no memory.
        """
        reply = self.command("DATA")
        if reply.code != 354:
            return reply
        return self.send_body(message)

    def send_body(self, message: MessageSource | Body) -> Reply:
        """Send a message body after 354: CRLF line ends, dot-stuffed, terminated by ``.``."""
        self._ensure_connected()
        body = message if isinstance(message, Body) else body_from(message)
        self._conn.send_stream(body, "the message (sent after 354)", self._deadline())
        self._record_body(body)
        what = f"the message ({body.sent_bytes} bytes, sent after 354)"
        return self._read(f"(message of {body.sent_bytes} bytes)", what)

    def rset(self) -> Reply:
        return self.command("RSET")

    def noop(self) -> Reply:
        return self.command("NOOP")

    def vrfy(self, address: str) -> Reply:
        return self.command(f"VRFY {address}")

    def quit(self) -> Reply:
        reply = self.command("QUIT")
        self.close()
        return reply

    def starttls(self) -> Reply:
        """STARTTLS; on 220 the handshake follows at once and a failure raises :class:`TLSFailed`."""
        reply = self.command("STARTTLS")
        if reply.code == 220:
            self._conn.start_tls(self.options.tls, self._deadline(), after=" after its 220 to STARTTLS")
            self.capabilities = {}
        return reply

    def auth(self, mechanism: str, username: str, secret: str) -> Reply:
        """AUTH with PLAIN, LOGIN, CRAM-MD5, XOAUTH2 or OAUTHBEARER (*secret* is then the token).

        The secret and every SASL line are masked in the transcript before they are recorded.
        One of ``tls_only_secrets`` (the run's real password or token) goes out only under
        TLS: without it the AUTH is refused before anything is sent, unless ``allow_plaintext_auth``.
        """
        from . import sasl

        name = mechanism.upper()
        self._ensure_connected()
        if secret in self.tls_only_secrets and not self._conn.tls:
            if not self.allow_plaintext_auth:
                raise SessionMisuse(
                    f"AUTH {name} with the run's real credentials on a connection to {self.address} that is not "
                    "under TLS: refused before anything was sent (they would cross the network in clear). Call "
                    "starttls() first and check that it answered 220; to check that the server refuses AUTH "
                    "without TLS, send a dummy secret; for a trusted network, opt in with "
                    "@pytest.mark.smtp(allow_plaintext_auth=True) or `allow_plaintext_auth = true` in the front "
                    "matter")
            self.transcript.record(EVENT, f"AUTH {name} with the run's credentials sent without TLS: "
                                          "allow_plaintext_auth is set for this test", tls=False)
        options: dict[str, str | int | None] = {"host": self.host, "port": self.port} if name == "OAUTHBEARER" else {}
        try:
            client = sasl.mechanism(name, username, secret, **options)
        except sasl.SASLError as error:
            raise SessionMisuse(str(error)) from None
        self.transcript.add_secret(*client.secrets())
        line = sasl.auth_line(client)
        reply = self._exchange(line, f"AUTH {name} {MASK}" if line != f"AUTH {name}" else line)
        while reply.code == 334:
            try:
                answer = sasl.response_line(client, reply.lines[0])
            except sasl.SASLError as error:
                raise self._conn.fail(ProtocolViolation, str(error)) from None
            self.transcript.add_secret(*client.secrets())
            if client.error is not None:  # the 334 is base64: say in words why the token was refused
                self.transcript.record(EVENT, f"{name} error from the server: {client.error}", tls=self._conn.tls)
            reply = self._exchange(answer, MASK)
        return reply

    def xclient(self, **attributes: str | int) -> Reply:
        """XCLIENT (Postfix): say which client this session speaks for, e.g. ``xclient(ADDR="203.0.113.9")``.

        The server answers 220 with a new greeting; what it knew from EHLO is gone, so send EHLO again.
        """
        from .params import ParameterError, xclient_command, xclient_unadvertised

        try:
            line = xclient_command(**attributes)
        except ParameterError as error:
            raise SessionMisuse(str(error)) from None
        if "XCLIENT" in self.capabilities:  # an attribute it did not offer fails here; a refusal is the server's
            problem = xclient_unadvertised(attributes, self.capabilities, self.address)
            if problem is not None:
                raise SessionMisuse(problem)
        return self.command(line)

    def bdat(self, message: MessageSource, *, chunk_size: int = 64 * 1024) -> list[Reply]:
        """Send *message* with BDAT (RFC 3030) in chunks of *chunk_size* bytes, the last with LAST.

        The message is streamed; returns every chunk's reply and stops at the first that is
        not 2xx, as a client must (the server discards the rest of the message). Without
        CHUNKING in the last EHLO reply nothing is sent: a server that does not know BDAT
        would read the message data as commands.
        """
        from .message import bdat_chunks

        self._ensure_connected()
        if "CHUNKING" not in self.capabilities:
            hint = "" if self.capabilities else " (there was no EHLO reply to go by: send EHLO first)"
            raise SessionMisuse(f"BDAT needs the CHUNKING extension, which {self.address} did not advertise in its "
                                f"EHLO reply{hint}; send the message with data() instead")
        replies: list[Reply] = []
        for number, (chunk, last) in enumerate(bdat_chunks(message, chunk_size), 1):
            line = f"BDAT {len(chunk)}{' LAST' if last else ''}"
            self._conn.send_lines([(line, line)], self._deadline())
            self._conn.send_raw(chunk, line, self._deadline())
            self.transcript.record(EVENT, f"chunk {number}: {len(chunk)} bytes of message data", tls=self._conn.tls)
            reply = self._read(line, line)
            replies.append(reply)
            if reply.code // 100 != 2:
                break
        return replies

    def dane(self, host: str | None = None, port: int | None = None) -> DaneResult:
        """DANE (RFC 7672) for this TLS session: the TLSA records of ``_PORT._tcp.HOST`` against the presented chain.

        HOST defaults to the name TLS verified (the MX host with ``--smtp-mx``), PORT to the
        port connected to. DNSSEC-bogus records raise ``DNSSECBogus``: the test fails saying so.
        """
        from ipaddress import ip_address

        from ..dns import dane_match

        if self.tls_info is None:
            raise SessionMisuse("dane() needs a TLS session: call starttls() (or use tls='implicit') first")
        if self._dns is None:
            raise SessionMisuse("dane() needs DNS: sessions from smtp_session or smtp_connect have the run's; "
                                "give SMTPSession(dns=...) otherwise")
        checks = self._dns()
        name = host or self.options.tls.server_name or self.host
        try:
            ip_address(name.strip("[]"))
        except ValueError:
            pass  # a host name: TLSA records hang off it
        else:
            raise SessionMisuse(f"dane() needs the server's host name, not the address {name}: "
                                "give --smtp-tls-name (or --smtp-mx), or dane(host=...)")
        return dane_match(checks.tlsa(name, port or self.port), self.peer_chain(), host=name)

    def peer_chain(self) -> list[bytes]:
        """The certificate chain the server presented (DER, leaf first); empty before TLS."""
        return self._conn.peer_chain()

    def wait_for_close(self) -> str | None:
        """Wait (reply timeout) for the server to close; None if it did, else what it did instead."""
        return self._conn.wait_for_close(self._deadline())

    # -- internals ----------------------------------------------------------------------

    def _ensure_connected(self) -> None:
        if self.auto_connect and not self._conn.is_open and not self._conn.is_closed:
            self.connect()

    def _exchange(self, line: str, shown: str) -> Reply:
        self._ensure_connected()
        shown = self._shown(shown)
        self._conn.send_lines([(line, shown)], self._deadline())
        return self._read(shown, shown)

    def _shown(self, line: str) -> str:
        """*line* as the transcript, the reply (`Reply.command`) and error messages name it: a hand-written AUTH
        line's credentials and the session's secrets typed into any other command masked."""
        return self.transcript.mask(mask_auth_line(line))

    def _read(self, command: str | None, what: str) -> Reply:
        reply = self._conn.read_reply(command, what, self._deadline())
        reply = replace(reply, enhanced_advertised="ENHANCEDSTATUSCODES" in self.capabilities)
        self.replies.append(reply)
        self._track(command, reply)
        return reply

    def _track(self, command: str | None, reply: Reply) -> None:
        """Keep :attr:`capabilities` true to the session, however the command went out (a method, a `.smtp` line,
        a pipeline): BDAT and parameter checks rely on them."""
        verb = (command or "").partition(" ")[0].upper()
        if verb == "EHLO":
            self.capabilities = {}
            if reply.code == 250:
                for line in reply.lines[1:]:
                    keyword, _, params = line.partition(" ")
                    self.capabilities[keyword.upper()] = params
        elif verb == "HELO" or (verb == "XCLIENT" and reply.code == 220):  # no extensions / a fresh session
            self.capabilities = {}

    def _record_body(self, body: Body) -> None:
        tls = self._conn.tls
        preview = body.preview()
        for line in preview:
            self.transcript.record(SENT, line, tls=tls)
        rest = body.sent_lines - 1 - len(preview)
        if rest > 0:
            self.transcript.record(EVENT, f"{rest} more message lines ({body.sent_bytes} bytes in all) not shown",
                                   tls=tls)
        self.transcript.record(SENT, ".", tls=tls)

    def _esmtp(self, verb: str, esmtp: dict[str, object]) -> list[str]:
        """Keyword parameters as wire words; one the server did not advertise fails before anything is sent."""
        if not esmtp:
            return []
        from .params import ParameterError, esmtp_parameters, unadvertised

        try:
            words = esmtp_parameters(verb, **esmtp)
        except ParameterError as error:
            raise SessionMisuse(str(error)) from None
        problem = unadvertised(verb, words, self.capabilities, self.address)
        if problem is not None:
            raise SessionMisuse(problem)
        return words

    def _deadline(self) -> Deadline:
        reply_end = time.monotonic() + self.options.timeout
        if self._session_end is not None and self._session_end <= reply_end:
            return Deadline(self._session_end, f"the session deadline of {self.options.deadline:g} s")
        return Deadline(reply_end, f"{self.options.timeout:g} s")

    def _proxy_header(self, server: str, port: int) -> bytes:
        """The PROXY header claiming ``present_as``; the destination is the server, in the claimed address family."""
        from .proxy import proxy_header

        present_as = self.options.present_as
        assert present_as is not None
        if (":" in server) != (":" in present_as):
            server = "::1" if ":" in present_as else "127.0.0.1"
        return proxy_header(1 if self.options.present_via == "proxy-v1" else 2, present_as, 49152, server, port)


def _angle(address: str) -> str:
    return address if address.startswith("<") else f"<{address}>"

"""The embedded sandbox MX: a small, correctly configured mail domain on 127.0.0.1 (docs/sandbox.md).

A policy, not a mail system: it answers like a well-run Postfix, records what
each client sent (AUTH payloads masked), keeps no mail, and relays nothing.
Threads and blocking sockets keep STARTTLS a two-line affair on every Python
the plugin supports; every socket has a timeout and stop() joins every thread.
"""

from __future__ import annotations

import base64
import hmac
import json
import os
import secrets
import shutil
import socket
import ssl
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from .smtp.params import MAIL_PARAMETERS, RCPT_PARAMETERS, ParameterError, esmtp_parameters, unadvertised

__all__ = ["AcceptedMessage", "Sandbox", "SessionRecord"]

LISTENERS = ("smtp", "submission", "submissions")
SIZE_LIMIT = 1048576
USERS = ("postmaster", "alice", "bob", "jörg")  # jörg: a UTF-8 mailbox, for SMTPUTF8 tests
GREYLISTED = "greylisted"
MAX_LINE = 4096
IDLE_TIMEOUT = 30.0
MAX_MESSAGES = 100
EXTENSIONS = ("PIPELINING", f"SIZE {SIZE_LIMIT}", "ENHANCEDSTATUSCODES", "8BITMIME", "DSN", "SMTPUTF8", "CHUNKING")
AUTH_OFFERED = "PLAIN LOGIN CRAM-MD5 XOAUTH2 OAUTHBEARER"
OAUTH_SCOPE = "https://mx.sandbox.test/smtp.send"
UNICODE_ADDRESS = "553 5.6.7 Must declare SMTPUTF8 to send unicode address"  # Postfix with strict_smtputf8


@dataclass
class SessionRecord:
    listener: str
    peer: tuple[str, int]
    commands: list[str] = field(default_factory=list)
    tls: bool = False
    authenticated_as: str | None = None
    closed: bool = False


@dataclass
class AcceptedMessage:
    listener: str
    mail_from: str
    rcpt_tos: list[str]
    size: int


class Sandbox:
    """Three listeners (smtp, submission, submissions) on free loopback ports, one thread per connection."""

    hostname = "mx.sandbox.test"
    domain = "sandbox.test"
    username = "submit@sandbox.test"
    password = "sandbox-Pa55word"
    token = "sandbox-oauth-t0ken"  # the OAuth bearer token XOAUTH2 and OAUTHBEARER accept

    def __init__(self, *, misconfigured: bool = False, host: str = "127.0.0.1") -> None:
        self.misconfigured = misconfigured
        self.host = host
        self.ports: dict[str, int] = {}
        self.ca_file = ""
        self.sessions: list[SessionRecord] = []
        self.messages: list[AcceptedMessage] = []
        self._lock = threading.Lock()
        self._listeners: list[socket.socket] = []
        self._connections: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        self._directory: str | None = None
        self._tls: ssl.SSLContext | None = None

    def __enter__(self) -> Sandbox:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        self._tls = self._make_certificates()
        for listener in LISTENERS:
            sock = socket.create_server((self.host, 0))
            sock.settimeout(0.2)
            self._listeners.append(sock)
            self.ports[listener] = sock.getsockname()[1]
            self._spawn(self._accept, sock, listener)

    def stop(self) -> None:
        """Close listeners and connections, join every thread (bounded), remove the CA directory."""
        self._stopping.set()
        for sock in self._listeners:
            sock.close()
        with self._lock:
            connections = list(self._connections)
        for sock in connections:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads.clear()
        self._listeners.clear()
        if self._directory is not None:
            shutil.rmtree(self._directory, ignore_errors=True)
            self._directory = None

    # -- internals ---------------------------------------------------------------------

    def _make_certificates(self) -> ssl.SSLContext:
        import trustme

        ca = trustme.CA(organization_name="pytest-smtpcheck sandbox CA")
        cert = ca.issue_cert(self.hostname, "localhost", "127.0.0.1", "::1")
        self._directory = tempfile.mkdtemp(prefix="smtpcheck-sandbox-")
        self.ca_file = os.path.join(self._directory, "ca.pem")
        ca.cert_pem.write_to_path(self.ca_file)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(context)
        return context

    def _spawn(self, target: Callable[..., None], *args: object) -> None:
        thread = threading.Thread(target=target, args=args, name=f"smtpcheck-sandbox-{target.__name__}", daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept(self, listener_sock: socket.socket, listener: str) -> None:
        while not self._stopping.is_set():
            try:
                sock, peer = listener_sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # replies must not wait for Nagle
            with self._lock:
                self._connections.add(sock)
                record = SessionRecord(listener, peer)
                self.sessions.append(record)
            self._spawn(self._serve, sock, listener, record)

    def _serve(self, sock: socket.socket, listener: str, record: SessionRecord) -> None:
        handler = _ClientHandler(self, sock, listener, record)
        try:
            handler.run()
        except (OSError, ValueError, ssl.SSLError):
            pass  # the client went away or spoke garbage: the next client must not notice
        finally:
            record.closed = True
            with self._lock:
                self._connections.discard(handler.sock)
                self._connections.discard(sock)
            handler.sock.close()

    def _keep(self, message: AcceptedMessage) -> None:
        with self._lock:
            self.messages.append(message)
            del self.messages[:-MAX_MESSAGES]


class _ClientHandler:
    """One client's session: the policy of docs/sandbox.md, command by command."""

    def __init__(self, sandbox: Sandbox, sock: socket.socket, listener: str, record: SessionRecord) -> None:
        self.sandbox = sandbox
        self.sock = sock
        self.listener = listener
        self.record = record
        self.buffer = b""
        self.tls = False
        self.user: str | None = None
        self.mail_from: str | None = None
        self.rcpts: list[str] = []
        self.smtputf8 = False  # the transaction declared SMTPUTF8 on MAIL
        self.chunked = 0  # bytes received so far by BDAT in this transaction

    # The policy's switches
    @property
    def submission(self) -> bool:
        return self.listener != "smtp"

    @property
    def needs_starttls(self) -> bool:
        return self.listener == "submission" and not self.tls and not self.sandbox.misconfigured

    @property
    def offers_auth(self) -> bool:
        return self.tls or self.sandbox.misconfigured

    def run(self) -> None:
        self.sock.settimeout(IDLE_TIMEOUT)
        if self.listener == "submissions":
            self._start_tls()
        self.reply(f"220 {self.sandbox.hostname} ESMTP pytest-smtpcheck sandbox")
        while (line := self.readline()) is not None:
            verb, _, arg = line.partition(" ")
            verb = verb.upper()
            words = line.split()
            self.record.commands.append(" ".join([*words[:2], "****"]) if verb == "AUTH" and len(words) > 2 else line)
            if verb == "QUIT":
                self.reply("221 2.0.0 Bye")
                return
            handler = getattr(self, f"do_{verb}", None)
            if handler is None:
                self.reply("502 5.5.2 Error: command not recognized")
            elif self.needs_starttls and verb not in ("EHLO", "HELO", "NOOP", "RSET", "STARTTLS"):
                self.reply("530 5.7.0 Must issue a STARTTLS command first")
            else:
                handler(arg.strip())

    def readline(self) -> str | None:
        while b"\n" not in self.buffer:
            if len(self.buffer) > MAX_LINE:
                self.reply("500 5.5.0 Error: line too long")
                self.buffer = b""
            chunk = self.sock.recv(65536)
            if not chunk:
                return None
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line.rstrip(b"\r").decode("utf-8", "replace")

    def reply(self, *lines: str) -> None:
        self.sock.sendall("".join(f"{line}\r\n" for line in lines).encode())

    # -- commands ----------------------------------------------------------------------

    def do_EHLO(self, arg: str) -> None:
        if not arg:
            return self.reply("501 5.5.4 Syntax: EHLO hostname")
        self._reset()
        capabilities = list(EXTENSIONS)
        if not self.tls:
            capabilities.append("STARTTLS")
        if self.offers_auth:
            capabilities.append(f"AUTH {AUTH_OFFERED}")
        lines = [self.sandbox.hostname, *capabilities]
        self.reply(*(f"250-{line}" for line in lines[:-1]), f"250 {lines[-1]}")

    def do_HELO(self, arg: str) -> None:
        self._reset()
        self.reply(f"250 {self.sandbox.hostname}" if arg else "501 5.5.4 Syntax: HELO hostname")

    def do_NOOP(self, arg: str) -> None:
        self.reply("250 2.0.0 Ok")

    def do_RSET(self, arg: str) -> None:
        self._reset()
        self.reply("250 2.0.0 Ok")

    def do_VRFY(self, arg: str) -> None:
        self.reply("252 2.0.0 Cannot VRFY user, but will accept message and attempt delivery")

    def do_STARTTLS(self, arg: str) -> None:
        if self.tls:
            return self.reply("554 5.5.1 Error: TLS already active")
        self.reply("220 2.0.0 Ready to start TLS")
        self._start_tls()
        self._reset()

    def do_AUTH(self, arg: str) -> None:
        mechanism, _, initial = arg.partition(" ")
        mechanism = mechanism.upper()
        if not self.offers_auth:
            return self.reply("530 5.7.0 Must issue a STARTTLS command first")
        if self.user is not None:
            return self.reply("503 5.5.1 Error: already authenticated")
        check = {"PLAIN": self._auth_plain, "LOGIN": self._auth_login, "CRAM-MD5": self._auth_cram,
                 "XOAUTH2": self._auth_xoauth2, "OAUTHBEARER": self._auth_oauthbearer}.get(mechanism)
        if check is None:
            return self.reply("504 5.5.4 Unrecognized authentication type")
        try:
            user = check(initial)
        except ValueError:
            return self.reply("501 5.5.2 Cannot decode response")
        if user is None:
            return self.reply("535 5.7.8 Error: authentication failed")
        self.user = self.record.authenticated_as = user
        self.reply("235 2.7.0 Authentication successful")

    def do_MAIL(self, arg: str) -> None:
        if not arg.upper().startswith("FROM:"):
            return self.reply("501 5.5.4 Syntax: MAIL FROM:<address>")
        if self.mail_from is not None:
            return self.reply("503 5.5.1 Error: nested MAIL command")
        address, params = _address(arg[5:])
        if address is None:
            return self.reply("501 5.1.7 Bad sender address syntax")
        refusal = _parameter_refusal("MAIL", params)
        if refusal is not None:
            return self.reply(refusal)
        if int(params.get("SIZE", "0")) > SIZE_LIMIT:
            return self.reply("552 5.3.4 Message size exceeds fixed limit")
        if not address.isascii() and "SMTPUTF8" not in params:
            return self.reply(UNICODE_ADDRESS)
        if self.submission and self.user is None and not self.sandbox.misconfigured:
            return self.reply("530 5.7.0 Authentication required")
        self.mail_from, self.smtputf8 = address, "SMTPUTF8" in params
        self.reply("250 2.1.0 Ok")

    def do_RCPT(self, arg: str) -> None:
        if not arg.upper().startswith("TO:"):
            return self.reply("501 5.5.4 Syntax: RCPT TO:<address>")
        if self.mail_from is None:
            return self.reply("503 5.5.1 Error: need MAIL command")
        address, params = _address(arg[3:])
        if not address or "@" not in address:
            return self.reply("501 5.1.3 Bad recipient address syntax")
        refusal = _parameter_refusal("RCPT", params)
        if refusal is not None:
            return self.reply(refusal)
        if not address.isascii() and not self.smtputf8:
            return self.reply(UNICODE_ADDRESS)
        local, _, domain = address.rpartition("@")
        if domain.lower() != self.sandbox.domain:
            if self.user is None and not self.sandbox.misconfigured:
                return self.reply(f"554 5.7.1 <{address}>: Relay access denied")
        elif local.lower() == GREYLISTED:
            return self.reply(f"450 4.2.0 <{address}>: Recipient address rejected: Greylisted, try again later")
        elif local.lower() not in USERS:
            return self.reply(f"550 5.1.1 <{address}>: Recipient address rejected: User unknown")
        self.rcpts.append(address)
        self.reply("250 2.1.5 Ok")

    def do_DATA(self, arg: str) -> None:
        if not self.rcpts:
            return self.reply("554 5.5.1 Error: no valid recipients")
        self.reply("354 End data with <CR><LF>.<CR><LF>")
        size, too_big = 0, False
        while (line := self.readline()) is not None and line != ".":
            size += len(line) + 2
            too_big = too_big or size > SIZE_LIMIT
        if line is None:
            return
        if too_big:
            self.reply("552 5.3.4 Message size exceeds fixed limit")
        else:
            self._keep(size)
            self.reply("250 2.0.0 Ok: queued")
        self._reset()

    def do_BDAT(self, arg: str) -> None:
        """RFC 3030 chunks: the announced bytes are read whatever the reply, so the session stays in step."""
        words = arg.upper().split()
        if not 1 <= len(words) <= 2 or not words[0].isdigit() or words[1:] not in ([], ["LAST"]):
            return self.reply("501 5.5.4 Syntax: BDAT count [LAST]")
        size, last = int(words[0]), len(words) == 2
        self._skip(size)
        if not self.rcpts:
            return self.reply("503 5.5.1 Error: need RCPT command")
        self.chunked += size
        if self.chunked > SIZE_LIMIT:
            self._reset()
            return self.reply("552 5.3.4 Message size exceeds fixed limit")
        if not last:
            return self.reply(f"250 2.0.0 Ok: {size} bytes")
        self._keep(self.chunked)
        self.reply(f"250 2.0.0 Ok: {self.chunked} bytes queued")
        self._reset()

    # -- helpers -----------------------------------------------------------------------

    def _reset(self) -> None:
        self.mail_from, self.rcpts, self.smtputf8, self.chunked = None, [], False, 0

    def _keep(self, size: int) -> None:
        self.sandbox._keep(AcceptedMessage(self.listener, self.mail_from or "", list(self.rcpts), size))

    def _skip(self, count: int) -> None:
        """Read and drop *count* bytes of message data, 64 KiB at a time at most."""
        taken = min(count, len(self.buffer))
        self.buffer, count = self.buffer[taken:], count - taken
        while count > 0:
            data = self.sock.recv(min(count, 65536))
            if not data:
                raise ConnectionError("the client closed the connection inside a BDAT chunk")
            count -= len(data)

    def _start_tls(self) -> None:
        assert self.sandbox._tls is not None, "start() makes the TLS context before any client is served"
        self.sock = self.sandbox._tls.wrap_socket(self.sock, server_side=True)
        self.buffer = b""
        self.tls = self.record.tls = True
        with self.sandbox._lock:
            self.sandbox._connections.add(self.sock)

    def _challenge(self, text: bytes) -> str:
        self.reply("334 " + base64.b64encode(text).decode())
        answer = self.readline()
        self.record.commands.append("****")
        if answer is None or answer == "*":
            raise ValueError("AUTH cancelled")
        return answer

    def _auth_plain(self, initial: str) -> str | None:
        response = initial or self._challenge(b"")
        _, user, password = base64.b64decode(response, validate=True).decode().split("\0")
        return self._verify(user, password)

    def _auth_login(self, initial: str) -> str | None:
        user = base64.b64decode(initial or self._challenge(b"Username:"), validate=True).decode()
        password = base64.b64decode(self._challenge(b"Password:"), validate=True).decode()
        return self._verify(user, password)

    def _auth_cram(self, initial: str) -> str | None:
        challenge = f"<{secrets.token_hex(8)}@{self.sandbox.hostname}>".encode()
        user, _, digest = base64.b64decode(self._challenge(challenge), validate=True).decode().rpartition(" ")
        expected = hmac.new(self.sandbox.password.encode(), challenge, "md5").hexdigest()
        return user if user == self.sandbox.username and hmac.compare_digest(digest, expected) else None

    def _auth_xoauth2(self, initial: str) -> str | None:
        """``user=U^Aauth=Bearer T^A^A``; a wrong token gets the JSON error challenge, answered by an empty line."""
        fields = base64.b64decode(initial or self._challenge(b""), validate=True).decode().split("\x01")
        values = dict(field.partition("=")[::2] for field in fields if field)
        return self._bearer(values.get("user", ""), values.get("auth", ""), "401", "")

    def _auth_oauthbearer(self, initial: str) -> str | None:
        """RFC 7628: ``n,a=U,^Ahost=H^Aport=P^Aauth=Bearer T^A^A``; an error challenge is answered by ``^A``."""
        message = base64.b64decode(initial or self._challenge(b""), validate=True).decode()
        header, _, rest = message.partition("\x01")
        gs2 = header.split(",")
        if len(gs2) != 3 or gs2[0] != "n" or not gs2[1].startswith("a="):
            raise ValueError("OAUTHBEARER needs the GS2 header n,a=USER,")
        user = gs2[1][2:].replace("=2C", ",").replace("=3D", "=")
        values = dict(field.partition("=")[::2] for field in rest.split("\x01") if field)
        return self._bearer(user, values.get("auth", ""), "invalid_token", "AQ==")

    def _bearer(self, user: str, auth: str, status: str, acknowledgement: str) -> str | None:
        """Accept the sandbox's token for its user; otherwise send the error challenge and await its acknowledgement."""
        scheme, _, token = auth.partition(" ")
        if scheme.lower() == "bearer" and self._verify(user, token, self.sandbox.token):
            return user
        error = json.dumps({"status": status, "schemes": "bearer", "scope": OAUTH_SCOPE}, separators=(",", ":"))
        if self._challenge(error.encode()) != acknowledgement:
            raise ValueError("the client did not acknowledge the OAuth error challenge")
        return None

    def _verify(self, user: str, password: str, expected: str | None = None) -> str | None:
        """*user* when it is the sandbox's account and *password* is its password (or the *expected* token)."""
        wanted = (expected or self.sandbox.password).encode()
        ok = user == self.sandbox.username and hmac.compare_digest(password.encode(), wanted)
        return user if ok else None


def _parameter_refusal(verb: str, params: dict[str, str]) -> str | None:
    """The reply to MAIL/RCPT parameters the sandbox does not take (unknown, unadvertised, malformed); None if fine.

    smtp/params.py validates what the plugin sends; the sandbox judges received parameters by the same rules.
    """
    known = MAIL_PARAMETERS if verb == "MAIL" else RCPT_PARAMETERS
    advertised = {keyword.split()[0]: "" for keyword in EXTENSIONS}
    for name, value in params.items():
        if name not in known:
            return f"555 5.5.4 Unsupported option: {name}"
        given: object = True if name in ("SMTPUTF8", "REQUIRETLS") and not value else value
        if name == "SIZE" and value.isdigit():
            given = int(value)
        try:
            words = esmtp_parameters(verb, **{name: given})
        except ParameterError:
            return f"501 5.5.4 Bad {name} parameter syntax"
        if unadvertised(verb, words, advertised, "the sandbox") is not None:
            return f"555 5.5.4 Unsupported option: {name}"
    return None


def _address(text: str) -> tuple[str | None, dict[str, str]]:
    """`<addr> PARAM=VALUE ...` into the address and its parameters."""
    text = text.strip()
    if not text.startswith("<") or ">" not in text:
        return None, {}
    address, _, rest = text[1:].partition(">")
    params = {}
    for word in rest.split():
        key, _, value = word.partition("=")
        params[key.upper()] = value
    return address, params

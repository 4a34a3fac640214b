"""The wire-level SMTP client: every byte it sends and reads is in the transcript.

smtplib hides the wire, retries and cannot pipeline; an acceptance test needs the
opposite: exactly the lines the test asked for, each reply as the server sent it,
and a bounded wait for every one of them.
"""

from __future__ import annotations

import base64
import hmac
import re
import socket
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from .errors import (
    ConnectFailed,
    ConnectionLost,
    ProtocolViolation,
    ReplyTimeout,
    SessionClosed,
    TLSFailed,
    hide_for_server_faults,
)
from .reply import Reply
from .transcript import EVENT, MASK, RECEIVED, SENT, Transcript, mask_auth_line

__tracebackhide__ = hide_for_server_faults  # server faults are reported at the test's line

if TYPE_CHECKING:  # ssl is imported only when a session starts TLS
    from .tls import TLSInfo, TLSSettings

TLS_MODES = ("none", "starttls", "implicit")
_E = TypeVar("_E", bound=Exception)
AUTH_MECHANISMS = ("PLAIN", "LOGIN", "CRAM-MD5")

_REPLY_LINE = re.compile(rb"([2-5][0-9][0-9])(?:([ -])(.*))?", re.S)
_REPLY_START = re.compile(rb"[2-5](?:[0-9](?:[0-9][ \r\n-]?)?)?")  # what the first bytes of a reply line may be
_FOREIGN = ((b"HTTP/", "an HTTP server?"), (b"SSH-", "an SSH server?"), (b"+OK", "a POP3 server?"),
            (b"* OK", "an IMAP server?"))
_BODY_LINES_RECORDED = 20


@dataclass(frozen=True)
class Limits:
    """What a server may send before the client calls it hostile (see docs/robustness.md)."""

    line_bytes: int = 8192  # RFC 5321 allows 512; generous for real servers' long texts
    reply_lines: int = 500  # a reply with more lines is endless for our purposes
    reply_bytes: int = 256 * 1024


class SMTPSession:
    """One SMTP connection driven line by line.

    Replies are returned whatever their code, so tests can assert on refusals;
    only failures that leave no reply to judge (timeouts, resets, garbage, TLS
    errors) raise an :class:`~pytest_smtpcheck.errors.SMTPCheckError`.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        helo: str = "localhost",
        timeout: float = 30.0,
        connect_timeout: float | None = None,
        deadline: float | None = None,
        tls_mode: str = "none",
        tls: TLSSettings | None = None,
        limits: Limits = Limits(),
        transcript: Transcript | None = None,
    ) -> None:
        if tls_mode not in TLS_MODES:
            raise ValueError(f"tls_mode must be one of {', '.join(TLS_MODES)}, not {tls_mode!r}")
        self.host = host
        self.port = port
        self.helo_name = helo
        self.timeout = timeout
        self.connect_timeout = connect_timeout if connect_timeout is not None else timeout
        self.deadline_seconds = deadline
        self.tls_mode = tls_mode
        self.tls_settings = tls
        self.limits = limits
        self.transcript = transcript if transcript is not None else Transcript()
        self.transcript.target = self.address
        self.greeting: Reply | None = None
        self.capabilities: dict[str, str] = {}
        self.replies: list[Reply] = []
        self.tls_info: TLSInfo | None = None
        self._sock: socket.socket | None = None
        self._buffer = bytearray()
        self._partial: list[str] = []  # lines of the multi-line reply being read, for failure messages
        self._deadline: float | None = None
        self._closed = False

    # -- connection ---------------------------------------------------------------

    @property
    def address(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @property
    def connected(self) -> bool:
        return self._sock is not None

    @property
    def last_reply(self) -> Reply | None:
        return self.replies[-1] if self.replies else None

    def connect(self) -> Reply:
        """Open the connection, read the greeting, and (mode `starttls`) upgrade to TLS.

        In `starttls` mode the session is handed over after the handshake: the test
        sends EHLO again, as RFC 3207 requires.
        """
        if self._sock is not None or self._closed:
            raise SessionClosed(f"session to {self.address} was already opened; use a new session")
        connect_timeout = self.connect_timeout
        if self.deadline_seconds is not None:
            self._deadline = time.monotonic() + self.deadline_seconds
            connect_timeout = min(connect_timeout, self.deadline_seconds)
        try:
            sock = socket.create_connection((self.host, self.port), timeout=connect_timeout)
        except socket.gaierror as error:
            raise self._fail_connect(f"cannot resolve {self.host!r}: {error.strerror}") from None
        except ConnectionRefusedError:
            raise self._fail_connect(
                f"connection to {self.address} refused (nothing listening on that port?)"
            ) from None
        except ConnectionResetError:  # accepted, then reset before connect() returned (seen on a loaded host)
            self._closed = True
            raise self._lost("connection reset while reading the reply to the greeting") from None
        except (socket.timeout, TimeoutError):
            raise self._fail_connect(
                f"no TCP connection to {self.address} within {connect_timeout:g} s (host down or port filtered?)"
            ) from None
        except OSError as error:
            raise self._fail_connect(f"cannot connect to {self.address}: {error.strerror or error}") from None
        self._sock = sock
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            local, peer = sock.getsockname(), sock.getpeername()
        except OSError:  # reset between connect() and here: getpeername() fails with ENOTCONN
            raise self._lost("connection reset while reading the reply to the greeting") from None
        self.transcript.address = peer[0]
        self.transcript.record(EVENT, f"connected to {self.address} ({peer[0]}) from {local[0]}:{local[1]}", tls=False)
        if self.tls_mode == "implicit":
            self._handshake()
        self.greeting = self._read_reply(None)
        if self.tls_mode == "starttls" and self.greeting.code == 220:
            self.ehlo()
            reply = self.starttls()
            if self.tls_info is None:  # the connection is still good for a QUIT
                message = f"--smtp-tls=starttls, but the server answered STARTTLS with: {reply.wire_lines()[0]}"
                self.transcript.record(EVENT, message, tls=False)
                raise TLSFailed(message)
        return self.greeting

    def close(self) -> None:
        """Drop the connection without QUIT (QUIT is :meth:`quit`)."""
        if self._sock is not None:
            self._drop()
            self.transcript.record(EVENT, "connection closed by client", tls=self.tls_info is not None)

    def __enter__(self) -> SMTPSession:
        self.connect()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.quit_quietly()

    def quit_quietly(self) -> None:
        """QUIT if the connection is still usable, then close; for teardown, where nothing may raise."""
        if self._sock is None:
            return
        try:
            self.timeout = min(self.timeout, 5.0)
            self.quit()
        except Exception:  # noqa: BLE001 - teardown must close whatever state the server left us in
            pass
        finally:
            self.close()

    # -- commands -------------------------------------------------------------------

    def command(self, line: str) -> Reply:
        """Send one command line and read its reply."""
        return self._exchange(line, line)

    def send_line(self, line: str) -> None:
        """Send a raw line without reading a reply; pair with :meth:`read_reply`."""
        self.send_lines([line])

    def send_lines(self, lines: Sequence[str]) -> None:
        """Send several lines in one write (pipelining), without reading replies."""
        self._send([(line, line) for line in lines])

    def read_reply(self, command: str | None = None) -> Reply:
        """Read one reply; *command* names what it answers in the reply and in error messages."""
        return self._read_reply(mask_auth_line(command) if command else None)

    def pipeline(self, lines: Sequence[str]) -> list[Reply]:
        """Send several commands in one write (RFC 2920), then read their replies in order."""
        self.send_lines(lines)
        return [self._read_reply(mask_auth_line(line)) for line in lines]

    def ehlo(self, name: str | None = None) -> Reply:
        reply = self.command(f"EHLO {name or self.helo_name}")
        self.capabilities = {}
        if reply.code == 250:
            for line in reply.lines[1:]:
                keyword, _, params = line.partition(" ")
                self.capabilities[keyword.upper()] = params
        return reply

    def helo(self, name: str | None = None) -> Reply:
        return self.command(f"HELO {name or self.helo_name}")

    def supports(self, extension: str) -> bool:
        """Whether the last EHLO advertised *extension* (e.g. ``"STARTTLS"``)."""
        return extension.upper() in self.capabilities

    def mail(self, sender: str, *params: str) -> Reply:
        return self.command(" ".join([f"MAIL FROM:{_angle(sender)}", *params]))

    def rcpt(self, recipient: str, *params: str) -> Reply:
        return self.command(" ".join([f"RCPT TO:{_angle(recipient)}", *params]))

    def data(self, message: str | bytes) -> Reply:
        """DATA, then the message only if the server answered 354; returns the reply that ends the transaction."""
        reply = self.command("DATA")
        if reply.code != 354:
            return reply
        return self.send_body(message)

    def send_body(self, message: str | bytes | Iterable[str]) -> Reply:
        """Send a message body after 354: CRLF line ends, dot-stuffed, terminated by ``.``."""
        if isinstance(message, str):
            message = message.encode("utf-8")
        if isinstance(message, bytes):
            lines = message.replace(b"\r\n", b"\n").split(b"\n")
            if lines and lines[-1] == b"":
                lines.pop()
        else:
            lines = [line.encode("utf-8") for line in message]
        payload = b"".join((b"." + line if line.startswith(b".") else line) + b"\r\n" for line in lines) + b".\r\n"
        tls = self.tls_info is not None
        for line in lines[:_BODY_LINES_RECORDED]:
            self.transcript.record(SENT, line.decode("utf-8", "backslashreplace"), tls=tls)
        if len(lines) > _BODY_LINES_RECORDED:
            rest = lines[_BODY_LINES_RECORDED:]
            self.transcript.record(
                EVENT, f"{len(rest)} more message lines ({sum(len(x) + 2 for x in rest)} bytes) not shown", tls=tls
            )
        what = f"the message ({len(payload)} bytes, sent after 354)"
        self._send_bytes(payload, what, record=".")
        return self._read_reply(f"(message of {len(payload)} bytes)", what)

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
            if self._buffer:
                raise self._violation(
                    "the server sent data after its 220 to STARTTLS, before TLS began "
                    "(a STARTTLS command-injection flaw, CVE-2011-0411 class)"
                )
            self._handshake()
            self.capabilities = {}
        return reply

    def auth(self, mechanism: str, username: str, password: str) -> Reply:
        """AUTH with PLAIN, LOGIN or CRAM-MD5; the password and every SASL line are masked in the transcript."""
        mechanism = mechanism.upper()
        if mechanism not in AUTH_MECHANISMS:
            raise ValueError(f"AUTH mechanism must be one of {', '.join(AUTH_MECHANISMS)}, not {mechanism!r}")
        plain = _b64(f"\0{username}\0{password}")
        self.transcript.add_secret(password, _b64(password), plain)
        if mechanism == "PLAIN":
            return self._exchange(f"AUTH PLAIN {plain}", f"AUTH PLAIN {MASK}")
        reply = self.command(f"AUTH {mechanism}")
        if mechanism == "LOGIN":
            for answer in (username, password):
                if reply.code != 334:
                    return reply
                reply = self._exchange(_b64(answer), MASK)
            return reply
        if reply.code != 334:
            return reply
        try:
            challenge = base64.b64decode(reply.lines[0], validate=True)
        except ValueError:
            raise self._violation(f"CRAM-MD5 challenge is not base64: {reply.lines[0]!r}") from None
        digest = hmac.new(password.encode("utf-8"), challenge, "md5").hexdigest()
        return self._exchange(_b64(f"{username} {digest}"), MASK)

    def wait_for_close(self) -> str | None:
        """Wait (reply timeout) for the server to close; None if it did, else what it did instead."""
        deadline = self._reply_deadline()
        while self._sock is not None:
            if self._buffer:
                return f"the server sent more instead of closing: {bytes(self._buffer[:80])!r}"
            try:
                if not self._recv(deadline, "waiting for the server to close the connection"):
                    self.transcript.record(EVENT, "connection closed by server", tls=self.tls_info is not None)
                    self._drop()
                    return None
            except ConnectionLost:
                return None
            except ReplyTimeout:
                return f"the server kept the connection open for {self.timeout:g} s"
        return None

    # -- wire ------------------------------------------------------------------------

    def _exchange(self, line: str, shown: str) -> Reply:
        shown = mask_auth_line(shown)
        self._send([(line, shown)])
        return self._read_reply(shown)

    def _send(self, lines: list[tuple[str, str]]) -> None:
        for line, _ in lines:
            if "\r" in line or "\n" in line:
                raise ValueError(f"a command line cannot contain CR or LF: {line!r}; send lines one by one")
        payload = b"".join(line.encode("utf-8") + b"\r\n" for line, _ in lines)
        shown = [mask_auth_line(text) for _, text in lines]
        self._collect_waiting()
        if self._buffer and not self._buffer.startswith(b"421"):
            # Left over from the last reply: it would be taken for the reply to this command, and shift every
            # verdict after it by one. An unsolicited 421 is allowed (RFC 5321 3.8): it answers the next command.
            raise self._violation(
                f"the server sent {_show(bytes(self._buffer))} that no command asked for, before {shown[0]}"
            )
        self._send_bytes(payload, shown[0], record=shown)

    def _collect_waiting(self) -> None:
        """Take in, without waiting, whatever the server sent since its last reply."""
        if self._sock is None or self._buffer:
            return
        try:
            self._sock.setblocking(False)
            self._buffer += self._sock.recv(65536)
        except OSError:  # nothing waiting (or a dead socket, which the send reports properly)
            pass

    def _send_bytes(self, payload: bytes, what: str, *, record: str | list[str]) -> None:
        sock = self._require_socket(what)
        for shown in [record] if isinstance(record, str) else record:
            self.transcript.record(SENT, shown, tls=self.tls_info is not None)
        remaining = self._reply_deadline() - time.monotonic()
        if remaining <= 0:
            raise self._timeout(what, "before the command could be sent")
        sock.settimeout(remaining)
        try:
            sock.sendall(payload)
        except (socket.timeout, TimeoutError):
            raise self._timeout(what, "while sending (the server stopped reading)") from None
        except OSError as error:
            raise self._lost(f"connection lost while sending {what}: {error.strerror or error}") from None

    def _read_reply(self, command: str | None, what: str | None = None) -> Reply:
        what = what or command or "the greeting"
        deadline = self._reply_deadline()
        code: bytes | None = None
        lines: list[str] = []
        self._partial = lines
        size = 0
        while True:
            raw = self._read_line(deadline, what)
            size += len(raw)
            text = raw.decode("utf-8", "backslashreplace")
            self.transcript.record(RECEIVED, text, tls=self.tls_info is not None)
            match = _REPLY_LINE.fullmatch(raw)
            if match is None:
                raise self._violation(f"not an SMTP reply to {what}: {_show(raw)}{_foreign(raw)}")
            if code is not None and match.group(1) != code:
                raise self._violation(
                    f"multi-line reply to {what} changed its code from {code.decode()} to {match.group(1).decode()}"
                )
            code = match.group(1)
            lines.append((match.group(3) or b"").decode("utf-8", "backslashreplace"))
            if match.group(2) != b"-":
                break
            if len(lines) >= self.limits.reply_lines or size >= self.limits.reply_bytes:
                raise self._violation(
                    f"reply to {what} did not end after {len(lines)} lines / {size} bytes (limit "
                    f"{self.limits.reply_lines} lines, {self.limits.reply_bytes} bytes)"
                )
        self._partial = []
        reply = Reply(int(code), tuple(lines), command)
        self.replies.append(reply)
        return reply

    def _read_line(self, deadline: float, what: str) -> bytes:
        while True:
            end = self._buffer.find(b"\n")
            if end >= 0:
                raw = bytes(self._buffer[: end + 1])
                del self._buffer[: end + 1]
                if not raw.endswith(b"\r\n"):
                    self.transcript.record(RECEIVED, raw.decode("utf-8", "backslashreplace"), tls=self.tls_info is not None)
                    raise self._violation(f"reply to {what} ended a line with a bare LF, not CRLF (RFC 5321 2.3.8)")
                if end - 1 > self.limits.line_bytes:
                    raise self._violation(f"reply line to {what} is {end - 1} bytes long (limit {self.limits.line_bytes})")
                return raw[:-2]
            if self._buffer and not _REPLY_START.fullmatch(self._buffer[:4]):
                start = bytes(self._buffer[:200])  # no need to wait for the end of a line that cannot be a reply
                shown = start.decode("utf-8", "backslashreplace") + ("…" if len(self._buffer) > 200 else "")
                self.transcript.record(RECEIVED, shown, tls=self.tls_info is not None)
                raise self._violation(f"not an SMTP reply to {what}: {_show(start)}{_foreign(start)}")
            if len(self._buffer) > self.limits.line_bytes:
                raise self._violation(
                    f"reply line to {what} is longer than {self.limits.line_bytes} bytes and still has no end: "
                    f"{_show(bytes(self._buffer[:60]))}…"
                )
            if not self._recv(deadline, what):
                raise self._lost(f"connection closed by the server while reading the reply to {what}{self._so_far()}")

    def _recv(self, deadline: float, what: str) -> bool:
        sock = self._require_socket(what)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise self._timeout(what, self._progress())
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(65536)
        except (socket.timeout, TimeoutError):
            raise self._timeout(what, self._progress()) from None
        except ConnectionResetError:
            raise self._lost(f"connection reset while reading the reply to {what}{self._so_far()}") from None
        except OSError as error:
            raise self._lost(f"connection lost while reading the reply to {what}: {error}{self._so_far()}") from None
        self._buffer += chunk
        return bool(chunk)

    def _handshake(self) -> None:
        import ssl

        from .tls import TLSSettings, describe, explain, make_context

        settings = self.tls_settings or TLSSettings()
        name = settings.server_name or self.host
        sock = self._require_socket("TLS handshake")
        self.transcript.record(EVENT, f"TLS handshake, verifying the certificate for {name!r}"
                               if settings.verify else "TLS handshake, certificate NOT verified", tls=False)
        deadline = self._reply_deadline()
        after = "" if self.greeting is None else " after its 220 to STARTTLS"  # implicit TLS comes before it
        wrapped: ssl.SSLSocket | None = None
        try:
            wrapped = make_context(settings).wrap_socket(sock, server_hostname=name, do_handshake_on_connect=False)
            self._sock = wrapped
            wrapped.settimeout(max(deadline - time.monotonic(), 0.001))
            wrapped.do_handshake()
        except (socket.timeout, TimeoutError):
            raise self._tls_failed(
                f"TLS handshake with {self.address}{after} did not finish within {self._limit_name(deadline)}"
            ) from None
        except ssl.SSLError as error:
            raise self._tls_failed(explain(error, name, wrapped)) from None
        except OSError as error:
            raise self._tls_failed(
                f"connection lost during the TLS handshake{after}: {error.strerror or error}"
            ) from None
        self.tls_info = describe(wrapped, settings.verify)
        self.transcript.record(EVENT, self.tls_info.summary(), tls=True)

    # -- helpers ---------------------------------------------------------------------

    def _reply_deadline(self) -> float:
        deadline = time.monotonic() + self.timeout
        return deadline if self._deadline is None else min(deadline, self._deadline)

    def _require_socket(self, what: str) -> socket.socket:
        if self._sock is None:
            state = "closed" if self._closed else "not connected"
            raise SessionClosed(f"cannot send {what}: the session to {self.address} is {state}")
        return self._sock

    def _progress(self) -> str:
        """What arrived of the reply being waited for: the end of a timeout message."""
        got = []
        if self._partial:
            got.append(f"{len(self._partial)} line{'s' if len(self._partial) > 1 else ''} of a multi-line reply")
        if self._buffer:
            got.append(_show(bytes(self._buffer)))
        return f"(received so far: {' and '.join(got)})" if got else "(nothing received)"

    def _so_far(self) -> str:
        """The same for a lost connection, empty when nothing had arrived."""
        return f" {self._progress()}" if self._partial or self._buffer else ""

    def _limit_name(self, deadline: float) -> str:
        """Which limit a wait that ended at *deadline* ran into: the reply timeout or the session deadline."""
        if self._deadline is not None and deadline >= self._deadline - 0.001:
            return f"the session deadline of {self.deadline_seconds:g} s"
        return f"{self.timeout:g} s"

    def _timeout(self, what: str, detail: str) -> ReplyTimeout:
        overall = self._deadline is not None and time.monotonic() >= self._deadline - 0.001
        limit = f"the session deadline of {self.deadline_seconds:g} s" if overall else f"{self.timeout:g} s"
        return self._fail(ReplyTimeout, f"no complete reply to {what} within {limit} {detail}")

    def _lost(self, message: str) -> ConnectionLost:
        last = self.last_reply
        if last is not None and last.code == 421:  # RFC 5321 4.2: the server said it was closing
            message += f" (it had announced it was closing: {last.wire_lines()[0]})"
        return self._fail(ConnectionLost, message)

    def _tls_failed(self, message: str) -> TLSFailed:
        return self._fail(TLSFailed, message)

    def _violation(self, message: str) -> ProtocolViolation:
        return self._fail(ProtocolViolation, message)

    def _fail_connect(self, message: str) -> ConnectFailed:
        return self._fail(ConnectFailed, message)

    def _fail(self, error: type[_E], message: str) -> _E:
        """Record why the session failed, and drop it: after a failure the conversation is out of step."""
        self.transcript.record(EVENT, message, tls=self.tls_info is not None and error is not TLSFailed)
        self._drop()
        return error(message)

    def _drop(self) -> None:
        self._closed = True
        if self._sock is not None:
            sock, self._sock = self._sock, None
            sock.close()


def _angle(address: str) -> str:
    return address if address.startswith("<") else f"<{address}>"


def _b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def _foreign(raw: bytes) -> str:
    """A guess at what else answered, for the end of a protocol-violation message."""
    return next((f" ({guess})" for prefix, guess in _FOREIGN if raw.startswith(prefix)), "")


def _show(raw: bytes, limit: int = 80) -> str:
    shown = repr(raw[:limit])
    return shown + ("…" if len(raw) > limit else "")

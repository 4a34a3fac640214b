"""One TCP connection to a mail server: socket, TLS upgrade, bounded waits, and the record of every byte.

The session above it thinks in commands; this module thinks in bytes and
deadlines. Every wait ends at a deadline, every failure becomes an
:class:`~pytest_smtpcheck.errors.SMTPCheckError` that says what happened, and
is written to the transcript before the connection is dropped: after a failure
the conversation is out of step and must not go on.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from ..addresses import joined
from ..errors import (
    ConnectFailed,
    ConnectionLost,
    ProtocolViolation,
    ReplyTimeout,
    SessionClosed,
    SessionMisuse,
    SMTPCheckError,
    TLSFailed,
    hide_for_server_faults,
)
from .reader import Limits, ReplyReader, ReplySyntaxError, show_bytes
from .reply import Reply
from .transcript import EVENT, RECEIVED, SENT, Transcript

if TYPE_CHECKING:  # ssl is imported only when a session starts TLS
    from .cap import Slot
    from .tls import TLSInfo, TLSSettings

__all__ = ["Connection", "Deadline"]
__tracebackhide__ = hide_for_server_faults  # server faults are reported at the test's line

_E = TypeVar("_E", bound=SMTPCheckError)


# How long a closing client waits for the server to hang up too. Until it has, the server counts the connection as
# open: giving up the cap's place earlier would let the next session in while the server still sees this one.
CLOSE_GRACE = 1.0
_DRAIN_LIMIT = 64 * 1024  # bytes read and thrown away meanwhile, at the most


def _await_server_close(sock: socket.socket) -> None:
    """Say we are done writing, then read until the server closes, CLOSE_GRACE or _DRAIN_LIMIT runs out."""
    end = time.monotonic() + CLOSE_GRACE
    drained = 0
    try:
        sock.shutdown(socket.SHUT_WR)  # on a TLS socket this skips close_notify: the bytes left are discarded anyway
        while drained < _DRAIN_LIMIT and (left := end - time.monotonic()) > 0:
            sock.settimeout(left)
            chunk = sock.recv(4096)
            if not chunk:
                return
            drained += len(chunk)
    except OSError:  # reset, timeout or already closed: either way there is nothing more to wait for
        return


@dataclass(frozen=True)
class Deadline:
    """When a wait must end, and how to name that limit in a message ("3 s", "the session deadline of 30 s")."""

    at: float
    name: str

    @property
    def remaining(self) -> float:
        return self.at - time.monotonic()


class Connection:
    """A socket to *host*:*port*; closed for good after :meth:`close` or any failure."""

    def __init__(self, host: str, port: int, transcript: Transcript, limits: Limits = Limits()) -> None:  # noqa: B008 - frozen
        self.host = host
        self.port = port
        self.transcript = transcript
        self.reader = ReplyReader(limits)
        self.tls_info: TLSInfo | None = None
        self.last_reply: Reply | None = None
        self._sock: socket.socket | None = None
        self._slot: Slot | None = None
        self._used = False

    @property
    def address(self) -> str:
        return joined(self.host, self.port)

    @property
    def is_open(self) -> bool:
        return self._sock is not None

    @property
    def is_closed(self) -> bool:
        """Opened once and closed since: a session is not reopened."""
        return self._used and self._sock is None

    @property
    def tls(self) -> bool:
        return self.tls_info is not None

    # -- opening and closing ----------------------------------------------------------

    def open(
        self, timeout: float, *, slot: Slot | None = None, preamble: Callable[[str, int], bytes] | None = None
    ) -> None:
        """Connect within *timeout* seconds, holding *slot* (the per-target cap) until the connection closes.

        *preamble* makes, from the server's address and port, bytes sent before anything
        else (a PROXY protocol header).
        """
        if self._used:
            raise SessionClosed(f"session to {self.address} was already opened; use a new session")
        self._used = True
        self._slot = slot
        try:
            sock = socket.create_connection((self.host, self.port), timeout=timeout)
        except socket.gaierror as error:
            raise self.fail(ConnectFailed, f"cannot resolve {self.host!r}: {error.strerror}") from None
        except ConnectionRefusedError:
            raise self.fail(
                ConnectFailed, f"connection to {self.address} refused (nothing listening on that port?)"
            ) from None
        except ConnectionResetError:  # accepted, then reset before connect() returned (seen on a loaded host)
            raise self.fail(ConnectionLost, "connection reset while reading the reply to the greeting") from None
        except TimeoutError:
            raise self.fail(
                ConnectFailed, f"no TCP connection to {self.address} within {timeout:g} s (host down or port filtered?)"
            ) from None
        except OSError as error:
            raise self.fail(ConnectFailed, f"cannot connect to {self.address}: {error.strerror or error}") from None
        self._sock = sock
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            local, peer = sock.getsockname(), sock.getpeername()
        except OSError:  # reset between connect() and here: getpeername() fails with ENOTCONN
            raise self.fail(ConnectionLost, "connection reset while reading the reply to the greeting") from None
        self.transcript.address = peer[0]
        self.transcript.record(EVENT, f"connected to {self.address} ({peer[0]}) from {local[0]}:{local[1]}", tls=False)
        if preamble is not None:
            header = preamble(peer[0], peer[1])
            self.transcript.record(EVENT, f"PROXY protocol header sent: {header[:107]!r}", tls=False)
            self.send_raw(header, "the PROXY protocol header", Deadline(time.monotonic() + timeout, f"{timeout:g} s"))

    def close(self, why: str = "connection closed by client") -> None:
        if self._sock is not None:
            self.transcript.record(EVENT, why, tls=self.tls)
            self._drop()

    def fail(self, error: type[_E], message: str) -> _E:
        """Record why the session failed, and drop it: after a failure the conversation is out of step."""
        last = self.last_reply
        if error is ConnectionLost and last is not None and last.code == 421:  # RFC 5321 4.2: it said it would close
            message += f" (it had announced it was closing: {last.wire_lines()[0]})"
        self.transcript.record(EVENT, message, tls=self.tls and error is not TLSFailed)
        self._drop(linger=error is not ReplyTimeout)  # a server that stopped answering will not hang up promptly
        return error(message)

    def _drop(self, linger: bool = True) -> None:
        if self._sock is not None:
            sock, self._sock = self._sock, None
            if linger:
                _await_server_close(sock)
            sock.close()
        if self._slot is not None:
            slot, self._slot = self._slot, None
            slot.release()

    # -- sending ----------------------------------------------------------------------

    def send_lines(self, lines: list[tuple[str, str]], deadline: Deadline) -> None:
        """Send command lines in one write; each pair is (line sent, line recorded)."""
        for line, _ in lines:
            if "\r" in line or "\n" in line:
                raise SessionMisuse(f"a command line cannot contain CR or LF: {line!r}; send lines one by one")
        self._refuse_unsolicited(lines[0][1])
        for _, shown in lines:
            self.transcript.record(SENT, shown, tls=self.tls)
        payload = b"".join(line.encode("utf-8") + b"\r\n" for line, _ in lines)
        self.send_raw(payload, lines[0][1], deadline)

    def send_stream(self, chunks: Iterable[bytes], what: str, deadline: Deadline) -> None:
        """Send chunks as they are produced (message bodies), never holding more than one in memory."""
        for chunk in chunks:
            self.send_raw(chunk, what, deadline)

    def send_raw(self, payload: bytes, what: str, deadline: Deadline) -> None:
        sock = self._require_socket(what)
        if deadline.remaining <= 0:
            raise self.fail(ReplyTimeout, f"no complete reply to {what} within {deadline.name} before it could be sent")
        sock.settimeout(deadline.remaining)
        try:
            sock.sendall(payload)
        except TimeoutError:
            raise self.fail(
                ReplyTimeout,
                f"no complete reply to {what} within {deadline.name} while sending (the server stopped reading)",
            ) from None
        except OSError as error:
            raise self.fail(
                ConnectionLost, f"connection lost while sending {what}: {error.strerror or error}"
            ) from None

    def _refuse_unsolicited(self, before: str) -> None:
        """Whatever the server sent since its last reply would be taken for the reply to the next command,
        and shift every verdict after it by one. An unsolicited 421 is allowed (RFC 5321 3.8): it answers
        the next command."""
        self._collect_waiting()
        pending = self.reader.pending
        if pending and not pending.startswith(b"421"):
            self.transcript.record(RECEIVED, pending.decode("utf-8", "backslashreplace"), tls=self.tls)
            raise self.fail(
                ProtocolViolation, f"the server sent {show_bytes(pending)} that no command asked for, before {before}"
            )

    def _collect_waiting(self) -> None:
        """Take in, without waiting, whatever the server sent since its last reply."""
        if self._sock is None or not self.reader.idle:
            return
        try:
            self._sock.setblocking(False)
            self.reader.feed(self._sock.recv(65536))
        except OSError:  # nothing waiting (or a dead socket, which the send reports properly)
            pass

    # -- receiving --------------------------------------------------------------------

    def read_reply(self, command: str | None, what: str, deadline: Deadline) -> Reply:
        """The next complete reply; *what* names what it answers in messages."""
        while True:
            try:
                reply = self.reader.next_reply(command, what)
            except ReplySyntaxError as error:
                self._record_lines()
                raise self.fail(ProtocolViolation, str(error)) from None
            self._record_lines()
            if reply is not None:
                self.last_reply = reply
                return reply
            if not self._receive(deadline, what):
                raise self.fail(
                    ConnectionLost,
                    f"connection closed by the server while reading the reply to {what}{self._so_far()}",
                )

    def wait_for_close(self, deadline: Deadline) -> str | None:
        """Wait for the server to hang up; None if it did, else what it did instead."""
        while self._sock is not None:
            if self.reader.pending:
                return f"the server sent more instead of closing: {show_bytes(self.reader.pending)}"
            try:
                if not self._receive(deadline, "waiting for the server to close the connection"):
                    self.close("connection closed by server")
                    return None
            except ConnectionLost:
                return None
            except ReplyTimeout:
                return f"the server kept the connection open for {deadline.name}"
        return None

    def _record_lines(self) -> None:
        for line in self.reader.take_lines():
            self.transcript.record(RECEIVED, line, tls=self.tls)

    def _receive(self, deadline: Deadline, what: str) -> bool:
        sock = self._require_socket(what)
        if deadline.remaining <= 0:
            raise self.fail(
                ReplyTimeout, f"no complete reply to {what} within {deadline.name} {self.reader.progress()}"
            )
        sock.settimeout(deadline.remaining)
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            raise self.fail(
                ReplyTimeout, f"no complete reply to {what} within {deadline.name} {self.reader.progress()}"
            ) from None
        except ConnectionResetError:
            raise self.fail(
                ConnectionLost, f"connection reset while reading the reply to {what}{self._so_far()}"
            ) from None
        except OSError as error:
            raise self.fail(
                ConnectionLost, f"connection lost while reading the reply to {what}: {error}{self._so_far()}"
            ) from None
        self.reader.feed(chunk)
        return bool(chunk)

    def _so_far(self) -> str:
        return "" if self.reader.idle else f" {self.reader.progress()}"

    # -- TLS --------------------------------------------------------------------------

    def start_tls(self, settings: TLSSettings, deadline: Deadline, *, after: str = "") -> TLSInfo:
        """Handshake on the open socket; *after* says when ("after its 220 to STARTTLS") for messages."""
        import ssl

        from .tls import describe, explain, make_context

        if not self.reader.idle:
            raise self.fail(
                ProtocolViolation,
                "the server sent data after its 220 to STARTTLS, before TLS began "
                "(a STARTTLS command-injection flaw, CVE-2011-0411 class)",
            )
        name = settings.server_name or self.host
        sock = self._require_socket("TLS handshake")
        self.transcript.record(EVENT, f"TLS handshake, verifying the certificate for {name!r}"
                               if settings.verify else "TLS handshake, certificate NOT verified", tls=False)
        wrapped: ssl.SSLSocket | None = None
        try:
            wrapped = make_context(settings).wrap_socket(sock, server_hostname=name, do_handshake_on_connect=False)
            self._sock = wrapped
            wrapped.settimeout(max(deadline.remaining, 0.001))
            wrapped.do_handshake()
        except TimeoutError:
            raise self.fail(
                TLSFailed, f"TLS handshake with {self.address}{after} did not finish within {deadline.name}"
            ) from None
        except ssl.SSLError as error:
            raise self.fail(TLSFailed, explain(error, name, wrapped)) from None
        except OSError as error:
            raise self.fail(
                TLSFailed, f"connection lost during the TLS handshake{after}: {error.strerror or error}"
            ) from None
        self.tls_info = describe(wrapped, settings.verify)
        self.transcript.record(EVENT, self.tls_info.summary(), tls=True)
        return self.tls_info

    def peer_chain(self) -> list[bytes]:
        """The certificates the server presented (DER, leaf first); empty before TLS."""
        import ssl

        from .tls import peer_chain

        return peer_chain(self._sock) if isinstance(self._sock, ssl.SSLSocket) else []

    def _require_socket(self, what: str) -> socket.socket:
        if self._sock is None:
            state = "closed" if self._used else "not connected"
            raise SessionClosed(f"cannot send {what}: the session to {self.address} is {state}")
        return self._sock

"""A scripted TCP server on loopback: each connection runs a Python function that plays the server's part.

Tests use it to make a server misbehave byte by byte: never greet, reset mid-reply,
drip, speak HTTP, stall after STARTTLS, present bad certificates. Bounded: it
serves a limited number of connections for a limited time, every socket has a
timeout, and stop() wakes and joins every thread. Loopback only.

`scenarios()` is the catalogue of faults that tests/test_faults.py and
bench/faults.py both run.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import ClassVar

BEHAVIOURS = ("serve", "refuse", "drop")
THREAD_PREFIX = "faultserver-"


class Peer:
    """The server side of one connection, as a script sees it."""

    def __init__(self, sock: socket.socket, stopping: threading.Event | None = None,
                 track: Callable[[socket.socket], None] | None = None) -> None:
        self.sock: socket.socket = sock
        self.sock.settimeout(10)
        self._buffer = b""
        self._stopping = stopping or threading.Event()
        self._track = track or (lambda sock: None)
        self.received: list[str] = []
        self.wire = bytearray()  # every byte the client sent, as it came (TLS: after decryption)

    def send(self, data: bytes | str) -> None:
        self.sock.sendall(data.encode() if isinstance(data, str) else data)

    def reply(self, *lines: str) -> None:
        """Send reply lines, CRLF-terminated."""
        self.send("".join(line + "\r\n" for line in lines))

    def sleep(self, seconds: float) -> None:
        """Pause the script; raises (ending it quietly) as soon as the server stops."""
        if self._stopping.wait(seconds):
            raise ConnectionAbortedError("fault server stopping")

    def drip(self, data: bytes | str, interval: float) -> None:
        """Send *data* one byte at a time, *interval* seconds apart."""
        for byte in data.encode() if isinstance(data, str) else data:
            self.send(bytes([byte]))
            self.sleep(interval)

    def readline(self, timeout: float = 10) -> str | None:
        """One line from the client (without CRLF), or None when it closed or went quiet."""
        while b"\n" not in self._buffer:
            try:  # the socket may already be closed by stop(): that is a hang-up too
                self.sock.settimeout(timeout)
                chunk = self.sock.recv(65536)
            except (OSError, ValueError):
                return None
            if not chunk:
                return None
            self.wire += chunk
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        text = line.rstrip(b"\r").decode("utf-8", "replace")
        self.received.append(text)
        return text

    def expect(self, prefix: str) -> str | None:
        line = self.readline()
        if line is None or not line.upper().startswith(prefix.upper()):
            raise AssertionError(f"script expected {prefix!r} from the client, got {line!r}")
        return line

    def wait_closed(self, timeout: float = 10) -> None:
        """Wait until the client hangs up (or the timeout passes, or the server stops)."""
        while self.readline(timeout) is not None:
            pass

    def reset(self) -> None:
        """Close with RST instead of FIN."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        self.sock.close()

    def starttls(self, context: ssl.SSLContext) -> None:
        self.sock.settimeout(5)
        self.sock = context.wrap_socket(self.sock, server_side=True)
        self._track(self.sock)
        self._buffer = b""


def answer_as_an_mx(peer: Peer, rcpt_reply: Callable[[str], str], *, delay: float = 0.0) -> None:
    """A plain MX's side of a session: greet, answer each RCPT with *rcpt_reply(line)*, take a DATA body,
    221 to QUIT, 250 to anything else; each answer after *delay* seconds."""
    time.sleep(delay)
    peer.reply("220 mx.test ESMTP")
    while (line := peer.readline()) is not None:
        time.sleep(delay)
        verb = line.split(" ")[0].upper()
        if verb == "EHLO":
            peer.reply("250-mx.test", "250-PIPELINING", "250 8BITMIME")
        elif verb == "RCPT":
            peer.reply(rcpt_reply(line))
        elif verb == "DATA":
            peer.reply("354 go ahead")
            while peer.readline() not in (".", None):
                pass
            peer.reply("250 2.0.0 queued")
        elif verb == "QUIT":
            peer.reply("221 2.0.0 bye")
            return
        else:
            peer.reply("250 2.0.0 ok")


# What a hostile server puts in every reply: ESC sequences that clear the screen, set the window title, make a
# hyperlink, move the cursor up and erase a line (to rewrite an earlier line as "PASSED"); BEL, NUL, backspace,
# the C1 CSI and a right-to-left override. Shown raw, each of them acts on the terminal that shows it.
ESCAPES = ("\x1b[2J\x1b[H", "\x1b]0;owned\x07", "\x1b]8;;http://evil.invalid/\x1b\\click\x1b]8;;\x1b\\",
           "\x1b[1A\x1b[2KPASSED", "\x00", "\x08\x08", "\u202etxt.exe", "\u009b31m")
HOSTILE = " ".join(ESCAPES)


def hostile_mx(peer: Peer, *, starttls: ssl.SSLContext | str | None = None, echo: bool = False) -> None:
    """An MX whose every reply line carries :data:`HOSTILE`; it refuses relaying (550 5.7.1) and takes AUTH.

    With *starttls* it offers STARTTLS: a context starts TLS, a string is the reply that refuses it (`454 4.7.0 ...`).
    With *echo* it repeats the AUTH or NOOP line it got in its reply (a server that echoes credentials). What the
    client sent is in ``peer.wire``.
    """
    def say(code: str, text: str, *more: str) -> None:
        lines = [text, *more]
        peer.send("".join(f"{code}{' ' if i == len(lines) - 1 else '-'}{line} {HOSTILE}\r\n"
                          for i, line in enumerate(lines)).encode("utf-8"))

    say("220", "mx.hostile.test ESMTP")
    while (line := peer.readline()) is not None:
        verb = line.split(" ")[0].upper()
        if verb == "EHLO":
            say("250", "mx.hostile.test", "PIPELINING", *(["STARTTLS"] if starttls else []), "AUTH PLAIN LOGIN",
                "8BITMIME")
        elif verb == "STARTTLS" and isinstance(starttls, str):
            say(*starttls.split(" ", 1))
        elif verb == "STARTTLS" and starttls is not None:
            say("220", "2.0.0 go ahead")
            peer.starttls(starttls)
        elif verb == "AUTH":
            say("235", f"2.7.0 ok {line if echo else ''}")
        elif verb == "RCPT" and "hostile.test" not in line:
            say("550", "5.7.1 relaying denied")
        elif verb == "DATA":
            say("354", "go ahead")
            while peer.readline() not in (".", None):
                pass
            say("250", "2.0.0 queued")
        elif verb == "QUIT":
            say("221", "2.0.0 bye")
            return
        elif verb == "NOOP":
            say("250", f"2.0.0 ok {line if echo else ''}")
        elif verb in ("HELO", "MAIL", "RCPT", "RSET"):
            say("250", "2.0.0 ok")
        else:
            say("502", "5.5.2 not implemented")


class FaultServer:
    """Serves each connection with *script*; at most *max_connections*, for at most *lifetime* seconds.

    *behaviour* ``refuse`` binds a port without listening (every connect is refused);
    ``drop`` listens with a full backlog and never accepts, so SYNs are dropped as
    by a firewall and connects time out.
    """

    created: ClassVar[list[FaultServer]] = []  # every server, for the leak check in tests/test_faults.py

    def __init__(
        self,
        script: Callable[[Peer], None] | None = None,
        *,
        implicit_tls: ssl.SSLContext | None = None,
        max_connections: int = 10,
        lifetime: float = 60,
        behaviour: str = "serve",
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        if behaviour not in BEHAVIOURS:
            raise ValueError(f"behaviour must be one of {BEHAVIOURS}, not {behaviour!r}")
        self.script = script
        self.implicit_tls = implicit_tls
        self.max_connections = max_connections
        self.lifetime = lifetime
        self.behaviour = behaviour
        self.peers: list[Peer] = []
        self.errors: list[BaseException] = []
        self.connections = 0
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._listener = self._track(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
        self.host = host  # a loopback address: a second MX on 127.0.0.2 at the first one's port
        self._listener.bind((host, port))
        self.port = self._listener.getsockname()[1]
        if behaviour == "serve":
            self._listener.listen(16)
            self._listener.settimeout(0.1)
        elif behaviour == "drop":
            self._fill_backlog()
        self._acceptor = threading.Thread(target=self._accept, name=f"{THREAD_PREFIX}{self.port}", daemon=True)
        FaultServer.created.append(self)

    def __enter__(self) -> FaultServer:
        if self.behaviour == "serve":
            self._acceptor.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def target(self) -> str:
        return f"{self.host}:{self.port}"

    def stop(self) -> None:
        """Close every socket (shutdown first, which wakes a thread blocked on it) and join every thread."""
        self._stopping.set()
        self._close_all()
        for thread in [self._acceptor, *self._threads]:
            if thread.is_alive():
                thread.join(timeout=5)

    def _close_all(self) -> None:
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except (OSError, ValueError):
                pass
            try:
                sock.close()
            except OSError:
                pass

    def leftovers(self) -> list[str]:
        """Threads still running and sockets still open; empty after stop()."""
        with self._lock:
            found = [f"{self.target}: thread {t.name} still running" for t in [self._acceptor, *self._threads]
                     if t.is_alive()]
            found += [f"{self.target}: socket {s!r} still open" for s in self._sockets if s.fileno() != -1]
        return found

    def _track(self, sock: socket.socket) -> socket.socket:
        with self._lock:
            self._sockets.append(sock)
        return sock

    def _fill_backlog(self) -> None:
        """Listen with backlog 0 and queue connections nobody accepts: later SYNs are dropped (Linux)."""
        self._listener.listen(0)
        for _ in range(2):
            filler = self._track(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            filler.setblocking(False)
            try:
                filler.connect((self.host, self.port))
            except BlockingIOError:
                pass
        time.sleep(0.05)

    def _accept(self) -> None:
        """Accept until stopped or full; at the end of the lifetime hang up on everyone (self-stopping)."""
        deadline = time.monotonic() + self.lifetime
        while not self._stopping.is_set() and time.monotonic() < deadline:
            if self.connections >= self.max_connections:
                self._listener.close()  # later clients are refused rather than left waiting for a greeting
                break
            try:
                sock, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                break
            self._track(sock)
            self.connections += 1
            thread = threading.Thread(target=self._serve, args=(sock,), daemon=True,
                                      name=f"{THREAD_PREFIX}{self.port}-{self.connections}")
            self._threads.append(thread)
            thread.start()
        if not self._stopping.wait(max(0.0, deadline - time.monotonic())):
            self._close_all()

    def _serve(self, sock: socket.socket) -> None:
        peer = None
        try:
            if self.implicit_tls is not None:
                sock.settimeout(5)
                sock = self._track(self.implicit_tls.wrap_socket(sock, server_side=True))
            peer = Peer(sock, self._stopping, self._track)
            self.peers.append(peer)
            if self.script is not None:
                self.script(peer)
        except (OSError, ssl.SSLError, ValueError):
            pass  # the client went away or refused our certificate: that is what many fault tests provoke
        except BaseException as error:  # noqa: BLE001 - surfaced to the test through .errors
            self.errors.append(error)
        finally:
            for each in (sock, peer.sock if peer is not None else sock):
                try:
                    each.close()
                except OSError:
                    pass


def leftovers() -> list[str]:
    """Across every fault server made in this process: threads still running, sockets still open."""
    found = [item for server in FaultServer.created for item in server.leftovers()]
    known = {t.name for server in FaultServer.created for t in [server._acceptor, *server._threads]}
    found += [f"thread {t.name} still running" for t in threading.enumerate()
              if t.name.startswith(THREAD_PREFIX) and t.name not in known]
    return found


# -- certificates ------------------------------------------------------------------------------------

UTC = timezone.utc
EXPIRED = (datetime(2020, 1, 1, tzinfo=UTC), datetime(2021, 1, 2, 3, 4, 5, tzinfo=UTC))  # notBefore, notAfter
NOT_YET_VALID = (datetime(2099, 1, 2, 3, 4, 5, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))
WRONG_NAMES = ("mail.example.test", "mx.example.test")
CERTIFICATE_KINDS = ("valid", "expired", "not-yet-valid", "wrong-name", "self-signed", "unknown-ca")


class Certificates:
    """A test CA (its PEM in *directory*, for --smtp-ca) and server contexts with good and bad certificates."""

    def __init__(self, directory: Path) -> None:
        import trustme  # only TLS scenarios need it

        self.directory = Path(directory)
        self.ca = trustme.CA(organization_name="smtpcheck fault CA")
        self.ca_file = str(self.directory / "fault-ca.pem")
        self.ca.cert_pem.write_to_path(self.ca_file)
        self._other_ca = trustme.CA(organization_name="some other CA")

    def context(self, kind: str) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        if kind == "self-signed":
            context.load_cert_chain(self._self_signed())
            return context
        issuer, names, dates = self.ca, ("127.0.0.1",), (None, None)
        if kind == "expired":
            dates = EXPIRED
        elif kind == "not-yet-valid":
            dates = NOT_YET_VALID
        elif kind == "wrong-name":
            names = WRONG_NAMES
        elif kind == "unknown-ca":
            issuer = self._other_ca
        elif kind != "valid":
            raise ValueError(f"certificate kind must be one of {CERTIFICATE_KINDS}, not {kind!r}")
        leaf = issuer.issue_cert(*names, common_name=f"mx.{kind}.test", not_before=dates[0], not_after=dates[1])
        leaf.configure_cert(context)
        return context

    def _self_signed(self) -> str:
        import ipaddress

        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mx.self-signed.test")])
        now = datetime.now(UTC)
        cert = (
            x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(key, hashes.SHA256())
        )
        path = self.directory / "self-signed.pem"
        path.write_bytes(cert.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        return str(path)


# -- the fault catalogue --------------------------------------------------------------------------------

GREETING = "220 mx.fault.test ESMTP"
LONG_LINE = 1 << 20  # bytes of text in the long-line greeting
Fault = Callable[[Peer], None]


def mx(
    faults: dict[str, Fault] | None = None,
    *,
    starttls: ssl.SSLContext | None = None,
    greet: Fault = lambda peer: peer.reply(GREETING),
) -> Callable[[Peer], None]:
    """A well-behaved MX, except that it plays ``faults[VERB]`` instead of answering VERB, and stops there
    (``CONNECT``: instead of the greeting; ``BODY``: after the message, instead of its reply)."""
    faults = faults or {}

    def script(peer: Peer) -> None:
        if "CONNECT" in faults:
            return faults["CONNECT"](peer)
        greet(peer)
        while (line := peer.readline()) is not None:
            verb = line.split(" ")[0].upper()
            if verb in faults:
                return faults[verb](peer)
            if verb == "EHLO":
                peer.reply("250-mx.fault.test", "250-PIPELINING", *(["250-STARTTLS"] if starttls else []),
                           "250 8BITMIME")
            elif verb == "STARTTLS" and starttls is not None:
                peer.reply("220 2.0.0 ready to start TLS")
                peer.starttls(starttls)
            elif verb == "DATA":
                peer.reply("354 end data with <CR><LF>.<CR><LF>")
                while peer.readline() not in (".", None):
                    pass
                if "BODY" in faults:
                    return faults["BODY"](peer)
                peer.reply("250 2.0.0 queued as FAULT1")
            elif verb == "QUIT":
                return peer.reply("221 2.0.0 bye")
            elif verb in ("HELO", "MAIL", "RCPT", "RSET", "NOOP"):
                peer.reply("250 2.0.0 ok")
            else:
                peer.reply("502 5.5.2 not implemented")
        return None

    return script


def silent(peer: Peer) -> None:
    peer.wait_closed()


def then_reset(data: bytes) -> Fault:
    """Send *data*, give the client time to read it, then reset the connection."""

    def fault(peer: Peer) -> None:
        peer.send(data)
        peer.sleep(0.2)
        peer.reset()

    return fault


def then_silent(data: bytes) -> Fault:
    def fault(peer: Peer) -> None:
        peer.send(data)
        peer.wait_closed()

    return fault


def endless(peer: Peer) -> None:
    """A multi-line reply that never ends (until the client hangs up: a bounded number of lines)."""
    batch = b"250-and more\r\n" * 200
    for _ in range(5000):  # 1,000,000 lines at most
        peer.send(batch)


def drip(data: str, interval: float, then: Fault | None = None) -> Fault:
    def fault(peer: Peer) -> None:
        peer.drip(data + "\r\n", interval)
        if then is not None:
            then(peer)

    return fault


def drip_every_reply(seconds: float) -> Callable[[Peer], None]:
    """Greets and answers every command correctly, each reply dripped byte by byte over *seconds*."""

    def dripped(peer: Peer, line: str) -> None:
        peer.drip(line + "\r\n", seconds / (len(line) + 2))

    def script(peer: Peer) -> None:
        dripped(peer, GREETING)
        while (line := peer.readline()) is not None:
            verb = line.split(" ")[0].upper()
            dripped(peer, "221 2.0.0 bye" if verb == "QUIT" else "250 2.0.0 ok")
            if verb == "QUIT":
                return

    return script


def refuse_tls(peer: Peer) -> None:
    """Answer STARTTLS with 454; the client must then QUIT (not just drop the connection)."""
    peer.reply("454 4.7.0 TLS not available")
    peer.expect("QUIT")
    peer.reply("221 2.0.0 bye")


def stall(peer: Peer) -> None:
    """Answer STARTTLS with 220, then never start the handshake."""
    peer.reply("220 2.0.0 ready to start TLS")
    peer.wait_closed()


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    make: Callable[[], FaultServer]
    tls: str = "none"  # what the client asks for: none, starttls, implicit


def scenarios(certs: Certificates | None = None) -> dict[str, Scenario]:
    """Every fault, by name; TLS scenarios need *certs*."""
    drip_slow, drip_ok = 0.1, 0.025  # seconds per byte of the 25-byte greeting: 2.5 s and 0.625 s
    listed = [
        ("refused", "connection refused (nothing listening)", lambda: FaultServer(behaviour="refuse")),
        ("filtered", "SYN dropped, as by a firewall", lambda: FaultServer(behaviour="drop")),
        ("silent", "accepts, never greets", lambda: FaultServer(mx({"CONNECT": silent}))),
        ("greet-421", "greets with 421 and closes",
         lambda: FaultServer(mx({"CONNECT": lambda p: p.reply("421 4.3.2 mx.fault.test Service not available")}))),
        ("reset-greeting", "resets the connection instead of greeting",
         lambda: FaultServer(mx({"CONNECT": Peer.reset}))),
        ("reset-mid-reply", "resets half-way through the reply to RCPT",
         lambda: FaultServer(mx({"RCPT": then_reset(b"250 2.1.5 Recipi")}))),
        ("reset-mid-multiline", "resets after two lines of the EHLO reply",
         lambda: FaultServer(mx({"EHLO": then_reset(b"250-mx.fault.test\r\n250-PIPELINING\r\n")}))),
        ("reset-after-354", "takes the message after 354, then resets",
         lambda: FaultServer(mx({"BODY": then_reset(b"")}))),
        ("http-banner", "answers like an HTTP server",
         lambda: FaultServer(mx({"CONNECT": then_silent(b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/html\r\n"
                                                        b"Connection: close\r\n\r\n<html>")}))),
        ("binary-garbage", "sends binary garbage, no line end",
         lambda: FaultServer(mx({"CONNECT": then_silent(b"\x00\x8f\xfe\x13\x07garbage\xff\x00")}))),
        ("bare-lf", "ends its greeting with a bare LF",
         lambda: FaultServer(mx({"CONNECT": then_silent(b"220 mx.fault.test\n")}))),
        ("long-line", "greets with a line of 1 MiB",
         lambda: FaultServer(mx({"CONNECT": then_silent(b"220 " + b"x" * LONG_LINE + b"\r\n")}))),
        ("endless-reply", "answers EHLO with a multi-line reply that never ends",
         lambda: FaultServer(mx({"EHLO": endless}))),
        ("drip-too-slow", f"drips the greeting, {drip_slow:g} s a byte ({25 * drip_slow:g} s in all)",
         lambda: FaultServer(mx({"CONNECT": drip(GREETING, drip_slow, silent)}))),
        ("drip-within", f"drips the greeting, {drip_ok:g} s a byte ({25 * drip_ok:g} s in all), then behaves",
         lambda: FaultServer(mx(greet=lambda peer: peer.drip(GREETING + "\r\n", drip_ok)))),
    ]
    found = {name: Scenario(name, description, make) for name, description, make in listed}
    if certs is not None:
        tls = [
            ("starttls-stall", "answers STARTTLS with 220, then no handshake", "starttls",
             lambda: FaultServer(mx({"STARTTLS": stall}, starttls=certs.context("valid")))),
            ("starttls-refused", "answers STARTTLS with 454", "starttls",
             lambda: FaultServer(mx({"STARTTLS": refuse_tls}, starttls=certs.context("valid")))),
            ("tls-plaintext", "answers the TLS handshake with a plain-text greeting", "implicit",
             lambda: FaultServer(mx())),
            ("tls-valid", "valid certificate (the control: passes)", "implicit",
             lambda: FaultServer(mx(), implicit_tls=certs.context("valid"))),
        ]
        tls += [
            (f"cert-{kind}", f"implicit TLS, {kind} certificate", "implicit",
             lambda kind=kind: FaultServer(mx(), implicit_tls=certs.context(kind)))
            for kind in CERTIFICATE_KINDS if kind != "valid"
        ]
        tls.append(("starttls-expired", "STARTTLS, expired certificate", "starttls",
                    lambda: FaultServer(mx(starttls=certs.context("expired")))))
        found.update({name: Scenario(name, description, make, mode) for name, description, mode, make in tls})
    return found

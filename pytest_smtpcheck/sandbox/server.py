"""The sandbox's sockets: three listeners, one thread per connection, each driving the server protocol.

Threads and blocking sockets keep STARTTLS a two-line affair on every Python the
plugin supports; every socket has a timeout and stop() joins every thread. This
module only moves bytes: the protocol (smtp/server) reads them, the handler
(policy.py) decides the replies.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable

from ..smtp.server import AuthCancelled, AuthResponse, Command, Limits, Phase, ServerProtocol
from ..vocabulary import LISTENERS, MASK, mask_auth_line
from .certificates import Certificates
from .policy import ACCOUNT, DOMAIN, EXTENSIONS, HOSTNAME, POLICIES, Handler
from .records import AcceptedMessage, SessionRecord

__all__ = ["Sandbox"]

IDLE_TIMEOUT = 30.0
LIMITS = Limits(message_bytes=0)  # the sandbox keeps no mail: message bytes are counted, never copied
MAX_MESSAGES = 100  # the last ones are kept for tests; older ones are forgotten


class Sandbox:
    """Three listeners (smtp, submission, submissions) on free loopback ports, one thread per connection."""

    hostname = HOSTNAME
    domain = DOMAIN
    username = ACCOUNT.user
    password = ACCOUNT.password
    token = ACCOUNT.token  # the OAuth bearer token XOAUTH2 and OAUTHBEARER accept

    def __init__(self, *, misconfigured: bool = False, host: str = "127.0.0.1") -> None:
        self.policy = POLICIES["misconfigured" if misconfigured else "secure"]
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
        self._certificates: Certificates | None = None

    def __enter__(self) -> Sandbox:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        self._certificates = Certificates.issue(self.hostname)
        self.ca_file = self._certificates.ca_file
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
        if self._certificates is not None:
            self._certificates.remove()
            self._certificates = None

    # -- internals ---------------------------------------------------------------------

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
        """One client, to the end: bytes into the protocol, its events to the handler, the replies out."""
        protocol = ServerProtocol(extensions=EXTENSIONS, limits=LIMITS, tls=listener == "submissions")
        handler = Handler(self.policy, listener, protocol, record, self._keep)
        try:
            sock.settimeout(IDLE_TIMEOUT)
            if protocol.tls:
                sock = self._start_tls(sock, record)
            sock.sendall(protocol.send(handler.greeting()))
            while protocol.phase is not Phase.CLOSED:
                if protocol.phase is Phase.TLS:
                    sock = self._start_tls(sock, record)
                    protocol.tls_established()
                    continue
                event = protocol.next_event()
                if event is None:
                    data = sock.recv(65536)
                    if not data:
                        return
                    protocol.receive(data)
                    continue
                if isinstance(event, Command):
                    record.commands.append(mask_auth_line(event.line))
                elif isinstance(event, (AuthResponse, AuthCancelled)):
                    record.commands.append(MASK)
                sock.sendall(protocol.send(handler.reply_to(event)))
        except OSError:
            pass  # the client went away or spoke garbage (ssl.SSLError included): the next client must not notice
        finally:
            record.closed = True
            with self._lock:
                self._connections.discard(sock)
            sock.close()

    def _start_tls(self, sock: socket.socket, record: SessionRecord) -> socket.socket:
        """The TLS handshake on *sock*; the wrapped socket replaces it in the list stop() closes."""
        assert self._certificates is not None, "start() makes the certificates before any client is served"
        tls = self._certificates.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        with self._lock:
            self._connections.discard(sock)
            self._connections.add(tls)  # before the handshake, so that stop() can interrupt it
        tls.do_handshake()
        record.tls = True
        return tls

    def _keep(self, message: AcceptedMessage) -> None:
        with self._lock:
            self.messages.append(message)
            del self.messages[:-MAX_MESSAGES]

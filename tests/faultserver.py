"""A scripted TCP server on loopback: each connection runs a Python function that plays the server's part.

Tests use it to make a server misbehave byte by byte: never greet, reset mid-reply,
drip, speak HTTP, stall after STARTTLS. Bounded: it serves a limited number of
connections, every socket has a timeout, and stop() joins every thread.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Callable


class Peer:
    """The server side of one connection, as a script sees it."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock: socket.socket = sock
        self.sock.settimeout(10)
        self._buffer = b""
        self.received: list[str] = []

    def send(self, data: bytes | str) -> None:
        self.sock.sendall(data.encode() if isinstance(data, str) else data)

    def reply(self, *lines: str) -> None:
        """Send reply lines, CRLF-terminated."""
        self.send("".join(line + "\r\n" for line in lines))

    def readline(self, timeout: float = 10) -> str | None:
        """One line from the client (without CRLF), or None when it closed or went quiet."""
        self.sock.settimeout(timeout)
        while b"\n" not in self._buffer:
            try:
                chunk = self.sock.recv(65536)
            except (OSError, ValueError):
                return None
            if not chunk:
                return None
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
        """Wait until the client hangs up (or the timeout passes)."""
        while self.readline(timeout) is not None:
            pass

    def reset(self) -> None:
        """Close with RST instead of FIN."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        self.sock.close()

    def starttls(self, context: ssl.SSLContext) -> None:
        self.sock = context.wrap_socket(self.sock, server_side=True)
        self._buffer = b""


class FaultServer:
    """Serves each connection with *script*; at most *max_connections*, for at most *lifetime* seconds."""

    def __init__(
        self,
        script: Callable[[Peer], None],
        *,
        implicit_tls: ssl.SSLContext | None = None,
        max_connections: int = 10,
        lifetime: float = 60,
    ) -> None:
        self.script = script
        self.implicit_tls = implicit_tls
        self.max_connections = max_connections
        self.lifetime = lifetime
        self.peers: list[Peer] = []
        self.errors: list[BaseException] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self.port = self._listener.getsockname()[1]
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._acceptor = threading.Thread(target=self._accept, name=f"faultserver-{self.port}", daemon=True)

    def __enter__(self) -> FaultServer:
        self._acceptor.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        self._stopping.set()
        self._listener.close()
        for peer in self.peers:
            try:
                peer.sock.close()
            except OSError:
                pass
        for thread in [self._acceptor, *self._threads]:
            if thread.is_alive():
                thread.join(timeout=5)

    def _accept(self) -> None:
        deadline = time.monotonic() + self.lifetime
        while not self._stopping.is_set() and time.monotonic() < deadline and len(self.peers) < self.max_connections:
            try:
                sock, _ = self._listener.accept()
            except (socket.timeout, TimeoutError):
                continue
            except OSError:
                return
            if self.implicit_tls is not None:
                try:
                    sock = self.implicit_tls.wrap_socket(sock, server_side=True)
                except (OSError, ssl.SSLError):
                    sock.close()
                    continue
            peer = Peer(sock)
            self.peers.append(peer)
            thread = threading.Thread(target=self._serve, args=(peer,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, peer: Peer) -> None:
        try:
            self.script(peer)
        except (OSError, ssl.SSLError, ValueError):
            pass  # the client went away: that is what many fault tests provoke
        except BaseException as error:  # noqa: BLE001 - surfaced to the test through .errors
            self.errors.append(error)
        finally:
            try:
                peer.sock.close()
            except OSError:
                pass

"""The embedded sandbox's own figures: how fast it answers, so a change to it shows up as a number.

Four loads, each against a fresh sandbox in this process, driven by the standard
library's client (smtplib) or a raw socket, so only the sandbox's code changes
between runs:

1. sessions: connect, EHLO, MAIL, RCPT, DATA (1 kB), QUIT, one after another;
2. round trips: NOOPs over one connection;
3. message data: ten 1 MB messages by DATA (998-byte lines, dot-stuffed) and by one BDAT LAST chunk;
4. STARTTLS + AUTH PLAIN sessions on the submission listener.

Each figure is the median of REPEATS runs, in wall-clock seconds and in CPU seconds
of this process (client and sandbox together; steadier than wall time on a busy
machine). To compare two trees, run it from each:

    python bench/sandbox.py
    PYTHONPATH=/path/to/other/tree python bench/sandbox.py

Loopback only.
"""

from __future__ import annotations

import os
import smtplib
import socket
import ssl
import statistics
import sys
import time
from collections.abc import Callable

from pytest_smtpcheck.sandbox import Sandbox

REPEATS = 5
SESSIONS = 500
NOOPS = 10000
MESSAGES = 10
TLS_SESSIONS = 100
MESSAGE = "Subject: bench\r\n\r\n" + ("." + "x" * 997 + "\r\n") * 1000  # every line dot-stuffed on the wire
SMALL = "Subject: bench\r\n\r\n" + "x" * 1000 + "\r\n"


def median_seconds(run: Callable[[Sandbox], None]) -> tuple[float, float]:
    """Median wall and CPU seconds of *run* against a fresh sandbox."""
    wall, cpu = [], []
    for _ in range(REPEATS):
        with Sandbox() as sandbox:
            started, started_cpu = time.perf_counter(), time.process_time()
            run(sandbox)
            wall.append(time.perf_counter() - started)
            cpu.append(time.process_time() - started_cpu)
    return statistics.median(wall), statistics.median(cpu)


def sessions(sandbox: Sandbox) -> None:
    for _ in range(SESSIONS):
        with smtplib.SMTP(sandbox.host, sandbox.ports["smtp"], timeout=10) as client:
            client.sendmail("bench@example.net", [f"alice@{sandbox.domain}"], SMALL)
    assert len(sandbox.messages) == 100, "a message was refused"  # the sandbox keeps the last 100


def noops(sandbox: Sandbox) -> None:
    with smtplib.SMTP(sandbox.host, sandbox.ports["smtp"], timeout=10) as client:
        for _ in range(NOOPS):
            client.noop()


def data(sandbox: Sandbox) -> None:
    with smtplib.SMTP(sandbox.host, sandbox.ports["smtp"], timeout=10) as client:
        for _ in range(MESSAGES):
            client.sendmail("bench@example.net", [f"alice@{sandbox.domain}"], MESSAGE)
    assert len(sandbox.messages) == MESSAGES, "a message was refused"


def bdat(sandbox: Sandbox) -> None:
    payload = MESSAGE.encode()
    with socket.create_connection((sandbox.host, sandbox.ports["smtp"]), timeout=10) as sock:
        file = sock.makefile("rb")
        file.readline()
        for _ in range(MESSAGES):
            sock.sendall(f"EHLO bench\r\nMAIL FROM:<b@example.net>\r\nRCPT TO:<alice@{sandbox.domain}>\r\n".encode())
            while not file.readline().startswith(b"250 2.1.5"):
                pass
            sock.sendall(f"BDAT {len(payload)} LAST\r\n".encode() + payload)
            assert file.readline().startswith(b"250 2.0.0"), "the BDAT chunk was refused"
        sock.sendall(b"QUIT\r\n")


def tls_auth(sandbox: Sandbox) -> None:
    context = ssl.create_default_context(cafile=sandbox.ca_file)
    for _ in range(TLS_SESSIONS):
        with smtplib.SMTP(sandbox.host, sandbox.ports["submission"], timeout=10) as client:
            client.starttls(context=context)
            client.login(sandbox.username, sandbox.password)


def main() -> None:
    print(f"python {sys.version.split()[0]}; load average at start: "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}; {os.cpu_count()} cores; median of {REPEATS}")
    figures = [
        (f"{SESSIONS} sessions (EHLO MAIL RCPT DATA 1 kB QUIT)", sessions, SESSIONS, "sessions/s"),
        (f"{NOOPS} NOOP round trips, one connection", noops, NOOPS, "round trips/s"),
        (f"{MESSAGES} x 1 MB message by DATA (dot-stuffed lines)", data, MESSAGES, "MB/s"),
        (f"{MESSAGES} x 1 MB message by one BDAT LAST chunk", bdat, MESSAGES, "MB/s"),
        (f"{TLS_SESSIONS} STARTTLS + AUTH PLAIN sessions", tls_auth, TLS_SESSIONS, "sessions/s"),
    ]
    for label, run, count, unit in figures:
        seconds, cpu = median_seconds(run)
        print(f"  {label:52} {seconds:7.3f} s  {count / seconds:9.1f} {unit:14} CPU {cpu:7.3f} s")


if __name__ == "__main__":
    main()

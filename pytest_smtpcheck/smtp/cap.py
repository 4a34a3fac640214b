"""The per-target connection cap: at most N sessions open at once to one host:port, across threads and processes.

Production MX hosts limit connections per client (Postfix's anvil, Exchange's
per-source limit) and count a burst as an attack. The cap holds whatever runs
the sessions: the plugin's run-ahead threads and every pytest-xdist worker
share one directory of slot files, and a slot is an exclusive `flock` on one of
them. The kernel releases a slot when its holder closes it or dies, so a
crashed worker cannot leak one.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Protocol

from ..errors import ConnectFailed, SessionMisuse

__all__ = ["Cap", "Slot"]

_held = threading.local()  # per thread: Counter of target -> slots held, so a thread never waits on itself


def _holdings() -> Counter[str]:
    if not hasattr(_held, "counts"):
        _held.counts = Counter()
    counts: Counter[str] = _held.counts
    return counts


@dataclass
class Slot:
    """One of the cap's places, held from before connect() until the connection closes."""

    target: str
    fd: int
    counts: Counter[str]

    def release(self) -> None:
        if self.fd >= 0:
            fd, self.fd = self.fd, -1
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
            self.counts[self.target] -= 1


class _Directory(Protocol):
    @property
    def path(self) -> str: ...


class Cap:
    """Slots for each target in *directory* (shared by every process of the run), *limit* per target."""

    def __init__(self, directory: _Directory, limit: int) -> None:
        self.directory = directory
        self.limit = limit

    def acquire(self, target: str, *, patience: float) -> Slot:
        """Wait for a free slot to *target*.

        A thread that holds no slot for the target waits as long as it takes: the
        holders are sessions, each bounded by its own timeouts. A thread that
        already holds some (a test with several sessions open) waits at most
        *patience* seconds, since two such tests could otherwise wait for each other.
        """
        counts = _holdings()
        held = counts[target]
        if held >= self.limit:  # the test's doing, not the server's
            raise SessionMisuse(
                f"this test already has {held} session(s) open to {target}, the most --smtp-concurrency={self.limit} "
                f"allows; close one first, or raise --smtp-concurrency"
            )
        prefix = os.path.join(self.directory.path, hashlib.sha256(target.encode()).hexdigest()[:16])
        give_up = time.monotonic() + patience if held else None
        pause = 0.002
        while True:
            for index in range(self.limit):
                fd = os.open(f"{prefix}.{index}", os.O_RDWR | os.O_CREAT, 0o600)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    os.close(fd)
                    continue
                counts[target] += 1
                return Slot(target, fd, counts)
            if give_up is not None and time.monotonic() > give_up:
                raise ConnectFailed(
                    f"waited {patience:g} s for a connection to {target}: this test holds {held} and the rest of "
                    f"the run the other {self.limit - held} that --smtp-concurrency={self.limit} allows"
                )
            time.sleep(pause)
            pause = min(pause * 2, 0.05)

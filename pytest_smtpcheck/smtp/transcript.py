"""The record of one SMTP session: every line sent and received, in order.

Secrets are masked before a line is recorded, so nothing downstream (reports,
JUnit XML, logs, xdist) ever holds them; control characters a server sent are
recorded as visible escapes, so no report can pass them on to a terminal.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from ..printable import printable
from ..vocabulary import MASK, SHORTEST_SECRET

__all__ = ["EVENT", "RECEIVED", "SENT", "Entry", "Transcript"]

SENT = "C"  # client to server
RECEIVED = "S"  # server to client
EVENT = "*"  # connect, TLS established, close, failure


@dataclass(frozen=True)
class Entry:
    direction: str
    text: str
    at: float  # seconds since the session started
    tls: bool


@dataclass
class Transcript:
    """Lines of one session; `mismatch` is the index of the entry a failed expectation points at."""

    target: str = ""
    address: str = ""  # the address actually connected to, once known
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    started: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))
    entries: list[Entry] = field(default_factory=list)
    mismatch: int | None = None
    listener: str = ""  # the target's listener it was opened on (smtp, submission, ...), for reports
    _secrets: list[str] = field(default_factory=list, repr=False)
    _t0: float = field(default_factory=time.monotonic, repr=False)

    def add_secret(self, *values: str) -> None:
        """Mask these values (and nothing shorter than SHORTEST_SECRET, to keep transcripts readable)."""
        for value in values:
            if value and len(value) >= SHORTEST_SECRET and value not in self._secrets:
                self._secrets.append(value)
        self._secrets.sort(key=len, reverse=True)

    @property
    def secrets(self) -> tuple[str, ...]:
        return tuple(self._secrets)

    def mask(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        return text

    def record(self, direction: str, text: str, *, tls: bool) -> int:
        """Keep one line, secrets masked and control characters made visible: every report shows it as kept."""
        self.entries.append(Entry(direction, printable(self.mask(text)), round(time.monotonic() - self._t0, 4), tls))
        return len(self.entries) - 1

    def mark_last_reply(self) -> None:
        """Point the mismatch marker at the last line the server sent."""
        for index in range(len(self.entries) - 1, -1, -1):
            if self.entries[index].direction == RECEIVED:
                self.mismatch = index
                return

    def part(self, start: int, end: int) -> Transcript:
        """The entries from *start* to *end* (one exchange's lines), with the mismatch marker if it falls there."""
        mismatch = self.mismatch - start if self.mismatch is not None and start <= self.mismatch < end else None
        return Transcript(self.target, self.address, self.id, self.started, self.entries[start:end], mismatch,
                          self.listener)

    def to_json(self) -> dict[str, Any]:
        """The transcript as JSON, for the xdist run directory (its lines are already masked; secrets stay here)."""
        return {"id": self.id, "target": self.target, "address": self.address, "started": self.started,
                "mismatch": self.mismatch, "listener": self.listener,
                "entries": [[e.direction, e.text, e.at, e.tls] for e in self.entries]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Transcript:
        return cls(data["target"], data["address"], data["id"], data["started"],
                   [Entry(*entry) for entry in data["entries"]], data["mismatch"], data["listener"])

    def render(self, *, tail: int | None = None, times: bool = True) -> str:
        """A telnet-like text: `C:` lines sent, `S:` lines received, `*` events; `>>` marks the mismatch."""
        entries = list(enumerate(self.entries))
        skipped = 0
        if tail is not None and len(entries) > tail:
            end = len(entries) if self.mismatch is None else min(len(entries), self.mismatch + 3)
            start = max(0, end - tail)
            skipped = start
            entries = entries[start:end]
        lines = [f"... {skipped} earlier lines" ] if skipped else []
        for index, entry in entries:
            marker = ">>" if index == self.mismatch else "  "
            stamp = f"{entry.at:8.3f}s " if times else ""
            lock = "tls " if entry.tls and entry.direction != EVENT else ""
            lines.append(f"{marker}{stamp}{lock}{entry.direction}: {entry.text}".rstrip())
        return "\n".join(lines)

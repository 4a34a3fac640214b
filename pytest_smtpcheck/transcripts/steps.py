"""The client steps of a `.smtp` file, one type per kind, each knowing how to run itself over a session.

A step holds bound values (bind.py put the variables in); ``written`` is what
reports show: the line as written, references unexpanded and a literal password
masked. Values are kept out of repr so secrets never print.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from ..smtp.reply import Reply
    from ..smtp.session import SMTPSession

__all__ = ["Auth", "Bdat", "Body", "ChunkRefused", "Command", "Message", "Sleep", "StartTLS", "Step", "pipelined"]


class ChunkRefused(Exception):
    """A BDAT chunk before the LAST one got no 2xx: the client stopped sending, and no `<` line can judge that."""

    def __init__(self, reply: Reply, chunk: int) -> None:
        super().__init__(f"chunk {chunk} ({reply.command}) got {reply.code}; the rest was not sent")
        self.reply = reply


@dataclass(frozen=True)
class Step:
    """One client action; every kind but Sleep gets exactly one reply, which the next `<` line judges."""

    line: int
    written: str
    gets_reply: ClassVar[bool] = True

    @property
    def verb(self) -> str:
        """What item names call the step: a directive's name (the class's), a command's first word."""
        return type(self).__name__.upper()

    def run(self, session: SMTPSession) -> Iterator[Reply]:
        """Do the step; yields the replies the `<` lines judge, each as soon as it is read."""
        raise NotImplementedError


@dataclass(frozen=True)
class Command(Step):
    """A `>` line: sent as is; consecutive commands are pipelined (see :func:`pipelined`)."""

    text: str = field(default="", repr=False)

    @property
    def verb(self) -> str:
        words = self.written.split(None, 1)
        return words[0].upper() if words else "EMPTY"

    def run(self, session: SMTPSession) -> Iterator[Reply]:
        return pipelined(session, [self])


def pipelined(session: SMTPSession, commands: Iterable[Command]) -> Iterator[Reply]:
    """Send the command lines in one write (RFC 2920), then read their replies in order, one at a time, so a
    reply that fails its `<` line stops the reading there."""
    commands = list(commands)
    if not commands:
        return
    session.send_lines([command.text for command in commands])
    for command in commands:
        yield session.read_reply(command.written)


@dataclass(frozen=True)
class Body(Step):
    """A written message body after 354: its lines without the final `.` (the session dot-stuffs)."""

    lines: tuple[str, ...] = field(default=(), repr=False)

    def run(self, session: SMTPSession) -> Iterator[Reply]:
        yield session.send_body(self.lines)


@dataclass(frozen=True)
class Message(Step):
    """`! message`: a generated test message of *size* bytes, or the content of the file *path*."""

    size: int = 0
    path: str | None = None
    label: str = ""  # names the generated message: the .smtp file's name

    def run(self, session: SMTPSession) -> Iterator[Reply]:
        from ..smtp.message import generated_message

        yield session.send_body(Path(self.path) if self.path is not None else generated_message(self.size, self.label))


@dataclass(frozen=True)
class Bdat(Step):
    """`! bdat`: a generated message sent in BDAT chunks; the LAST chunk's reply is the one judged."""

    size: int = 0
    chunk: int = 0
    label: str = ""

    def run(self, session: SMTPSession) -> Iterator[Reply]:
        from ..smtp.message import generated_message

        replies = session.bdat(generated_message(self.size, self.label), chunk_size=self.chunk)
        last = replies[-1]
        if not (last.command or "").endswith(" LAST"):  # an intermediate chunk was not 2xx: sending stopped
            raise ChunkRefused(last, len(replies))
        yield last


@dataclass(frozen=True)
class StartTLS(Step):

    def run(self, session: SMTPSession) -> Iterator[Reply]:
        yield session.starttls()


@dataclass(frozen=True)
class Auth(Step):
    """`! auth`: the whole SASL exchange; its final reply is the one judged."""

    mechanism: str = ""
    user: str = field(default="", repr=False)
    password: str = field(default="", repr=False)

    def run(self, session: SMTPSession) -> Iterator[Reply]:
        yield session.auth(self.mechanism, self.user, self.password)


@dataclass(frozen=True)
class Sleep(Step):
    """`! sleep`: a pause between lines, to test a server's timeouts; it gets no reply."""

    seconds: float = 0.0
    gets_reply = False

    def run(self, session: SMTPSession) -> Iterator[Reply]:
        time.sleep(self.seconds)
        yield from ()

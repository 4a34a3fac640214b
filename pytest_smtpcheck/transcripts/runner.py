"""Run one bound `.smtp` file as one SMTP session, from its first exchange to its first mismatch.

The file is the unit of execution: whichever of its items pytest reaches first,
in whatever order or process, the session runs once and every exchange gets its
verdict here, as a typed :class:`FileResult`.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from ..errors import SMTPCheckError
from ..vocabulary import mask_auth_line
from .results import ExchangeVerdict, FileResult, Mismatch, Outcome
from .steps import ChunkRefused, Command, Step, pipelined

if TYPE_CHECKING:
    from collections.abc import Iterator

    from ..smtp.reply import Reply
    from ..smtp.session import SMTPSession
    from .bind import Script
    from .syntax import Document, Exchange, ExpectLine, SMTPFileError

__all__ = ["run_file", "unsendable"]


class _Failed(Exception):
    """An exchange did not go as written: the verdict's words, its line, and the mismatch to rewrite, if any."""

    def __init__(self, message: str, line: int, mismatch: Mismatch | None = None) -> None:
        super().__init__(message)
        self.line = line
        self.mismatch = mismatch


def run_file(script: Script, session: SMTPSession, through: int) -> FileResult:
    """Run exchanges 0..*through* of *script* over *session*; nothing after the first mismatch is sent.

    After the last exchange the session ends politely (QUIT) unless the server is
    waiting for message data; after a mismatch it is dropped without QUIT, so a
    server in the middle of DATA discards the message.
    """
    runner = _Runner(script, session)
    result = FileResult(transcript=session.transcript)
    transcript = session.transcript
    failed_line: int | None = None
    for index, exchange in enumerate(script.exchanges[: through + 1]):
        if failed_line is not None:
            result.verdicts.append(
                ExchangeVerdict(index, Outcome.NOT_RUN, exchange.line, f"not run: line {failed_line} did not match")
            )
            continue
        start, began = len(transcript.entries), time.monotonic()
        try:
            runner.run(exchange)
        except (_Failed, SMTPCheckError) as failure:
            failed = failure if isinstance(failure, _Failed) else None
            failed_line = failed.line if failed else exchange.line
            message = str(failure) if failed else f"{script.name}:{exchange.line}: {failure}"
            result.verdicts.append(ExchangeVerdict(
                index, Outcome.FAILED, failed_line, message, time.monotonic() - began,
                (start, len(transcript.entries)), failed.mismatch if failed else None,
            ))
            continue
        entries = (start, len(transcript.entries))
        result.verdicts.append(
            ExchangeVerdict(index, Outcome.PASSED, exchange.line, "", time.monotonic() - began, entries)
        )
    if failed_line is None:
        session.quit_quietly()
    else:
        session.close()
    return result


def unsendable(document: Document, error: SMTPFileError, through: int) -> FileResult:
    """The verdicts of a file the run's values cannot be put into (bind.py refused them): its first exchange fails
    naming the line, as a mismatch would, and nothing is sent."""
    line = error.line or document.exchanges[0].line
    result = FileResult(verdicts=[ExchangeVerdict(0, Outcome.FAILED, line, f"{document.name}:{line}: {error.message}")])
    result.verdicts += [
        ExchangeVerdict(index, Outcome.NOT_RUN, exchange.line, f"not run: line {line} cannot be sent with these values")
        for index, exchange in enumerate(document.exchanges[1: through + 1], 1)
    ]
    return result


class _Runner:
    """Sends one exchange's steps and checks each reply against its `<` line as soon as it is read."""

    def __init__(self, script: Script, session: SMTPSession) -> None:
        self.script = script
        self.session = session

    def run(self, exchange: Exchange[Step]) -> None:
        session = self.session
        expects = iter(exchange.expects)
        if not session.connected:
            greeting = session.connect()
            if not exchange.steps:
                for expect in expects:  # the greeting's one `<` line
                    self._check(exchange, expect, greeting)
        pending: list[Command] = []
        for step in exchange.steps:
            if isinstance(step, Command):  # consecutive command lines go out in one write
                pending.append(step)
                continue
            self._judge(exchange, pipelined(session, pending), expects)
            pending = []
            self._judge(exchange, self._replies(exchange, step), expects)
        self._judge(exchange, pipelined(session, pending), expects)
        if exchange.close_line is not None:
            problem = session.wait_for_close()
            if problem is not None:
                line = exchange.close_line
                raise _Failed(self._verdict(exchange, "the server to close the connection", problem, None, line), line)

    def _judge(self, exchange: Exchange[Step], replies: Iterator[Reply], expects: Iterator[ExpectLine]) -> None:
        for reply in replies:
            self._check(exchange, next(expects), reply)

    def _replies(self, exchange: Exchange[Step], step: Step) -> Iterator[Reply]:
        try:
            yield from step.run(self.session)
        except ChunkRefused as refused:
            self.session.transcript.mark_last_reply()
            expected = "2xx to every BDAT chunk before the LAST one"
            raise _Failed(self._verdict(exchange, expected, str(refused), refused.reply, step.line), step.line
                          ) from None

    def _check(self, exchange: Exchange[Step], expect: ExpectLine, reply: Reply) -> None:
        expectation = expect.expectation
        problem = expectation.match(reply)
        if problem is not None:
            self.session.transcript.mark_last_reply()
            head = problem.split(", expected ", 1)[0]  # `code 250, expected 550|554`: the expectation is said once
            found = "got a text it does not match" if head.startswith("text") else f"got {head}"
            mismatch = Mismatch(expect.line, expect.start, expect.end, expectation.source, reply.code,
                                reply.enhanced, self.session.transcript.mask(reply.text))  # a server may echo one
            raise _Failed(self._verdict(exchange, expectation.source, found, reply, expect.line), expect.line,
                          mismatch)

    def _verdict(self, exchange: Exchange[Step], expected: str, problem: str, reply: Reply | None, line: int) -> str:
        """One line that says it all (`relay.smtp:9: expected 550|554 5.7.1 /relay/i, got code 250`), then what
        was sent and the whole reply."""
        mask = self.session.transcript.mask
        sent = "\n".join(f"    {mask(mask_auth_line(step.written))}" for step in exchange.steps)
        got = "" if reply is None else "\n  got:\n" + "\n".join(f"    {wire}" for wire in reply.wire_lines())
        return f"{self.script.name}:{line}: expected {expected}, {problem}\n  sent:\n{sent or '    (nothing)'}{got}"

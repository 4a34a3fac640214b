"""Run one `.smtp` file as one SMTP session, from its first exchange to its first mismatch.

The file is the unit of execution: whichever of its items pytest reaches first,
in whatever order or process, the session runs once and every exchange gets its
verdict here. The result is builtins-only data, so it can be handed between
threads and between pytest-xdist workers unchanged.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import SMTPCheckError
from ..smtp.expect import Expectation
from ..smtp.reply import Reply
from ..smtp.session import SMTPSession
from ..smtp.transcript import Transcript
from ..vocabulary import mask_auth_line
from .syntax import Exchange, Script, Step

__all__ = ["ChunkRefused", "ExchangeVerdict", "FileResult", "run_file", "run_step"]

PASSED, FAILED, NOT_RUN = "passed", "failed", "not run"


@dataclass(frozen=True)
class ExchangeVerdict:
    """What one exchange came to: its outcome, the words of a failure, and its part of the transcript."""

    index: int
    outcome: str  # passed | failed | not run
    line: int  # the line to point at: the `<` line that failed, else the exchange's first line
    message: str = ""
    duration: float = 0.0
    entries: tuple[int, int] = (0, 0)  # [start, end) of the exchange's lines in the transcript
    expected: str = ""  # the expectation that failed, and what the server replied instead (for --smtp-update)
    got_code: int | None = None
    got_enhanced: str | None = None
    got_text: str | None = None


@dataclass
class FileResult:
    """The session of one file: a verdict for each exchange it reached, and the whole transcript."""

    verdicts: list[ExchangeVerdict] = field(default_factory=list)
    transcript: dict[str, Any] = field(default_factory=dict)
    error: str | None = None  # the run itself could not happen (never a server fault: those are verdicts)
    _session: Transcript | None = field(default=None, repr=False, compare=False)

    def session(self) -> Transcript:
        """The whole transcript, built once however many items read it."""
        if self._session is None:
            self._session = Transcript.from_data(self.transcript)
        return self._session

    @property
    def failed(self) -> ExchangeVerdict | None:
        return next((v for v in self.verdicts if v.outcome == FAILED), None)

    def verdict(self, index: int) -> ExchangeVerdict | None:
        return self.verdicts[index] if index < len(self.verdicts) else None

    def to_data(self) -> dict[str, Any]:
        return {"verdicts": [asdict(v) for v in self.verdicts], "transcript": self.transcript, "error": self.error}

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> FileResult:
        verdicts = [ExchangeVerdict(**{**v, "entries": tuple(v["entries"])}) for v in data["verdicts"]]
        return cls(verdicts, data["transcript"], data["error"])


class _Mismatch(Exception):
    def __init__(self, message: str, line: int, expectation: Expectation | None, reply: Reply | None) -> None:
        super().__init__(message)
        self.line = line
        self.expectation = expectation
        self.reply = reply


class ChunkRefused(Exception):
    """A BDAT chunk before the LAST one got no 2xx: the client stopped sending, and no `<` line can judge that."""

    def __init__(self, reply: Reply, chunk: int) -> None:
        super().__init__(f"chunk {chunk} ({reply.command}) got {reply.code}; the rest was not sent")
        self.reply = reply


def run_step(session: SMTPSession, step: Step, name: str, *, sleep: Callable[[float], None] = time.sleep
             ) -> list[Reply]:
    """Run one directive or message body as a `.smtp` file does; the replies its `<` lines judge.

    *name* labels generated test messages. `smtpcheck record` runs typed directives through here too.
    """
    from ..smtp.message import generated_message

    if step.kind == "body":
        return [session.send_body(step.lines[:-1])]
    if step.kind == "message":
        if step.path is not None:
            return [session.send_body(Path(step.path))]
        return [session.send_body(generated_message(step.size, name))]
    if step.kind == "bdat":
        replies = session.bdat(generated_message(step.size, name), chunk_size=step.chunk)
        last = replies[-1]
        if not (last.command or "").endswith(" LAST"):  # an intermediate chunk was not 2xx: sending stopped
            raise ChunkRefused(last, len(replies))
        return [last]  # the LAST chunk's reply: judged by the `<` line
    if step.kind == "starttls":
        return [session.starttls()]
    if step.kind == "auth":
        mechanism, user, secret = step.args
        return [session.auth(mechanism, user, secret)]
    if step.kind == "sleep":
        sleep(step.seconds)
        return []
    raise AssertionError(f"unknown step kind {step.kind!r}")  # the parser accepts no other kinds


def run_file(script: Script, session: SMTPSession, through: int, *, sleep: Callable[[float], None] = time.sleep
             ) -> FileResult:
    """Run exchanges 0..*through* of *script* over *session*; nothing after the first mismatch is sent.

    After the last exchange the session ends politely (QUIT) unless the server is
    waiting for message data; after a mismatch it is dropped without QUIT, so a
    server in the middle of DATA discards the message.
    """
    runner = _Runner(script, session, sleep)
    result = FileResult()
    transcript = session.transcript
    failed_line: int | None = None
    for index, exchange in enumerate(script.exchanges[: through + 1]):
        if failed_line is not None:
            result.verdicts.append(
                ExchangeVerdict(index, NOT_RUN, exchange.line, f"not run: line {failed_line} did not match")
            )
            continue
        start, began = len(transcript.entries), time.monotonic()
        try:
            runner.run(exchange)
        except (_Mismatch, SMTPCheckError) as failure:
            failed_line = getattr(failure, "line", exchange.line)
            session.close()
            mismatch = failure if isinstance(failure, _Mismatch) else None
            message = str(failure) if mismatch else f"{script.name}:{exchange.line}: {failure}"
            result.verdicts.append(ExchangeVerdict(
                index, FAILED, failed_line, message, time.monotonic() - began, (start, len(transcript.entries)),
                expected=mismatch.expectation.source if mismatch and mismatch.expectation else "",
                got_code=mismatch.reply.code if mismatch and mismatch.reply else None,
                got_enhanced=mismatch.reply.enhanced if mismatch and mismatch.reply else None,
                got_text=transcript.mask(mismatch.reply.text) if mismatch and mismatch.reply else None,
            ))
            continue
        entries = (start, len(transcript.entries))
        result.verdicts.append(ExchangeVerdict(index, PASSED, exchange.line, "", time.monotonic() - began, entries))
    if failed_line is None:
        session.quit_quietly()
    else:
        session.close()
    result.transcript = transcript.to_data()
    return result


class _Runner:
    """Sends one exchange's steps and checks each reply against its `<` line."""

    def __init__(self, script: Script, session: SMTPSession, sleep: Callable[[float], None]) -> None:
        self.script = script
        self.session = session
        self.sleep = sleep

    def run(self, exchange: Exchange) -> None:
        session = self.session
        expects = list(exchange.expects)
        if not session.connected and not exchange.steps:
            greeting = session.connect()
            if expects:
                expect = expects.pop(0)
                self._check(exchange, expect.expectation, greeting, expect.line)
        elif not session.connected:
            session.connect()
        pending: list[Step] = []
        for step in exchange.steps:
            if step.kind == "command":
                pending.append(step)
                continue
            self._send_pipelined(exchange, pending, expects)
            pending = []
            for reply in self._run_directive(exchange, step):
                expect = expects.pop(0)
                self._check(exchange, expect.expectation, reply, expect.line)
        self._send_pipelined(exchange, pending, expects)
        if exchange.close_line is not None:
            problem = session.wait_for_close()
            if problem is not None:
                line = exchange.close_line
                raise _Mismatch(self._verdict(exchange, "the server to close the connection", problem, None, line),
                                line, None, None)

    def _send_pipelined(self, exchange: Exchange, steps: list[Step], expects: list[Any]) -> None:
        if not steps:
            return
        self.session.send_lines([step.lines[0] for step in steps])
        for step in steps:
            reply = self.session.read_reply(step.raw)
            expect = expects.pop(0)
            self._check(exchange, expect.expectation, reply, expect.line)

    def _run_directive(self, exchange: Exchange, step: Step) -> list[Reply]:
        """The replies a directive got, each to be checked against the next `<` line."""
        try:
            return run_step(self.session, step, self.script.name, sleep=self.sleep)
        except ChunkRefused as refused:
            self.session.transcript.mark_last_reply()
            expected = "2xx to every BDAT chunk before the LAST one"
            raise _Mismatch(self._verdict(exchange, expected, str(refused), refused.reply, step.line), step.line,
                            None, refused.reply) from None

    def _check(self, exchange: Exchange, expectation: Expectation, reply: Reply, line: int) -> None:
        problem = expectation.match(reply)
        if problem is not None:
            self.session.transcript.mark_last_reply()
            raise _Mismatch(self._verdict(exchange, expectation.source, problem, reply, line), line, expectation, reply)

    def _verdict(self, exchange: Exchange, expected: str, problem: str, reply: Reply | None, line: int) -> str:
        mask = self.session.transcript.mask
        sent = "\n".join(f"    {mask(mask_auth_line(step.raw))}" for step in exchange.steps)
        got = "" if reply is None else "\n" + "\n".join(f"    {wire}" for wire in reply.wire_lines())
        return (
            f"{self.script.name}:{line}: expected {expected}, {problem}\n"
            f"  sent:\n{sent or '    (nothing: the greeting)'}\n  expected: {expected}\n  got:      {problem}{got}"
        )

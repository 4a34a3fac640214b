"""Collect `.smtp` files: one pytest item per exchange, all of a file's items over one session.

The file node owns the conversation (pytest sets a collector up once around its
items), so exchanges run in file order on one connection. The first mismatch
ends the conversation: later exchanges are skipped, never sent.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from .errors import SMTPCheckError
from .keys import SESSIONS, TARGETS
from .transcript import mask_auth_line
from .smtpfile import Exchange, SmtpFile as ParsedFile, SmtpFileError, Step, parse_smtp_file

if TYPE_CHECKING:
    from .client import SMTPSession
    from .reply import Reply
    from .target import Target


class ExchangeFailed(Exception):
    """An exchange's reply did not match; the message is the whole verdict, *line* the `<` line that failed."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.line = line


class SmtpFile(pytest.File):
    """A `.smtp` transcript file."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.script: ParsedFile | None = None
        self.conversation: Conversation | None = None

    def collect(self):
        targets = self.config.stash[TARGETS]
        variables = {**os.environ, **targets.variables()}
        try:
            self.script = parse_smtp_file(self.path.read_bytes(), self.path, variables)
        except SmtpFileError as error:
            raise self.CollectError(str(error)) from None
        for index, exchange in enumerate(self.script.exchanges):
            item = ExchangeItem.from_parent(self, name=exchange.name, exchange=exchange, index=index)
            for marker in self.script.markers:
                item.add_marker(marker)
            yield item

    def conversation_for(self, target: Target) -> Conversation:
        if self.conversation is None:
            self.conversation = Conversation(self.path, self.script, target)
        return self.conversation

    def teardown(self) -> None:
        if self.conversation is not None:
            self.conversation.end()


class ExchangeItem(pytest.Item):
    """One exchange of a `.smtp` file: the client lines and the replies they must get."""

    def __init__(self, *, exchange: Exchange, index: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.exchange = exchange
        self.index = index

    def runtest(self) -> None:
        target = self.config.stash[TARGETS].target()
        conversation = self.parent.conversation_for(target)
        self.stash[SESSIONS] = [conversation.session]
        conversation.run_through(self.index)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style=None) -> str:
        """The verdict alone: the transcript follows in the report's `SMTP transcript` section."""
        if isinstance(excinfo.value, ExchangeFailed):
            return str(excinfo.value)
        if isinstance(excinfo.value, SMTPCheckError):
            return f"{self.path.name}:{self.exchange.line}: {excinfo.value}"
        return super().repr_failure(excinfo)

    def locate_skip(self, report: pytest.TestReport) -> None:
        """Point a 'not run' skip at this exchange in the `.smtp` file, not at the plugin's code."""
        if report.skipped and isinstance(report.longrepr, tuple):
            report.longrepr = (str(self.path), self.exchange.line, report.longrepr[2])

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, self.exchange.line - 1, f"{self.path.name}:{self.exchange.line} {self.name}"


class Conversation:
    """One file's session: runs exchanges in order and remembers the first failure."""

    def __init__(self, path: Path, script: ParsedFile, target: Target) -> None:
        self.path = path
        self.script = script
        self.session: SMTPSession = target.session(
            listener=script.listener or "smtp", tls=script.tls, helo=script.helo, timeout=script.timeout
        )
        self.session.transcript.add_secret(*script.secrets)
        self.next = 0
        self.failed_line: int | None = None

    def run_through(self, index: int) -> None:
        """Run every exchange not yet run up to *index*: a selected item needs the ones before it."""
        if self.failed_line is not None:
            pytest.skip(f"not run: line {self.failed_line} did not match")
        while self.next <= index:
            exchange = self.script.exchanges[self.next]
            self.next += 1
            try:
                self._run(exchange)
            except (ExchangeFailed, SMTPCheckError) as failure:
                self.failed_line = getattr(failure, "line", exchange.line)
                self.session.close()
                if self.next - 1 == index:
                    raise
                raise ExchangeFailed(
                    f"an earlier exchange (line {exchange.line}) failed:\n{failure}", self.failed_line
                ) from None

    def end(self) -> None:
        """After the last exchange: QUIT politely if the file left the connection open."""
        if self.failed_line is None:
            self.session.quit_quietly()
        else:
            self.session.close()

    def _run(self, exchange: Exchange) -> None:
        session = self.session
        expects = list(exchange.expects)
        if not session.connected:
            greeting = session.connect()
            if not exchange.steps and expects:
                self._check(exchange, expects.pop(0).expectation, greeting, exchange.line)
        pending: list[Step] = []
        for step in exchange.steps:
            if step.kind == "command":
                pending.append(step)
                continue
            self._send_pipelined(exchange, pending, expects)
            pending = []
            reply = self._run_directive(step)
            if reply is not None:
                expect = expects.pop(0)
                self._check(exchange, expect.expectation, reply, expect.line)
        self._send_pipelined(exchange, pending, expects)
        if exchange.expects_close:
            problem = session.wait_for_close()
            if problem is not None:
                line = exchange.close_line
                raise ExchangeFailed(self._verdict(exchange, "the server to close the connection", problem, None, line), line)

    def _send_pipelined(self, exchange: Exchange, steps: list[Step], expects: list) -> None:
        if not steps:
            return
        self.session.send_lines([step.lines[0] for step in steps])
        for step in steps:
            reply = self.session.read_reply(step.raw)
            expect = expects.pop(0)
            self._check(exchange, expect.expectation, reply, expect.line)

    def _run_directive(self, step: Step) -> Reply | None:
        session = self.session
        if step.kind == "body":
            return session.send_body(step.lines[:-1])
        if step.kind == "message":
            return session.send_body(generated_message(int(step.args[0]) if step.args else 0, self.path.name))
        if step.kind == "starttls":
            return session.starttls()
        if step.kind == "auth":
            mechanism, user, password = step.args
            return session.auth(mechanism, user, password)
        if step.kind == "sleep":
            time.sleep(float(step.args[0]))
            return None
        raise AssertionError(f"unknown step kind {step.kind!r}")  # the parser accepts no other kinds

    def _check(self, exchange: Exchange, expectation, reply: Reply, line: int) -> None:
        problem = expectation.match(reply)
        if problem is not None:
            self.session.transcript.mark_last_reply()
            raise ExchangeFailed(self._verdict(exchange, expectation.source, problem, reply, line), line)

    def _verdict(self, exchange: Exchange, expected: str, problem: str, reply: Reply | None, line: int | None = None) -> str:
        mask = self.session.transcript.mask
        sent = "\n".join(f"    {mask(mask_auth_line(step.raw))}" for step in exchange.steps) or "    (nothing: the greeting)"
        got = "" if reply is None else "\n" + "\n".join(f"    {wire}" for wire in reply.wire_lines())
        return (
            f"{self.path.name}:{line or exchange.line}: expected {expected}, {problem}\n"
            f"  sent:\n{sent}\n  expected: {expected}\n  got:      {problem}{got}"
        )


def generated_message(size: int, name: str) -> list[str]:
    """A small, clearly labelled test message, padded to *size* bytes when a size is asked for."""
    date = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime())
    lines = [
        "From: pytest-smtpcheck <probe@smtpcheck.invalid>",
        "To: undisclosed-recipients:;",
        f"Subject: pytest-smtpcheck test message ({name})",
        f"Date: {date}",
        f"Message-ID: <{time.time_ns()}@smtpcheck.invalid>",
        "",
        "This message was sent by an automated SMTP acceptance test.",
    ]
    filler = "x" * 76
    current = sum(len(line) + 2 for line in lines)
    while current < size:
        lines.append(filler)
        current += len(filler) + 2
    return lines

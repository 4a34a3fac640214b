"""Collect `.smtp` files: one pytest item per exchange, one session per file and target.

Items never talk to the server themselves: the file's session runs once (see
execution.py) and each item reports its own exchange's verdict from the result,
so pytest's order, selection and process cannot change a verdict or send a line twice.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .keys import DECLARED, MISSING, OUTCOME, RUN

if TYPE_CHECKING:
    from ..execution import FilePlan
    from ..paths import MessageFiles
    from ..transcripts.results import ExchangeVerdict, FileResult
    from ..transcripts.syntax import Document, Exchange, Node

__all__ = ["ExchangeFailed", "ExchangeItem", "SMTPFile", "plan_files"]


class ExchangeFailed(Exception):
    """An exchange's reply did not match; the message is the whole verdict."""


class SMTPFile(pytest.File):
    """A `.smtp` transcript file: its items, for each target of the run."""

    document: Document  # the file as read: collecting it needs nothing of the run's target
    _missing: dict[str, int] | None = None
    _secrets: tuple[str, ...] | None = None

    def collect(self) -> Iterator[ExchangeItem]:
        from ..errors import SettingsError
        from ..transcripts.bind import check
        from ..transcripts.syntax import SMTPFileError, parse

        targets = self.config.stash[RUN].targets
        try:
            self.document = parse(self.path.read_bytes(), self.path)
            check(self.document, message_files(self.config))
            targets.settings.check_test(self.document.settings)  # the rules that need the run, e.g. `as`
        except (SMTPFileError, SettingsError) as error:
            raise self.CollectError(str(error)) from None
        from ..transcripts.bind import secret_names
        from .report.masking import note_secret_names

        note_secret_names(self.config, secret_names(self.document))  # a --smtp-var sent by `! auth`: masked everywhere
        grouped = self.config.pluginmanager.hasplugin("xdist")
        for target_id in targets.ids():
            for index, exchange in enumerate(self.document.exchanges):
                name = exchange.name if target_id is None else f"{exchange.name}[{target_id}]"
                item = ExchangeItem.from_parent(self, name=name, exchange=exchange, index=index, target_id=target_id)
                for marker in self.document.markers:
                    item.add_marker(marker)
                if grouped:  # --dist loadgroup keeps a file's items on one worker (they would wait for it anyway)
                    item.add_marker(pytest.mark.xdist_group(name=f"{self.nodeid}[{target_id or ''}]"))
                yield item

    def plan(self, key: str, target_id: str | None, selected: set[int]) -> FilePlan:
        """The file's session for TARGET_ID; its lane is the target and the listener (or port) it connects to,
        known without connecting or starting the sandbox."""
        from ..execution import FilePlan

        declared = self.document.settings
        lane = f"{target_id or ''}|{declared.port or declared.listener or 'smtp'}"
        return FilePlan(key, max(selected), lambda through: self._run(target_id, through), lane)

    def missing(self) -> dict[str, int]:
        """The variables the file uses that this run does not give, each with the first line using it."""
        if self._missing is None:
            from ..transcripts.bind import missing

            self._missing = missing(self.document, self.config.stash[RUN].targets.variables(), os.environ)
        return self._missing

    def secrets(self) -> tuple[str, ...]:
        """The passwords and environment values the file sends in this run, for the reports to mask."""
        if self._secrets is None:
            from ..transcripts.bind import bind
            from ..transcripts.syntax import SMTPFileError

            try:
                variables = self.config.stash[RUN].targets.variables()
                self._secrets = bind(self.document, variables, os.environ, message_files(self.config)).secrets
            except SMTPFileError:  # the run fails saying so, and sends nothing
                self._secrets = ()
        return self._secrets

    def _run(self, target_id: str | None, through: int) -> FileResult:
        from ..transcripts.bind import bind
        from ..transcripts.runner import run_file, unsendable
        from ..transcripts.syntax import SMTPFileError

        target = self.config.stash[RUN].targets.target(target_id)
        try:
            script = bind(self.document, target.vars, os.environ, message_files(self.config))
        except SMTPFileError as error:  # a value the run gave that a step cannot take
            return unsendable(self.document, error, through)
        session = target.session(self.document.settings, credentials=script.credentials)
        session.transcript.add_secret(*script.secrets)
        return run_file(script, session, through)


def message_files(config: pytest.Config) -> MessageFiles:
    """Message files come from the test tree (pytest's rootdir) or the directories the ini key lists."""
    from ..paths import MessageFiles

    return MessageFiles(str(config.rootpath), config.stash[RUN].settings.message_dirs)


class ExchangeItem(pytest.Item):
    """One exchange of a `.smtp` file: the client lines and the replies they must get."""

    parent: SMTPFile

    def __init__(self, *, exchange: Exchange[Node], index: int, target_id: str | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.exchange = exchange
        self.index = index
        self.target_id = target_id
        description = self.parent.document.description
        if description:  # in every report of the item: JUnit property, HTML column, `-v` line
            self.user_properties.append(("smtp_description", description))

    @property
    def run_key(self) -> str:
        """One file and target of the run: every item with this key shares one session."""
        return f"{self.parent.nodeid}|{self.target_id or ''}"

    def setup(self) -> None:
        self.stash[DECLARED] = self.parent.document.settings
        reason = self.unavailable()
        if reason is not None:
            if self.parent.missing():
                self.stash[MISSING] = sorted(self.parent.missing())
            pytest.skip(reason)

    def unavailable(self) -> str | None:
        """Why this run cannot run the file (a variable or listener it needs was not given), or None."""
        parent = self.parent
        return self.config.stash[RUN].targets.unavailable(parent.missing(), parent.document.settings.listener,
                                                        self.target_id)

    def runtest(self) -> None:
        from ..transcripts.results import Outcome

        result = self.config.stash[RUN].runs.result(self.run_key)
        verdict = result.verdict(self.index)
        self.stash[OUTCOME] = (result, verdict)
        if result.error is not None:
            raise ExchangeFailed(f"{self.parent.document.name}:{self.exchange.line}: {result.error}")
        if verdict is None:  # cannot happen: the session runs through the last selected exchange
            raise ExchangeFailed(f"{self.parent.document.name}:{self.exchange.line}: this exchange was not run")
        if verdict.outcome is Outcome.PASSED:
            return
        if verdict.outcome is Outcome.FAILED:
            raise ExchangeFailed(verdict.message)
        failure = result.failed
        assert failure is not None
        if self._reports_failure_of(failure):
            raise ExchangeFailed(f"an earlier exchange (line {failure.line}) failed:\n{failure.message}")
        pytest.skip(verdict.message)

    def decides_file(self, result: FileResult) -> bool:
        """Whether this item's report carries the file's whole session: the one reporting its failure, else
        the last one selected."""
        failure = result.failed
        if failure is None:
            return self.index == max(self.config.stash[RUN].runs.selected[self.run_key])
        return self.index == failure.index or self._reports_failure_of(failure)

    def _reports_failure_of(self, failure: ExchangeVerdict) -> bool:
        """A failure in an exchange this run did not select is reported by the first selected item after it."""
        selected = self.config.stash[RUN].runs.selected.get(self.run_key, set())
        if failure.index in selected:
            return False
        return self.index == min((index for index in selected if index > failure.index), default=None)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        """The verdict alone: the transcript follows in the report's `SMTP transcript` section."""
        from ..errors import SMTPCheckError

        if isinstance(excinfo.value, ExchangeFailed):
            return str(excinfo.value)
        if isinstance(excinfo.value, SMTPCheckError):
            return f"{self.path.name}:{self.exchange.line}: {excinfo.value}"
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, self.exchange.line - 1, f"{self.path.name}:{self.exchange.line} {self.name}"

    @property
    def location_line(self) -> int:
        """The `.smtp` line a skip or failure of this item points at."""
        return self.exchange.line


def plan_files(items: list[pytest.Item]) -> tuple[list[FilePlan], dict[str, set[int]]]:
    """The run's `.smtp` sessions in the order pytest reaches their first item, each through its last selected one."""
    selected: dict[str, set[int]] = {}
    owners: dict[str, tuple[SMTPFile, str | None]] = {}
    for item in items:
        if isinstance(item, ExchangeItem) and item.unavailable() is None:
            selected.setdefault(item.run_key, set()).add(item.index)
            owners.setdefault(item.run_key, (item.parent, item.target_id))
    return [file.plan(key, target_id, selected[key]) for key, (file, target_id) in owners.items()], selected


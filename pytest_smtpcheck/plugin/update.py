"""`--smtp-update`: rewrite the first mismatched expectation of each `.smtp` file to what the server replied.

Registered on the controller only (see plugin.py), it works from test reports:
a failed `.smtp` item's report carries ``smtp_mismatch`` (the path, and the
runner's Mismatch: where the expectation is written, what it said, the reply) as
builtins, so under pytest-xdist it reaches the controller unchanged and the
files are written once, by one process, after every worker is done. A session
stops at its first mismatch, so only that line is known to be wrong; the run
says to run again to check the rest. Nothing is written unless the run ended on
its own (passed or failed), so an interrupted run leaves every file as it was.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from ..transcripts.results import Mismatch
from ..transcripts.rewrite import Rewrite, UpdateError, rewrite_expectation

__all__ = ["Updater"]

_FINISHED = (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED)


class Updater:
    """Collects mismatches from reports; rewrites each file's first one at the end of a finished run."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.found: dict[str, set[Mismatch]] = {}
        self.changed: list[tuple[str, Rewrite]] = []
        self.refused: list[str] = []
        self.status: pytest.ExitCode | int | None = None

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        data = getattr(report, "smtp_mismatch", None)
        if data:
            self.found.setdefault(data["path"], set()).add(Mismatch.from_json(data["mismatch"]))

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, exitstatus: pytest.ExitCode | int) -> None:
        self.status = exitstatus
        if exitstatus not in _FINISHED:
            return
        for path, mismatches in sorted(self.found.items()):
            shown = self._shown(path)
            if len(mismatches) > 1:  # several sessions of one file (targets, --dist each, reruns) disagree
                lines = ", ".join(str(m.line) for m in sorted(mismatches, key=lambda m: m.line))
                self.refused.append(f"{shown}: not updated: its sessions failed differently (lines {lines}); "
                                    f"run it against one target at a time")
                continue
            (mismatch,) = mismatches
            try:
                rewrite = rewrite_expectation(Path(path).read_bytes(), mismatch)
            except (OSError, UpdateError) as error:
                self.refused.append(f"{shown}:{mismatch.line}: not updated: {error}")
                continue
            if rewrite is not None:
                Path(path).write_bytes(rewrite.source)
                self.changed.append((shown, rewrite))

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.found:
            return
        terminalreporter.write_sep("-", "smtpcheck --smtp-update")
        if self.status not in _FINISHED:
            terminalreporter.write_line(f"the run did not finish ({self.status}): no file was changed")
            return
        for shown, rewrite in self.changed:
            terminalreporter.write_line(f"{shown}:{rewrite.line}: < {rewrite.old}  ->  < {rewrite.new}")
        for line in self.refused:
            terminalreporter.write_line(line)
        if self.changed:
            files = len(self.changed)
            terminalreporter.write_line(
                f"updated {files} expectation{'s' if files > 1 else ''}, the first mismatch of each file: a session "
                f"stops there, so the lines after it were not checked; run again to check the rest")

    def _shown(self, path: str) -> str:
        try:
            return os.path.relpath(path, self.config.invocation_params.dir)
        except ValueError:  # another drive (Windows)
            return path

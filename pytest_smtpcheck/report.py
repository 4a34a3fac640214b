"""What a test report carries about its SMTP sessions: terminal sections, JUnit properties, HTML extras.

Everything attached to a report is builtins only, so reports travel between
pytest-xdist processes unchanged.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest

from .keys import SESSIONS

PACKAGE_DIR = Path(__file__).parent
TAIL_LINES = 40


def configure(config: pytest.Config) -> None:
    """Hook into pytest-html only when it is installed and enabled."""
    if config.pluginmanager.hasplugin("html"):
        from . import html

        config.pluginmanager.register(html.HtmlHooks(config), "smtpcheck-html")


def trim_traceback(call: pytest.CallInfo[None]) -> None:
    """A server fault is not a bug in the test: show where the test was, not the client's internals."""
    from .errors import SMTPCheckError

    excinfo = call.excinfo
    if excinfo is not None and excinfo.errisinstance(SMTPCheckError):
        trimmed = excinfo.traceback.filter(lambda entry: PACKAGE_DIR not in Path(str(entry.path)).parents)
        if trimmed:
            excinfo.traceback = trimmed


def attach(item: pytest.Item, report: pytest.TestReport) -> None:
    sessions = item.stash.get(SESSIONS, [])
    if not sessions or not (report.when == "call" or report.failed):
        return
    report.smtp = [session.transcript.to_data() for session in sessions]
    if item.config.pluginmanager.hasplugin("html"):
        from .html import extras

        report.extras = getattr(report, "extras", []) + extras(report.smtp)
    for session in sessions:
        text = session.transcript.render(tail=None if report.passed else TAIL_LINES)
        report.sections.append((f"SMTP transcript {session.address}", text))
    last = next((s.last_reply for s in reversed(sessions) if s.last_reply is not None), None)
    report.user_properties.append(("smtp_target", sessions[0].address))
    if last is not None:
        report.user_properties.append(("smtp_command", last.command or "(greeting)"))
        report.user_properties.append(("smtp_reply", last.wire_lines()[0]))


def summarize(terminalreporter, config: pytest.Config) -> None:
    """One line per target: how many sessions and lines went where, and how many tests failed there."""
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for reports in terminalreporter.stats.values():
        for rep in reports:
            transcripts = getattr(rep, "smtp", None)
            if not transcripts or getattr(rep, "when", None) not in ("call", "setup"):
                continue
            for data in transcripts:
                counts = totals[data["target"]]
                counts[0] += 1
                counts[1] += sum(entry["direction"] == "C" for entry in data["entries"])
            if rep.failed:
                totals[transcripts[0]["target"]][2] += 1
    if not totals:
        return
    terminalreporter.write_sep("-", "smtpcheck")
    for target, (sessions, commands, failed) in sorted(totals.items()):
        terminalreporter.write_line(f"{target}: {sessions} sessions, {commands} lines sent, {failed} failed tests")

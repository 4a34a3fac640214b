"""pytest-html integration: a title naming the targets, transcripts as extras, target and deciding reply as columns."""

from __future__ import annotations

import html as _html
import re
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import pytest

from ..keys import RUN

if TYPE_CHECKING:
    from ...smtp.transcript import Transcript
    from .summary import RunSummary

__all__ = ["HtmlHooks", "extras", "render"]

_SECTION = re.compile(r"-* SMTP transcript ")
_WRAP = ' style="overflow-wrap:anywhere;min-width:8em"'  # a 7000-character reply wraps instead of widening the page

_STYLE = (
    "<style>.smtp-transcript{font-family:monospace;white-space:pre-wrap;overflow-wrap:anywhere;margin:0}"
    ".logwrapper .log{overflow-wrap:anywhere}"  # pytest-html's failure text: a long reply wraps there too
    ".smtp-C{color:#0a3d91}.smtp-S{color:#1b5e20}.smtp-event{color:#777;font-style:italic}"
    ".smtp-mismatch{background:#ffd6d6;font-weight:bold}"
    ".smtp-tls{font-size:80%;border:1px solid #1b5e20;border-radius:3px;padding:0 2px;margin-right:3px}</style>"
)


class HtmlHooks:
    """Registered only when pytest-html is active, so the plugin works without it."""

    def __init__(self, summary: RunSummary) -> None:
        self.summary = summary

    def pytest_html_report_title(self, report: Any) -> None:
        """The file an engineer attaches to a ticket says, at the top, what was tested and when."""
        settings = self.summary.config.stash[RUN].settings  # the title is made before any test ran
        if settings.mx is not None:
            targets = f"every MX of {settings.mx}"
        elif settings.host is not None:
            targets = f"{settings.host}:{settings.ports.get('smtp', 25)}"
        else:
            targets = f"the embedded sandbox ({settings.sandbox})"
        day = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        report.title = f"SMTP acceptance: {targets}, {day}"

    def pytest_html_results_table_html(self, report: pytest.TestReport, data: list[str]) -> None:
        """A skip shows its reason; a transcript shows once (as the extra, not again as a text section)."""
        if report.skipped and isinstance(report.longrepr, tuple):
            data[:] = [_html.escape(str(report.longrepr[2]).removeprefix("Skipped: "))]
            return
        data[:] = [entry for entry in data if not _SECTION.match(entry)] or ["No log output captured."]

    def pytest_html_results_table_header(self, cells: list[str]) -> None:
        cells.insert(2, "<th>Description</th>")
        cells.insert(3, "<th>SMTP target</th>")
        cells.insert(4, "<th>Deciding reply</th>")

    def pytest_html_results_table_row(self, report: pytest.TestReport, cells: list[str]) -> None:
        props = dict(getattr(report, "user_properties", []))
        for index, key in enumerate(("smtp_description", "smtp_target", "smtp_reply"), 2):
            cells.insert(index, f"<td{_WRAP}>{_html.escape(props.get(key, ''))}</td>")


def extras(transcripts: list[Transcript]) -> list[dict[str, Any]]:
    """pytest-html extras, one per session, built where the test ran (they are plain dicts)."""
    from pytest_html import extras as html_extras

    return [html_extras.html(render(transcript)) for transcript in transcripts]


def render(transcript: Transcript) -> str:
    from ...smtp.transcript import EVENT, RECEIVED, SENT

    rows = []
    for index, entry in enumerate(transcript.entries):
        kind = {SENT: "smtp-C", RECEIVED: "smtp-S", EVENT: "smtp-event"}[entry.direction]
        mark = " smtp-mismatch" if index == transcript.mismatch else ""
        lock = '<span class="smtp-tls">TLS</span>' if entry.tls and entry.direction != EVENT else ""
        rows.append(
            f'<span class="{kind}{mark}">{entry.at:8.3f}s {lock}{entry.direction}: {_html.escape(entry.text)}</span>'
        )
    title = f"SMTP transcript {_html.escape(transcript.target)} (started {transcript.started})"
    return f'{_STYLE}<div class="smtp"><b>{title}</b><pre class="smtp-transcript">' + "\n".join(rows) + "</pre></div>"

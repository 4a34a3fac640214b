"""pytest-html integration: transcripts as extras, target and deciding reply as table columns."""

from __future__ import annotations

import html as _html

import pytest

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..smtp.transcript import Transcript

_STYLE = (
    "<style>.smtp-transcript{font-family:monospace;white-space:pre-wrap;margin:0}"
    ".smtp-C{color:#0a3d91}.smtp-S{color:#1b5e20}.smtp-event{color:#777;font-style:italic}"
    ".smtp-mismatch{background:#ffd6d6;font-weight:bold}</style>"
)


class HtmlHooks:
    """Registered only when pytest-html is active, so the plugin works without it."""

    def pytest_html_results_table_header(self, cells: list[str]) -> None:
        cells.insert(2, "<th>SMTP target</th>")
        cells.insert(3, "<th>Deciding reply</th>")

    def pytest_html_results_table_row(self, report: pytest.TestReport, cells: list[str]) -> None:
        props = dict(getattr(report, "user_properties", []))
        cells.insert(2, f"<td>{_html.escape(props.get('smtp_target', ''))}</td>")
        cells.insert(3, f"<td>{_html.escape(props.get('smtp_reply', ''))}</td>")


def extras(transcripts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """pytest-html extras, one per session, built where the test ran (they are plain dicts)."""
    from pytest_html import extras as html_extras

    from ..smtp.transcript import Transcript

    return [html_extras.html(render(Transcript.from_data(data))) for data in transcripts]


def render(transcript: Transcript) -> str:
    from ..smtp.transcript import EVENT, RECEIVED, SENT

    rows = []
    for index, entry in enumerate(transcript.entries):
        kind = {SENT: "smtp-C", RECEIVED: "smtp-S", EVENT: "smtp-event"}[entry.direction]
        mark = " smtp-mismatch" if index == transcript.mismatch else ""
        lock = "🔒 " if entry.tls and entry.direction != EVENT else ""
        rows.append(
            f'<span class="{kind}{mark}">{entry.at:8.3f}s {lock}{entry.direction}: {_html.escape(entry.text)}</span>'
        )
    title = f"SMTP transcript {_html.escape(transcript.target)} (started {transcript.started})"
    return f'{_STYLE}<div class="smtp"><b>{title}</b><pre class="smtp-transcript">' + "\n".join(rows) + "</pre></div>"

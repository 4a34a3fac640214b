"""The battery at a glance: passed, failed and waived per category and per MX, for the HTML report's top and the
terminal's end. Built from the records the items' reports carry, so it is the same on one process or many."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from html import escape
from typing import Any

__all__ = ["OUTCOMES", "scorecard_html", "scorecard_lines", "tally"]

OUTCOMES = ("passed", "failed", "waived", "skipped")


def tally(records: Iterable[Mapping[str, Any]], key: str) -> dict[str, Counter[str]]:
    """Outcome counts by the record field KEY ("category", or "mx" for host and address), in first-seen order."""
    rows: dict[str, Counter[str]] = {}
    for record in records:
        if key == "mx":
            if record.get("host") is None:
                name = f"{record['domain']} (domain)"
            else:
                name = f"{record['host']} {record.get('address') or ''}".strip()
        else:
            name = str(record[key])
        rows.setdefault(name, Counter())[record["outcome"]] += 1
    return rows


def scorecard_lines(records: Sequence[Mapping[str, Any]]) -> list[str]:
    lines = []
    for title, key in (("category", "category"), ("MX", "mx")):
        for name, counts in tally(records, key).items():
            shown = ", ".join(f"{counts[outcome]} {outcome}" for outcome in OUTCOMES if counts[outcome])
            lines.append(f"{title} {name}: {shown}")
    return lines


def scorecard_html(records: Sequence[Mapping[str, Any]]) -> str:
    """Two tables (by category, by MX) of passed / failed / waived / skipped; failed cells stand out."""
    if not records:
        return ""
    parts = ['<div class="smtpcheck-scorecard"><h2>Baseline scorecard</h2>'
             "<style>.smtpcheck-scorecard table{border-collapse:collapse;margin:0 2em 1em 0;display:inline-table;"
             "vertical-align:top}.smtpcheck-scorecard td,.smtpcheck-scorecard th{padding:2px 10px;"
             "border-bottom:1px solid #ddd;text-align:right}.smtpcheck-scorecard td:first-child,"
             ".smtpcheck-scorecard th:first-child{text-align:left}</style>"]
    for title, key in (("Category", "category"), ("MX host and address", "mx")):
        head = "".join(f"<th>{outcome}</th>" for outcome in OUTCOMES)
        rows = []
        for name, counts in tally(records, key).items():
            cells = "".join(
                f'<td style="{"color:#b00;font-weight:bold" if outcome == "failed" and counts[outcome] else ""}">'
                f"{counts[outcome]}</td>" for outcome in OUTCOMES)
            rows.append(f"<tr><td>{escape(name)}</td>{cells}</tr>")
        parts.append(f'<table class="smtpcheck-scorecard-{key}"><tr><th>{title}</th>{head}</tr>{"".join(rows)}'
                     "</table>")
    parts.append("</div>")
    return "".join(parts)

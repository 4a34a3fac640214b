"""What a test's report carries about its SMTP sessions: the transcripts as text sections, JUnit properties,
HTML extras, the counts the summary needs and, for `--smtp-update`, the mismatch.

Attached where the test ran (so also on xdist workers); everything attached is
builtins only, so reports travel between pytest-xdist processes unchanged.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest

from ...printable import printable
from ..keys import OUTCOME, SESSIONS
from .junit import JUNIT_TRANSCRIPT
from .masking import note_secrets
from .summary import label

if TYPE_CHECKING:
    from ...smtp.transcript import Transcript
    from ...transcripts.results import ExchangeVerdict, FileResult

__all__ = ["attach"]

TAIL_LINES = 40
_CONTINUED = re.compile(r"\d{3}-")  # a reply line that another line of the same reply follows


def attach(item: pytest.Item, report: pytest.TestReport, *, misuse: bool = False) -> None:
    """Put the test's transcripts into its report (where the test ran, so also on xdist workers). A test that
    failed by its own *misuse* (a Misuse error) has no deciding reply: no server line is marked for it."""
    outcome = item.stash.get(OUTCOME, None)
    if outcome is not None:
        if report.when == "call":
            _attach_exchange(item, report, *outcome)
        return
    sessions = [s for s in item.stash.get(SESSIONS, []) if s.transcript.entries]
    note_secrets(item.config, [secret for s in sessions for secret in s.transcript.secrets])
    if not sessions or report.skipped or not (report.when == "call" or report.failed):
        return
    if report.failed and not misuse and sessions[-1].transcript.mismatch is None:
        sessions[-1].transcript.mark_last_reply()  # a Python test's verdict rests on the last reply it got
    last = next((s.last_reply for s in reversed(sessions) if s.last_reply is not None), None)
    deciding = None
    if last is not None and not misuse:
        deciding = (last.command or "(greeting)", printable("\n".join(last.wire_lines())))
    _attach(item, report, [s.transcript for s in sessions], full=True, deciding=deciding)


def _attach_exchange(item: pytest.Item, report: pytest.TestReport, result: FileResult,
                     verdict: ExchangeVerdict | None) -> None:
    """A `.smtp` item carries its own exchange; the item that decides the file carries the whole session once."""
    from ..collector import ExchangeItem

    assert isinstance(item, ExchangeItem)
    whole = result.transcript
    if verdict is None or report.skipped or whole is None:
        return
    report.duration = verdict.duration  # the exchange's own time, not the wait for the file's session
    if verdict.mismatch is not None:  # what --smtp-update needs to rewrite the `<` line (builtins: crosses xdist)
        report.smtp_mismatch = {"path": str(item.path), "mismatch": verdict.mismatch.to_json()}  # type: ignore[attr-defined]
    decisive = item.decides_file(result)
    shown = whole if decisive else whole.part(*verdict.entries)
    _attach(item, report, [shown], full=decisive, deciding=_last_reply(shown))


def _attach(item: pytest.Item, report: pytest.TestReport, transcripts: list[Transcript], *, full: bool,
            deciding: tuple[str, str] | None) -> None:
    report.smtp = [_counts(t, full) for t in transcripts]  # type: ignore[attr-defined]
    for transcript in transcripts:
        text = transcript.render(tail=None if report.passed else TAIL_LINES)
        report.sections.append((f"SMTP transcript {transcript.target}", text))
    properties = [("smtp_target", label(item.config, transcripts[0].target, transcripts[0].listener))]
    if deciding is not None:
        properties += [("smtp_command", deciding[0]), ("smtp_reply", deciding[1])]
    if item.config.getoption("--junitxml", None):
        texts = "\n\n".join(f"SMTP transcript {t.target}\n{t.render()}" for t in transcripts)
        properties.append((JUNIT_TRANSCRIPT, texts))
    # The report's list is a copy of the item's; pytest's JUnit writer reads the item's (via the teardown report).
    report.user_properties.extend(properties)
    item.user_properties.extend(properties)
    if item.config.pluginmanager.hasplugin("html") and item.config.getoption("--html", None):
        from .html import extras

        report.extras = getattr(report, "extras", []) + extras(transcripts)  # type: ignore[attr-defined]


def _counts(transcript: Transcript, full: bool) -> dict[str, str | int | bool]:
    """What the run's summary counts of a session (builtins: reports cross xdist). *full*: the whole session,
    not one exchange's part of it, so its lines sent count."""
    from ...smtp.transcript import SENT

    sent = sum(entry.direction == SENT for entry in transcript.entries)
    return {"id": transcript.id, "target": transcript.target, "listener": transcript.listener,
            "address": transcript.address, "sent": sent, "full": full}


def _last_reply(transcript: Transcript) -> tuple[str, str] | None:
    """The last command and the reply to it, read back from a transcript: (command, the reply's lines).

    A reply ends at its last line; the lines before it that continue it (`250-...`, RFC 5321 4.2.1) are
    part of it, the replies before those are not (a pipelined group's earlier replies)."""
    from ...smtp.transcript import RECEIVED, SENT

    entries = transcript.entries
    end = transcript.mismatch if transcript.mismatch is not None else len(entries) - 1
    last = next((i for i in range(end, -1, -1) if entries[i].direction == RECEIVED), None)
    if last is None:
        return None
    first = last
    while first > 0 and entries[first - 1].direction == RECEIVED and _CONTINUED.match(entries[first - 1].text):
        first -= 1
    sent = next((entries[i].text for i in range(first - 1, -1, -1) if entries[i].direction == SENT), "(greeting)")
    return sent, "\n".join(entry.text for entry in entries[first:last + 1])

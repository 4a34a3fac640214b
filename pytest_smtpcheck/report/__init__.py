"""What a test report carries about its SMTP sessions: terminal sections, JUnit XML, HTML extras, the run summary.

Everything attached to a report is builtins only, so reports travel between
pytest-xdist processes unchanged; the summary is built from reports, so it is
right on the xdist controller too.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .. import __version__
from ..keys import OUTCOME, SESSIONS, TARGETS
from ..vocabulary import Secret

if TYPE_CHECKING:
    from ..smtp.transcript import Transcript
    from ..transcripts.runner import ExchangeVerdict, FileResult

__all__ = [
    "RunSummary",
    "TargetTotals",
    "attach",
    "configure",
    "label",
    "locate_skip",
    "move_transcripts_to_system_out",
    "options_shown",
    "scrub",
]

TAIL_LINES = 40
JUNIT_TRANSCRIPT = "smtp_transcript"  # moved from <properties> into <system-out> once the XML is written


@dataclass
class TargetTotals:
    addresses: set[str] = field(default_factory=set)
    commands: dict[str, int] = field(default_factory=dict)  # session id -> lines sent (latest snapshot)
    exchanges: int = 0
    failed: int = 0


class RunSummary:
    """Per target: sessions, lines sent, tests (exchanges) run and failed, addresses connected to.

    Registered as a plugin: on the xdist controller every worker's reports pass through it.
    """

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.targets: dict[str, TargetTotals] = {}

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self) -> None:
        metadata = _metadata(self.config)
        if metadata is not None:
            metadata["pytest-smtpcheck"] = __version__
            metadata["Command line"] = " ".join(["pytest", *self.config.invocation_params.args])
            metadata["SMTP options"] = options_shown(self.config)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.add(report)
        metadata = _metadata(self.config)
        if metadata is not None and self.targets:
            metadata["SMTP targets"] = self.environment()

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.targets:
            terminalreporter.write_sep("-", "smtpcheck")
            for line in self.lines():
                terminalreporter.write_line(line)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self) -> None:
        move_transcripts_to_system_out(self.config)

    def add(self, report: pytest.TestReport) -> None:
        transcripts = getattr(report, "smtp", None)
        if not transcripts:
            return
        for data in transcripts:
            totals = self.targets.setdefault(data["target"], TargetTotals())
            if data["address"]:
                totals.addresses.add(data["address"])
            if data["full"]:  # a .smtp item's part of a session counts once its file's whole session arrives
                totals.commands[data["id"]] = sum(entry["direction"] == "C" for entry in data["entries"])
            else:
                totals.commands.setdefault(data["id"], 0)
        first = self.targets[transcripts[0]["target"]]
        first.exchanges += 1
        first.failed += report.failed

    def lines(self) -> list[str]:
        return [
            f"{label(self.config, target)}: {_count(len(t.commands), 'session')}, {_count(t.exchanges, 'test')}, "
            f"{t.failed} failed, {_count(sum(t.commands.values()), 'line')} sent"
            for target, t in sorted(self.targets.items())
        ]

    def environment(self) -> dict[str, str]:
        return {
            label(self.config, target): "connected to " + (", ".join(sorted(t.addresses)) or "nothing")
            for target, t in sorted(self.targets.items())
        }


def label(config: pytest.Config, target: str) -> str:
    """How a report names a target: the embedded sandbox says so, with its policy."""
    settings = config.stash[TARGETS].settings
    if settings.host is None and settings.mx is None:
        return f"sandbox ({settings.sandbox}) at {target}"
    return target


def options_shown(config: pytest.Config) -> dict[str, str]:
    """The run's settings that did not come from the defaults, each with where it came from (never a secret)."""
    from ..vocabulary import MASK

    settings = config.stash[TARGETS].settings
    shown = {}
    for key, origin in sorted(settings.origins.items()):
        if origin == "default":
            continue
        name, _, member = key.partition(".")
        value: object = {"as": settings.as_address, "no_verify": not settings.verify, "ca": settings.ca_file,
                         "target": settings.host, "port": settings.ports.get("smtp"),
                         "user": settings.user}.get(name, getattr(settings, name, None))
        if member:
            value = (settings.ports if name == "listeners" else settings.vars).get(member)
        if name in ("password", "token") or isinstance(value, Secret):
            value = MASK
        elif name == "resolver" and isinstance(value, tuple):
            value = f"{value[0]}:{value[1]}"
        shown[key] = f"{value} ({origin})"
    return shown


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def configure(config: pytest.Config) -> None:
    summary = RunSummary(config)
    config.pluginmanager.register(summary, "smtpcheck-summary")
    if config.pluginmanager.hasplugin("html"):
        from . import html

        config.pluginmanager.register(html.HtmlHooks(summary), "smtpcheck-html")


def attach(item: pytest.Item, report: pytest.TestReport) -> None:
    """Put the test's transcripts into its report (where the test ran, so also on xdist workers)."""
    outcome = item.stash.get(OUTCOME, None)
    if outcome is not None:
        if report.when == "call":
            _attach_exchange(item, report, *outcome)
        return
    sessions = [s for s in item.stash.get(SESSIONS, []) if s.transcript.entries]
    if not sessions or report.skipped or not (report.when == "call" or report.failed):
        return
    if report.failed and sessions[-1].transcript.mismatch is None:
        sessions[-1].transcript.mark_last_reply()  # a Python test's verdict rests on the last reply it got
    last = next((s.last_reply for s in reversed(sessions) if s.last_reply is not None), None)
    deciding = None if last is None else (last.command or "(greeting)", f"{last.code} {last.lines[0]}".rstrip())
    _attach(item, report, [s.transcript for s in sessions], full=True, deciding=deciding)


def locate_skip(item: pytest.Item, report: pytest.TestReport) -> None:
    """Point a `.smtp` item's skip at its line in the file, not at the plugin's code."""
    line = getattr(item, "location_line", None)
    if line is not None and report.skipped and isinstance(report.longrepr, tuple):
        report.longrepr = (str(item.path), line, report.longrepr[2])


def _attach_exchange(item: pytest.Item, report: pytest.TestReport, result: FileResult,
                     verdict: ExchangeVerdict | None) -> None:
    """A `.smtp` item carries its own exchange; the item that decides the file carries the whole session once."""
    from ..collector import ExchangeItem

    assert isinstance(item, ExchangeItem)
    if verdict is None or report.skipped or not result.transcript:
        return
    report.duration = verdict.duration  # the exchange's own time, not the wait for the file's session
    if verdict.got_code is not None:  # what --smtp-update needs to rewrite the `<` line (builtins: crosses xdist)
        report.smtp_mismatch = {  # type: ignore[attr-defined]
            "path": str(item.path), "line": verdict.line, "expected": verdict.expected,
            "code": verdict.got_code, "enhanced": verdict.got_enhanced, "text": verdict.got_text,
        }
    whole = result.session()
    decisive = item.decides_file(result)
    shown = whole if decisive else whole.part(*verdict.entries)
    _attach(item, report, [shown], full=decisive, deciding=_last_reply(shown))


def _attach(item: pytest.Item, report: pytest.TestReport, transcripts: list[Transcript], *, full: bool,
            deciding: tuple[str, str] | None) -> None:
    report.smtp = [t.to_data() | {"full": full} for t in transcripts]  # type: ignore[attr-defined]
    for transcript in transcripts:
        text = transcript.render(tail=None if report.passed else TAIL_LINES)
        report.sections.append((f"SMTP transcript {transcript.target}", text))
    properties = [("smtp_target", label(item.config, transcripts[0].target))]
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

        report.extras = getattr(report, "extras", []) + extras(report.smtp)  # type: ignore[attr-defined]


def _last_reply(transcript: Transcript) -> tuple[str, str] | None:
    """The last command and the reply to it, read back from a transcript: (command, first reply line)."""
    from ..smtp.transcript import RECEIVED, SENT

    entries = transcript.entries
    end = transcript.mismatch if transcript.mismatch is not None else len(entries) - 1
    replies = [i for i in range(end, -1, -1) if entries[i].direction == RECEIVED]
    if not replies:
        return None
    first = replies[0]
    while first > 0 and entries[first - 1].direction == RECEIVED:
        first -= 1
    sent = next((entries[i].text for i in range(first - 1, -1, -1) if entries[i].direction == SENT), "(greeting)")
    return sent, entries[first].text


def scrub(item: pytest.Item, report: pytest.TestReport) -> None:
    """Last line of defence: a password a test itself printed or put in an assert message is masked too."""
    from ..vocabulary import MASK

    secrets = _secret_forms(item)
    if not secrets:
        return

    def mask(text: str) -> str:
        for secret in secrets:
            text = text.replace(secret, MASK)
        return text

    if report.failed and report.longrepr is not None:
        text = str(report.longrepr)
        if any(secret in text for secret in secrets):
            report.longrepr = mask(text)
    report.sections = [(name, mask(content)) for name, content in report.sections]
    report.user_properties = [(k, mask(v) if isinstance(v, str) else v) for k, v in report.user_properties]


def _secret_forms(item: pytest.Item) -> list[str]:
    """Every password the run knows of for this test, with the forms AUTH sends it in."""
    from ..collector import ExchangeItem

    target = item.config.stash[TARGETS].resolved
    user = (target.username if target else None) or ""
    secrets = {target.password} if target is not None and target.password else set()
    for session in item.stash.get(SESSIONS, []):
        secrets.update(session.transcript.secrets)
    if isinstance(item, ExchangeItem):
        secrets.update(item.parent.script.secrets)
    return _forms(frozenset(filter(None, secrets)), user)


@functools.lru_cache(maxsize=64)
def _forms(secrets: frozenset[str], user: str) -> list[str]:
    from ..vocabulary import secret_forms

    forms = {form for secret in secrets for form in secret_forms(secret, user)}
    return sorted(forms, key=len, reverse=True)


def move_transcripts_to_system_out(config: pytest.Config) -> None:
    """pytest's JUnit writer has no public way to add system-out: rewrite its file after it is written."""
    path = config.getoption("--junitxml", None)
    if not path or hasattr(config, "workerinput") or not Path(path).is_file():
        return
    from xml.etree import ElementTree

    tree = ElementTree.parse(path)
    changed = False
    for case in tree.iter("testcase"):
        properties = case.find("properties")
        if properties is None:
            continue
        for prop in properties.findall(f"property[@name='{JUNIT_TRANSCRIPT}']"):
            properties.remove(prop)
            out = case.find("system-out")
            if out is None:
                out = ElementTree.SubElement(case, "system-out")
            out.text = "\n".join(part for part in (out.text, prop.get("value")) if part)
            changed = True
        if not len(properties):
            case.remove(properties)
    if changed:
        tree.write(path, encoding="utf-8", xml_declaration=True)


def _metadata(config: pytest.Config) -> dict[str, Any] | None:
    if not config.pluginmanager.hasplugin("metadata"):
        return None
    from pytest_metadata.plugin import metadata_key

    return config.stash.get(metadata_key, None)

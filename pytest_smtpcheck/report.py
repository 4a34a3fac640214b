"""What a test report carries about its SMTP sessions: terminal sections, JUnit XML, HTML extras, the run summary.

Everything attached to a report is builtins only, so reports travel between
pytest-xdist processes unchanged; the summary is built from reports, so it is
right on the xdist controller too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from . import __version__
from .keys import SESSIONS, TARGETS

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

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.add(report)
        metadata = _metadata(self.config)
        if metadata is not None and self.targets:
            metadata["SMTP targets"] = self.environment()

    def pytest_terminal_summary(self, terminalreporter) -> None:
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
            totals.commands[data["id"]] = sum(entry["direction"] == "C" for entry in data["entries"])
        first = self.targets[transcripts[0]["target"]]
        first.exchanges += 1
        first.failed += report.failed

    def lines(self) -> list[str]:
        return [
            f"{target}: {len(t.commands)} sessions, {t.exchanges} tests, {t.failed} failed, "
            f"{sum(t.commands.values())} lines sent"
            for target, t in sorted(self.targets.items())
        ]

    def environment(self) -> dict[str, str]:
        sandbox = " (embedded sandbox)" if self.config.stash[TARGETS].settings.host is None else ""
        return {
            target: (", ".join(sorted(t.addresses)) or "not connected") + sandbox
            for target, t in sorted(self.targets.items())
        }


def configure(config: pytest.Config) -> None:
    config.pluginmanager.register(RunSummary(config), "smtpcheck-summary")
    if config.pluginmanager.hasplugin("html"):
        from . import html

        config.pluginmanager.register(html.HtmlHooks(), "smtpcheck-html")


def attach(item: pytest.Item, report: pytest.TestReport) -> None:
    """Put the test's transcripts into its report (where the test ran, so also on xdist workers)."""
    sessions = item.stash.get(SESSIONS, [])
    if not sessions or report.skipped or not (report.when == "call" or report.failed):
        return
    if report.failed and sessions[-1].transcript.mismatch is None:
        sessions[-1].transcript.mark_last_reply()  # a Python test's verdict rests on the last reply it got
    report.smtp = [session.transcript.to_data() for session in sessions]
    for session in sessions:
        text = session.transcript.render(tail=None if report.passed else TAIL_LINES)
        report.sections.append((f"SMTP transcript {session.address}", text))
    last = next((s.last_reply for s in reversed(sessions) if s.last_reply is not None), None)
    properties = [("smtp_target", sessions[0].address)]
    if last is not None:
        properties += [("smtp_command", last.command or "(greeting)"), ("smtp_reply", f"{last.code} {last.lines[0]}".rstrip())]
    if item.config.getoption("xmlpath", None):
        transcripts = "\n\n".join(f"SMTP transcript {s.address}\n{s.transcript.render()}" for s in sessions)
        properties.append((JUNIT_TRANSCRIPT, transcripts))
    # The report's list is a copy of the item's; pytest's JUnit writer reads the item's (via the teardown report).
    report.user_properties.extend(properties)
    item.user_properties.extend(properties)
    if item.config.pluginmanager.hasplugin("html"):
        from .html import extras

        report.extras = getattr(report, "extras", []) + extras(report.smtp)


def scrub(item: pytest.Item, report: pytest.TestReport) -> None:
    """Last line of defence: a password a test itself printed or put in an assert message is masked too."""
    from .transcript import MASK

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
    """Every password the run knows of, with the base64 forms AUTH sends it in."""
    import base64

    target = item.config.stash[TARGETS].resolved
    user = (target.username if target else None) or ""
    passwords = {target.password} if target is not None and target.password else set()
    for session in item.stash.get(SESSIONS, []):
        passwords.update(session.transcript.secrets)
    forms = set()
    for password in filter(None, passwords):
        for text in (password, f"\0{user}\0{password}", f"{user}\0{password}"):
            forms.add(text)
            forms.add(base64.b64encode(text.encode()).decode())
    return sorted((form for form in forms if len(form) >= 3), key=len, reverse=True)


def move_transcripts_to_system_out(config: pytest.Config) -> None:
    """pytest's JUnit writer has no public way to add system-out: rewrite its file after it is written."""
    path = config.getoption("xmlpath", None)
    if not path or hasattr(config, "workerinput") or not Path(path).is_file():
        return
    import xml.etree.ElementTree as ElementTree

    tree = ElementTree.parse(path)
    changed = False
    for case in tree.iter("testcase"):
        properties = case.find("properties")
        found = [] if properties is None else properties.findall(f"property[@name='{JUNIT_TRANSCRIPT}']")
        for prop in found:
            properties.remove(prop)
            out = case.find("system-out")
            if out is None:
                out = ElementTree.SubElement(case, "system-out")
            out.text = "\n".join(part for part in (out.text, prop.get("value")) if part)
            changed = True
        if properties is not None and not len(properties):
            case.remove(properties)
    if changed:
        tree.write(path, encoding="utf-8", xml_declaration=True)


def _metadata(config: pytest.Config) -> dict | None:
    if not config.pluginmanager.hasplugin("metadata"):
        return None
    from pytest_metadata.plugin import metadata_key

    return config.stash.get(metadata_key, None)

"""`--smtp-baseline`: the bundled battery as pytest items, per domain, MX host and MX address.

Items are added after collection (so the battery runs beside a project's own tests,
or alone in an empty directory), in the order DNS gives, which every xdist worker
sees alike. Each item carries its category and severity as markers and keywords
(`-m required`, `-k "tls and not cipher"`); the items of one address share its
probes, and under xdist every worker shares them through the run directory, so an
address is probed once whatever `--dist` does with its items. A waived check still runs:
when it fails it is reported as an expected failure with the waiver's reason.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Generator, Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from ..errors import SMTPCheckError
from .keys import BASELINE, RUN

if TYPE_CHECKING:
    from ..baseline.checks import Check, Verdict
    from ..baseline.settings import BaselineSettings
    from ..smtp.transcript import Transcript

__all__ = ["PROPERTY", "BaselinePlugin"]

PROPERTY = "smtp_baseline"  # the user property every baseline item's report carries (builtins: crosses xdist)
MARKERS = [
    "smtp_baseline: a check of the bundled acceptance battery (--smtp-baseline)",
    "required: a baseline check internet.nl counts as required",
    "recommended: a baseline check internet.nl counts as recommended",
    *(f"{name}: baseline checks of the {name} category" for name in ("smtp", "tls", "certificate", "dane", "dns",
                                                                       "policy")),
]


class BaselineFailure(Exception):
    """A check's verdict: what it found and what to change (shown without a traceback)."""


class BaselineItem(pytest.Item):
    def __init__(self, *, check: Check, subject: Any, domain: str, host: str | None, address: str | None,
                 skip: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.check = check
        self.subject = subject
        self.domain = domain
        self.host = host
        self.address = address
        self.skip_reason = skip
        self.extra_keyword_matches.update({check.category, check.severity, check.id})
        for name in ("smtp_baseline", check.category, check.severity):
            self.add_marker(name)

    def runtest(self) -> None:
        from ..baseline.checks import unjudged

        settings: BaselineSettings = self.config.stash[BASELINE]
        record = {"id": self.check.id, "category": self.check.category, "severity": self.check.severity,
                  "domain": self.domain, "host": self.host, "address": self.address}
        self.user_properties.append((PROPERTY, record))
        if self.skip_reason is not None:
            record["message"] = self.skip_reason
            pytest.skip(self.skip_reason)
        try:
            verdict = self.check.verdict(self.subject)
        except SMTPCheckError as error:  # a look-up the judge let through: the safety net's verdict, reported alike
            verdict = unjudged(error)
        record["message"] = verdict.found if verdict.ok else f"{verdict.found}; change: {verdict.change}"
        self.add_report_section("call", "baseline", _explain(self.check, verdict))
        for title, transcript in _transcripts(self.check, self.subject):
            self.add_report_section("call", title, transcript.render())
        waiver = settings.waiver(self.check.id, self.host)
        if waiver is not None:
            record["waiver"] = waiver
            if not verdict.ok:
                pytest.xfail(f"waived: {waiver} (found: {verdict.found})")
        if not verdict.ok:
            raise BaselineFailure(f"{self.check.id}: {verdict.found}\nchange: {verdict.change}")

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, BaselineFailure):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo, style))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"baseline {self.name}: {self.check.asks}"


def _explain(check: Check, verdict: Verdict) -> str:
    lines = [f"asks:     {check.asks}", f"why:      {check.why} ({check.severity}, {check.category})",
             f"found:    {verdict.found}"]
    if not verdict.ok:
        lines.append(f"change:   {verdict.change}")
    lines += [f"evidence: {line}" for line in verdict.evidence]
    return "\n".join(lines)


def _transcripts(check: Check, subject: Any) -> Iterator[tuple[str, Transcript]]:
    """The sessions behind an address's verdict: the plain session for SMTP checks, the handshakes for TLS."""
    from ..baseline.facts import AddressFacts

    if not isinstance(subject, AddressFacts) or subject.target.problem is not None:  # no address: no session
        return
    if check.category == "smtp" or check.id in ("fcrdns", "banner"):
        yield "SMTP session", subject.smtp.transcript
    elif check.id in ("starttls", "tls-version", "cipher", "forward-secrecy"):
        tls = subject.tls
        shakes = {"starttls": [tls.default], "forward-secrecy": [tls.default],
                  "tls-version": list(tls.versions.values()), "cipher": list(tls.ciphers.values())}[check.id]
        for shake in shakes:
            if shake.transcript is not None:
                yield f"handshake: {shake.offered}", shake.transcript


class BaselinePlugin:
    """Registered by the plugin when the battery is asked for."""

    def __init__(self, config: pytest.Config, settings: BaselineSettings) -> None:
        self.config = config
        self.settings = settings
        self.records: list[dict[str, Any]] = []
        self.probes: list[threading.Thread] = []
        self._lock = threading.Lock()
        config.stash[BASELINE] = settings
        for line in MARKERS:
            config.addinivalue_line("markers", line)

    @pytest.hookimpl(wrapper=True)  # before every other implementation: -k and -m deselect, xdist groups
    def pytest_collection_modifyitems(self, session: pytest.Session, config: pytest.Config,
                                      items: list[pytest.Item]) -> Generator[None, None, None]:
        for domain in self.settings.domains:
            items.extend(self._items(session, domain))
        return (yield)

    def _items(self, session: pytest.Session, domain: str) -> Iterator[BaselineItem]:
        """The battery's items for DOMAIN. When DNS gave no MX host (the MX lookup failed, the domain does not
        exist, a null MX), each host check gets one item named for the domain, and the address checks the plan's
        one target for the domain's problem: they carry no host, and their verdict says why there is none (the
        implicit MX, the domain's own address, is a host: RFC 5321 §5.1)."""
        from ..baseline.checks import CHECKS, inapplicable
        from ..baseline.facts import AddressFacts, DomainFacts
        from ..target import Targets

        run = self.config.stash[RUN]
        targets = Targets(replace(run.settings, mx=domain, host=None), run.targets.cap)
        facts = DomainFacts(domain, targets.dns(), self.settings)
        parent = BaselineDomain.from_parent(session, name=f"baseline[{domain}]")
        ids = [target_id for target_id in targets.ids() if target_id is not None]
        found = {target_id: targets.target(target_id) for target_id in ids}
        known = bool(facts.mx.targets)  # the same answers the plan read: the resolver keeps them
        hosts: list[str | None] = list(dict.fromkeys(t.host for t in facts.mx.targets)) if known else [None]
        shared = run.directory if hasattr(self.config, "workerinput") else None
        addresses = {target_id: AddressFacts(facts, target.mx_host or domain, target, shared=shared)
                     for target_id, target in found.items()}
        for check in CHECKS:
            skip = inapplicable(check, facts)
            if check.scope == "domain":
                yield BaselineItem.from_parent(parent, name=f"{check.id}[{domain}]", check=check, subject=facts,
                                               domain=domain, host=None, address=None)
            elif check.scope == "host":
                for host in hosts:
                    yield BaselineItem.from_parent(parent, name=f"{check.id}[{host or domain}]", check=check,
                                                   subject=(facts, host or domain), domain=domain, host=host,
                                                   address=None, skip=skip)
            else:
                for target_id, subject in addresses.items():
                    yield BaselineItem.from_parent(
                        parent, name=f"{check.id}[{target_id}]", check=check, subject=subject, domain=domain,
                        host=subject.host if known else None,
                        address=None if subject.target.problem else subject.address,
                        skip=skip or targets.unreachable(target_id))

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        """Start the selected checks' probes, every address at once. On xdist workers too: every worker sees the
        same selection, and the first to claim a probe runs it for all (the others wait for it when they need
        it), so the addresses are still probed at once and each only once."""
        from ..baseline.facts import AddressFacts, probe_ahead

        if self.config.getoption("collectonly"):
            return
        needed: dict[AddressFacts, set[str]] = {}
        for item in session.items:
            if (isinstance(item, BaselineItem) and isinstance(item.subject, AddressFacts) and item.skip_reason is None
                    and item.subject.target.problem is None):  # no address: its checks say why, and probe nothing
                needed.setdefault(item.subject, set()).update(item.check.needs)
        self.probes = probe_ahead(needed)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Every baseline item's outcome, for the JSON summary and the scorecard (on the controller too)."""
        record = next((value for name, value in report.user_properties if name == PROPERTY), None)
        if not isinstance(record, dict) or (report.when != "call" and not (report.skipped or report.failed)):
            return
        outcome = "waived" if hasattr(report, "wasxfail") else report.outcome
        with self._lock:
            self.records.append({**record, "outcome": outcome})

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        from ..baseline.scorecard import scorecard_lines

        if self.records:
            terminalreporter.section("smtpcheck baseline scorecard")
            for line in scorecard_lines(self.records):
                terminalreporter.line(line)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        for thread in self.probes:  # every probe is bounded by the run's timeouts
            thread.join()
        if self.settings.json and not hasattr(session.config, "workerinput"):
            Path(self.settings.json).write_text(json.dumps(self.records, indent=2) + "\n", encoding="utf-8")

    @pytest.hookimpl(optionalhook=True, trylast=True)  # after the run's own title: the battery names its domains
    def pytest_html_report_title(self, report: Any) -> None:
        from datetime import datetime, timezone

        day = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        report.title = f"SMTP baseline: {', '.join(self.settings.domains)}, {day}"

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_results_summary(self, prefix: list[str], summary: list[str], postfix: list[str]) -> None:
        from ..baseline.scorecard import scorecard_html

        prefix.append(scorecard_html(self.records))


class BaselineDomain(pytest.Collector):
    """The battery's items for one domain; collected by BaselinePlugin, never from a file."""

    def collect(self) -> list[pytest.Item | pytest.Collector]:
        return []

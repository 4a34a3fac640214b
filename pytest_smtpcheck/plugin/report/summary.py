"""The run's summary: per target, sessions, tests, failures and lines sent; the options the run used.

Built from test reports alone, so it is right on the pytest-xdist controller too:
every worker's reports pass through it there. Registered in every run, it imports
the rest of the report code only once the run is in use (RunState.in_use).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest

from ... import __version__
from ...vocabulary import MASK
from ..keys import BASELINE, RUN, SECRET_VARS

if TYPE_CHECKING:
    from ...settings import Effective

__all__ = ["RunSummary", "TargetTotals", "label", "option_lines", "options_shown"]


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
        self.targets: dict[tuple[str, str], TargetTotals] = {}  # (HOST:PORT, listener)
        self.missing: Counter[str] = Counter()  # variable -> tests skipped for want of it

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self) -> None:
        metadata = _metadata(self.config)
        if metadata is not None:
            metadata["pytest-smtpcheck"] = __version__

    @pytest.hookimpl(trylast=True)
    def pytest_collection_finish(self) -> None:
        self._options()

    def _options(self) -> None:
        """The command line and the options, once collection knows which variables are secrets (so not in the
        `-v` header, printed before that): every secret masked. Nothing in a run without SMTP."""
        metadata = _metadata(self.config)
        if metadata is not None and self.config.stash[RUN].in_use:
            from .masking import mask_run_secrets

            command = " ".join(["pytest", *self.config.invocation_params.args])
            metadata["Command line"] = mask_run_secrets(self.config, command)
            metadata["SMTP options"] = options_shown(self.config)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.add(report)
        self.missing.update(getattr(report, "smtp_missing", None) or ())
        metadata = _metadata(self.config)
        if metadata is not None and self.targets:
            metadata["SMTP targets"] = self.environment()

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        run = self.config.stash[RUN]
        # a run that gave no setting and collected nothing here (the xdist controller) lists them now
        unlisted = option_lines(self.config) if run.in_use and not run.options_shown else []
        lines = unlisted + self.lines() + self.missing_lines()
        if lines:
            terminalreporter.write_sep("-", "smtpcheck")
            for line in lines:
                terminalreporter.write_line(line)

    def missing_lines(self) -> list[str]:
        """The variables the run did not give, with the tests skipped for each: a typo must not pass unseen."""
        if not self.missing:
            return []  # asking the target for its variables would load the sandbox in a run that has no use for it
        from ...target import did_you_mean

        given = self.config.stash[RUN].targets.variables()
        return [f"not given: {name}, {_count(count, 'test')} skipped{did_you_mean(name, given)}"
                for name, count in sorted(self.missing.items())]

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self) -> None:
        """Before pytest-html writes its report: the options again, with what every worker learnt (xdist)."""
        worker_output = getattr(self.config, "workeroutput", None)
        if worker_output is not None and self.config.stash[RUN].in_use:
            from .masking import SECRET_VARS_OUTPUT

            names: set[str] = self.config.stash.get(SECRET_VARS, set())
            worker_output[SECRET_VARS_OUTPUT] = sorted(names)
        self._options()

    @pytest.hookimpl(trylast=True)
    def pytest_unconfigure(self) -> None:
        if self.config.stash[RUN].in_use:  # else no test carries a transcript
            from .junit import move_transcripts_to_system_out

            move_transcripts_to_system_out(self.config)

    def add(self, report: pytest.TestReport) -> None:
        transcripts = getattr(report, "smtp", None)
        if not transcripts:
            return
        _ = self.config.stash[RUN].settings  # a session reported: the run uses the plugin (a worker's, on xdist)
        for data in transcripts:
            totals = self.targets.setdefault((data["target"], data["listener"]), TargetTotals())
            if data["address"]:
                totals.addresses.add(data["address"])
            if data["full"]:  # a .smtp item's part of a session counts once its file's whole session arrives
                totals.commands[data["id"]] = data["sent"]
            else:
                totals.commands.setdefault(data["id"], 0)
        first = self.targets[transcripts[0]["target"], transcripts[0]["listener"]]
        first.exchanges += 1
        first.failed += report.failed

    def lines(self) -> list[str]:
        return [
            f"{label(self.config, *target)}: {_count(len(t.commands), 'session')}, {_count(t.exchanges, 'test')}, "
            f"{t.failed} failed, {_count(sum(t.commands.values()), 'line')} sent"
            for target, t in sorted(self.targets.items())
        ]

    def environment(self) -> dict[str, str]:
        return {
            label(self.config, *target): "connected to " + (", ".join(sorted(t.addresses)) or "nothing")
            for target, t in sorted(self.targets.items())
        }


def label(config: pytest.Config, target: str, listener: str = "") -> str:
    """How a report names a target and its listener: the embedded sandbox says so, with its policy."""
    settings = config.stash[RUN].settings
    if settings.host is None and settings.mx is None:
        return f"sandbox ({settings.sandbox}) {listener or 'smtp'} listener at {target}"
    return f"{target} ({listener})" if listener else target


def options_shown(config: pytest.Config) -> dict[str, str]:
    """Every setting in effect, defaults included, each with where it came from (never a secret)."""
    from ...settings import describe

    return {row.key: f"{describe(value)} ({row.origin})" for row, value in _shown(config)}


def option_lines(config: pytest.Config) -> list[str]:
    """The same for the terminal header: `timeout 30 s (default)`, packed a few to a line.

    Variables show by name only: the header is written before a test uses one as a password.
    """
    from ...settings import describe

    lines: list[str] = []
    for row, value in _shown(config):
        shown = "" if row.key.startswith("vars.") else f" {describe(value)}"
        item = f"{row.key}{shown} ({row.origin})"
        if lines and len(lines[-1]) + len(item) < 110:
            lines[-1] += f", {item}"
        else:
            lines.append(f"smtpcheck: {item}")
    return lines


def _shown(config: pytest.Config) -> list[tuple[Effective, object]]:
    """The run's effective settings with secret values masked: the password, the token, variables used as
    secrets (their names are known once a test used them so); then the battery's, when it runs."""
    secret = config.stash.get(SECRET_VARS, set())
    baseline = config.stash.get(BASELINE, None)
    rows = config.stash[RUN].settings.effective() + (baseline.effective() if baseline else [])
    return [(row, MASK if row.key.startswith("vars.") and row.key[5:] in secret else row.value) for row in rows]


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _metadata(config: pytest.Config) -> dict[str, Any] | None:
    if not config.pluginmanager.hasplugin("metadata"):
        return None
    from pytest_metadata.plugin import metadata_key

    return config.stash.get(metadata_key, None)

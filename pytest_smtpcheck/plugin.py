"""pytest-smtpcheck's hooks: this module only wires pytest to the modules that do the work."""

from __future__ import annotations

from pathlib import Path

import pytest

from . import report
from .fixtures import smtp_connect, smtp_server, smtp_session  # noqa: F401 - fixtures are found by name
from .keys import TARGETS
from .options import add_options, read_settings

MARKERS = [
    "smtp(listener=, port=, tls=, helo=, timeout=, deadline=): session options for this test's smtp_session "
    "and smtp_connect (listener: smtp, submission or submissions)",
]


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    for line in MARKERS:
        config.addinivalue_line("markers", line)
    from .target import Targets

    config.stash[TARGETS] = Targets(read_settings(config))
    report.configure(config)
    if config.pluginmanager.hasplugin("xdist"):
        from .xdist import XdistHooks

        config.pluginmanager.register(XdistHooks(), "smtpcheck-xdist")


def pytest_unconfigure(config: pytest.Config) -> None:
    targets = config.stash.get(TARGETS, None)
    if targets is not None:
        targets.close()


def pytest_collect_file(parent: pytest.Collector, file_path: Path) -> pytest.Collector | None:
    if file_path.suffix == ".smtp":
        from .collector import SmtpFile

        return SmtpFile.from_parent(parent, path=file_path)
    return None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    test_report = yield
    report.attach(item, test_report)
    report.scrub(item, test_report)
    if hasattr(item, "locate_skip"):
        item.locate_skip(test_report)
    return test_report
